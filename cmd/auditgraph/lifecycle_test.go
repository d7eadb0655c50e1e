package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// stopLog records the order jobs stopped in.
type stopLog struct {
	mu      sync.Mutex
	stopped []string
}

func (l *stopLog) add(name string) {
	l.mu.Lock()
	l.stopped = append(l.stopped, name)
	l.mu.Unlock()
}

func (l *stopLog) order() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.stopped)
}

// fakeJob runs until its context ends, takes a while to finish, as a drain
// does, and then records that it stopped.
func fakeJob(name string, log *stopLog) job {
	return job{name, func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		log.add(name)
		return nil
	}}
}

// runLifecycle runs l in the background and returns its result channel.
func runLifecycle(ctx context.Context, l *lifecycle) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	return done
}

func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("lifecycle did not return within 10s")
		return nil
	}
}

// The stages stop in the order they were added, each waited for before the
// next: the HTTP server drains before the workers stop, and they before
// the database. A stage's jobs are not stopped before their turn.
func TestLifecycleStopsInStages(t *testing.T) {
	var log stopLog
	var l lifecycle
	l.stage(fakeJob("http", &log))
	l.stage(fakeJob("checkpoints", &log), job{}) // a job with no run is off
	l.stage(fakeJob("database", &log))

	ctx, cancel := context.WithCancel(context.Background())
	done := runLifecycle(ctx, &l)
	time.Sleep(20 * time.Millisecond)
	if got := log.order(); len(got) != 0 {
		t.Fatalf("stopped before the context ended: %q", got)
	}
	cancel() // SIGTERM
	if err := waitRun(t, done); err != nil {
		t.Errorf("run after a clean stop = %v, want nil", err)
	}
	if got, want := log.order(), []string{"http", "checkpoints", "database"}; !slices.Equal(got, want) {
		t.Errorf("stop order = %q, want %q", got, want)
	}
}

// A job that fails stops the others, in their stages' order, and run
// returns its error named after it, though the context never ended.
func TestLifecycleFailingJobStopsAll(t *testing.T) {
	var log stopLog
	boom := errors.New("boom")
	var l lifecycle
	l.stage(fakeJob("http", &log))
	l.stage(fakeJob("checkpoints", &log), job{"delivery", func(ctx context.Context) error {
		time.Sleep(10 * time.Millisecond)
		log.add("delivery")
		return boom
	}})

	err := waitRun(t, runLifecycle(context.Background(), &l))
	if !errors.Is(err, boom) || err.Error() != "delivery: boom" {
		t.Errorf("run = %v, want the failing job's error, named: delivery: boom", err)
	}
	if got, want := log.order(), []string{"delivery", "http", "checkpoints"}; !slices.Equal(got, want) {
		t.Errorf("stop order = %q, want %q", got, want)
	}
}

// A job that ends with nothing left to do (a checkpoint job with interval
// 0) does not stop the others.
func TestLifecycleJobDoneEarly(t *testing.T) {
	var log stopLog
	var l lifecycle
	l.stage(fakeJob("http", &log), job{"checkpoints", func(context.Context) error { return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := runLifecycle(ctx, &l)
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run returned %v when one job ended cleanly, want it running", err)
	default:
	}
	cancel()
	if err := waitRun(t, done); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	if got := log.order(); !slices.Equal(got, []string{"http"}) {
		t.Errorf("stopped = %q, want [http]", got)
	}
}
