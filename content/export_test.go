package content

import (
	"context"

	"hubshare/acl"
	"hubshare/app/database"
)

// SetSweepBatch changes the sweep's batch size for a test and returns a
// function that restores it.
func SetSweepBatch(n int) (restore func()) {
	old := sweepBatch
	sweepBatch = n
	return func() { sweepBatch = old }
}

// GuestViewPlan returns SQLite's plan of the guest view of item for the
// session, one line per step.
func GuestViewPlan(ctx context.Context, s *Service, item int64, g acl.GuestSession) ([]string, error) {
	rows, err := s.DB.DB.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.guestView.Text(), item, tokensArg(g), database.TimeArg(s.DB, s.now()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// Kept reports whether a guest view of item for the session is kept in
// memory.
func Kept(s *Service, item int64, g acl.GuestSession) bool {
	_, ok := s.views.views.GetIfPresent(viewKey(item, tokensArg(g)))
	return ok
}
