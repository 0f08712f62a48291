// Package migrations holds the versioned schema, one folder per dialect with
// the same ids; every migration has a down.
package migrations

import "embed"

// SQLite holds the migrations for the embedded SQLite database.
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres holds the migrations for PostgreSQL.
//
//go:embed postgres/*.sql
var Postgres embed.FS
