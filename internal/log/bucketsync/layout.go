package bucketsync

import (
	"fmt"
	"time"

	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/storage"
)

// Prefix is the folder of the bucket that holds the exported logs.
const Prefix = "wandb-audit-logs/"

// ObjectName is the name of the object holding an organization's events
// first..last; ts, the first event's time, names the (informative) date
// folders.
func ObjectName(org string, ts time.Time, first, last int64) string {
	ts = ts.UTC()
	return fmt.Sprintf("%s%s/%04d/%02d/%02d/%012d-%012d.ndjson.gz", Prefix, org, ts.Year(), ts.Month(), ts.Day(), first, last)
}

// CheckpointName is the name of an organization's checkpoint up to lastSeq.
func CheckpointName(org string, lastSeq int64) string {
	return fmt.Sprintf("%s%s/checkpoints/%012d.json", Prefix, org, lastSeq)
}

// AppendLine appends an event's line to b: chain.AppendObject's JSON object
// (the one GET /admin/audit_logs writes, with the timestamp in
// chain.TimeFormat, so the chain can be recomputed from the files alone) and
// a newline.
func AppendLine(b []byte, e storage.StoredEvent) []byte {
	return append(chain.AppendObject(b, &e.Event), '\n')
}
