package database_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"hubshare/app/database"
	"hubshare/app/database/dbtest"
)

// The snapshot is taken while another connection holds a write transaction
// open: it has what was committed, not what is still pending, and it opens
// as a database of its own.
func TestSnapshotHoldsCommittedRowsOnly(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	if _, err := db.ExecContext(ctx, "CREATE TABLE notes (body TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO notes VALUES ('committed')"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO notes VALUES ('pending')"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := database.Snapshot(ctx, db, path); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", info, err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Errorf("the snapshot has a WAL beside it")
	}
	cp, err := database.Open(ctx, path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(cp)
	var bodies []string
	if err := cp.NewRaw("SELECT body FROM notes ORDER BY body").Scan(ctx, &bodies); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || bodies[0] != "committed" {
		t.Errorf("snapshot holds %q, want only the committed row", bodies)
	}
	if err := database.Snapshot(ctx, db, path); err == nil {
		t.Errorf("a snapshot overwrote an existing file")
	}
}
