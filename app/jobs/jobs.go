// Package jobs runs the service's periodic work (access-log retention and
// session pruning, the media sweep, and any later job such as notification
// digests) once across every instance sharing the database, not once per
// instance.
//
// Each job has a row in the job_leases table. An instance runs a job only
// after claiming that row with one conditional UPDATE: the claim succeeds
// when the run is due (next_run_at has passed) and no other run holds the
// lease (locked_until has passed), and it moves next_run_at one interval on,
// so the instances that look for the job in the same period find it claimed.
// While a run lasts its holder renews the lease; a holder that crashes stops
// renewing, and once the lease passes another instance takes the job over.
// SQLite deployments run a single instance but take the same path.
//
// A lease row is used rather than a PostgreSQL advisory lock: a lock held on
// a connection only keeps two runs from overlapping, while two instances
// whose timers are out of phase would still each run the job once per
// interval; it also needs a connection pinned per job and has no SQLite
// counterpart. The row schedules the runs, works on both databases with the
// same SQL, and shows who ran what and how often.
//
// A new job is one more Job given to Runner.Start:
//
//	r := jobs.NewRunner(db, clock, log)
//	r.Start(ctx, jobs.Job{Name: "digest", Interval: time.Hour, Run: sendDigests})
//
// Instances compare their own clocks with the stored instants, so their
// clocks must agree to well within a job's interval (NTP does).
package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// DefaultLease is how long a run holds its job before it must renew; a
// crashed holder delays the job by at most this much past its due time.
const DefaultLease = time.Minute

// claimTimeout bounds one claim's statements.
const claimTimeout = 10 * time.Second

// ForcePoll is how often a start-up run (Job.AtStart) looks again while
// another run holds its job.
var ForcePoll = 2 * time.Second

// maxPoll bounds how long a due job waits for an instance to look for it.
const maxPoll = time.Minute

// Job is one periodic task.
type Job struct {
	// Name identifies the job across instances (the lease row's key).
	Name string
	// Interval is the time from one run's start to the next, across all
	// instances.
	Interval time.Duration
	// Lease is how long a run holds the job between renewals (default
	// DefaultLease).
	Lease time.Duration
	// AtStart also runs the job when this instance starts, due or not: for
	// work that reclaims what a crash of this instance may have left. It is
	// still never run by two instances at once.
	AtStart bool
	// Run does the work. Its context ends when the runner stops or when
	// the lease was lost to another instance.
	Run func(ctx context.Context) error
}

// Runner claims and runs jobs on one database. It is safe for concurrent
// use.
type Runner struct {
	db     bun.IDB
	clock  app.Clock
	log    *slog.Logger
	holder string
	rows   sync.Map // names of jobs whose lease row is known to exist
}

// NewRunner returns a runner for this instance; its holder name (host,
// process id and a random suffix) tells instances apart in the lease rows.
func NewRunner(db bun.IDB, clock app.Clock, log *slog.Logger) *Runner {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{db: db, clock: clock, log: log,
		holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))}
}

// Holder returns the name this runner claims leases under.
func (r *Runner) Holder() string { return r.holder }

// Start runs every job in its own goroutine until ctx ends: each looks for
// its job at start and then at least once a minute (more often for shorter
// intervals) and runs it when its claim succeeds. The returned function
// waits for the goroutines to finish after ctx has ended.
func (r *Runner) Start(ctx context.Context, jobs ...Job) (wait func()) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, j)
		}()
	}
	return wg.Wait
}

func (r *Runner) loop(ctx context.Context, j Job) {
	poll := min(j.Interval, maxPoll)
	t := time.NewTicker(poll)
	defer t.Stop()
	force := j.AtStart
	for ctx.Err() == nil {
		ran, err := r.RunOnce(ctx, j, force)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("job failed", "job", j.Name, "err", err)
		}
		if force && !ran && err == nil {
			// Another run holds the job: a live instance's, or the lease of
			// a crashed one (this very instance before a kill -9, perhaps).
			// The start-up run waits it out, looking again shortly.
			select {
			case <-ctx.Done():
				return
			case <-time.After(ForcePoll):
			}
			continue
		}
		force = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce claims the job and runs it if the claim succeeds: when the job is
// due, or with force whenever no other run holds it. It reports whether
// this instance ran it; the error is the claim's or the run's.
func (r *Runner) RunOnce(ctx context.Context, j Job, force bool) (ran bool, err error) {
	if j.Name == "" || j.Interval <= 0 || j.Run == nil {
		return false, errors.New("jobs: a job needs a name, a positive interval and a function")
	}
	lease := j.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// The claim's answer is awaited even when ctx ends meanwhile: a claim
	// committed but unheard of would be a run counted and never made.
	cctx, cancelClaim := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	run, ok, err := r.claim(cctx, j, lease, force)
	cancelClaim()
	if err != nil || !ok {
		return false, err
	}
	r.log.Info("job run", "job", j.Name, "run", run, "holder", r.holder)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(rctx, cancel, j.Name, run, lease)
	}()
	err = j.Run(rctx)
	cancel()
	<-renewed
	// The lease ends with the run; the schedule was moved on by the claim.
	if rerr := r.release(context.WithoutCancel(ctx), j.Name, run); err == nil {
		err = rerr
	}
	return true, err
}

// claim takes the job's lease: the row is created due on first use, then
// one conditional UPDATE decides between racing instances.
func (r *Runner) claim(ctx context.Context, j Job, lease time.Duration, force bool) (run int64, ok bool, err error) {
	now := r.clock.Now().UTC()
	if _, known := r.rows.Load(j.Name); !known {
		if _, err := r.db.NewRaw(`INSERT INTO job_leases (name, holder, locked_until, next_run_at, runs)
VALUES (?, '', ?, ?, 0) ON CONFLICT (name) DO NOTHING`, j.Name, now, now).Exec(ctx); err != nil {
			return 0, false, fmt.Errorf("jobs: create lease %s: %w", j.Name, err)
		}
		r.rows.Store(j.Name, true)
	}
	err = r.db.NewRaw(`UPDATE job_leases SET holder = ?, locked_until = ?, next_run_at = ?, runs = runs + 1
WHERE name = ? AND locked_until <= ? AND (next_run_at <= ? OR ?)
RETURNING runs`, r.holder, now.Add(lease), now.Add(j.Interval), j.Name, now, now, force).Scan(ctx, &run)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("jobs: claim %s: %w", j.Name, err)
	}
	return run, true, nil
}

// renew extends the lease of run every third of the lease until ctx ends;
// when the lease turns out to be lost, it cancels the run.
func (r *Runner) renew(ctx context.Context, cancel func(), name string, run int64, lease time.Duration) {
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := r.db.NewRaw(`UPDATE job_leases SET locked_until = ? WHERE name = ? AND holder = ? AND runs = ?`,
			r.clock.Now().UTC().Add(lease), name, r.holder, run).Exec(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("job lease not renewed", "job", name, "err", err)
			}
			continue
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			r.log.Warn("job lease lost to another instance: run stopped", "job", name, "run", run)
			cancel()
			return
		}
	}
}

// release ends the lease of run, if it still holds it.
func (r *Runner) release(ctx context.Context, name string, run int64) error {
	now := r.clock.Now().UTC()
	_, err := r.db.NewRaw(`UPDATE job_leases SET locked_until = ? WHERE name = ? AND holder = ? AND runs = ?`,
		now, name, r.holder, run).Exec(ctx)
	if err != nil {
		return fmt.Errorf("jobs: release %s: %w", name, err)
	}
	return nil
}
