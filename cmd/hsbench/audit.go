package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
)

// S4 is the owner audit at scale: 100 000 items, 1 000 tokens, 1 000 000
// ACL entries and 10 000 000 access-log rows (times -s4-scale), bulk-seeded
// with SQL, beside an owner at 1 % of that in the same database. The owner's
// pages — the first page of the token list, one token's page (grants and
// history), one item's share panel — and the writes that move a token's
// reach — an item's ACL, a group membership — are timed for both owners,
// alternately; each must stay within twice its time at 1 %, with the same
// number of queries.

// Full-scale sizes of S4.
const (
	auditItems     = 100_000
	auditTokens    = 1_000
	auditEntries   = 1_000_000
	auditAccessLog = 10_000_000
	// smallScale is the owner each operation is held to: at full scale it
	// may take at most scaleLimit times as long, with as many queries.
	smallScale = 0.01
	scaleLimit = 2.0
	// seedBatch is how many rows one INSERT … SELECT writes.
	seedBatch = 100_000
	// historyLimit is the share panel's access-log length, tokenHistory a
	// token page's, grantsPage the grants a token's page holds.
	historyLimit = 50
	tokenHistory = 100
	grantsPage   = 100
)

// auditOwner is one owner seeded at a scale.
type auditOwner struct {
	id      int64
	scale   float64
	items   int64
	tokens  int64
	groups  int64
	entries int64
	logRows int64
	seeded  time.Duration
	// token sits in two groups and is named directly by many entries;
	// group is a group it is not in, for the membership writes.
	token, group int64
	// item is a photo in an album, with ACL entries and views.
	item int64
	// The first ids of the bulk tokens, groups and items.
	tokenBase, groupBase, itemBase int64
}

// auditOp is one measured operation.
type auditOp struct {
	name string
	// record rows (whole pages over HTTP) are reported, not judged.
	record bool
	// svc is the operation for the owner at -s4-scale, small at smallScale.
	svc, small []time.Duration
	// queries per call, at scale and at smallScale.
	queries, queriesSmall int64
	timedOut              bool
	err                   string
}

// ratio is p95 at scale over p95 at smallScale.
func (op *auditOp) ratio() float64 {
	if len(op.small) == 0 || p95(op.small) == 0 {
		return math.Inf(1)
	}
	return float64(p95(op.svc)) / float64(p95(op.small))
}

func (op *auditOp) result() string {
	switch {
	case op.timedOut:
		return "MISS (timeout)"
	case op.err != "":
		return "INVALID"
	case op.record:
		return "record"
	case op.queries != op.queriesSmall:
		return "MISS (queries)"
	case op.ratio() <= scaleLimit:
		return "PASS"
	}
	return "MISS"
}

// auditResult is S4 on one database.
type auditResult struct {
	large, small *auditOwner
	callTimeout  time.Duration
	ops          []*auditOp
	analyzed     bool
}

func runAudit(ctx context.Context, o *options, t *target, progress func(string, ...any)) (*auditResult, error) {
	res := &auditResult{callTimeout: o.s4CallTimeout}
	var err error
	progress("S4: seeding an owner at scale %g", smallScale)
	if res.small, err = seedAudit(ctx, t, "audit-small", smallScale); err != nil {
		return nil, err
	}
	progress("S4: seeding an owner at scale %g", o.s4Scale)
	if res.large, err = seedAudit(ctx, t, "audit-large", o.s4Scale); err != nil {
		return nil, err
	}
	progress("S4: seeded in %s", res.large.seeded.Round(time.Second))
	if !database.IsSQLite(t.db) {
		// Autovacuum would vacuum and analyze the new rows soon after such
		// a load; the visibility map it sets allows index-only scans.
		if _, err := t.db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return nil, err
		}
		res.analyzed = true
	}

	type call func(ctx context.Context, ow *auditOwner, i int) error
	ops := []struct {
		name string
		fn   call
	}{
		// A page as long as the small owner's whole list (10 tokens), so
		// that both owners' pages hold as many rows.
		{"token list, first page of 10 (ListTokensPage)", func(ctx context.Context, ow *auditOwner, _ int) error {
			_, _, err := t.acl.ListTokensPage(ctx, ow.id, acl.TokenQuery{Page: app.Page{Limit: int(res.small.tokens)}})
			return err
		}},
		{"token page (Token + TokenGrantsPage + TokenViews + TokenAccess)", func(ctx context.Context, ow *auditOwner, _ int) error {
			if _, err := t.acl.Token(ctx, ow.id, ow.token); err != nil {
				return err
			}
			if _, _, err := t.acl.TokenGrantsPage(ctx, ow.id, ow.token, app.Page{Limit: grantsPage}); err != nil {
				return err
			}
			if _, err := t.acl.TokenViews(ctx, ow.token); err != nil {
				return err
			}
			_, err := t.acl.TokenAccess(ctx, ow.id, ow.token, tokenHistory)
			return err
		}},
		{"share panel (ItemACL + ItemAccessPage + Audience)", func(ctx context.Context, ow *auditOwner, _ int) error {
			if _, err := t.acl.ItemACL(ctx, ow.id, ow.item); err != nil {
				return err
			}
			if _, _, err := t.acl.ItemAccessPage(ctx, ow.id, ow.item, app.Page{Limit: historyLimit}); err != nil {
				return err
			}
			_, _, err := t.acl.Audience(ctx, ow.id, ow.item)
			return err
		}},
		{"PUT /items/{id}/acl (PutACL, the token in or out)", func(ctx context.Context, ow *auditOwner, i int) error {
			a, err := t.acl.ItemACL(ctx, ow.id, ow.item)
			if err != nil {
				return err
			}
			a.Allow = slices.DeleteFunc(a.Allow, func(p int64) bool { return p == ow.token })
			a.Deny = slices.DeleteFunc(a.Deny, func(p int64) bool { return p == ow.token })
			if i%2 == 0 {
				a.Allow = append(a.Allow, ow.token)
			}
			_, err = t.acl.PutACL(ctx, ow.id, ow.item, *a)
			return err
		}},
		{"group membership (AddGroupMember / RemoveGroupMember)", func(ctx context.Context, ow *auditOwner, i int) error {
			if i%2 == 0 {
				return t.acl.AddGroupMember(ctx, ow.id, ow.group, ow.token)
			}
			return t.acl.RemoveGroupMember(ctx, ow.id, ow.group, ow.token)
		}},
	}
	for _, spec := range ops {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		op := &auditOp{name: spec.name}
		res.ops = append(res.ops, op)
		progress("S4: %s", op.name)
		if err := measureOp(ctx, o, t, res, op, spec.fn); err != nil {
			op.err = err.Error()
		}
	}
	// The owner's pages as served, for the record: they include queries
	// beyond the ones above (the share page loads the owner's directory).
	sid, err := t.acl.CreateSession(ctx, res.large.id)
	if err != nil {
		return nil, err
	}
	cookie := "hs_session=" + sid
	for _, path := range []string{"/items/" + strconv.FormatInt(res.large.item, 10) + "/share", "/settings/tokens",
		"/settings/tokens/" + strconv.FormatInt(res.large.token, 10)} {
		op := &auditOp{name: "page GET " + path + " over HTTP", record: true}
		res.ops = append(res.ops, op)
		progress("S4: %s", op.name)
		if err := measurePage(ctx, o, t, op, path, cookie); err != nil {
			op.err = err.Error()
		}
	}
	return res, nil
}

// measureOp times the operation for the owner at -s4-scale and the owner at
// smallScale, alternately, and counts its queries for both. A call that
// outlives -s4-call-timeout ends the operation as a miss.
func measureOp(ctx context.Context, o *options, t *target, res *auditResult, op *auditOp, fn func(context.Context, *auditOwner, int) error) error {
	timed := func(parent context.Context, ow *auditOwner, i int) (time.Duration, error) {
		cctx, cancel := context.WithTimeout(parent, o.s4CallTimeout)
		defer cancel()
		t0 := time.Now()
		err := fn(cctx, ow, i)
		if err != nil && cctx.Err() != nil && ctx.Err() == nil {
			op.timedOut = true
			return 0, fmt.Errorf("a call took longer than %s", o.s4CallTimeout)
		}
		return time.Since(t0), err
	}
	// A first call at each scale brings both owners to the same state (the
	// writes alternate), then one call each is counted.
	for _, ow := range []*auditOwner{res.small, res.large} {
		if _, err := timed(ctx, ow, 0); err != nil {
			return err
		}
	}
	for _, ow := range []*auditOwner{res.small, res.large} {
		cctx, counter := database.WithCounter(ctx)
		_, err := timed(cctx, ow, 1)
		if ow == res.small {
			op.queriesSmall = counter.Count()
		} else {
			op.queries = counter.Count()
		}
		if err != nil {
			return err
		}
	}
	start := time.Now()
	for i := 2; i < o.s4Calls+2 && ctx.Err() == nil; i++ {
		if i > minAuditCalls+1 && time.Since(start) > o.s4Budget {
			break
		}
		d, err := timed(ctx, res.large, i)
		if err != nil {
			return err
		}
		op.svc = append(op.svc, d)
		if d, err = timed(ctx, res.small, i); err != nil {
			return err
		}
		op.small = append(op.small, d)
	}
	return ctx.Err()
}

// minAuditCalls is how many calls an S4 operation makes even past its budget.
const minAuditCalls = 3

func measurePage(ctx context.Context, o *options, t *target, op *auditOp, path, cookie string) error {
	get := func() error {
		cctx, cancel := context.WithTimeout(ctx, o.s4CallTimeout)
		defer cancel()
		a, err := t.getURL(cctx, t.url(path), cookie, o.s4CallTimeout)
		if err != nil {
			if cctx.Err() != nil && ctx.Err() == nil {
				op.timedOut = true
				return fmt.Errorf("a call took longer than %s", o.s4CallTimeout)
			}
			return err
		}
		if a.status != http.StatusOK {
			return fmt.Errorf("%s answered %d", path, a.status)
		}
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < o.s4Calls && ctx.Err() == nil; i++ {
		if i >= minAuditCalls && time.Since(start) > o.s4Budget {
			break
		}
		t0 := time.Now()
		if err := get(); err != nil {
			return err
		}
		op.svc = append(op.svc, time.Since(t0))
	}
	return ctx.Err()
}

// seedAudit creates an owner through the service and bulk-seeds their
// data (seedOwner).
func seedAudit(ctx context.Context, t *target, handle string, scale float64) (*auditOwner, error) {
	m, err := t.acl.CreateMember(ctx, handle, "", "a long bench passphrase")
	if err != nil {
		return nil, err
	}
	return seedOwner(ctx, t, m.ID, scale, nil)
}

// seedOwner bulk-seeds an owner's tokens, groups, items, ACL entries and
// access log at a scale of S4's sizes, with INSERT … SELECT over a generated
// series, in batches, in one transaction. extra, if given, runs in the same
// transaction after the bulk rows and before the counts the services keep
// are made from them.
func seedOwner(ctx context.Context, t *target, owner int64, scale float64, extra func(context.Context, seeder, *auditOwner) error) (*auditOwner, error) {
	ow := &auditOwner{id: owner, scale: scale}
	ow.items = max(50, int64(math.Round(auditItems*scale)))
	ow.tokens = max(5, int64(math.Round(auditTokens*scale)))
	ow.groups = max(3, ow.tokens/10)
	principals := ow.tokens + ow.groups
	perItem := min(auditEntries/auditItems, principals)
	ow.entries = ow.items * perItem
	ow.logRows = max(10, int64(math.Round(auditAccessLog*scale)))
	step := coprimeStep(principals)

	pg := !database.IsSQLite(t.db)
	now := time.Now().UTC()
	ts := "?"
	randomHash := "randomblob(32)"
	randomSealed := "randomblob(48)"
	if pg {
		ts = "CAST(? AS TIMESTAMPTZ)"
		randomHash = "sha256(convert_to(random()::text || ':' || n, 'UTF8'))"
		randomSealed = randomHash + " || substr(sha256(convert_to(random()::text, 'UTF8')), 1, 16)"
	}
	start := time.Now()
	err := t.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var pb, ib int64
		if err := tx.NewRaw("SELECT COALESCE(max(id), 0) + 1 FROM principals").Scan(ctx, &pb); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT COALESCE(max(id), 0) + 1 FROM items").Scan(ctx, &ib); err != nil {
			return err
		}
		ow.token, ow.item = pb, ib+6
		ow.tokenBase, ow.groupBase, ow.itemBase = pb, pb+ow.tokens, ib
		// Token 0 is in groups 0 and 1 (see the memberships below).
		ow.group = pb + ow.tokens + 2
		s := seeder{tx: tx, pg: pg}
		steps := []struct {
			n         int64
			head, sel string
			args      []any
		}{
			{principals, "INSERT INTO principals (id, kind)",
				"? + n, CASE WHEN n < ? THEN 'token' ELSE 'group' END", []any{pb, ow.tokens}},
			{ow.tokens, "INSERT INTO guest_tokens (id, owner_id, name, secret_hash, secret_sealed, expires_at, max_uses, uses, can_download, show_metadata, created_at, revoked_at)",
				"? + n, ?, 'Link ' || n, " + randomHash + ", " + randomSealed + ", CASE WHEN n % 7 = 3 THEN " + ts + " END, " +
					"CASE WHEN n % 11 = 5 THEN 10 END, n % 5, n % 2 = 0, n % 4 = 0, " + ts + ", CASE WHEN n % 13 = 7 THEN " + ts + " END",
				[]any{pb, ow.id, now.Add(30 * 24 * time.Hour), now, now}},
			{ow.groups, "INSERT INTO groups (id, owner_id, name, created_at)",
				"? + n, ?, 'Circle ' || n, " + ts, []any{pb + ow.tokens, ow.id, now}},
			// Every token is in one group, every third token in a second.
			{ow.tokens, "INSERT INTO group_members (group_id, principal_id)",
				"? + (n % ?), ? + n", []any{pb + ow.tokens, ow.groups, pb}},
			{ow.tokens, "INSERT INTO group_members (group_id, principal_id)",
				"? + ((n + 1) % ?), ? + n WHERE n % 3 = 0", []any{pb + ow.tokens, ow.groups, pb}},
			// One album in 50 items; a fifth of the others sit in the album before them.
			{ow.items, "INSERT INTO items (id, owner_id, kind, title, body, album_id, public, created_at, updated_at)",
				"? + n, ?, CASE WHEN n % 50 = 0 THEN 'album' WHEN n % 2 = 0 THEN 'photo' ELSE 'post' END, 'Item ' || n, '', " +
					"CASE WHEN n % 50 <> 0 AND n % 5 = 1 THEN ? + (n / 50) * 50 END, n % 97 = 13, " + ts + ", " + ts,
				[]any{ib, ow.id, ib, now, now}},
			// perItem entries on every item, naming distinct tokens and groups; one in 23 is a deny.
			{ow.entries, "INSERT INTO acl_entries (item_id, principal_id, deny)",
				"? + n / ?, ? + ((n / ? + (n % ?) * ?) % ?), (n / ? + n % ?) % 23 = 0",
				[]any{ib, perItem, pb, perItem, perItem, step, principals, perItem, perItem}},
			{ow.logRows, "INSERT INTO access_log (at, token_id, item_id, event, client_mark)",
				ts + ", ? + (n % ?), ? + ((n * 7) % ?), CASE WHEN n % 10 = 0 THEN 'open' ELSE 'view' END, 'bench'",
				[]any{now, pb, ow.tokens, ib, ow.items}},
		}
		for _, st := range steps {
			if err := s.batches(ctx, st.n, st.head, st.sel, st.args...); err != nil {
				return fmt.Errorf("%s: %w", st.head, err)
			}
		}
		if pg {
			// Rows inserted with explicit ids leave the identity sequences behind.
			for _, table := range []string{"principals", "items"} {
				if _, err := tx.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT max(id) FROM ?))",
					table, bun.Ident(table)); err != nil {
					return err
				}
			}
		}
		if extra != nil {
			if err := extra(ctx, s, ow); err != nil {
				return err
			}
		}
		// Rows written behind the services' back: the views per token and
		// item that the access log's flush keeps, and the tokens' reach,
		// counted once, as an upgrade does, before anything is measured.
		if _, err := tx.NewRaw(`INSERT INTO token_item_views (token_id, item_id, views)
SELECT l.token_id, l.item_id, sum(l.count) FROM access_log AS l
JOIN guest_tokens AS t ON t.id = l.token_id AND t.owner_id = ?
WHERE l.event = 'view' AND l.item_id IS NOT NULL GROUP BY l.token_id, l.item_id`, ow.id).Exec(ctx); err != nil {
			return err
		}
		return t.acl.RebuildTokenStats(ctx, tx, ow.id)
	})
	ow.seeded = time.Since(start)
	return ow, err
}

// coprimeStep returns a step that walks n principals without repeating
// within an item's entries.
func coprimeStep(n int64) int64 {
	gcd := func(a, b int64) int64 {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	for s := int64(131); ; s++ {
		if gcd(s, n) == 1 {
			return s
		}
	}
}

// seeder writes generated rows in batches on one transaction.
type seeder struct {
	tx bun.Tx
	pg bool
}

// batches inserts rows for n = 0 … total-1, seedBatch at a time. sel is the
// select list, in terms of n (it may end with a WHERE clause); args fill
// its placeholders.
func (s seeder) batches(ctx context.Context, total int64, head, sel string, args ...any) error {
	for lo := int64(0); lo < total; lo += seedBatch {
		hi := min(lo+seedBatch, total) - 1
		var q string
		var all []any
		where := ""
		if i := lastWhere(sel); i >= 0 {
			sel, where = sel[:i], sel[i:]
		}
		if s.pg {
			q = head + " SELECT " + sel + " FROM generate_series(CAST(? AS BIGINT), CAST(? AS BIGINT)) AS s(n)" + where
			all = append(append(all, args...), lo, hi)
		} else {
			q = "WITH RECURSIVE s(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM s WHERE n < ?) " + head + " SELECT " + sel + " FROM s" + where
			all = append(append(all, lo, hi), args...)
		}
		if _, err := s.tx.ExecContext(ctx, q, all...); err != nil {
			return err
		}
	}
	return nil
}

func lastWhere(sel string) int {
	const w = " WHERE "
	for i := len(sel) - len(w); i >= 0; i-- {
		if sel[i:i+len(w)] == w {
			return i
		}
	}
	return -1
}

func p95(ds []time.Duration) time.Duration { return percentile(ds, 0.95) }

func p50(ds []time.Duration) time.Duration { return percentile(ds, 0.50) }

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, i)]
}

func (a *auditResult) header() string {
	l := a.large
	return fmt.Sprintf("S4 owner audit at scale %g: %d items, %d tokens, %d groups, %d ACL entries, %d access-log rows (seeded in %s)",
		l.scale, l.items, l.tokens, l.groups, l.entries, l.logRows, l.seeded.Round(100*time.Millisecond))
}

func (a *auditResult) cells() [][]string {
	out := [][]string{{"operation", "calls", fmt.Sprintf("p50 / p95 at %g", smallScale), fmt.Sprintf("p50 / p95 at %g", a.large.scale),
		"p95 ratio (limit 2)", fmt.Sprintf("queries per call (%g / %g)", smallScale, a.large.scale), "result"}}
	for _, op := range a.ops {
		small, svc := ms(p50(op.small))+" / "+ms(p95(op.small)), ms(p50(op.svc))+" / "+ms(p95(op.svc))
		ratio, queries := fmt.Sprintf("%.2f", op.ratio()), fmt.Sprintf("%d / %d", op.queriesSmall, op.queries)
		if op.timedOut && len(op.svc) == 0 {
			svc, ratio = "> "+a.callTimeout.String(), "—"
			queries = fmt.Sprintf("%d / ≥ %d", op.queriesSmall, op.queries)
		}
		if op.record {
			small, ratio, queries = "—", "—", "—"
		}
		out = append(out, []string{op.name, strconv.Itoa(len(op.svc)), small, svc, ratio, queries, op.result()})
	}
	return out
}

func (a *auditResult) details() []string {
	out := []string{
		fmt.Sprintf("Each operation runs for the owner at scale %g and for one at scale %g in the same database, alternately; PASS when its p95 at %g is at most %g× its p95 at %g and both make the same number of queries (database.WithCounter around one call each).",
			a.large.scale, smallScale, a.large.scale, scaleLimit, smallScale),
		"The writes flip the state back and forth (the token into an item's ACL and out, into a group and out), so every call does the same work.",
	}
	if a.analyzed {
		out = append(out, "PostgreSQL: VACUUM ANALYZE was run after seeding, as autovacuum would.")
	} else {
		out = append(out, "SQLite: no ANALYZE after seeding (the product does not run one), so the planner has no statistics.")
	}
	for _, op := range a.ops {
		if op.err != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", op.name, op.result(), op.err))
		}
	}
	return out
}
