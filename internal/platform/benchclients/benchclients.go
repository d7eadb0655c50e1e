// Package benchclients runs a benchmark's operation from many concurrent
// clients, as the platform's reporters call the server, and reports the rate
// and the latency percentiles of the calls.
package benchclients

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Run calls op from about clients goroutines at once (b.RunParallel) until
// b.N calls have been made, then reports the calls' rate as events/s (each
// call is one event) and their p50 and p99 latency in ms. A call that fails
// fails the benchmark and stops its goroutine.
func Run(b *testing.B, clients int, op func() error) {
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := op(); err != nil {
				b.Error(err)
				break
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
