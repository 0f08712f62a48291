// Package database is the only code that knows drivers and dialects: it opens
// the database from one URL, applies the embedded migrations, translates
// driver errors into app error codes and counts queries.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"hubshare/app"
	"hubshare/migrations"
)

// FileName is the name of the embedded database file in the data directory.
const FileName = "hubshare.db"

// IsPostgres reports whether url selects PostgreSQL.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// SQLiteDSN returns the DSN of the SQLite file at path. Pragmas sit in the DSN
// so that every pooled connection gets them (busy_timeout before
// journal_mode), and write transactions begin IMMEDIATE so that concurrent
// writers wait instead of failing with SQLITE_BUSY.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Open opens the database named by dbURL: PostgreSQL for postgres:// and
// postgresql:// URLs, otherwise an SQLite file (dbURL may be empty for
// hubshare.db in dataDir, a path, or a file: or sqlite: URL).
func Open(ctx context.Context, dbURL, dataDir string) (*bun.DB, error) {
	var db *bun.DB
	if IsPostgres(dbURL) {
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(postgresDSN(dbURL))))
		sqldb.SetMaxOpenConns(16)
		sqldb.SetMaxIdleConns(16)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
	} else {
		path, err := sqlitePath(dbURL, dataDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		// Create the file owner-only; SQLite gives its WAL and shared-memory
		// files the same permissions.
		if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
		sqldb, err := sql.Open("sqlite", SQLiteDSN(path))
		if err != nil {
			return nil, err
		}
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxIdleTime(0)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}
	AddQueryHook(db, counterHook{})
	AddQueryHook(db, &fullHook{})
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		forgetHooks(db)
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", redactURLError(err, dbURL))
	}
	return db, nil
}

// DefaultStatementTimeout is the server-side statement_timeout of every
// PostgreSQL connection unless the URL sets one. It equals the driver's
// default read timeout, after which the client gives up on a statement: the
// server then ends it too, instead of letting it run on holding its locks.
const DefaultStatementTimeout = 10 * time.Second

// postgresDSN adds the default statement_timeout to dbURL unless it has one;
// a URL that sets read_timeout or timeout gets that as statement timeout.
func postgresDSN(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL // the driver reports the error
	}
	q := u.Query()
	if q.Has("statement_timeout") {
		return dbURL
	}
	timeout := DefaultStatementTimeout
	for _, k := range []string{"timeout", "read_timeout"} {
		if v := q.Get(k); v != "" {
			if d, err := time.ParseDuration(v); err == nil {
				timeout = d
			} else if s, err := strconv.Atoi(v); err == nil {
				timeout = time.Duration(s) * time.Second
			}
		}
	}
	q.Set("statement_timeout", strconv.FormatInt(timeout.Milliseconds(), 10))
	u.RawQuery = q.Encode()
	return u.String()
}

func sqlitePath(dbURL, dataDir string) (string, error) {
	switch {
	case dbURL == "":
		return filepath.Join(dataDir, FileName), nil
	case strings.HasPrefix(dbURL, "sqlite://"):
		return strings.TrimPrefix(dbURL, "sqlite://"), nil
	case strings.HasPrefix(dbURL, "sqlite:"):
		return strings.TrimPrefix(dbURL, "sqlite:"), nil
	case strings.HasPrefix(dbURL, "file:"):
		return strings.SplitN(strings.TrimPrefix(dbURL, "file:"), "?", 2)[0], nil
	case strings.Contains(dbURL, "://"):
		return "", fmt.Errorf("database URL scheme not supported: use postgres://, postgresql://, sqlite: or a file path")
	}
	return dbURL, nil
}

// redactURLError keeps a password in the URL out of error messages.
func redactURLError(err error, dbURL string) error {
	u, perr := url.Parse(dbURL)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// IsSQLite reports whether db is an SQLite database.
func IsSQLite(db bun.IDB) bool { return db.Dialect().Name() == dialect.SQLite }

// migrationsFS returns the migration folder of db's dialect.
func migrationsFS(db *bun.DB) (fs.FS, error) {
	if IsSQLite(db) {
		return fs.Sub(migrations.SQLite, "sqlite")
	}
	return fs.Sub(migrations.Postgres, "postgres")
}

// Migrator returns the migrator of db's dialect. Migrations are recorded
// only once they have succeeded.
func Migrator(db *bun.DB) (*migrate.Migrator, error) {
	dir, err := migrationsFS(db)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(dir); err != nil {
		return nil, err
	}
	return migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true)), nil
}

// withLock runs fn while holding the migration lock, waiting (up to two
// minutes, or ctx's end) for another process that holds it.
func withLock(ctx context.Context, m *migrate.Migrator, fn func() error) error {
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("migrations stayed locked for 2 minutes (%s): %w", lockedHint, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrations are locked (%s): %w", lockedHint, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer m.Unlock(context.WithoutCancel(ctx))
	return fn()
}

const lockedHint = "by another process migrating, or by one that crashed while migrating: " +
	"if no other hubshare is migrating this database, run `hubshare migrate unlock`"

// Unlock removes the migration lock, whoever took it: for a lock left by a
// process that crashed while migrating, which every later start would wait
// for in vain. It reports whether a lock was held. Only to be run while no
// other process is migrating the database.
func Unlock(ctx context.Context, db *bun.DB) (bool, error) {
	m, err := Migrator(db)
	if err != nil {
		return false, err
	}
	if err := m.Init(ctx); err != nil {
		return false, fmt.Errorf("init migrations: %w", err)
	}
	n, err := db.NewSelect().Table(locksTable).Count(ctx)
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, nil
	}
	if err := m.Unlock(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// locksTable is where bun's migrator keeps its lock.
const locksTable = "bun_migration_locks"

// MigrateUp applies every pending migration and returns their names.
func MigrateUp(ctx context.Context, db *bun.DB) ([]string, error) {
	m, err := Migrator(db)
	if err != nil {
		return nil, err
	}
	var names []string
	err = withLock(ctx, m, func() error {
		g, err := m.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, mg := range g.Migrations {
			names = append(names, mg.Name+"_"+mg.Comment)
		}
		return nil
	})
	return names, err
}

// MigrateDown rolls back the last group of migrations and returns their names.
func MigrateDown(ctx context.Context, db *bun.DB) ([]string, error) {
	m, err := Migrator(db)
	if err != nil {
		return nil, err
	}
	var names []string
	err = withLock(ctx, m, func() error {
		g, err := m.Rollback(ctx)
		if err != nil {
			return err
		}
		for _, mg := range g.Migrations {
			names = append(names, mg.Name+"_"+mg.Comment)
		}
		return nil
	})
	return names, err
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Name    string
	Applied bool
}

// Status lists every known migration with its state.
func Status(ctx context.Context, db *bun.DB) ([]MigrationStatus, error) {
	m, err := Migrator(db)
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(ms))
	for _, mg := range ms {
		out = append(out, MigrationStatus{Name: mg.Name + "_" + mg.Comment, Applied: mg.IsApplied()})
	}
	return out, nil
}

// ErrStaleSchema is returned by CheckCurrent when migrations are pending.
var ErrStaleSchema = errors.New("the database schema is out of date: run `hubshare migrate up` or start serve without --no-migrate")

// CheckCurrent fails with ErrStaleSchema if any migration is not applied.
func CheckCurrent(ctx context.Context, db *bun.DB) error {
	st, err := Status(ctx, db)
	if err != nil {
		return err
	}
	for _, s := range st {
		if !s.Applied {
			return fmt.Errorf("%w (pending: %s)", ErrStaleSchema, s.Name)
		}
	}
	return nil
}

// Translate maps a driver error to an app error code once, so that callers
// check codes instead of driver types. Errors it does not know pass through.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return app.Wrap(err, app.ENotFound, "Not found.")
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		switch pgErr.Field('C') {
		case "23505":
			return app.Wrap(err, app.EConflict, "That already exists.")
		case "23503", "23514", "23502":
			return app.Wrap(err, app.EInvalid, "That breaks a rule of the data.")
		case "22P02", "22003":
			return app.Wrap(err, app.EInvalid, "A value is out of range.")
		case "53100": // disk_full
			return app.Wrap(err, app.ENoSpace, app.NoSpaceMessage)
		}
		return err
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return app.Wrap(err, app.EConflict, "That already exists.")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return app.Wrap(err, app.EInvalid, "That breaks a rule of the data.")
		}
		// The primary code is the low byte of an extended one.
		if sqErr.Code()&0xff == sqlite3.SQLITE_FULL {
			return app.Wrap(err, app.ENoSpace, app.NoSpaceMessage)
		}
	}
	return err
}

// IsTimeout reports whether err is a statement that ran out of time: its
// context deadline, a client read deadline, or PostgreSQL's
// statement_timeout (or lock_timeout).
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		c := pgErr.Field('C')
		return c == "57014" || c == "55P03"
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type counterKey struct{}

// QueryCounter counts the queries run with a context from WithCounter.
type QueryCounter struct{ n atomic.Int64 }

// WithCounter returns a context whose queries are counted in the returned counter.
func WithCounter(ctx context.Context) (context.Context, *QueryCounter) {
	c := &QueryCounter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// Count returns how many queries ran so far.
func (c *QueryCounter) Count() int64 { return c.n.Load() }

type counterHook struct{}

func (counterHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (counterHook) AfterQuery(ctx context.Context, _ *bun.QueryEvent) {
	if c, ok := ctx.Value(counterKey{}).(*QueryCounter); ok {
		c.n.Add(1)
	}
}

// fullHook remembers that a write failed because the database is out of
// storage, until a later write succeeds or fullFor has passed (the health
// check must not stay failed for ever once traffic is sent elsewhere and
// nothing writes). It lets the health check report a full database without
// writing anything itself.
type fullHook struct{ until atomic.Int64 } // unix nanoseconds; 0 when not full

// fullFor is how long a disk-full error is reported without a new one.
const fullFor = time.Minute

func (*fullHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *fullHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	switch {
	case e.Err != nil:
		if app.ErrorCode(Translate(e.Err)) == app.ENoSpace {
			h.until.Store(time.Now().Add(fullFor).UnixNano())
		}
	case h.until.Load() != 0:
		switch strings.ToUpper(e.Operation()) {
		case "INSERT", "UPDATE", "DELETE":
			h.until.Store(0)
		}
	}
}

// ErrFull is returned by WriteProblem while the database is out of storage.
var ErrFull = errors.New("the database is out of storage space")

// WriteProblem returns ErrFull when a write to db failed in the last minute
// because its storage is full and no write has succeeded since, else nil.
func WriteProblem(db *bun.DB) error {
	for _, h := range hooksOf(db) {
		if f, ok := h.(*fullHook); ok && time.Now().UnixNano() < f.until.Load() {
			return ErrFull
		}
	}
	return nil
}
