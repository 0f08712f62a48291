package database

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/uptrace/bun"
)

// SQLitePath returns the file of the SQLite database that dbURL names (empty
// for hubshare.db in dataDir), as Open resolves it. It fails for a
// PostgreSQL URL.
func SQLitePath(dbURL, dataDir string) (string, error) {
	if IsPostgres(dbURL) {
		return "", errors.New("the database is PostgreSQL, not an SQLite file")
	}
	return sqlitePath(dbURL, dataDir)
}

// Snapshot writes a consistent copy of the SQLite database db to path with
// VACUUM INTO, which reads inside one transaction: it is taken online while
// other connections (other processes included) keep writing, and the copy
// holds every transaction committed before it began and none after. path
// must not exist; the copy is a single database file with no WAL beside it,
// written owner-only.
func Snapshot(ctx context.Context, db *bun.DB, path string) error {
	if !IsSQLite(db) {
		return errors.New("a snapshot is taken of SQLite databases only")
	}
	// Created empty first so that the copy gets owner-only permissions;
	// VACUUM INTO accepts an existing empty file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("database snapshot: %w", err)
	}
	f.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("database snapshot: %w", err)
	}
	return nil
}
