package outbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/notify/outbox"
)

// TestLastErrorOutlivesRecovery checks what an integration keeps of its
// deliveries: after a failed attempt and a successful retry, the error and
// its time stay (history), the success is newer than it (the current
// state), and both outlive the pruning of the alerts they came from.
func TestLastErrorOutlivesRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := newReceiver(t, 503)
	hook := e.manyAlerts(r, 1)
	stop := e.worker(outbox.Config{})
	waitFor(t, 5*time.Second, "delivered", func() bool { return e.deliveries(hook)[0].Status == entity.AlertDelivered })
	stop()
	if d := e.deliveries(hook)[0]; d.Attempts != 2 || d.LastError != "" {
		t.Errorf("alert: %d attempts, last error %q; want 2 and none (its own error ends with its success)", d.Attempts, d.LastError)
	}
	check := func(when string) {
		t.Helper()
		st, err := e.store.IntegrationDelivery(e.ctx, hook)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st.LastError, "503") || st.LastErrorAt == nil || st.LastSuccessAt == nil {
			t.Fatalf("%s: last error %q at %v, last success %v; want the 503 and both times", when, st.LastError, st.LastErrorAt, st.LastSuccessAt)
		}
		if !st.LastSuccessAt.After(*st.LastErrorAt) {
			t.Errorf("%s: last success %v not after the last error %v", when, st.LastSuccessAt, st.LastErrorAt)
		}
	}
	check("after the retry succeeded")
	if n, err := e.store.PruneOutbox(e.ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneOutbox = %d, %v; want 1", n, err)
	}
	check("after pruning")
}
