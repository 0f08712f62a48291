package database

import (
	"context"
	"log/slog"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"hubshare/app"
)

var routeOnce sync.Once

// RouteDriverLogs sends the messages bun and the PostgreSQL driver print on
// their own (a bad connection discarded, a query with arguments but no
// placeholders) to log, as warnings. Those loggers are process-wide, so the
// last call wins. The SQLite driver prints nothing of its own.
func RouteDriverLogs(log *slog.Logger) {
	app.SetLibraryLogger(log)
	routeOnce.Do(func() {
		bun.SetLogger(bunLogger{})
		pgdriver.Logger = pgLogger{}
	})
}

type bunLogger struct{}

func (bunLogger) Printf(format string, args ...any) {
	app.LibraryPrintf(context.Background(), slog.LevelWarn, "bun", format, args...)
}

type pgLogger struct{}

func (pgLogger) Printf(ctx context.Context, format string, args ...any) {
	app.LibraryPrintf(ctx, slog.LevelWarn, "pgdriver", format, args...)
}
