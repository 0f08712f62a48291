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
		// Tokens from before the counts were kept: count the owner's once.
		if err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return rebuildStats(ctx, tx, owner) }); err != nil {
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
	active := `guest_token.revoked_at IS NULL AND (guest_token.expires_at IS NULL OR guest_token.expires_at > ?)
  AND (guest_token.max_uses IS NULL OR guest_token.uses < guest_token.max_uses)`
	switch q.Status {
	case "":
	case StatusActive:
		sel = sel.Where(active, now)
	case StatusRevoked:
		sel = sel.Where("guest_token.revoked_at IS NOT NULL")
	case StatusExpired:
		sel = sel.Where("guest_token.revoked_at IS NULL AND guest_token.expires_at <= ?", now)
	case StatusUsedUp:
		sel = sel.Where(`guest_token.revoked_at IS NULL AND (guest_token.expires_at IS NULL OR guest_token.expires_at > ?)
  AND guest_token.max_uses IS NOT NULL AND guest_token.uses >= guest_token.max_uses`, now)
	default:
		return nil, "", false, app.Errorf(app.EInvalid, "status must be active, expired, revoked or used_up.")
	}
	switch q.Flag {
	case "":
	case FlagStale:
		sel = sel.Where(active, now).Where("COALESCE(guest_token.last_used_at, guest_token.created_at) < ?", now.Add(-StaleAfter))
	case FlagUnused:
		sel = sel.Where("COALESCE(st.entries, 0) = 0")
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
