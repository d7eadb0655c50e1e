package bucketsync

import (
	"fmt"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/storage"
)

// Prefix is the folder of the bucket that holds the exported logs.
const Prefix = "wandb-audit-logs/"

// TimestampFormat is how timestamps are written in exported objects: always
// six fractional digits, so the hash chain can be recomputed from the files.
const TimestampFormat = "2006-01-02T15:04:05.000000Z"

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

// AppendLine appends an event's line to b: the JSON object GET
// /admin/audit_logs writes, with the timestamp in TimestampFormat, and a
// newline.
func AppendLine(b []byte, e storage.StoredEvent) []byte {
	b = append(b, '{')
	for i, f := range e.Fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.Key...)
		b = append(b, '"', ':')
		if f.Key == audit.KeyTimestamp {
			b = append(b, '"')
			b = e.Timestamp.UTC().AppendFormat(b, TimestampFormat)
			b = append(b, '"')
		} else {
			b = append(b, f.Value...)
		}
	}
	return append(b, '}', '\n')
}
