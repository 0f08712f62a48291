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

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
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
  member create --handle NAME create a member (password read from standard input)
  apitoken create --handle NAME [--description TEXT] [--scope read|write]
                              create a personal API token and print it

Every command takes --listen, --database-url, --data-dir, --base-url,
--trusted-proxies, --secret-key-file, --max-upload and --log-level, or the
matching HUBSHARE_* environment variables (a flag wins).`

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

func (m *Main) logger(cfg *app.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
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
	store, err := media.NewFSStore(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		return err
	}
	cs := content.NewService(db, m.Clock, svc, store, cfg.MaxUpload)
	cs.Limits.Memory = media.NewBudget(cfg.MaxDecodeMemory)
	limitHeap(cfg.MaxDecodeMemory)
	srv, err := web.New(web.Deps{Config: cfg, DB: db, ACL: svc, Content: cs, Clock: m.Clock, Keys: keys, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go housekeeping(bg, svc, log, cfg.AccessLogRetention)
	logDone := make(chan struct{})
	go func() {
		svc.Log.Run(bg, accessLogFlushInterval)
		close(logDone)
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("hubshare is serving", "address", ln.Addr().String(), "base_url", cfg.BaseURL, "database", dbKind(cfg))
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
	<-logDone // the last views are written before the database closes
	return err
}

func dbKind(cfg *app.Config) string {
	if database.IsPostgres(cfg.DatabaseURL) {
		return "postgres"
	}
	return "sqlite"
}

// accessLogFlushInterval is how often batched views are written.
const accessLogFlushInterval = 2 * time.Second

// housekeeping prunes expired sessions, throttle counters and old
// access-log entries.
func housekeeping(ctx context.Context, svc *acl.Service, log *slog.Logger, retention time.Duration) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if err := svc.PruneSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("prune sessions", "err", err)
		}
		if err := svc.Throttle.Prune(ctx); err != nil && ctx.Err() == nil {
			log.Warn("prune throttle", "err", err)
		}
		if err := svc.Log.Prune(ctx, svc.Clock.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Warn("prune access log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: hubshare migrate up|down|status"}
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
	return usageError{"usage: hubshare migrate up|down|status"}
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
	var handle, display string
	cfg, err := m.parse("member create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&handle, "handle", "", "the member's handle (required)")
		fs.StringVar(&display, "display-name", "", "the name others see (default: the handle)")
	})
	if err != nil {
		return err
	}
	if handle == "" {
		return usageError{"--handle is required"}
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
