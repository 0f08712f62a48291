package jobs_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/app/jobs"
)

func leaseRuns(t *testing.T, db *bun.DB, name string) int64 {
	t.Helper()
	var runs int64
	if err := db.NewRaw("SELECT runs FROM job_leases WHERE name = ?", name).Scan(context.Background(), &runs); err != nil {
		t.Fatal(err)
	}
	return runs
}

// Two instances looking for a job in the same period: one runs it; the
// next period, again exactly one.
func TestJobRunsOncePerIntervalAcrossRunners(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		a, b := jobs.NewRunner(db, clock, nil), jobs.NewRunner(db, clock, nil)
		if a.Holder() == b.Holder() {
			t.Fatalf("two runners share the holder name %q", a.Holder())
		}
		var count atomic.Int64
		j := jobs.Job{Name: "prune", Interval: 10 * time.Minute, Run: func(context.Context) error { count.Add(1); return nil }}
		for period := 1; period <= 3; period++ {
			ranA, err := a.RunOnce(ctx, j, false)
			if err != nil {
				t.Fatal(err)
			}
			ranB, err := b.RunOnce(ctx, j, false)
			if err != nil {
				t.Fatal(err)
			}
			if ranA == ranB {
				t.Fatalf("period %d: a ran %v, b ran %v; want exactly one", period, ranA, ranB)
			}
			clock.Advance(5 * time.Minute) // not due yet
			for _, r := range []*jobs.Runner{a, b} {
				if ran, err := r.RunOnce(ctx, j, false); err != nil || ran {
					t.Fatalf("period %d: ran %v (%v) half an interval later", period, ran, err)
				}
			}
			clock.Advance(5 * time.Minute)
			if got := count.Load(); got != int64(period) {
				t.Fatalf("after period %d the job ran %d times", period, got)
			}
		}
		if got := leaseRuns(t, db, "prune"); got != 3 {
			t.Errorf("lease counts %d runs, want 3", got)
		}
	})
}

// Many instances racing for the same due job: the conditional UPDATE lets
// exactly one through.
func TestJobClaimRaceHasOneWinner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		var count atomic.Int64
		j := jobs.Job{Name: "sweep", Interval: time.Hour, Run: func(context.Context) error { count.Add(1); return nil }}
		for round := 1; round <= 5; round++ {
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				r := jobs.NewRunner(db, clock, nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := r.RunOnce(ctx, j, false); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got := count.Load(); got != int64(round) {
				t.Fatalf("round %d: the job ran %d times in all, want %d", round, got, round)
			}
			clock.Advance(time.Hour)
		}
	})
}

// A run in progress holds the job even against a forced start-up run; once
// its lease has passed without renewal (a crashed holder) another instance
// takes the job over, and the old run, finding its lease lost, is stopped.
func TestJobLeaseHeldThenTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		a, b := jobs.NewRunner(db, clock, nil), jobs.NewRunner(db, clock, nil)
		started := make(chan struct{})
		stopped := make(chan error, 1)
		slow := jobs.Job{Name: "digest", Interval: time.Hour, Lease: 300 * time.Millisecond, Run: func(ctx context.Context) error {
			close(started)
			select {
			case <-ctx.Done():
				stopped <- ctx.Err()
			case <-time.After(30 * time.Second):
				stopped <- errors.New("never stopped")
			}
			return nil
		}}
		done := make(chan error, 1)
		go func() {
			_, err := a.RunOnce(ctx, slow, false)
			done <- err
		}()
		<-started
		var ranB atomic.Int64
		quick := slow
		quick.Run = func(context.Context) error { ranB.Add(1); return nil }
		if ran, err := b.RunOnce(ctx, quick, true); err != nil || ran {
			t.Fatalf("a forced run started beside a held lease: ran %v, %v", ran, err)
		}
		// The holder's renewals write the fake clock's time: moving the
		// clock past the lease makes them stale, as a crashed holder's.
		clock.Advance(2 * time.Hour)
		if ran, err := b.RunOnce(ctx, quick, false); err != nil || !ran {
			t.Fatalf("the job was not taken over after its lease passed: ran %v, %v", ran, err)
		}
		if err := <-stopped; !errors.Is(err, context.Canceled) {
			t.Errorf("the run whose lease was lost went on: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("the stopped run: %v", err)
		}
		if ranB.Load() != 1 {
			t.Errorf("the new holder ran %d times", ranB.Load())
		}
	})
}

// Start runs a forced job at once and a due one on its schedule, and stops
// with its context.
func TestStartRunsAtStartAndStops(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		clock := app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		r := jobs.NewRunner(db, clock, nil)
		// The job ran elsewhere a moment ago: only AtStart runs it now.
		other := jobs.NewRunner(db, clock, nil)
		if ran, err := other.RunOnce(context.Background(), jobs.Job{Name: "sweep", Interval: time.Hour, Run: func(context.Context) error { return nil }}, false); err != nil || !ran {
			t.Fatal(ran, err)
		}
		ran := make(chan string, 4)
		ctx, cancel := context.WithCancel(context.Background())
		wait := r.Start(ctx,
			jobs.Job{Name: "sweep", Interval: time.Hour, AtStart: true, Run: func(context.Context) error { ran <- "sweep"; return nil }},
			jobs.Job{Name: "prune", Interval: time.Hour, Run: func(context.Context) error { ran <- "prune"; return nil }},
		)
		got := map[string]bool{}
		for len(got) < 2 {
			select {
			case n := <-ran:
				got[n] = true
			case <-time.After(30 * time.Second):
				t.Fatalf("ran only %v", got)
			}
		}
		cancel()
		wait()
		if got := leaseRuns(t, db, "sweep"); got != 2 {
			t.Errorf("sweep lease counts %d runs, want 2", got)
		}
	})
}

// A start-up run that finds its job held (here by a holder that died with
// its lease) waits the lease out and then runs, instead of giving up until
// the next interval.
func TestStartRunWaitsOutAHeldLease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		clock := app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		held := make(chan struct{})
		dead := jobs.NewRunner(db, clock, nil)
		// The dead holder's run never ends: its lease runs out instead.
		go dead.RunOnce(ctx, jobs.Job{Name: "sweep", Interval: time.Hour, Run: func(ctx context.Context) error {
			close(held)
			<-ctx.Done()
			return nil
		}}, true)
		<-held
		ran := make(chan struct{}, 4)
		r := jobs.NewRunner(db, clock, nil)
		wait := r.Start(ctx, jobs.Job{Name: "sweep", Interval: time.Hour, AtStart: true, Run: func(context.Context) error { ran <- struct{}{}; return nil }})
		select {
		case <-ran:
			t.Fatal("ran while another run held the job")
		case <-time.After(jobs.ForcePoll + time.Second):
		}
		clock.Advance(jobs.DefaultLease + time.Second) // the dead holder's lease passes
		select {
		case <-ran:
		case <-time.After(30 * time.Second):
			t.Fatal("the start-up run never came once the lease had passed")
		}
		cancel()
		wait()
	})
}

// BenchmarkLookNotDue is what every instance pays per job and poll (at most
// once a minute) while the job is not due: one conditional UPDATE.
func BenchmarkLookNotDue(b *testing.B) {
	for _, d := range dbtest.Dialects() {
		b.Run(d, func(b *testing.B) {
			db := dbtest.Open(b, d)
			ctx := context.Background()
			r := jobs.NewRunner(db, app.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), nil)
			j := jobs.Job{Name: "bench", Interval: time.Hour, Run: func(context.Context) error { return nil }}
			if ran, err := r.RunOnce(ctx, j, false); err != nil || !ran {
				b.Fatal(ran, err)
			}
			for b.Loop() {
				if ran, err := r.RunOnce(ctx, j, false); err != nil || ran {
					b.Fatal(ran, err)
				}
			}
		})
	}
}
