package acl

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"hubshare/app/database"
)

// A token's reach is kept, not computed on every listing: token_stats holds,
// for every token, how many items are shared with it (Shares: visible to it
// and not public, directly, through a group or through an album, deny taken
// into account) and how many ACL entries name it (directly or through a
// group). Every change that can move either number — an ACL, a public flag, a
// group's members, a group's deletion, a photo entering or leaving an album,
// an item's deletion — updates them in its own transaction, by the
// difference it makes: the shares of the items it touches are computed for
// the tokens that can be concerned, before and after the change, with the one
// SQL statement of the rule (VisibleSQL and PublicSQL), and the counts move by
// the difference. So a write costs what it changes, and a listing reads one
// row per token whatever the size of the owner's data. An owner's changes are
// serialised (SQLite transactions begin immediate; PostgreSQL takes an
// advisory lock per owner), so that concurrent edits never miss each other.
//
// The live state of a token (revoked, expired, used up) is applied when the
// counts are read: a dead token opens nothing.

// tokenStats is one row of token_stats.
type tokenStats struct {
	bun.BaseModel `bun:"table:token_stats"`

	TokenID int64 `bun:"token_id,pk"`
	Items   int   `bun:"items"`
	Entries int   `bun:"entries"`
}

// reachLockSpace keeps the owner locks apart from other advisory locks.
const reachLockSpace = 0x68730001

// lockOwner serialises the reach-changing writes of one owner.
func lockOwner(ctx context.Context, tx bun.IDB, owner int64) error {
	if database.IsSQLite(tx) {
		// Write transactions begin immediate: one writer at a time.
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, ?)", reachLockSpace, int32(owner))
	return translate(err)
}

// ids is a list for IN (?): never empty, so that every statement of a write
// runs whatever the data (a fixed number of queries per write); id 0 names
// nothing.
func ids(list []int64) bun.Safe { return bun.Safe(joinIDs(list, "%d")) }

// rows is the same list for VALUES: "(1), (2)".
func rows(list []int64) string { return joinIDs(list, "(%d)") }

func joinIDs(list []int64, format string) string {
	if len(list) == 0 {
		list = []int64{0}
	}
	parts := make([]string, len(list))
	for i, id := range list {
		parts[i] = fmt.Sprintf(format, id)
	}
	return strings.Join(parts, ", ")
}

// sharePair is a token and an item shared with it.
type sharePair struct {
	TokenID int64 `bun:"tid"`
	ItemID  int64 `bun:"iid"`
}

// candidates lists owner's tokens that an entry of the items, or of their
// albums, names directly or through a group: the only tokens the items can be
// shared with.
func candidates(ctx context.Context, tx bun.IDB, owner int64, items []int64) ([]int64, error) {
	var out []int64
	// By index from the items to the principals their entries name, and
	// from named groups to their members; tokens by primary key. The CROSS
	// JOINs keep SQLite's order: left to choose, it scans every owner's
	// entries by principal and filters them through the items (250 ms at
	// S4's size, the same for a small owner as for a large one).
	err := tx.NewRaw(`WITH w (id) AS (VALUES `+rows(items)+`), x AS (
  SELECT i.id FROM w JOIN items AS i ON i.id = w.id AND i.owner_id = ?0
  UNION SELECT i.album_id FROM w JOIN items AS i ON i.id = w.id AND i.owner_id = ?0 AND i.album_id IS NOT NULL
), named AS (
  SELECT e.principal_id AS pid FROM x CROSS JOIN acl_entries AS e WHERE e.item_id = x.id
), c AS (
  SELECT pid FROM named
  UNION
  SELECT gm.principal_id FROM named CROSS JOIN group_members AS gm WHERE gm.group_id = named.pid
)
SELECT t.id FROM c CROSS JOIN guest_tokens AS t WHERE t.id = c.pid AND t.owner_id = ?0`,
		owner).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// sharedPairs lists which of the items are shared with which of the tokens,
// by the rule's SQL.
func sharedPairs(ctx context.Context, tx bun.IDB, owner int64, items, tokens []int64) ([]sharePair, error) {
	var out []sharePair
	// Every pair of the items and tokens, each row by primary key, then the
	// rule.
	// rule. The ids come as rows, so that both databases look each one up
	// by primary key rather than scan the owner's items for them.
	// Every join is a CROSS JOIN, which keeps SQLite's order: with a plain
	// join to guest_tokens it checked the rule for every token of the owner
	// and then kept the listed ones.
	err := tx.NewRaw(`WITH wi (id) AS (VALUES `+rows(items)+`), wt (id) AS (VALUES `+rows(tokens)+`)
SELECT t.id AS tid, i.id AS iid FROM wi CROSS JOIN items AS i CROSS JOIN wt CROSS JOIN guest_tokens AS t
WHERE i.id = wi.id AND t.id = wt.id AND i.owner_id = ? AND t.owner_id = ?
  AND `+VisibleSQL("i", "t.id")+` AND NOT `+PublicSQL("i"),
		owner, owner).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// reachEdit is one reach-changing write, described before it runs.
type reachEdit struct {
	// Items whose sharing the write can change.
	Items []int64
	// Narrow says that only Tokens can gain or lose the items; otherwise
	// every token the items' entries name, before and after, can
	// (candidates).
	Narrow bool
	Tokens []int64
}

// statsDelta is what a write adds to the items and entries counts of
// tokens; it is written in one statement at the end of the write.
type statsDelta map[int64]*[2]int

func (d statsDelta) add(token int64, items, entries int) {
	v := d[token]
	if v == nil {
		v = new([2]int)
		d[token] = v
	}
	v[0] += items
	v[1] += entries
}

// withReach runs apply inside tx and moves the counts of token_stats by the
// difference it makes to the shares of the edit's items, plus what apply
// adds to delta, in one statement. scope describes the edit; it runs after
// the owner's lock is held, before apply.
func withReach(ctx context.Context, tx bun.IDB, owner int64, scope func() (reachEdit, error), apply func(delta statsDelta) error) error {
	if err := lockOwner(ctx, tx, owner); err != nil {
		return err
	}
	ed, err := scope()
	if err != nil {
		return err
	}
	concerned := func() ([]int64, error) {
		if ed.Narrow {
			return ed.Tokens, nil
		}
		return candidates(ctx, tx, owner, ed.Items)
	}
	before, err := concerned()
	if err != nil {
		return err
	}
	was, err := sharedPairs(ctx, tx, owner, ed.Items, before)
	if err != nil {
		return err
	}
	delta := statsDelta{}
	if err := apply(delta); err != nil {
		return err
	}
	after, err := concerned()
	if err != nil {
		return err
	}
	is, err := sharedPairs(ctx, tx, owner, ed.Items, after)
	if err != nil {
		return err
	}
	for _, p := range was {
		delta.add(p.TokenID, -1, 0)
	}
	for _, p := range is {
		delta.add(p.TokenID, +1, 0)
	}
	return writeStats(ctx, tx, delta)
}

// writeStats adds the deltas to token_stats in one statement.
func writeStats(ctx context.Context, tx bun.IDB, delta statsDelta) error {
	var b strings.Builder
	args := []any{}
	for id, v := range delta {
		if v[0] == 0 && v[1] == 0 {
			continue
		}
		if len(args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		args = append(args, id, v[0], v[1])
	}
	if len(args) == 0 {
		b.WriteString("(0, 0, 0)") // nothing moved: the same one statement
	}
	_, err := tx.NewRaw(`WITH d (id, di, de) AS (VALUES `+b.String()+`)
UPDATE token_stats SET items = token_stats.items + d.di, entries = token_stats.entries + d.de
FROM d WHERE token_stats.token_id = d.id`, args...).Exec(ctx)
	return translate(err)
}

// entryDelta moves the entries counts for ACL entries naming the principals
// (one per entry, repeats counted) that appear (sign +1) or go away (sign
// -1): a named token's own count, and the count of every token in a named
// group.
func entryDelta(ctx context.Context, tx bun.IDB, owner int64, principals []int64, sign int, delta statsDelta) error {
	times := map[int64]int{}
	for _, p := range principals {
		times[p]++
	}
	keys := make([]int64, 0, len(times))
	for p := range times {
		keys = append(keys, p)
	}
	var tokens []int64
	err := tx.NewRaw("SELECT id FROM guest_tokens WHERE owner_id = ? AND id IN (?)", owner, ids(keys)).Scan(ctx, &tokens)
	if err != nil && !isNoRows(err) {
		return translate(err)
	}
	for _, t := range tokens {
		delta.add(t, 0, sign*times[t])
	}
	var members []struct {
		GroupID int64 `bun:"group_id"`
		TokenID int64 `bun:"token_id"`
	}
	// From the groups to their members, then each token by key (with a
	// plain join SQLite went through every token of the owner).
	err = tx.NewRaw(`SELECT gm.group_id, gm.principal_id AS token_id FROM group_members AS gm
CROSS JOIN guest_tokens AS t WHERE gm.group_id IN (?) AND t.id = gm.principal_id AND t.owner_id = ?`, ids(keys), owner).Scan(ctx, &members)
	if err != nil && !isNoRows(err) {
		return translate(err)
	}
	for _, m := range members {
		delta.add(m.TokenID, 0, sign*times[m.GroupID])
	}
	return nil
}

// itemPrincipals lists the principals the entries of the items name, one per
// entry.
func itemPrincipals(ctx context.Context, tx bun.IDB, items []int64) ([]int64, error) {
	es, err := itemEntries(ctx, tx, items)
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.PrincipalID
	}
	return out, err
}

// entryRow is the principal an entry names, and whether it denies.
type entryRow struct {
	PrincipalID int64 `bun:"principal_id"`
	Deny        bool  `bun:"deny"`
}

// itemEntries lists the entries of the items.
func itemEntries(ctx context.Context, tx bun.IDB, items []int64) ([]entryRow, error) {
	var out []entryRow
	err := tx.NewRaw("SELECT principal_id, deny FROM acl_entries WHERE item_id IN (?)", ids(items)).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// An entryEdit is a write of one item's entries, known before it runs:
// next gives, from the item's entries before (principal → deny), the entries
// it leaves, and public the public flag it sets, if it sets one (the caller
// writes the flag; withItemsChanging writes the entries). Only the entries
// that change are written, so an edit of one entry among many writes one
// row.
//
// Unless the flag changes, such a write can change the share of the item,
// and of its photos, only for the tokens that a changed entry names,
// directly or through a group: every other token is matched by exactly the
// same entries before and after (the album, the item's existence and the
// memberships are untouched), so the rule's answer for it stays. The write
// then costs the tokens it changes, not every token the item's groups hold.
type entryEdit struct {
	public *bool
	next   func(before map[int64]bool) map[int64]bool
}

// entryChange is what an entryEdit changes of the item's entries.
type entryChange struct {
	item  int64
	gone  []int64    // principals whose entry goes
	set   []aclEntry // entries added, or turned between allow and deny
	after []int64    // the principals the entries name afterwards
}

// change compares the item's entries with those the edit leaves.
func (e *entryEdit) change(item int64, entries []entryRow) *entryChange {
	before := make(map[int64]bool, len(entries))
	for _, en := range entries {
		before[en.PrincipalID] = en.Deny
	}
	after := e.next(maps.Clone(before))
	c := &entryChange{item: item, after: slices.Sorted(maps.Keys(after))}
	for p := range before {
		if _, ok := after[p]; !ok {
			c.gone = append(c.gone, p)
		}
	}
	slices.Sort(c.gone)
	for _, p := range c.after {
		if was, ok := before[p]; !ok || was != after[p] {
			c.set = append(c.set, aclEntry{ItemID: item, PrincipalID: p, Deny: after[p]})
		}
	}
	return c
}

// principals are those whose entry changes.
func (c *entryChange) principals() []int64 {
	out := slices.Clone(c.gone)
	for _, e := range c.set {
		out = append(out, e.PrincipalID)
	}
	return out
}

// write writes the change: the entries that go, then those added or turned.
func (c *entryChange) write(ctx context.Context, tx bun.IDB) error {
	if len(c.gone) > 0 {
		if _, err := tx.NewDelete().Model((*aclEntry)(nil)).Where("item_id = ? AND principal_id IN (?)", c.item, bun.List(c.gone)).Exec(ctx); err != nil {
			return translate(err)
		}
	}
	if len(c.set) > 0 {
		if _, err := tx.NewInsert().Model(&c.set).On("CONFLICT (item_id, principal_id) DO UPDATE").Set("deny = EXCLUDED.deny").Exec(ctx); err != nil {
			return translate(err)
		}
	}
	return nil
}

// keepsPublic tells whether the edit leaves the item's public flag as it is.
func (e *entryEdit) keepsPublic(ctx context.Context, tx bun.IDB, owner, item int64) (bool, error) {
	if e.public == nil {
		return true, nil
	}
	var public bool
	if err := tx.NewRaw("SELECT public FROM items WHERE id = ? AND owner_id = ?", item, owner).Scan(ctx, &public); err != nil {
		return false, translate(err)
	}
	return public == *e.public, nil
}

// tokensNamedBy lists owner's tokens among the principals, and in the groups
// among them: the tokens that entries naming the principals match.
func tokensNamedBy(ctx context.Context, tx bun.IDB, owner int64, principals []int64) ([]int64, error) {
	var out []int64
	// By key from each principal (CROSS JOIN keeps SQLite's order).
	err := tx.NewRaw(`WITH p (id) AS (VALUES `+rows(principals)+`)
SELECT t.id FROM p CROSS JOIN guest_tokens AS t WHERE t.id = p.id AND t.owner_id = ?0
UNION
SELECT t.id FROM p CROSS JOIN group_members AS gm CROSS JOIN guest_tokens AS t
WHERE gm.group_id = p.id AND t.id = gm.principal_id AND t.owner_id = ?0`, owner).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// withItemsChanging runs apply, a write that changes the ACL entries, public
// flags, albums or existence of the items, and keeps token_stats in step: the
// shares of the items and of their photos, and the entry counts of what the
// items' entries name before and after. With an edit (of the one item's
// entries), it also writes the entries the edit changes, after apply (which
// may then be nil), and counts again only the tokens they name when the
// public flag stays.
func withItemsChanging(ctx context.Context, tx bun.IDB, owner int64, items []int64, edit *entryEdit, apply func() error) error {
	var entriesBefore []int64
	var change *entryChange
	scope := func() (reachEdit, error) {
		all, err := withPhotos(ctx, tx, owner, items)
		if err != nil {
			return reachEdit{}, err
		}
		entries, err := itemEntries(ctx, tx, items)
		if err != nil {
			return reachEdit{}, err
		}
		for _, e := range entries {
			entriesBefore = append(entriesBefore, e.PrincipalID)
		}
		ed := reachEdit{Items: all}
		if edit == nil {
			return ed, nil
		}
		change = edit.change(items[0], entries)
		if ed.Narrow, err = edit.keepsPublic(ctx, tx, owner, items[0]); err != nil || !ed.Narrow {
			return ed, err
		}
		ed.Tokens, err = tokensNamedBy(ctx, tx, owner, change.principals())
		return ed, err
	}
	return withReach(ctx, tx, owner, scope, func(delta statsDelta) error {
		if apply != nil {
			if err := apply(); err != nil {
				return err
			}
		}
		var after []int64
		if change != nil {
			if err := change.write(ctx, tx); err != nil {
				return err
			}
			after = change.after
		} else {
			var err error
			if after, err = itemPrincipals(ctx, tx, items); err != nil {
				return err
			}
		}
		gone, came := diffMultiset(entriesBefore, after)
		if err := entryDelta(ctx, tx, owner, gone, -1, delta); err != nil {
			return err
		}
		return entryDelta(ctx, tx, owner, came, +1, delta)
	})
}

// withPhotos adds to the items the photos of those that are albums.
func withPhotos(ctx context.Context, tx bun.IDB, owner int64, items []int64) ([]int64, error) {
	var photos []int64
	err := tx.NewRaw("SELECT id FROM items WHERE album_id IN (?) AND owner_id = ?", ids(items), owner).Scan(ctx, &photos)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	out := append(slices.Clone(items), photos...)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// diffMultiset returns what is in a but not b, and in b but not a, counting
// repeats.
func diffMultiset(a, b []int64) (onlyA, onlyB []int64) {
	n := map[int64]int{}
	for _, x := range a {
		n[x]++
	}
	for _, x := range b {
		n[x]--
	}
	for x, c := range n {
		for ; c > 0; c-- {
			onlyA = append(onlyA, x)
		}
		for ; c < 0; c++ {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

// withMembershipChanging runs apply, a write that changes which tokens are in
// the group, or deletes it; next tells, from the group's tokens before, its
// tokens as apply leaves them. The tokens that join or leave lose their kept
// counts in the same transaction: their reach moves on every item that names
// the group, which a write must not have to look at, so it is counted again
// off the request (CatchUpReach), or by the first listing that meets them
// (keepStats). The write costs the group's tokens, whatever the number of
// items naming the group.
func withMembershipChanging(ctx context.Context, tx bun.IDB, owner, group int64, next func(before []int64) ([]int64, error), apply func() error) error {
	if err := lockOwner(ctx, tx, owner); err != nil {
		return err
	}
	before, err := groupTokens(ctx, tx, owner, group)
	if err != nil {
		return err
	}
	after, err := next(before)
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	left, joined := diffMultiset(before, after)
	_, err = tx.NewRaw("DELETE FROM token_stats WHERE token_id IN (?)", ids(append(left, joined...))).Exec(ctx)
	return translate(err)
}

// groupTokens lists owner's tokens in the group.
func groupTokens(ctx context.Context, tx bun.IDB, owner, group int64) ([]int64, error) {
	var ids []int64
	// From the group's members to their tokens (CROSS JOIN keeps SQLite
	// from going through every token of the owner instead).
	err := tx.NewRaw(`SELECT gm.principal_id FROM group_members AS gm
CROSS JOIN guest_tokens AS t WHERE gm.group_id = ? AND t.id = gm.principal_id AND t.owner_id = ?`, group, owner).Scan(ctx, &ids)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return ids, nil
}

// tokensAmong returns the ids that are owner's tokens.
func tokensAmong(ctx context.Context, tx bun.IDB, owner int64, list []int64) ([]int64, error) {
	var out []int64
	err := tx.NewRaw("SELECT id FROM guest_tokens WHERE owner_id = ? AND id IN (?)", owner, ids(list)).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// ItemsChanging runs apply inside tx, a write of another package that
// changes the albums or the existence of owner's items (a photo moved into or
// out of an album, an item deleted, a photo saved into an album), and keeps
// the tokens' reach in step. tx must be a transaction.
func (s *Service) ItemsChanging(ctx context.Context, tx bun.IDB, owner int64, items []int64, apply func() error) error {
	return withItemsChanging(ctx, tx, owner, items, nil, apply)
}

// RebuildTokenStats counts the reach of every token of owner from scratch
// inside tx, for data written without the services (a bulk import).
func (s *Service) RebuildTokenStats(ctx context.Context, tx bun.IDB, owner int64) error {
	return rebuildStats(ctx, tx, owner)
}

// keepStats gives owner's tokens whose reach is not kept (no token_stats
// row: tokens from before the counts were kept, or whose groups changed
// since the last catch-up, see withMembershipChanging) their counts, so that
// a rule reading the counts ("in no ACL") does not take a missing row for
// none. It costs one query when every token has its row; otherwise it
// counts only the tokens without one.
func keepStats(ctx context.Context, db bun.IDB, owner int64) error {
	missing, err := unkept(ctx, db, owner, 0)
	if err != nil || len(missing) == 0 {
		return err
	}
	return rebuildStatsOf(ctx, db, owner, missing)
}

// unkept lists owner's tokens without a token_stats row (at most limit of
// them, when limit > 0).
func unkept(ctx context.Context, db bun.IDB, owner int64, limit int) ([]int64, error) {
	q := `SELECT t.id FROM guest_tokens AS t WHERE t.owner_id = ?
  AND NOT EXISTS (SELECT 1 FROM token_stats AS st WHERE st.token_id = t.id) ORDER BY t.id`
	args := []any{owner}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	var out []int64
	if err := db.NewRaw(q, args...).Scan(ctx, &out); err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}

// catchUpBatch bounds the tokens one transaction of CatchUpReach counts.
const catchUpBatch = 50

// CatchUpReach counts the reach of tokens that have no kept counts (a group
// they joined or left, see withMembershipChanging), a batch per owner in a
// transaction of its own under the owner's lock, until none is left or ctx
// ends; it returns how many tokens it counted. A periodic job runs it, so
// that a membership change costs its own rows and the counting happens off
// the owner's request; a listing that meets a token before the job did
// counts that token itself (keepStats).
func (s *Service) CatchUpReach(ctx context.Context) (int, error) {
	done := 0
	for ctx.Err() == nil {
		var owners []int64
		err := s.DB.NewRaw(`SELECT DISTINCT t.owner_id FROM guest_tokens AS t
WHERE NOT EXISTS (SELECT 1 FROM token_stats AS st WHERE st.token_id = t.id) LIMIT ?`, catchUpBatch).Scan(ctx, &owners)
		if err != nil && !isNoRows(err) {
			return done, translate(err)
		}
		if len(owners) == 0 {
			return done, nil
		}
		for _, owner := range owners {
			err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if err := lockOwner(ctx, tx, owner); err != nil {
					return err
				}
				tokens, err := unkept(ctx, tx, owner, catchUpBatch)
				if err != nil || len(tokens) == 0 {
					return err
				}
				done += len(tokens)
				return rebuildStatsOf(ctx, tx, owner, tokens)
			})
			if err != nil {
				return done, err
			}
		}
	}
	return done, ctx.Err()
}

// rebuildStats recomputes token_stats for every token of owner from scratch,
// with set operations over the owner's ACL entries: the reference the kept
// counts must equal.
func rebuildStats(ctx context.Context, tx bun.IDB, owner int64) error {
	return rebuildStatsOf(ctx, tx, owner, nil)
}

// rebuildStatsOf recomputes token_stats for the tokens of owner given (nil:
// every one); its cost is that of the entries naming those tokens and their
// groups.
func rebuildStatsOf(ctx context.Context, tx bun.IDB, owner int64, tokens []int64) error {
	if err := lockOwner(ctx, tx, owner); err != nil {
		return err
	}
	// Which tokens: a list, or every one of the owner.
	which := bun.Safe("TRUE")
	if tokens != nil {
		which = bun.Safe("t.id IN (" + string(ids(tokens)) + ")")
	}
	if _, err := tx.NewRaw("DELETE FROM token_stats WHERE token_id IN (SELECT t.id FROM guest_tokens AS t WHERE t.owner_id = ? AND ?)", owner, which).Exec(ctx); err != nil {
		return translate(err)
	}
	_, err := tx.NewRaw(`INSERT INTO token_stats (token_id, items, entries)
WITH tp AS (
  SELECT t.id AS tid, t.id AS pid FROM guest_tokens AS t WHERE t.owner_id = ?0 AND ?1
  UNION ALL
  SELECT gm.principal_id, gm.group_id FROM group_members AS gm JOIN guest_tokens AS t ON t.id = gm.principal_id AND t.owner_id = ?0 AND ?1
), ent AS (
  SELECT tp.tid, e.item_id, e.deny FROM tp JOIN acl_entries AS e ON e.principal_id = tp.pid
  JOIN items AS ei ON ei.id = e.item_id AND ei.owner_id = ?0
), denied AS (
  SELECT tid, item_id FROM ent WHERE deny
), direct AS (
  SELECT tid, item_id FROM ent WHERE NOT deny
  EXCEPT
  SELECT tid, item_id FROM denied
), seen AS (
  SELECT tid, item_id FROM direct
  UNION
  SELECT d.tid, ch.id FROM direct AS d JOIN items AS ch ON ch.album_id = d.item_id AND ch.owner_id = ?0
  EXCEPT
  SELECT tid, item_id FROM denied
), counted AS (
  SELECT seen.tid, count(*) AS n FROM seen JOIN items AS i ON i.id = seen.item_id
  WHERE NOT `+PublicSQL("i")+`
  GROUP BY seen.tid
), entries AS (
  SELECT tid, count(*) AS n FROM ent GROUP BY tid
)
SELECT t.id, COALESCE(c.n, 0), COALESCE(en.n, 0) FROM guest_tokens AS t
LEFT JOIN counted AS c ON c.tid = t.id
LEFT JOIN entries AS en ON en.tid = t.id
WHERE t.owner_id = ?0 AND ?1`, owner, which).Exec(ctx)
	return translate(err)
}

// ItemsAdded counts the new items (photos saved straight into an album) for
// the tokens they are shared with from the start. tx must be the transaction
// that inserted them.
func (s *Service) ItemsAdded(ctx context.Context, tx bun.IDB, owner int64, items []int64) error {
	if err := lockOwner(ctx, tx, owner); err != nil {
		return err
	}
	tokens, err := candidates(ctx, tx, owner, items)
	if err != nil {
		return err
	}
	pairs, err := sharedPairs(ctx, tx, owner, items, tokens)
	if err != nil {
		return err
	}
	delta := statsDelta{}
	for _, p := range pairs {
		delta.add(p.TokenID, 1, 0)
	}
	return writeStats(ctx, tx, delta)
}
