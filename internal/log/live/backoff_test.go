package live

import (
	"testing"
	"time"
)

func TestReconnectDelay(t *testing.T) {
	t.Run("each step is jittered within half and all of it, capped", func(t *testing.T) {
		steps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
		for n := 1; n <= 200; n++ {
			step := maxReconnect
			if n <= len(steps) {
				step = steps[n-1]
			}
			for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
				d := reconnectDelay(n, r)
				if d < step/2 || d > step {
					t.Errorf("reconnectDelay(%d, %v) = %v, want within [%v, %v]", n, r, d, step/2, step)
				}
				if d > 3*time.Second || d < pqReconnect {
					t.Errorf("reconnectDelay(%d, %v) = %v, want within [%v, 3s]", n, r, d, pqReconnect)
				}
			}
		}
	})
	t.Run("jitter spreads replicas", func(t *testing.T) {
		if a, b := reconnectDelay(5, 0.1), reconnectDelay(5, 0.9); b-a < time.Second {
			t.Errorf("reconnectDelay(5, 0.1) = %v and (5, 0.9) = %v: want them spread by a second or more", a, b)
		}
	})
	// The outage: PostgreSQL away for 40 s. Whatever the jitter, the
	// listener tries again at most 3 s after it is back (it took 20.8 s with
	// the old 1 s..30 s doubling).
	t.Run("resumes within 3s of a 40s outage", func(t *testing.T) {
		for _, r := range []float64{0, 0.5, 0.999999} {
			at, n := time.Duration(0), 0 // the first attempt, at once, fails
			for at < 40*time.Second {
				n++
				at += reconnectDelay(n, r)
			}
			if late := at - 40*time.Second; late > maxReconnect {
				t.Errorf("r=%v: first attempt after the outage %v after it ended, want ≤ %v", r, late, maxReconnect)
			}
		}
	})
}

// The dialer adds to pq's own wait what the schedule asks for, from the
// first failure on, and not at all once connected.
func TestBackoffDialerWaits(t *testing.T) {
	var slept []time.Duration
	b := &backoffDialer{sleep: func(d time.Duration) { slept = append(slept, d) }, rand: func() float64 { return 0.5 }}
	b.wait() // the first attempt: at once
	for range 5 {
		b.failed()
		b.wait()
	}
	b.connected()
	b.wait()
	want := []time.Duration{}
	for n := 1; n <= 5; n++ {
		want = append(want, reconnectDelay(n, 0.5)-pqReconnect)
	}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Errorf("sleep %d = %v, want %v", i+1, slept[i], want[i])
		}
	}
}
