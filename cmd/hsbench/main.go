// Command hsbench measures hubshare's performance targets (PERFORMANCE.md)
// on each database: the real server, wired as serve wires it, and a
// reference server of bare handlers run side by side in one process, on the
// same database pool, loaded in turn by wrk on loopback. Every target is a
// ratio against the reference measured in the same run; absolute figures
// are reported beside it and never asserted.
//
// Usage:
//
//	go run ./cmd/hsbench [-duration 5s] [-connections 16] [-threads 2] [-runs 3]
//	                     [-only S1,S2,S3] [-db sqlite,postgres] [-world-scale 0.01]
//	                     [-s4 [-s4-scale 0.1]]
//	                     [-out report.md] [-strict]
//
// PostgreSQL is measured when HUBSHARE_BENCH_DATABASE_URL (or
// HUBSHARE_TEST_DATABASE_URL) is set: a fresh database is created on that
// server for the run and dropped at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hsbench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Environment variables naming the PostgreSQL server to measure on; the
// first one set wins.
var postgresEnv = []string{"HUBSHARE_BENCH_DATABASE_URL", "HUBSHARE_TEST_DATABASE_URL"}

// options are the command's flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	runs        int
	only        map[string]bool
	databases   []string
	postgresURL string
	wrk         string
	out         string
	strict      bool
	keep        bool
	cpuProfile  string

	worldScale float64

	s4            bool
	s4Scale       float64
	s4Calls       int
	s4Budget      time.Duration
	s4CallTimeout time.Duration
}

func (o *options) wants(id string) bool { return len(o.only) == 0 || o.only[id] }

func parseOptions(args []string, stderr io.Writer, getenv func(string) string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one wrk run (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unrecorded wrk run on every endpoint before the measured ones (0 to skip)")
	fs.IntVar(&o.connections, "connections", 16, "wrk connections")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads")
	fs.IntVar(&o.runs, "runs", 3, "measured runs of each of reference and scenario (interleaved; at least 3 for a valid figure)")
	only := fs.String("only", "", "comma-separated scenarios to run among S1,S2,S3,S4 (default S1–S3; S6 comes with S2; S4 implies -s4)")
	dbs := fs.String("db", "sqlite,postgres", "databases to measure on; postgres needs "+strings.Join(postgresEnv, " or "))
	fs.StringVar(&o.wrk, "wrk", "wrk", "the wrk binary")
	fs.StringVar(&o.out, "out", "", "also write the report as Markdown to this file")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed")
	fs.BoolVar(&o.keep, "keep", false, "keep the databases and data directories after the run, to look at query plans")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the process during the first scenario run of each scenario to PREFIX-<db>-<scenario>.pprof")
	fs.Float64Var(&o.worldScale, "world-scale", 0.01, "size of the S1–S3 guest's world (the owner's other items, tokens, groups, ACL entries, access log) relative to S4's full size; 1 for S4's 100 000 items")
	fs.BoolVar(&o.s4, "s4", false, "also run S4, the owner audit at scale (bulk seeding takes a while)")
	fs.Float64Var(&o.s4Scale, "s4-scale", 1, "size of S4 relative to 100 000 items, 1 000 tokens, 1 000 000 ACL entries")
	fs.IntVar(&o.s4Calls, "s4-calls", 50, "calls of each S4 operation (service and bare, alternating)")
	fs.DurationVar(&o.s4Budget, "s4-budget", 2*time.Minute, "time after which an S4 operation stops calling (at least 3 calls are made)")
	fs.DurationVar(&o.s4CallTimeout, "s4-call-timeout", time.Minute, "an S4 call slower than this ends its operation as a miss")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.duration < time.Second || o.duration%time.Second != 0 {
		return nil, fmt.Errorf("-duration must be a whole number of seconds, at least 1s")
	}
	if o.warmup != 0 && (o.warmup < time.Second || o.warmup%time.Second != 0) {
		return nil, fmt.Errorf("-warmup must be 0 or a whole number of seconds")
	}
	if o.connections < 1 || o.threads < 1 || o.threads > o.connections {
		return nil, fmt.Errorf("-threads must be at least 1 and at most -connections")
	}
	if o.runs < 1 {
		return nil, fmt.Errorf("-runs must be at least 1")
	}
	if o.s4Scale <= 0 || o.s4Scale > 10 {
		return nil, fmt.Errorf("-s4-scale must be in (0, 10]")
	}
	if o.worldScale <= 0 || o.worldScale > 10 {
		return nil, fmt.Errorf("-world-scale must be in (0, 10]")
	}
	if o.s4Calls < 1 {
		return nil, fmt.Errorf("-s4-calls must be at least 1")
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, id := range strings.Split(*only, ",") {
			id = strings.ToUpper(strings.TrimSpace(id))
			switch id {
			case "S1", "S2", "S3":
				o.only[id] = true
			case "S4":
				o.s4 = true
				o.only[id] = true
			default:
				return nil, fmt.Errorf("-only: unknown scenario %q (S1, S2, S3 or S4)", id)
			}
		}
	}
	for _, name := range postgresEnv {
		if v := getenv(name); v != "" {
			o.postgresURL = v
			break
		}
	}
	for _, d := range strings.Split(*dbs, ",") {
		switch d = strings.TrimSpace(d); d {
		case "sqlite":
			o.databases = append(o.databases, d)
		case "postgres":
			if o.postgresURL == "" {
				fmt.Fprintf(stderr, "hsbench: PostgreSQL skipped: set %s to measure on it\n", strings.Join(postgresEnv, " or "))
				continue
			}
			o.databases = append(o.databases, d)
		case "":
		default:
			return nil, fmt.Errorf("-db: unknown database %q (sqlite or postgres)", d)
		}
	}
	if len(o.databases) == 0 {
		return nil, fmt.Errorf("no database to measure on")
	}
	return o, nil
}

// errInvalid reports runs whose figures cannot be trusted (errors answered
// under load, or a check before the run failing).
var errInvalid = errors.New("some measurements are invalid; see the report")

// errMissed is returned with -strict when a target is missed.
var errMissed = errors.New("a target was missed (-strict)")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o, err := parseOptions(args, stderr, getenv)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(o.wrk); err != nil {
		return fmt.Errorf("wrk not found (%v): install the Debian package wrk", err)
	}
	rep := &report{
		started: time.Now().UTC(),
		command: "go run ./cmd/hsbench " + strings.Join(args, " "),
		host:    fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		load: fmt.Sprintf("wrk -t%d -c%d -d%s, %d measured runs each, interleaved reference/scenario",
			o.threads, o.connections, o.duration, o.runs),
	}
	if o.runs < 3 {
		rep.notes = append(rep.notes, fmt.Sprintf("only %d run(s) each: a smoke run, not a valid figure (PERFORMANCE.md asks for the median of at least 3)", o.runs))
	}
	var runErr error
	for _, kind := range o.databases {
		if ctx.Err() != nil {
			break
		}
		res, err := benchDatabase(ctx, o, kind, stderr)
		if err != nil {
			runErr = fmt.Errorf("%s: %w", kind, err)
			break
		}
		rep.databases = append(rep.databases, res)
		res.printText(stdout)
	}
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr != nil {
		rep.notes = append(rep.notes, "the run stopped early: "+runErr.Error())
	}
	// What was measured is written even when the run stopped early.
	if o.out != "" && len(rep.databases) > 0 {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintln(stdout, "report written to", o.out)
	}
	switch {
	case runErr != nil:
		return runErr
	case rep.invalid():
		return errInvalid
	case o.strict && rep.missed():
		return errMissed
	}
	return nil
}

// benchDatabase runs every measurement on one database kind.
func benchDatabase(ctx context.Context, o *options, kind string, logw io.Writer) (*dbResult, error) {
	progress := func(format string, args ...any) {
		fmt.Fprintf(logw, "[%s %s] %s\n", time.Now().Format("15:04:05"), kind, fmt.Sprintf(format, args...))
	}
	progress("starting the server and seeding")
	t, err := startTarget(ctx, kind, o.postgresURL, o.worldScale)
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep {
			t.dropDB = nil
			t.removeDir = false
			progress("kept: %s (data directory %s)", t.detail, t.dir)
		}
		if err := t.close(); err != nil {
			progress("clean-up: %v", err)
		}
	}()
	res := &dbResult{kind: kind, detail: t.detail, world: t.seed.describe()}
	progress("%s", res.world)
	if err := measureScenarios(ctx, o, t, res, progress); err != nil {
		return nil, err
	}
	if o.s4 && ctx.Err() == nil {
		s4, err := runAudit(ctx, o, t, progress)
		if err != nil {
			return nil, fmt.Errorf("S4: %w", err)
		}
		res.s4 = s4
	}
	return res, nil
}
