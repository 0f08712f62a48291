package database

import "github.com/uptrace/bun"

// AddSecondsSQL is an SQL expression for the instant ts (an SQL expression
// of a stored time, or a placeholder of a time argument) plus seconds (an
// SQL expression of a whole number), in the form the dialect stores times:
// SQLite keeps the text bun writes (UTC, "+00:00"), to the millisecond here.
// Only code-chosen expressions are spliced in, never values.
func AddSecondsSQL(db bun.IDB, ts, seconds string) string {
	if IsSQLite(db) {
		return "strftime('%Y-%m-%d %H:%M:%f+00:00', " + ts + ", '+' || (" + seconds + ") || ' seconds')"
	}
	return "(CAST(" + ts + " AS TIMESTAMPTZ) + (" + seconds + ") * INTERVAL '1 second')"
}
