// Package retention decides how long audit events are kept and removes the
// expired ones: whole monthly partitions that lie entirely before the
// retention period, never single rows.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/storage"
)

// Period is how long events are kept: a number of years and days. The zero
// Period keeps them forever.
type Period struct {
	Years, Days int
}

// HIPAAYears is the shortest retention --hipaa allows.
const HIPAAYears = 6

// hipaaDays is the longest 6 years can be (two leap days), so that a period
// given in days is accepted only if it is 6 years whatever the dates.
const hipaaDays = HIPAAYears*365 + 2

// Parse reads a period such as 2190d or 6y; "" and "forever" keep events
// forever.
func Parse(s string) (Period, error) {
	if s == "" || s == "forever" {
		return Period{}, nil
	}
	bad := fmt.Errorf("retention %q: want a whole number of days or years, such as 2192d or 6y, or forever", s)
	if len(s) < 2 {
		return Period{}, bad
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 1000*366 || strings.ContainsAny(s[:len(s)-1], "+-") {
		return Period{}, bad
	}
	switch s[len(s)-1] {
	case 'd':
		return Period{Days: n}, nil
	case 'y':
		if n > 1000 {
			return Period{}, bad
		}
		return Period{Years: n}, nil
	}
	return Period{}, bad
}

// Forever reports whether p keeps events forever.
func (p Period) Forever() bool { return p == Period{} }

func (p Period) String() string {
	switch {
	case p.Forever():
		return "forever"
	case p.Days == 0:
		return fmt.Sprintf("%dy", p.Years)
	case p.Years == 0:
		return fmt.Sprintf("%dd", p.Days)
	}
	return fmt.Sprintf("%dy%dd", p.Years, p.Days)
}

// Cutoff is the time before which events are expired at now.
func (p Period) Cutoff(now time.Time) time.Time {
	return now.UTC().AddDate(-p.Years, 0, -p.Days)
}

// ErrTooShort means a retention is shorter than --hipaa allows.
var ErrTooShort = errors.New("retention too short")

// Check refuses a period under 6 years when hipaa is set.
func Check(p Period, hipaa bool) error {
	if !hipaa || p.Forever() || p.Years >= HIPAAYears || p.Years*365+p.Days >= hipaaDays {
		return nil
	}
	return fmt.Errorf("%w: --retention %s is shorter than the %d years --hipaa requires (use %dy or at least %dd)",
		ErrTooShort, p, HIPAAYears, HIPAAYears, hipaaDays)
}

// Job expires partitions past the retention period.
type Job struct {
	Store *storage.Store
	Keep  Period
	// RequireSynced keeps partitions holding events not yet exported to
	// the bucket.
	RequireSynced bool
	Log           *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// RunOnce drops the expired partitions and returns their names.
func (j *Job) RunOnce(ctx context.Context) ([]string, error) {
	if j.Keep.Forever() {
		return nil, nil
	}
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	cutoff := j.Keep.Cutoff(now())
	dropped, err := j.Store.ExpirePartitions(ctx, cutoff, j.RequireSynced)
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 && j.Log != nil {
		j.Log.Info("retention: dropped expired audit partitions", "partitions", dropped, "cutoff", cutoff, "retention", j.Keep)
	}
	return dropped, nil
}

// Run expires at once and then daily until ctx ends, and returns nil: a
// failed run is logged and retried the next day.
func (j *Job) Run(ctx context.Context) error {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil && j.Log != nil {
			j.Log.Error("retention failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
