package database

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Prepared is one statement for the hot path, prepared on each pooled
// connection the first time it runs there. bun sends every query as text,
// which the database plans anew each time; for the guest view the planning
// costs more than the execution.
//
// The SQL differs per dialect (placeholders, JSON functions), so it is given
// for both; this is the one place that picks.
type Prepared struct {
	db               *bun.DB
	sqlite, postgres string

	// writer, for a statement that writes on SQLite, takes the process's
	// such statements in turn (NewPreparedWrite).
	writer *sync.Mutex

	mu   sync.Mutex
	stmt *sql.Stmt
}

// NewPrepared declares a statement; it is prepared on first use.
func NewPrepared(db *bun.DB, sqlite, postgres string) *Prepared {
	return &Prepared{db: db, sqlite: sqlite, postgres: postgres}
}

// NewPreparedWrite declares a statement that writes, run often and at the
// same time by many requests (a link opening). SQLite lets one connection
// write at a time, and a connection that finds the lock taken sleeps (a
// millisecond, then longer) before it tries again: a burst of such writes
// would spend its time asleep while the lock is free. On SQLite they are
// therefore taken in turn inside the process, each starting as soon as the
// one before is done; PostgreSQL locks rows, and runs them as they come.
func NewPreparedWrite(db *bun.DB, sqlite, postgres string) *Prepared {
	p := NewPrepared(db, sqlite, postgres)
	if IsSQLite(db) {
		p.writer = writerOf(db)
	}
	return p
}

func (p *Prepared) get(ctx context.Context) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmt != nil {
		return p.stmt, nil
	}
	stmt, err := p.db.DB.PrepareContext(ctx, p.text())
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	p.stmt = stmt
	return stmt, nil
}

// QueryRow runs the statement and scans its first row into dest with bun's
// scanner; no row gives sql.ErrNoRows. It counts as one query for
// WithCounter.
func (p *Prepared) QueryRow(ctx context.Context, dest any, args ...any) error {
	stmt, err := p.get(ctx)
	if err != nil {
		return err
	}
	if p.writer != nil {
		// Held until the statement is done and its write committed; the
		// hooks see the statement, not the wait.
		p.writer.Lock()
		defer p.writer.Unlock()
	}
	ev := &bun.QueryEvent{DB: p.db, Query: p.text(), StartTime: time.Now()}
	hs := hooksOf(p.db)
	for _, h := range hs {
		ctx = h.BeforeQuery(ctx, ev)
	}
	defer func() {
		for i := len(hs) - 1; i >= 0; i-- {
			hs[i].AfterQuery(ctx, ev)
		}
	}()
	rows, err := stmt.QueryContext(ctx, args...)
	ev.Err = err
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := p.db.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	return rows.Close()
}

// Text is the statement as sent to this database.
func (p *Prepared) Text() string { return p.text() }

func (p *Prepared) text() string {
	if IsSQLite(p.db) {
		return p.sqlite
	}
	return p.postgres
}

var (
	hooksMu sync.Mutex
	hooks   = map[*bun.DB][]bun.QueryHook{}
	writers = map[*bun.DB]*sync.Mutex{}
)

// writerOf is the lock that takes db's prepared writes in turn.
func writerOf(db *bun.DB) *sync.Mutex {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	w := writers[db]
	if w == nil {
		w = new(sync.Mutex)
		writers[db] = w
	}
	return w
}

// AddQueryHook adds a query hook to db that also sees the prepared
// statements run through Prepared (bun's own hooks only see bun's queries).
func AddQueryHook(db *bun.DB, h bun.QueryHook) {
	db.AddQueryHook(h)
	hooksMu.Lock()
	hooks[db] = append(hooks[db], h)
	hooksMu.Unlock()
}

// Close closes db and forgets its hooks.
func Close(db *bun.DB) error {
	forgetHooks(db)
	return db.Close()
}

// forgetHooks drops the hooks of a database that is closed.
func forgetHooks(db *bun.DB) {
	hooksMu.Lock()
	delete(hooks, db)
	delete(writers, db)
	hooksMu.Unlock()
}

func hooksOf(db *bun.DB) []bun.QueryHook {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	return hooks[db]
}

// TimeArg is t as a statement argument that compares correctly with the
// stored times of the dialect: SQLite keeps the text bun writes.
func TimeArg(db bun.IDB, t time.Time) any {
	if IsSQLite(db) {
		return t.UTC().Format("2006-01-02 15:04:05.999999-07:00")
	}
	return t.UTC()
}
