package database_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
)

// bun's and pgdriver's own messages reach the service's logger, as JSON
// warnings marked with the library, with the request id of their context.
func TestDriverMessagesGoThroughTheLogger(t *testing.T) {
	var buf logtest.Buffer
	log, err := app.NewLogger(&buf, app.LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	database.RouteDriverLogs(log)
	t.Cleanup(func() { app.SetLibraryLogger(nil) })
	// The group ends once every dialect's (parallel) subtest has.
	t.Run("queries", func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, db *bun.DB) {
			// Arguments without placeholders: bun warns.
			var n int
			if err := db.NewSelect().ColumnExpr("1", 42).Scan(context.Background(), &n); err != nil {
				t.Fatal(err)
			}
		})
	})
	pgdriver.Logger.Printf(app.WithRequestID(context.Background(), "req-1"), "Conn.Write failed (zero-length): %s", "broken pipe")

	var bunLines, pgLines int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["level"] != "WARN" {
			t.Errorf("driver message at level %v, want WARN: %s", rec["level"], line)
		}
		switch rec["library"] {
		case "bun":
			bunLines++
			if msg, _ := rec["msg"].(string); !strings.Contains(msg, "no placeholders") {
				t.Errorf("bun line: %s", line)
			}
		case "pgdriver":
			pgLines++
			if rec["request_id"] != "req-1" || rec["msg"] != "Conn.Write failed (zero-length): broken pipe" {
				t.Errorf("pgdriver line: %s", line)
			}
		}
	}
	if bunLines != len(dbtest.Dialects()) || pgLines != 1 {
		t.Errorf("%d bun lines (want %d) and %d pgdriver lines (want 1) in:\n%s", bunLines, len(dbtest.Dialects()), pgLines, buf.String())
	}
}
