package metrics

import (
	"sync"
	"time"
)

// chainState remembers each organization's latest verification outcome, so
// that the status gauge shows a broken chain until that organization
// verifies intact again, whatever other organizations do meanwhile.
type chainState struct {
	mu     sync.Mutex
	intact map[int64]bool
}

// ChainVerified records a verification of an organization's hash chain that
// finished at `at`, and whether it found the chain intact.
func (m *Metrics) ChainVerified(orgID int64, intact bool, at time.Time) {
	s := m.chain
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intact[orgID] = intact
	status := 1.0
	for _, ok := range s.intact {
		if !ok {
			status = 0
			break
		}
	}
	m.chainStatus.Set(status)
	m.chainLastVerified.Set(float64(at.UnixNano()) / 1e9)
}
