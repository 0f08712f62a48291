package acl

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// Bulk actions.
const (
	BulkRevoke = "revoke"
	BulkExtend = "extend"
)

// BulkRule chooses tokens for a bulk action; its conditions combine with
// AND, and at least one is needed. Revoked tokens are never chosen.
type BulkRule struct {
	// UnusedDays: not used for this many days (never used: made that long
	// ago), the audit's stale rule with its own age.
	UnusedDays *int
	// NoExpiry: no expiry and no expiry after the first use.
	NoExpiry bool
	// InNoACL: no allow or deny entry names the token, directly or through a
	// group.
	InNoACL bool
	// CreatedBefore: made before this instant.
	CreatedBefore *time.Time
}

// BulkRequest is a bulk action on the tokens a rule chooses.
type BulkRequest struct {
	Action string
	// Days is how far extend pushes each expiry back.
	Days int
	Rule BulkRule
	// Only, when set, limits the action to these tokens: the ones a preview
	// showed, so that a confirmation never touches a token its preview did
	// not list.
	Only []int64
	// DryRun computes what the action would touch and changes nothing.
	DryRun bool
}

// BulkItem is an item that a touched token opens.
type BulkItem struct {
	ID    int64  `bun:"id"`
	Kind  string `bun:"kind"`
	Title string `bun:"title"`
	// Excerpt is the start of a post's text, to label an untitled one.
	Excerpt string `bun:"excerpt"`
}

// BulkSkip is a token the rule chose that the action leaves as it is.
type BulkSkip struct {
	Token  GuestToken
	Reason string
}

// BulkResult is what a bulk action touches (dry run) or touched: the
// tokens (as they are after it), the items whose ACL lets in at least one
// of them (public items aside: they keep every guest), and the chosen
// tokens it leaves alone, with why.
type BulkResult struct {
	Tokens  []GuestToken
	Items   []BulkItem
	Skipped []BulkSkip
}

// ReasonNeverExpires is why extend leaves a token alone.
const ReasonNeverExpires = "never expires: nothing to extend"

// MaxBulkDays bounds a rule's unused_days.
const MaxBulkDays = 36500

// Bulk runs a bulk action on owner's tokens that req.Rule chooses: revoke
// them, or extend each expiry by req.Days (from the expiry while it is ahead,
// from now once it has passed; tokens without an expiry are skipped and
// listed so). A dry run and its confirmation, at the same moment on the same
// data, give the same tokens and items; the confirmation runs in one
// transaction.
func (s *Service) Bulk(ctx context.Context, owner int64, req BulkRequest) (*BulkResult, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	out := &BulkResult{Tokens: []GuestToken{}, Items: []BulkItem{}, Skipped: []BulkSkip{}}
	run := func(ctx context.Context, tx bun.Tx) error {
		// Tokens from before the reach was kept get their counts first, as
		// for the token list, so that "in no ACL" reads the same rule.
		if req.Rule.InNoACL {
			if err := keepStats(ctx, tx, owner); err != nil {
				return err
			}
		}
		chosen, err := s.bulkChoose(ctx, tx, owner, req)
		if err != nil {
			return err
		}
		var touched []GuestToken
		for _, t := range chosen {
			if req.Action == BulkExtend && t.ExpiresAt == nil {
				out.Skipped = append(out.Skipped, BulkSkip{Token: t, Reason: ReasonNeverExpires})
				continue
			}
			touched = append(touched, t)
		}
		list := make([]int64, len(touched))
		for i := range touched {
			list[i] = touched[i].ID
		}
		if out.Items, err = bulkItems(ctx, tx, owner, list); err != nil {
			return err
		}
		if req.DryRun || len(list) == 0 {
			out.Tokens = append(out.Tokens, touched...)
			return nil
		}
		now := s.now()
		q := tx.NewUpdate().Model((*GuestToken)(nil)).Where("owner_id = ? AND id IN (?)", owner, ids(list))
		if req.Action == BulkRevoke {
			q = q.Set("revoked_at = ?", now)
		} else {
			days := int64(req.Days) * 24 * 3600
			q = q.Set("expires_at = CASE WHEN expires_at > ? THEN "+database.AddSecondsSQL(tx, "expires_at", "?")+
				" ELSE "+database.AddSecondsSQL(tx, "?", "?")+" END", now, days, now, days)
		}
		var after []GuestToken
		if _, err := q.Returning("*").Exec(ctx, &after); err != nil && !isNoRows(err) {
			return translate(err)
		}
		byID := make(map[int64]GuestToken, len(after))
		for _, t := range after {
			byID[t.ID] = t
		}
		for _, t := range touched {
			out.Tokens = append(out.Tokens, byID[t.ID])
		}
		return nil
	}
	var err error
	if req.DryRun {
		err = s.DB.RunInTx(ctx, nil, run)
	} else {
		err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// Serialised with the owner's reach-changing writes, so that the
			// items listed are the ones the tokens open as they change.
			if err := lockOwner(ctx, tx, owner); err != nil {
				return err
			}
			return run(ctx, tx)
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (req *BulkRequest) validate() error {
	switch req.Action {
	case BulkRevoke:
	case BulkExtend:
		if req.Days < 1 || req.Days > MaxExtendDays {
			return app.Errorf(app.EInvalid, "Extend by 1 to %d days.", MaxExtendDays)
		}
	default:
		return app.Errorf(app.EInvalid, "action must be revoke or extend.")
	}
	r := req.Rule
	if r.UnusedDays == nil && !r.NoExpiry && !r.InNoACL && r.CreatedBefore == nil {
		return app.Errorf(app.EInvalid, "Choose at least one rule: unused_days, no_expiry, in_no_acl or created_before.")
	}
	if r.UnusedDays != nil && (*r.UnusedDays < 1 || *r.UnusedDays > MaxBulkDays) {
		return app.Errorf(app.EInvalid, "unused_days must be from 1 to %d.", MaxBulkDays)
	}
	return nil
}

// bulkChoose lists owner's tokens that the rule chooses, oldest first: one
// statement, each condition the token list's own fragment where it has one.
func (s *Service) bulkChoose(ctx context.Context, tx bun.Tx, owner int64, req BulkRequest) ([]GuestToken, error) {
	now := s.now()
	sel := tx.NewSelect().TableExpr("guest_tokens AS guest_token").ColumnExpr("guest_token.*").
		Join("LEFT JOIN token_stats AS st ON st.token_id = guest_token.id").
		Where("guest_token.owner_id = ? AND guest_token.revoked_at IS NULL", owner)
	r := req.Rule
	if r.UnusedDays != nil {
		sel = sel.Where(staleSQL, now.Add(-time.Duration(*r.UnusedDays)*24*time.Hour))
	}
	if r.NoExpiry {
		sel = sel.Where("guest_token.expires_at IS NULL AND guest_token.expires_after_first_use IS NULL")
	}
	if r.InNoACL {
		sel = sel.Where(noACLSQL)
	}
	if r.CreatedBefore != nil {
		sel = sel.Where("guest_token.created_at < ?", r.CreatedBefore.UTC())
	}
	if req.Only != nil {
		sel = sel.Where("guest_token.id IN (?)", ids(req.Only))
	}
	if !req.DryRun && !database.IsSQLite(tx) {
		sel = sel.For("UPDATE OF guest_token")
	}
	var out []GuestToken
	if err := sel.OrderExpr("guest_token.id").Scan(ctx, &out); err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// bulkItems lists owner's items, not public, whose ACL (or their album's)
// lets in at least one of the tokens, by the rule's one statement
// (VisibleSQL), starting from the entries that name the tokens or their
// groups: what the tokens reach, not every item of the owner.
func bulkItems(ctx context.Context, tx bun.IDB, owner int64, tokens []int64) ([]BulkItem, error) {
	out := []BulkItem{}
	if len(tokens) == 0 {
		return out, nil
	}
	err := tx.NewRaw(`WITH tp (tid, pid) AS (
  SELECT t.id, t.id FROM guest_tokens AS t WHERE t.id IN (?0) AND t.owner_id = ?1
  UNION ALL
  SELECT gm.principal_id, gm.group_id FROM group_members AS gm WHERE gm.principal_id IN (?0)
), cand (tid, item_id) AS (
  SELECT tp.tid, e.item_id FROM tp JOIN acl_entries AS e ON e.principal_id = tp.pid AND NOT e.deny
  UNION
  SELECT tp.tid, ch.id FROM tp JOIN acl_entries AS e ON e.principal_id = tp.pid AND NOT e.deny
  JOIN items AS ch ON ch.album_id = e.item_id
)
SELECT i.id, i.kind, i.title, substr(i.body, 1, 200) AS excerpt FROM items AS i
WHERE i.owner_id = ?1 AND i.id IN (SELECT c.item_id FROM cand AS c JOIN items AS ci ON ci.id = c.item_id
  WHERE `+VisibleSQL("ci", "c.tid")+`)
  AND NOT `+PublicSQL("i")+`
ORDER BY i.id DESC`, ids(tokens), owner).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}
