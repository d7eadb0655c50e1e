package main

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// A job is one of serve's long-running parts (the HTTP server, the live
// hub, a worker). run works until its context ends, then finishes what it
// is doing and returns nil; an error it returns stops serve.
type job struct {
	name string
	run  func(context.Context) error
}

// lifecycle runs serve's jobs: all start together, and they stop in
// stages, in the order the stages were added. When run's context ends
// (SIGINT, SIGTERM) or a job fails, the first stage's jobs are told to stop
// (their contexts end) and waited for, then the second stage's, and so on.
type lifecycle struct {
	stages [][]job
}

// stage adds jobs that stop together, after those of the stages before.
// A job with no run is off, and left out.
func (l *lifecycle) stage(jobs ...job) {
	var on []job
	for _, j := range jobs {
		if j.run != nil {
			on = append(on, j)
		}
	}
	l.stages = append(l.stages, on)
}

// run runs every job until ctx ends or one fails, stops them stage by
// stage, and returns the first error a job returned, named after it: nil
// when they all stopped cleanly.
func (l *lifecycle) run(ctx context.Context) error {
	g, stopping := errgroup.WithContext(ctx) // done when ctx is, or a job fails
	stops := make([]func(), len(l.stages))
	for i, jobs := range l.stages {
		// Not ended by ctx: a stage stops only when its turn comes.
		stageCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var running sync.WaitGroup
		for _, j := range jobs {
			running.Add(1)
			g.Go(func() error {
				defer running.Done()
				if err := j.run(stageCtx); err != nil {
					return fmt.Errorf("%s: %w", j.name, err)
				}
				return nil
			})
		}
		stops[i] = func() { cancel(); running.Wait() }
	}
	<-stopping.Done()
	for _, stop := range stops {
		stop()
	}
	return g.Wait()
}
