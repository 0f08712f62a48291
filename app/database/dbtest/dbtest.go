// Package dbtest gives tests a fresh, migrated database of each dialect:
// SQLite always, PostgreSQL whenever HUBSHARE_TEST_DATABASE_URL is set. Each
// database is cloned from a migrated template, so tests stay fast and can run
// in parallel.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app/database"
	"hubshare/migrations"
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "HUBSHARE_TEST_DATABASE_URL"

// Dialects lists the database kinds tests run on here: "sqlite", and
// "postgres" when EnvPostgres is set.
func Dialects() []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// Each runs fn as a parallel subtest on a fresh database of every dialect.
func Each(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh, migrated database of the dialect, closed (and
// dropped) when the test ends.
func Open(t testing.TB, dialect string) *bun.DB {
	t.Helper()
	dbURL := URL(t, dialect)
	db, err := database.Open(context.Background(), dbURL, "")
	if err != nil {
		t.Fatalf("open %s test database: %v", dialect, err)
	}
	t.Cleanup(func() { database.Close(db) })
	return db
}

// URL returns the URL of a fresh, migrated database of the dialect, removed
// when the test ends; for callers that open it themselves (a server under test).
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		tpl, err := sqliteTemplate()
		if err != nil {
			t.Fatalf("sqlite template: %v", err)
		}
		path := filepath.Join(t.TempDir(), database.FileName)
		if err := copyFile(tpl, path); err != nil {
			t.Fatal(err)
		}
		return path
	case "postgres":
		base := os.Getenv(EnvPostgres)
		if base == "" {
			t.Skip(EnvPostgres + " is not set")
		}
		tpl, err := pgTemplate(base)
		if err != nil {
			t.Fatalf("postgres template: %v", err)
		}
		name := "hubshare_t_" + randomHex(6)
		admin, err := database.Open(context.Background(), base, "")
		if err != nil {
			t.Fatal(err)
		}
		defer database.Close(admin)
		if err := retry(func() error {
			_, err := admin.Exec("CREATE DATABASE ? TEMPLATE ?", bun.Ident(name), bun.Ident(tpl))
			return err
		}); err != nil {
			t.Fatalf("clone template: %v", err)
		}
		t.Cleanup(func() {
			admin, err := database.Open(context.Background(), base, "")
			if err != nil {
				return
			}
			defer database.Close(admin)
			admin.Exec("DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
		})
		return withDBName(base, name)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

var (
	sqliteOnce sync.Once
	sqliteTpl  string
	sqliteErr  error
)

func sqliteTemplate() (string, error) {
	sqliteOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hubshare-tpl-")
		if err != nil {
			sqliteErr = err
			return
		}
		sqliteTpl = filepath.Join(dir, database.FileName)
		db, err := database.Open(context.Background(), sqliteTpl, "")
		if err != nil {
			sqliteErr = err
			return
		}
		defer database.Close(db)
		if _, err := database.MigrateUp(context.Background(), db); err != nil {
			sqliteErr = err
			return
		}
		// Fold the WAL into the main file so that a copy of it is complete.
		_, sqliteErr = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	})
	return sqliteTpl, sqliteErr
}

var (
	pgOnce sync.Once
	pgTpl  string
	pgErr  error
)

// pgTemplate creates (once per schema version, across test processes) a
// migrated template database and returns its name.
func pgTemplate(base string) (string, error) {
	pgOnce.Do(func() {
		pgTpl = "hubshare_tpl_" + schemaHash()
		ctx := context.Background()
		admin, err := database.Open(ctx, base, "")
		if err != nil {
			pgErr = err
			return
		}
		defer database.Close(admin)
		conn, err := admin.Conn(ctx)
		if err != nil {
			pgErr = err
			return
		}
		defer conn.Close()
		// Serialise template creation across parallel test binaries.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(724113)"); err != nil {
			pgErr = err
			return
		}
		defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock(724113)")
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = ?", pgTpl).Scan(&n); err != nil {
			pgErr = err
			return
		}
		if n == 1 {
			return
		}
		building := pgTpl + "_build"
		conn.ExecContext(ctx, "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(building))
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(building)); err != nil {
			pgErr = err
			return
		}
		db, err := database.Open(ctx, withDBName(base, building), "")
		if err != nil {
			pgErr = err
			return
		}
		_, err = database.MigrateUp(ctx, db)
		database.Close(db)
		if err != nil {
			pgErr = err
			return
		}
		_, pgErr = conn.ExecContext(ctx, "ALTER DATABASE ? RENAME TO ?", bun.Ident(building), bun.Ident(pgTpl))
	})
	return pgTpl, pgErr
}

// schemaHash names the template after the migrations, so a changed schema
// gets a new template.
func schemaHash() string {
	h := sha256.New()
	for _, fsys := range []fs.FS{migrations.Postgres} {
		fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(fsys, path)
			io.WriteString(h, path)
			h.Write(b)
			return nil
		})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDBName(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func retry(fn func() error) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = fn(); err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			return err
		}
		time.Sleep(time.Duration(50+i*20) * time.Millisecond)
	}
	return fmt.Errorf("after retries: %w", err)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
