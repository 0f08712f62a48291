package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/jobs"
	"hubshare/app/metrics"
	"hubshare/content"
	"hubshare/content/media"
	"hubshare/web"
)

// Main holds a run of the command: its streams and environment are fields
// so that tests run it in-process, and Ready reports the serve address.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Clock replaces the system clock (tests).
	Clock app.Clock
	// Ready, if set, receives the listening address once serve accepts connections.
	Ready func(addr string)
	// MetricsReady, if set, receives the address of the metrics listener
	// once it accepts connections (with --metrics-listen).
	MetricsReady func(addr string)
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `usage: hubshare <command> [flags]

commands:
  serve                       run the service
  migrate up|down|status      manage the database schema
  migrate unlock              clear the migration lock a crashed migration left
                              (only while no other hubshare is migrating)
  member create --handle NAME [--email ADDRESS]
                              create a member (password read from standard input)
  apitoken create --handle NAME [--description TEXT] [--scope read|write]
                              create a personal API token and print it
  backup --out FILE           write the server key, the media of a file store
                              and (on SQLite) a snapshot of the database,
                              taken while serving, into one archive
  restore FILE                restore such an archive into an empty data
                              directory
  version                     print the version and the revision it was built from
  media migrate --to URL      copy every media object to another store and
                              verify it (safe to run again)

Every command takes --listen, --database-url, --data-dir, --base-url,
--trusted-proxies, --secret-key-file, --max-upload, --media-url, --log-level,
--log-format and --metrics-listen, or the matching HUBSHARE_* environment
variables (a flag wins).`

// Run runs one subcommand.
func (m *Main) Run(ctx context.Context, args []string) error {
	if m.Clock == nil {
		m.Clock = app.SystemClock{}
	}
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return usageError{"no command given"}
	}
	switch cmd := args[0]; cmd {
	case "serve":
		return m.serve(ctx, args[1:])
	case "migrate":
		return m.migrate(ctx, args[1:])
	case "member":
		if len(args) < 2 || args[1] != "create" {
			return usageError{"usage: hubshare member create --handle NAME"}
		}
		return m.memberCreate(ctx, args[2:])
	case "apitoken":
		if len(args) < 2 || args[1] != "create" {
			return usageError{"usage: hubshare apitoken create --handle NAME [--description TEXT] [--scope read|write]"}
		}
		return m.apitokenCreate(ctx, args[2:])
	case "backup":
		return m.backup(ctx, args[1:])
	case "restore":
		return m.restore(ctx, args[1:])
	case "version":
		return printVersion(m.Stdout, args[1:])
	case "media":
		if len(args) < 2 || args[1] != "migrate" {
			return usageError{"usage: hubshare media migrate --to URL"}
		}
		return m.mediaMigrate(ctx, args[2:])
	case "help", "-h", "--help":
		fmt.Fprintln(m.Stdout, usage)
		return nil
	default:
		fmt.Fprintln(m.Stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// parse parses the shared configuration flags plus the command's own.
func (m *Main) parse(name string, args []string, extra func(fs *flag.FlagSet)) (*app.Config, error) {
	fs := flag.NewFlagSet("hubshare "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg := &app.Config{}
	cf := cfg.RegisterFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if err := cf.Finish(m.Getenv); err != nil {
		return nil, usageError{err.Error()}
	}
	return cfg, nil
}

// logger is the logger of a run, in the configured format; Finish has
// checked the format and the level.
func (m *Main) logger(cfg *app.Config) *slog.Logger {
	log, err := app.NewLogger(m.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		log, _ = app.NewLogger(m.Stderr, app.LogFormatText, "info")
	}
	return log
}

// open opens the database and the server keys.
func (m *Main) open(ctx context.Context, cfg *app.Config) (*bun.DB, *app.Keys, error) {
	master, err := app.LoadOrCreateKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, nil, err
	}
	keys, err := app.DeriveKeys(master)
	if err != nil {
		return nil, nil, err
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	return db, keys, nil
}

func (m *Main) serve(ctx context.Context, args []string) error {
	cfg, err := m.parse("serve", args, func(fs *flag.FlagSet) {})
	if err != nil {
		return err
	}
	log := m.logger(cfg)
	// The libraries' own messages go to the same logger.
	database.RouteDriverLogs(log)
	web.RouteFiberLogs(log)
	db, keys, err := m.open(ctx, cfg)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if err := m.prepareSchema(ctx, cfg, db); err != nil {
		return err
	}
	svc := acl.NewService(db, m.Clock, keys)
	svc.Log.SetLogger(log)
	store, err := media.OpenStore(ctx, cfg.MediaURL, m.Getenv)
	if err != nil {
		return err
	}
	cs := content.NewService(db, m.Clock, svc, store, cfg.MaxUpload)
	tk, err := m.testKnobs()
	if err != nil {
		return err
	}
	if cs.Space, err = media.NewReserve(filepath.Join(cfg.DataDir, reserveFile), tk.reserve); err != nil {
		return err
	}
	if !cs.Space.Held() {
		log.Warn("the data directory is nearly full: new content is refused until space is freed", "data_dir", cfg.DataDir)
	}
	cs.Limits.Memory = media.NewBudget(cfg.MaxDecodeMemory)
	limitHeap(cfg.MaxDecodeMemory)
	var mt *metrics.Metrics
	if cfg.MetricsListen != "" {
		mt = metrics.New()
		mt.WatchDB(db.DB, dbKind(cfg))
		svc.SetMetrics(mt)
		cs.Metrics = mt
	}
	srv, err := web.New(web.Deps{Config: cfg, DB: db, ACL: svc, Content: cs, Clock: m.Clock, Keys: keys, Logger: log, Metrics: mt})
	if err != nil {
		return err
	}
	if mt != nil {
		addr, stopMetrics, err := serveMetrics(ctx, cfg.MetricsListen, mt, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		log.Info("metrics are served", "address", "http://"+addr+"/metrics")
		if m.MetricsReady != nil {
			m.MetricsReady(addr)
		}
	}
	stopMail, err := startMail(cfg, svc, log, tk.mailGather)
	if err != nil {
		return err
	}
	defer stopMail()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	// Pruning, the sweep and the expiry notices run once across the
	// instances sharing the database; the space check below is about this
	// machine's disk.
	waitJobs := jobs.NewRunner(db, m.Clock, log).Start(bg, periodicJobs(svc, cs, log, cfg, tk)...)
	defer func() { stopBG(); waitJobs() }() // a job's run ends before the database closes
	// Checking the free space often lets the reserve go soon after the disk
	// fills, before a sign-in or a deletion needs the room, and writes it
	// back off the request path once space returns.
	go every(bg, spaceCheckInterval, watchSpace(cs.Space, log))
	logDone := make(chan struct{})
	go func() {
		svc.Log.Run(bg, accessLogFlushInterval)
		close(logDone)
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("hubshare is serving", "address", ln.Addr().String(), "base_url", cfg.BaseURL, "database", dbKind(cfg), "media", mediaKind(cfg))
	if code, ok, err := srv.SetupCode(ctx); err != nil {
		return err
	} else if ok {
		// Deliberately printed: the one-time code that lets whoever reads
		// this log create the hub's first member in the browser.
		log.Info("No member yet: open "+cfg.BaseURL+"/ and enter this setup code to create the first account", "setup_code", code)
	}
	if m.Ready != nil {
		m.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopBG()
	<-logDone  // the last views are written before the database closes
	stopMail() // after the last flush, whose notifications it sends
	st := svc.Log.Stats()
	log.Info("access log closed", "written", st.Written, "not_written", st.Pending, "merged", st.Merged, "dropped", st.Dropped)
	return err
}

// mediaKind names the media store for the log: its URL's scheme only.
func mediaKind(cfg *app.Config) string {
	kind, _, _ := strings.Cut(cfg.MediaURL, "://")
	return kind
}

func dbKind(cfg *app.Config) string {
	if database.IsPostgres(cfg.DatabaseURL) {
		return "postgres"
	}
	return "sqlite"
}

// accessLogFlushInterval is how often batched views are written.
const accessLogFlushInterval = 2 * time.Second

// housekeepingInterval is how often expired sessions, throttle counters and
// old access-log entries are pruned.
const housekeepingInterval = 10 * time.Minute

// periodicJobs are the jobs every instance offers to run and one runs at a
// time (jobs.Runner): pruning, the media sweep, which each instance also
// runs when it starts, to reclaim what a crash of its own left, the expiry
// notices, and the tokens' reach after group changes.
func periodicJobs(svc *acl.Service, cs *content.Service, log *slog.Logger, cfg *app.Config, tk knobs) []jobs.Job {
	prune, sweep, expiring := housekeepingInterval, mediaSweepInterval, expiringCheckInterval
	if tk.jobInterval > 0 {
		prune, sweep, expiring = tk.jobInterval, tk.jobInterval, tk.jobInterval
	}
	return []jobs.Job{
		{Name: "housekeeping", Interval: prune, Run: func(ctx context.Context) error {
			housekeeping(ctx, svc, log, cfg.AccessLogRetention)
			return nil
		}},
		{Name: "media-sweep", Interval: sweep, AtStart: true, Run: func(ctx context.Context) error {
			sweepMedia(ctx, cs, log, tk.sweepAge)
			return nil
		}},
		{Name: "expiry-notices", Interval: expiring, Run: func(ctx context.Context) error {
			notifyExpiring(ctx, svc, log)
			return nil
		}},
		{Name: "reach-catch-up", Interval: reachCatchUpInterval, Run: func(ctx context.Context) error {
			n, err := svc.CatchUpReach(ctx)
			if n > 0 {
				log.Debug("reach counted", "tokens", n)
			}
			return err
		}},
	}
}

// reachCatchUpInterval is how often the tokens whose groups changed get
// their reach counted (acl.CatchUpReach): soon after the change, off the
// owner's request.
const reachCatchUpInterval = 2 * time.Second

// housekeeping prunes expired sessions, throttle counters and old
// access-log entries.
func housekeeping(ctx context.Context, svc *acl.Service, log *slog.Logger, retention time.Duration) {
	if err := svc.PruneSessions(ctx); err != nil && ctx.Err() == nil {
		log.Warn("prune sessions", "err", err)
	}
	if err := svc.Throttle.Prune(ctx); err != nil && ctx.Err() == nil {
		log.Warn("prune throttle", "err", err)
	}
	if err := svc.Log.Prune(ctx, svc.Clock.Now().Add(-retention)); err != nil && ctx.Err() == nil {
		log.Warn("prune access log", "err", err)
	}
}

// reserveFile is the space reserve in the data directory (media.Reserve).
const reserveFile = "space.reserve"

// mediaSweepInterval is how often the media store is swept, after the sweep
// at start.
const mediaSweepInterval = time.Hour

// spaceCheckInterval is how often the free space of the data directory is
// measured (media.Reserve).
const spaceCheckInterval = 10 * time.Second

// watchSpace returns the periodic check of the space reserve, which logs
// when the data directory becomes nearly full and when space comes back.
func watchSpace(r *media.Reserve, log *slog.Logger) func(context.Context) {
	held := r.Held()
	return func(context.Context) {
		r.Admit()
		now := r.Held()
		switch {
		case held && !now:
			log.Warn("the data directory is nearly full: the space reserve is released for deletions and new uploads and posts are refused")
		case !held && now:
			log.Info("storage space is back: the space reserve is restored and new content is accepted")
		}
		held = now
	}
}

// every runs fn now and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepMedia is one pass of the media sweep: it removes temporary files and
// stored files that no photo refers to, older than minAge, and logs what it
// freed.
func sweepMedia(ctx context.Context, cs *content.Service, log *slog.Logger, minAge time.Duration) {
	res, err := cs.SweepMedia(ctx, minAge)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Warn("media sweep failed", "err", err)
	}
	log.Info("media sweep", "temp_files", res.TempFiles, "orphan_files", res.OrphanFiles,
		"freed_bytes", res.Bytes, "freed", humanize.IBytes(uint64(res.Bytes)))
}

// knobs are settings for tests only, from HUBSHARE_TEST_* variables that
// operators have no reason to set: crash tests need a sweep that does not
// wait an hour, full-disk tests a reserve sized for a small filesystem, and
// tests of several instances periodic jobs that run often.
type knobs struct {
	sweepAge time.Duration // HUBSHARE_TEST_MEDIA_SWEEP_AGE, e.g. 1ms
	reserve  int64         // HUBSHARE_TEST_STORAGE_RESERVE, e.g. 1MiB
	// jobInterval replaces the interval of every periodic job, so that a
	// test of several instances sees many runs (HUBSHARE_TEST_JOB_INTERVAL).
	jobInterval time.Duration
	// mailGather is HUBSHARE_TEST_MAIL_GATHER, e.g. 200ms: how long mail
	// waits to gather a burst (default mail.DefaultGather).
	mailGather time.Duration
}

func (m *Main) testKnobs() (knobs, error) {
	k := knobs{sweepAge: media.DefaultSweepAge, reserve: media.DefaultReserve}
	if v := m.Getenv("HUBSHARE_TEST_MAIL_GATHER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return k, fmt.Errorf("HUBSHARE_TEST_MAIL_GATHER %q is not a positive duration", v)
		}
		k.mailGather = d
	}
	if v := m.Getenv("HUBSHARE_TEST_MEDIA_SWEEP_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return k, usageError{"HUBSHARE_TEST_MEDIA_SWEEP_AGE must be a positive duration"}
		}
		k.sweepAge = d
	}
	if v := m.Getenv("HUBSHARE_TEST_JOB_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond {
			return k, usageError{"HUBSHARE_TEST_JOB_INTERVAL must be a duration of at least 1ms"}
		}
		k.jobInterval = d
	}
	if v := m.Getenv("HUBSHARE_TEST_STORAGE_RESERVE"); v != "" {
		n, err := humanize.ParseBytes(v)
		if err != nil || n == 0 || n > 1<<40 {
			return k, usageError{"HUBSHARE_TEST_STORAGE_RESERVE must be a size such as 1MiB"}
		}
		k.reserve = int64(n)
	}
	return k, nil
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: hubshare migrate up|down|status|unlock"}
	}
	sub := args[0]
	cfg, err := m.parse("migrate "+sub, args[1:], nil)
	if err != nil {
		return err
	}
	db, _, err := m.open(ctx, cfg)
	if err != nil {
		return err
	}
	defer database.Close(db)
	switch sub {
	case "up", "down":
		f := database.MigrateUp
		verb := "applied"
		if sub == "down" {
			f, verb = database.MigrateDown, "rolled back"
		}
		names, err := f(ctx, db)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(m.Stdout, "nothing to do")
		}
		for _, n := range names {
			fmt.Fprintf(m.Stdout, "%s %s\n", verb, n)
		}
		return nil
	case "unlock":
		held, err := database.Unlock(ctx, db)
		if err != nil {
			return err
		}
		if held {
			fmt.Fprintln(m.Stdout, "removed the migration lock")
		} else {
			fmt.Fprintln(m.Stdout, "no migration lock was held")
		}
		return nil
	case "status":
		st, err := database.Status(ctx, db)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(m.Stdout, "%-8s %s\n", state, s.Name)
		}
		return nil
	}
	return usageError{"usage: hubshare migrate up|down|status|unlock"}
}

// prepareSchema applies pending migrations, or with --no-migrate refuses a
// stale schema.
func (m *Main) prepareSchema(ctx context.Context, cfg *app.Config, db *bun.DB) error {
	if cfg.NoMigrate {
		return database.CheckCurrent(ctx, db)
	}
	names, err := database.MigrateUp(ctx, db)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, n := range names {
		m.logger(cfg).Info("migration applied", "name", n)
	}
	return nil
}

// service opens what an administration subcommand needs, on a current schema.
func (m *Main) service(ctx context.Context, cfg *app.Config) (*acl.Service, func(), error) {
	db, keys, err := m.open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := m.prepareSchema(ctx, cfg, db); err != nil {
		database.Close(db)
		return nil, nil, err
	}
	return acl.NewService(db, m.Clock, keys), func() { database.Close(db) }, nil
}

func (m *Main) memberCreate(ctx context.Context, args []string) error {
	var handle, display, email string
	cfg, err := m.parse("member create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&handle, "handle", "", "the member's handle (required)")
		fs.StringVar(&display, "display-name", "", "the name others see (default: the handle)")
		fs.StringVar(&email, "email", "", "where notifications are mailed (optional; needs --smtp-url on serve)")
	})
	if err != nil {
		return err
	}
	if handle == "" {
		return usageError{"--handle is required"}
	}
	if email != "" {
		// Checked before anything is made, so a bad address makes no member.
		if email, err = acl.CheckEmail(email); err != nil {
			return errors.New(app.ErrorMessage(err))
		}
	}
	password, err := readPassword(m.Stdin)
	if err != nil {
		return err
	}
	svc, done, err := m.service(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	mem, err := svc.CreateMember(ctx, handle, display, password)
	if err != nil {
		return errors.New(app.ErrorMessage(err))
	}
	if email != "" {
		if _, err := svc.SetMemberMail(ctx, mem.ID, &email, nil); err != nil {
			return errors.New(app.ErrorMessage(err))
		}
	}
	fmt.Fprintf(m.Stdout, "created member %s (id %d)\n", mem.Handle, mem.ID)
	return nil
}

// readPassword reads the first line of stdin; the password is everything on
// it but the line ending (spaces and Unicode included).
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no password on standard input")
	}
	line, err := bufio.NewReaderSize(r, acl.MaxPasswordLen+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input: pipe it in, e.g. `echo 'a long passphrase' | hubshare member create --handle NAME`")
	}
	return line, nil
}

func (m *Main) apitokenCreate(ctx context.Context, args []string) error {
	var handle, description, scope string
	cfg, err := m.parse("apitoken create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&handle, "handle", "", "the member the token acts as (required)")
		fs.StringVar(&description, "description", "", "what the token is for")
		fs.StringVar(&scope, "scope", "read", "read or write (write includes read)")
	})
	if err != nil {
		return err
	}
	if handle == "" {
		return usageError{"--handle is required"}
	}
	svc, done, err := m.service(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	mem, err := svc.MemberByHandle(ctx, handle)
	if err != nil {
		if app.IsNotFound(err) {
			return fmt.Errorf("no member with handle %q", handle)
		}
		return err
	}
	_, secret, err := svc.CreateAPIToken(ctx, mem.ID, description, scope, nil)
	if err != nil {
		return errors.New(app.ErrorMessage(err))
	}
	fmt.Fprintln(m.Stdout, secret)
	return nil
}
