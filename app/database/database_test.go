package database_test

import (
	"context"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/migrations"
)

func TestDialectFoldersCarryTheSameIDs(t *testing.T) {
	base := func(fsys fs.FS, dir string) []string {
		es, err := fs.ReadDir(fsys, dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	sq, pg := base(migrations.SQLite, "sqlite"), base(migrations.Postgres, "postgres")
	if len(sq) == 0 {
		t.Fatal("no migrations")
	}
	if len(sq) != len(pg) {
		t.Fatalf("sqlite has %d migration files, postgres %d", len(sq), len(pg))
	}
	for i := range sq {
		if sq[i] != pg[i] {
			t.Errorf("file %d: sqlite %q, postgres %q", i, sq[i], pg[i])
		}
	}
	ups, downs := 0, 0
	for _, n := range sq {
		switch {
		case len(n) > 7 && n[len(n)-7:] == ".up.sql":
			ups++
		case len(n) > 9 && n[len(n)-9:] == ".down.sql":
			downs++
		}
	}
	if ups != downs || ups*2 != len(sq) {
		t.Errorf("every migration needs an up and a down: %d up, %d down, %d files", ups, downs, len(sq))
	}
}

func TestUpDownUp(t *testing.T) {
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Open(t, d) // already migrated up from the template
			if err := database.CheckCurrent(ctx, db); err != nil {
				t.Fatalf("fresh database not current: %v", err)
			}
			for {
				names, err := database.MigrateDown(ctx, db)
				if err != nil {
					t.Fatalf("down: %v", err)
				}
				if len(names) == 0 {
					break
				}
			}
			var n int
			if err := db.NewSelect().TableExpr("bun_migrations").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("after all downs %d migrations still applied", n)
			}
			if err := database.CheckCurrent(ctx, db); err == nil {
				t.Fatal("CheckCurrent accepted an empty schema")
			}
			// Tables must really be gone: creating them again would fail otherwise.
			names, err := database.MigrateUp(ctx, db)
			if err != nil {
				t.Fatalf("up again: %v", err)
			}
			st, _ := database.Status(ctx, db)
			if len(names) != len(st) {
				t.Fatalf("up applied %d of %d migrations", len(names), len(st))
			}
			if err := database.CheckCurrent(ctx, db); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := db.NewRaw("INSERT INTO principals (id, kind) VALUES (1, 'member')").Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.NewRaw("INSERT INTO principals (id, kind) VALUES (1, 'member')").Exec(ctx)
		if got := app.ErrorCode(database.Translate(err)); got != app.EConflict {
			t.Errorf("duplicate key: got %q (%v)", got, err)
		}
		_, err = db.NewRaw("INSERT INTO principals (kind) VALUES ('nonsense')").Exec(ctx)
		if got := app.ErrorCode(database.Translate(err)); got != app.EInvalid {
			t.Errorf("check violation: got %q (%v)", got, err)
		}
		_, err = db.NewRaw("INSERT INTO sessions (id_hash, member_id, created_at, last_seen_at) VALUES (?, 999, ?, ?)", []byte{1}, time.Now(), time.Now()).Exec(ctx)
		if got := app.ErrorCode(database.Translate(err)); got != app.EInvalid {
			t.Errorf("foreign key violation: got %q (%v)", got, err)
		}
		var x int
		err = db.NewRaw("SELECT id FROM principals WHERE id = 42").Scan(ctx, &x)
		if got := app.ErrorCode(database.Translate(err)); got != app.ENotFound {
			t.Errorf("no rows: got %q (%v)", got, err)
		}
	})
}

// A full disk is ENoSpace with a message that says so: SQLite's SQLITE_FULL
// (reached here through max_page_count, which fails exactly as a full disk
// does) and PostgreSQL's disk_full, SQLSTATE 53100 (raised by the server).
func TestTranslateNoSpace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if database.IsSQLite(db) {
			if _, err := conn.ExecContext(ctx, "PRAGMA max_page_count = 1"); err != nil {
				t.Fatal(err)
			}
			_, err = conn.ExecContext(ctx, "CREATE TABLE filler (b BLOB)")
			if err == nil {
				_, err = conn.ExecContext(ctx, "INSERT INTO filler VALUES (zeroblob(1000000))")
			}
		} else {
			_, err = conn.ExecContext(ctx, "DO $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$")
		}
		if err == nil {
			t.Fatal("the write did not fail")
		}
		got := database.Translate(err)
		if app.ErrorCode(got) != app.ENoSpace || app.ErrorMessage(got) != app.NoSpaceMessage {
			t.Errorf("full disk: got %q %q (%v)", app.ErrorCode(got), app.ErrorMessage(got), err)
		}
		// The health check learns of it, until a write succeeds.
		if err := database.WriteProblem(db); err != database.ErrFull {
			t.Errorf("WriteProblem after a full disk: %v", err)
		}
		if _, err := db.NewInsert().Model(&map[string]any{"kind": "member"}).TableExpr("principals").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := database.WriteProblem(db); err != nil {
			t.Errorf("WriteProblem after a successful write: %v", err)
		}
	})
}

// inflight is a query hook that tracks how many statements run at once.
type inflight struct {
	now, max atomic.Int64
}

func (h *inflight) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	n := h.now.Add(1)
	for m := h.max.Load(); n > m && !h.max.CompareAndSwap(m, n); m = h.max.Load() {
	}
	return ctx
}

func (h *inflight) AfterQuery(context.Context, *bun.QueryEvent) { h.now.Add(-1) }

// Prepared writes sent at the same time all land, each once; on SQLite they
// run one at a time in the process, instead of sleeping on the lock.
func TestPreparedWritesTakeTurnsOnSQLite(t *testing.T) {
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := dbtest.Open(t, d)
			if _, err := db.ExecContext(ctx, "CREATE TABLE bump (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO bump (id, n) VALUES (1, 0)"); err != nil {
				t.Fatal(err)
			}
			h := &inflight{}
			database.AddQueryHook(db, h)
			bump := database.NewPreparedWrite(db,
				"UPDATE bump SET n = n + 1 WHERE id = ?1 RETURNING n",
				"UPDATE bump SET n = n + 1 WHERE id = $1 RETURNING n")
			const writers, each = 16, 40
			seen := make(chan int, writers*each)
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range each {
						var n int
						if err := bump.QueryRow(ctx, &n, 1); err != nil {
							t.Error(err)
							return
						}
						seen <- n
					}
				})
			}
			wg.Wait()
			close(seen)
			got := map[int]bool{}
			for n := range seen {
				if got[n] {
					t.Fatalf("two writes returned %d", n)
				}
				got[n] = true
			}
			if len(got) != writers*each {
				t.Fatalf("%d writes returned, want %d", len(got), writers*each)
			}
			if d == "sqlite" && h.max.Load() != 1 {
				t.Errorf("%d prepared writes ran at once on SQLite, want 1", h.max.Load())
			}
		})
	}
}
