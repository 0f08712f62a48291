package acl

import (
	"context"

	"github.com/uptrace/bun"
)

// CandidatesPlan returns SQLite's plan of the statement that lists the
// tokens an edit of the items can concern, one line per step.
func CandidatesPlan(ctx context.Context, db *bun.DB, owner int64, items []int64) ([]string, error) {
	var plan []string
	hook := &planHook{}
	db.AddQueryHook(hook)
	defer func() { hook.off = true }()
	hook.db, hook.plan = db, &plan
	_, err := candidates(ctx, db, owner, items)
	if err == nil {
		err = hook.err
	}
	return plan, err
}

// planHook explains the first query it sees.
type planHook struct {
	db   *bun.DB
	plan *[]string
	off  bool
	err  error
}

func (h *planHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if h.off || *h.plan != nil {
		return ctx
	}
	rows, err := h.db.DB.QueryContext(ctx, "EXPLAIN QUERY PLAN "+e.Query)
	if err != nil {
		h.err = err
		return ctx
	}
	defer rows.Close()
	*h.plan = []string{}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			h.err = err
			return ctx
		}
		*h.plan = append(*h.plan, detail)
	}
	return ctx
}

func (h *planHook) AfterQuery(context.Context, *bun.QueryEvent) {}
