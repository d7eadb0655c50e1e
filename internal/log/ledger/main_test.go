package ledger_test

import (
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func ev(id string, a audit.Action, ts time.Time) ledger.IngestEvent {
	return ledger.IngestEvent{ClientID: id, Event: audit.Event{Action: a, Timestamp: ts}}
}
