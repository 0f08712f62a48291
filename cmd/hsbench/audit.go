package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"hubshare/app/database"
)

// S4 is the owner audit at scale: 100 000 items, 1 000 tokens and 1 000 000
// ACL entries (times -s4-scale), bulk-seeded with SQL, then the owner's
// token list, one token's grants and one item's share panel, each through
// the services and as the same SQL run bare.

// Full-scale sizes of S4.
const (
	auditItems     = 100_000
	auditTokens    = 1_000
	auditEntries   = 1_000_000
	auditAccessLog = 100_000
	// smallScale is where the queries per call are counted a second time,
	// to show that the number does not depend on the size.
	smallScale = 0.01
	// seedBatch is how many rows one INSERT … SELECT writes.
	seedBatch = 100_000
	// historyLimit is the share panel's access-log length.
	historyLimit = 50
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
	// token sits in two groups and is named directly by many entries.
	token int64
	// item is a photo in an album, with ACL entries and views.
	item int64
}

// auditOp is one measured operation.
type auditOp struct {
	name string
	// record rows (whole pages over HTTP) are reported, not judged.
	record bool
	svc    []time.Duration
	bare   []time.Duration
	// queries per call through the service, at scale and at smallScale.
	queries, queriesSmall int64
	// statements are what the service ran, replayed bare; bareEach times
	// each of them.
	statements []string
	bareEach   [][]time.Duration
	timedOut   bool
	err        string
}

func (op *auditOp) limit() time.Duration { return 2*p95(op.bare) + 5*time.Millisecond }

func (op *auditOp) result() string {
	switch {
	case op.timedOut:
		return "MISS (timeout)"
	case op.err != "":
		return "INVALID"
	case op.record:
		return "record"
	case op.queries != op.queriesSmall:
		return "MISS"
	case p95(op.svc) <= op.limit():
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

	type call func(ctx context.Context, ow *auditOwner) error
	ops := []struct {
		name string
		fn   call
	}{
		{"ListTokens(owner)", func(ctx context.Context, ow *auditOwner) error {
			_, err := t.acl.ListTokens(ctx, ow.id)
			return err
		}},
		{"TokenGrants(owner, token)", func(ctx context.Context, ow *auditOwner) error {
			_, err := t.acl.TokenGrants(ctx, ow.id, ow.token)
			return err
		}},
		{"share panel: ItemACL + ItemAccess(owner, item)", func(ctx context.Context, ow *auditOwner) error {
			if _, err := t.acl.ItemACL(ctx, ow.id, ow.item); err != nil {
				return err
			}
			_, err := t.acl.ItemAccess(ctx, ow.id, ow.item, historyLimit)
			return err
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
	for _, path := range []string{"/items/" + strconv.FormatInt(res.large.item, 10) + "/share", "/settings/tokens"} {
		op := &auditOp{name: "page GET " + path + " over HTTP", record: true}
		res.ops = append(res.ops, op)
		progress("S4: %s", op.name)
		if err := measurePage(ctx, o, t, op, path, cookie); err != nil {
			op.err = err.Error()
		}
	}
	return res, nil
}

// measureOp times the service call and its statements run bare,
// alternately, and counts the service's queries at both scales. A call
// that outlives -s4-call-timeout ends the operation as a miss.
func measureOp(ctx context.Context, o *options, t *target, res *auditResult, op *auditOp, fn func(context.Context, *auditOwner) error) error {
	timed := func(parent context.Context, f func(ctx context.Context) error) (time.Duration, error) {
		cctx, cancel := context.WithTimeout(parent, o.s4CallTimeout)
		defer cancel()
		t0 := time.Now()
		err := f(cctx)
		if err != nil && cctx.Err() != nil && ctx.Err() == nil {
			op.timedOut = true
			return 0, fmt.Errorf("a call took longer than %s", o.s4CallTimeout)
		}
		return time.Since(t0), err
	}
	for _, ow := range []*auditOwner{res.small, res.large} {
		cctx, counter := database.WithCounter(ctx)
		cctx, statements := recordStatements(cctx)
		_, err := timed(cctx, func(ctx context.Context) error { return fn(ctx, ow) })
		if ow == res.small {
			op.queriesSmall = counter.Count()
		} else {
			op.queries = counter.Count()
			op.statements = statements.list()
		}
		if err != nil {
			return err
		}
	}
	op.bareEach = make([][]time.Duration, len(op.statements))
	bare := func(record bool) (time.Duration, error) {
		return timed(ctx, func(ctx context.Context) error {
			for i, q := range op.statements {
				t0 := time.Now()
				if err := runBare(ctx, t.db.DB, q); err != nil {
					return err
				}
				if record {
					op.bareEach[i] = append(op.bareEach[i], time.Since(t0))
				}
			}
			return nil
		})
	}
	// One unrecorded round warms the caches for the bare statements too.
	if _, err := bare(false); err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < o.s4Calls && ctx.Err() == nil; i++ {
		if i >= minAuditCalls && time.Since(start) > o.s4Budget {
			break
		}
		d, err := timed(ctx, func(ctx context.Context) error { return fn(ctx, res.large) })
		if err != nil {
			return err
		}
		op.svc = append(op.svc, d)
		if d, err = bare(true); err != nil {
			return err
		}
		op.bare = append(op.bare, d)
	}
	return ctx.Err()
}

// minAuditCalls is how many calls an S4 operation makes even past its budget.
const minAuditCalls = 3

// runBare runs one statement on the pool with database/sql alone and reads
// every column of every row without converting it.
func runBare(ctx context.Context, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}

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

// statementLog collects the statements run with a context from recordStatements.
type statementLog struct {
	mu sync.Mutex
	qs []string
}

func (l *statementLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.qs)
}

type statementKey struct{}

func recordStatements(ctx context.Context) (context.Context, *statementLog) {
	l := &statementLog{}
	return context.WithValue(ctx, statementKey{}, l), l
}

// statementHook records, for contexts from recordStatements only, the SQL
// that bun sent, arguments in place, so that it can be replayed bare.
type statementHook struct{}

func (statementHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (statementHook) AfterQuery(ctx context.Context, ev *bun.QueryEvent) {
	if l, ok := ctx.Value(statementKey{}).(*statementLog); ok {
		l.mu.Lock()
		l.qs = append(l.qs, ev.Query)
		l.mu.Unlock()
	}
}

// seedAudit creates an owner through the service and bulk-seeds their
// tokens, groups, items, ACL entries and access log with INSERT … SELECT
// over a generated series, in batches, in one transaction.
func seedAudit(ctx context.Context, t *target, handle string, scale float64) (*auditOwner, error) {
	m, err := t.acl.CreateMember(ctx, handle, "", "a long bench passphrase")
	if err != nil {
		return nil, err
	}
	ow := &auditOwner{id: m.ID, scale: scale}
	ow.items = max(50, int64(math.Round(auditItems*scale)))
	ow.tokens = max(5, int64(math.Round(auditTokens*scale)))
	ow.groups = max(2, ow.tokens/10)
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
	err = t.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var pb, ib int64
		if err := tx.NewRaw("SELECT COALESCE(max(id), 0) + 1 FROM principals").Scan(ctx, &pb); err != nil {
			return err
		}
		if err := tx.NewRaw("SELECT COALESCE(max(id), 0) + 1 FROM items").Scan(ctx, &ib); err != nil {
			return err
		}
		ow.token, ow.item = pb, ib+6
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
		// Rows written behind the services' back: count the tokens' reach
		// once, as an upgrade does, before anything is measured.
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
	out := [][]string{{"operation", "calls", "bare p50 / p95", "service p50 / p95", "limit (2× bare p95 + 5 ms)",
		fmt.Sprintf("queries per call (scale %g / %g)", smallScale, a.large.scale), "result"}}
	for _, op := range a.ops {
		bare, svc := ms(p50(op.bare))+" / "+ms(p95(op.bare)), ms(p50(op.svc))+" / "+ms(p95(op.svc))
		limit, queries := ms(op.limit()), fmt.Sprintf("%d / %d", op.queriesSmall, op.queries)
		if op.timedOut && len(op.svc) == 0 {
			bare, svc, limit = "—", "> "+a.callTimeout.String(), "—"
			queries = fmt.Sprintf("%d / ≥ %d", op.queriesSmall, op.queries)
		}
		if op.record {
			bare, limit, queries = "—", "—", "—"
		}
		out = append(out, []string{op.name, strconv.Itoa(len(op.svc)), bare, svc, limit, queries, op.result()})
	}
	return out
}

func (a *auditResult) details() []string {
	out := []string{
		"Bare: the exact statements the service sent (recorded from the call, arguments in place), run with database/sql on the same pool, every column read as raw bytes; service and bare calls alternate.",
		fmt.Sprintf("Query counts: database.WithCounter around one call for an owner at scale %g and one at scale %g in the same database; a MISS if they differ.", smallScale, a.large.scale),
	}
	if a.analyzed {
		out = append(out, "PostgreSQL: VACUUM ANALYZE was run after seeding, as autovacuum would.")
	} else {
		out = append(out, "SQLite: no ANALYZE after seeding (the product does not run one), so the planner has no statistics.")
	}
	for _, op := range a.ops {
		for i, q := range op.statements {
			if i < len(op.bareEach) && len(op.bareEach[i]) > 0 {
				out = append(out, fmt.Sprintf("%s, statement %d of %d, bare p50 %s: %s", op.name, i+1, len(op.statements), ms(p50(op.bareEach[i])), abbreviate(q, 110)))
			}
		}
		if op.err != "" {
			out = append(out, fmt.Sprintf("%s %s: %s", op.name, op.result(), op.err))
		}
	}
	return out
}

// abbreviate keeps the start of a statement, on one line.
func abbreviate(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if utf8.RuneCountInString(q) <= n {
		return q
	}
	return string([]rune(q)[:n]) + "…"
}
