package acl

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// StaleAfter is how long an active token may go unused before the audit
// flags it as stale.
const StaleAfter = 30 * 24 * time.Hour

// Token-list flags.
const (
	// FlagStale: active, and not used for StaleAfter (or, never used, made
	// longer ago than that).
	FlagStale = "stale"
	// FlagUnused: in no ACL — no allow or deny entry names it, directly or
	// through a group.
	FlagUnused = "unused"
)

// The token-list rules as SQL conditions on guest_tokens AS guest_token and
// token_stats AS st, for lists and counts; Status, InNoACL and Stale say the
// same of one token in Go. Arguments: now, now (active), now - StaleAfter
// (stale).
const (
	liveSQL = `guest_token.revoked_at IS NULL AND (guest_token.expires_at IS NULL OR guest_token.expires_at > ?)
  AND (guest_token.max_uses IS NULL OR guest_token.uses < guest_token.max_uses)`
	activeSQL  = liveSQL + ` AND (guest_token.valid_from IS NULL OR guest_token.valid_from <= ?)`
	staleSQL   = `COALESCE(guest_token.last_used_at, guest_token.created_at) < ?`
	noACLSQL   = `COALESCE(st.entries, 0) = 0`
	flaggedSQL = activeSQL + ` AND (` + noACLSQL + ` OR ` + staleSQL + `)`
)

// Flagged reports whether the audit flags the token: active, and in no ACL
// or stale.
func (t *TokenSummary) Flagged(now time.Time) bool {
	return t.Status(now) == StatusActive && (t.InNoACL() || t.Stale(now))
}

// InNoACL reports whether no ACL entry names the token, directly or through
// a group.
func (t *TokenSummary) InNoACL() bool { return t.Entries == 0 }

// Stale reports whether the token is active but has not been used for
// StaleAfter.
func (t *TokenSummary) Stale(now time.Time) bool {
	if t.Status(now) != StatusActive {
		return false
	}
	last := t.CreatedAt
	if t.LastUsedAt != nil {
		last = *t.LastUsedAt
	}
	return last.Before(now.Add(-StaleAfter))
}

// TokenQuery filters and pages a token list.
type TokenQuery struct {
	// Q finds tokens whose name contains it, regardless of case.
	Q string
	// Status is one of the Status constants, or empty for every token.
	Status string
	// Flag is FlagStale, FlagUnused, or empty.
	Flag string
	app.Page
}

// ListTokensPage lists one page of owner's tokens, newest first, with their
// kept counts (see ListTokens), and the cursor of the next page ("" after
// the last). Every filter is a condition on the token's row and its kept
// counts, so a page costs the same whatever the size of the owner's data.
func (s *Service) ListTokensPage(ctx context.Context, owner int64, q TokenQuery) ([]TokenSummary, string, error) {
	limit := q.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	for attempt := 0; ; attempt++ {
		rows, next, missing, err := s.tokensPage(ctx, owner, q, limit)
		if err != nil || !missing || attempt > 0 {
			return rows, next, err
		}
		// Tokens whose counts are not kept (from before the counts were
		// kept, or whose groups changed since the last catch-up): count
		// those.
		if err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return keepStats(ctx, tx, owner) }); err != nil {
			return nil, "", err
		}
	}
}

func (s *Service) tokensPage(ctx context.Context, owner int64, q TokenQuery, limit int) (_ []TokenSummary, next string, missing bool, _ error) {
	now := s.now()
	sel := s.DB.NewSelect().TableExpr("guest_tokens AS guest_token").
		ColumnExpr("guest_token.*").
		ColumnExpr("COALESCE(st.items, 0) AS items, COALESCE(st.entries, 0) AS entries").
		ColumnExpr("st.token_id IS NOT NULL AS kept").
		Join("LEFT JOIN token_stats AS st ON st.token_id = guest_token.id").
		Where("guest_token.owner_id = ?", owner)
	if q.Cursor != "" {
		key, err := app.DecodeCursor(q.Cursor, 1)
		if err != nil {
			return nil, "", false, err
		}
		sel = sel.Where("guest_token.id < ?", key[0])
	}
	if name := strings.TrimSpace(q.Q); name != "" {
		sel = sel.Where(`lower(guest_token.name) LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(strings.ToLower(name))+"%")
	}
	switch q.Status {
	case "":
	case StatusActive:
		sel = sel.Where(activeSQL, now, now)
	case StatusNotYetValid:
		sel = sel.Where(liveSQL+" AND guest_token.valid_from > ?", now, now)
	case StatusRevoked:
		sel = sel.Where("guest_token.revoked_at IS NOT NULL")
	case StatusExpired:
		sel = sel.Where("guest_token.revoked_at IS NULL AND guest_token.expires_at <= ?", now)
	case StatusUsedUp:
		sel = sel.Where(`guest_token.revoked_at IS NULL AND (guest_token.expires_at IS NULL OR guest_token.expires_at > ?)
  AND guest_token.max_uses IS NOT NULL AND guest_token.uses >= guest_token.max_uses`, now)
	default:
		return nil, "", false, app.Errorf(app.EInvalid, "status must be active, not_yet_valid, expired, revoked or used_up.")
	}
	switch q.Flag {
	case "":
	case FlagStale:
		sel = sel.Where(activeSQL, now, now).Where(staleSQL, now.Add(-StaleAfter))
	case FlagUnused:
		sel = sel.Where(noACLSQL)
	default:
		return nil, "", false, app.Errorf(app.EInvalid, "flag must be stale or unused.")
	}
	var rows []struct {
		TokenSummary `bun:",extend"`
		Kept         bool `bun:"kept"`
	}
	if err := sel.OrderExpr("guest_token.id DESC").Limit(limit+1).Scan(ctx, &rows); err != nil && !isNoRows(err) {
		return nil, "", false, translate(err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = app.EncodeCursor(rows[limit-1].ID)
	}
	out := make([]TokenSummary, len(rows))
	for i, r := range rows {
		missing = missing || !r.Kept
		if r.Status(now) != StatusActive {
			r.Items = 0
		}
		out[i] = r.TokenSummary
	}
	return out, next, missing, nil
}

// likeEscaper escapes LIKE's wildcards (with backslash as the escape).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// TokenGrantsPage lists one page of the ACL entries that name the token or a
// group holding it (newest item first, the entry naming
// the token before those naming its groups), with the token's views of
// each item, and the cursor of the next page.
// Each source — the token's own entries, each of its groups' — is read by
// index from the cursor for one page only, so a page costs the same however
// many entries name the token.
func (s *Service) TokenGrantsPage(ctx context.Context, owner, id int64, p app.Page) ([]Grant, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	afterItem, afterVia := int64(1<<62), int64(-1)
	if p.Cursor != "" {
		key, err := app.DecodeCursor(p.Cursor, 2)
		if err != nil {
			return nil, "", err
		}
		afterItem, afterVia = key[0], key[1]
	}
	var groups []int64
	if err := s.DB.NewRaw("SELECT group_id FROM group_members WHERE principal_id = ? ORDER BY group_id", id).Scan(ctx, &groups); err != nil && !isNoRows(err) {
		return nil, "", translate(err)
	}
	// One branch per source, each ordered and cut by the index on
	// (principal_id, item_id); via is 0 for the token's own entries.
	var b strings.Builder
	args := []any{}
	branch := func(principal, via int64) {
		if b.Len() > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		// Past the cursor: its item's later sources, then older items.
		cmp := "<"
		if via > afterVia {
			cmp = "<="
		}
		b.WriteString(`SELECT * FROM (SELECT item_id, principal_id, deny, ? AS via_key FROM acl_entries
  WHERE principal_id = ? AND item_id ` + cmp + ` ?
  ORDER BY item_id DESC LIMIT ?) AS b`)
		args = append(args, via, principal, afterItem, limit+1)
	}
	branch(id, 0)
	for _, g := range groups {
		branch(g, g)
	}
	var gs []struct {
		Grant  `bun:",extend"`
		ViaKey int64 `bun:"via_key"`
	}
	err := s.DB.NewRaw(`SELECT e.item_id, i.title AS item_title, i.kind AS item_kind, substr(i.body, 1, 200) AS item_excerpt, e.deny, e.via_key,
  CASE WHEN e.via_key = 0 THEN NULL ELSE e.principal_id END AS via,
  g.name AS via_name,
  COALESCE((SELECT v.views FROM token_item_views AS v WHERE v.token_id = ? AND v.item_id = e.item_id), 0) AS views
FROM (`+b.String()+`) AS e
JOIN items AS i ON i.id = e.item_id AND i.owner_id = ?
LEFT JOIN groups AS g ON g.id = e.principal_id
ORDER BY e.item_id DESC, e.via_key
LIMIT ?`, append(append([]any{id}, args...), owner, limit+1)...).Scan(ctx, &gs)
	if err != nil && !isNoRows(err) {
		return nil, "", translate(err)
	}
	next := ""
	if len(gs) > limit {
		gs = gs[:limit]
		last := gs[limit-1]
		next = app.EncodeCursor(last.ItemID, last.ViaKey)
	}
	out := make([]Grant, len(gs))
	for i := range gs {
		out[i] = gs[i].Grant
	}
	return out, next, nil
}

// CountFlagged counts owner's tokens that the audit flags: active, and in no
// ACL or stale. One aggregate over the owner's token rows and their kept
// counts.
func (s *Service) CountFlagged(ctx context.Context, owner int64) (int, error) {
	if err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return keepStats(ctx, tx, owner) }); err != nil {
		return 0, err
	}
	now := s.now()
	var n int
	err := s.DB.NewRaw(`SELECT count(*) FROM guest_tokens AS guest_token LEFT JOIN token_stats AS st ON st.token_id = guest_token.id
WHERE guest_token.owner_id = ? AND `+flaggedSQL, owner, now, now, now.Add(-StaleAfter)).Scan(ctx, &n)
	return n, translate(err)
}

// RevokeFlagged revokes, in one statement, every token of owner that the
// audit flags, and says how many.
func (s *Service) RevokeFlagged(ctx context.Context, owner int64) (int64, error) {
	now := s.now()
	var n int64
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Tokens without kept counts would read as "in no ACL".
		if err := keepStats(ctx, tx, owner); err != nil {
			return err
		}
		res, err := tx.NewRaw(`UPDATE guest_tokens SET revoked_at = ? WHERE id IN (
  SELECT guest_token.id FROM guest_tokens AS guest_token LEFT JOIN token_stats AS st ON st.token_id = guest_token.id
  WHERE guest_token.owner_id = ? AND `+flaggedSQL+`)`, now, owner, now, now, now.Add(-StaleAfter)).Exec(ctx)
		if err != nil {
			return translate(err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
