package acl

import (
	"context"
	"strings"
	"sync"

	"github.com/uptrace/bun"
)

// CandidatesPlan returns SQLite's plan of the statement that lists the
// tokens an edit of the items can concern, one line per step.
func CandidatesPlan(ctx context.Context, db *bun.DB, owner int64, items []int64) ([]string, error) {
	plans, err := QueryPlans(ctx, db, func(ctx context.Context) error {
		_, err := candidates(ctx, db, owner, items)
		return err
	})
	if err != nil || len(plans) == 0 {
		return nil, err
	}
	return plans[0].Steps, nil
}

// A Plan is SQLite's plan of one statement a call ran.
type Plan struct {
	Query string
	Steps []string
}

// QueryPlans runs fn and returns SQLite's plan of every statement it sent
// on db (transaction control aside), in order.
func QueryPlans(ctx context.Context, db *bun.DB, fn func(ctx context.Context) error) ([]Plan, error) {
	hook := &planHook{db: db}
	db.AddQueryHook(hook)
	err := fn(ctx)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	hook.off = true
	if err == nil {
		err = hook.err
	}
	return hook.plans, err
}

// planHook explains the queries it sees until it is turned off.
type planHook struct {
	db    *bun.DB
	mu    sync.Mutex
	plans []Plan
	off   bool
	err   error
}

func (h *planHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	word, _, _ := strings.Cut(strings.TrimSpace(e.Query), " ")
	switch strings.ToUpper(word) {
	case "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return ctx
	}
	if h.off || h.err != nil {
		return ctx
	}
	rows, err := h.db.DB.QueryContext(ctx, "EXPLAIN QUERY PLAN "+e.Query)
	if err != nil {
		h.err = err
		return ctx
	}
	defer rows.Close()
	p := Plan{Query: e.Query}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			h.err = err
			return ctx
		}
		p.Steps = append(p.Steps, detail)
	}
	h.plans = append(h.plans, p)
	return ctx
}

func (h *planHook) AfterQuery(context.Context, *bun.QueryEvent) {}
