package acl

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// Opener is one of the owner's guest tokens that opens an item, and why.
type Opener struct {
	Token GuestToken
	// Status is the token's status now: only active tokens open anything today.
	Status string
	// Public is set when the item, or with ThroughAlbum its album, is public.
	Public bool
	// Group is the group whose entry lets the token in, 0 when the entry
	// names the token itself (or when Public).
	Group     int64
	GroupName string
	// ThroughAlbum is set when the item's album decided.
	ThroughAlbum bool
}

// WhoCanOpen lists the owner's guest tokens that the item's ACL (and its
// album's) lets in, deny taken into account, active tokens first, then
// newest first. It is the rule of Decide applied to every token, so that the
// share panel and the API say what the guest view will do.
func (s *Service) WhoCanOpen(ctx context.Context, owner, item int64) ([]Opener, error) {
	decide, err := s.decisionACL(ctx, owner, item)
	if err != nil {
		return nil, err
	}
	// Only a token that an entry of the item or its album names, directly or
	// through a group, can be let in — unless one of them is public, which
	// lets in every token of the owner. So the panel reads what the item's
	// lists name, not every token and group of the owner.
	var ts []GuestToken
	if decide.Public || (decide.Album != nil && decide.Album.Public) {
		if ts, err = s.Tokens(ctx, owner); err != nil {
			return nil, err
		}
	} else {
		ids, err := candidates(ctx, s.DB, owner, []int64{item})
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			// Each by key (the CROSS JOIN keeps SQLite from reading every
			// token of the owner in id order instead).
			err := s.DB.NewRaw(`WITH w (id) AS (VALUES `+rows(ids)+`)
SELECT t.* FROM w CROSS JOIN guest_tokens AS t WHERE t.id = w.id AND t.owner_id = ? ORDER BY t.id DESC`, owner).Scan(ctx, &ts)
			if err != nil && !isNoRows(err) {
				return nil, translate(err)
			}
		}
	}
	ids := make([]int64, len(ts))
	for i := range ts {
		ids[i] = ts[i].ID
	}
	names := map[int64]string{}
	groupsOf := map[int64][]int64{}
	if len(ids) > 0 {
		var ms []struct {
			TokenID int64  `bun:"principal_id"`
			GroupID int64  `bun:"group_id"`
			Name    string `bun:"name"`
		}
		err := s.DB.NewRaw(`SELECT gm.principal_id, gm.group_id, g.name FROM group_members AS gm
CROSS JOIN groups AS g WHERE gm.principal_id IN (?) AND g.id = gm.group_id AND g.owner_id = ?`, bun.List(ids), owner).Scan(ctx, &ms)
		if err != nil && !isNoRows(err) {
			return nil, translate(err)
		}
		for _, m := range ms {
			names[m.GroupID] = m.Name
			groupsOf[m.TokenID] = append(groupsOf[m.TokenID], m.GroupID)
		}
	}
	now := s.now()
	var out []Opener
	for _, t := range ts {
		who := NewIdentity(t.ID, owner, groupsOf[t.ID])
		d := Decide(decide, &who)
		if !d.Allowed {
			continue
		}
		o := Opener{Token: t, Status: t.Status(now), ThroughAlbum: d.Level > 0}
		switch {
		case d.Reason == ReasonPublic || d.Principal == 0:
			o.Public = true
		case d.Principal != t.ID:
			o.Group, o.GroupName = d.Principal, names[d.Principal]
		}
		out = append(out, o)
	}
	// Tokens come newest first; a stable sort keeps that order within each status.
	slices.SortStableFunc(out, func(a, b Opener) int {
		return cmp.Compare(activeRank(a.Status), activeRank(b.Status))
	})
	return out, nil
}

func activeRank(status string) int {
	if status == StatusActive {
		return 0
	}
	return 1
}

// decisionACL loads what Decide reads for one of owner's items: its ACL and
// its album's.
func (s *Service) decisionACL(ctx context.Context, owner, item int64) (*ItemACL, error) {
	a, err := s.ItemACL(ctx, owner, item)
	if err != nil {
		return nil, err
	}
	out := toItemACL(owner, a)
	var album *int64
	if err := s.DB.NewRaw("SELECT album_id FROM items WHERE id = ? AND owner_id = ?", item, owner).Scan(ctx, &album); err != nil {
		return nil, translate(err)
	}
	if album != nil {
		aa, err := s.ItemACL(ctx, owner, *album)
		if err != nil {
			return nil, err
		}
		out.Album = toItemACL(owner, aa)
	}
	return out, nil
}

func toItemACL(owner int64, a *ACL) *ItemACL {
	es := make([]Entry, 0, len(a.Allow)+len(a.Deny))
	for _, p := range a.Allow {
		es = append(es, Entry{Principal: p})
	}
	for _, p := range a.Deny {
		es = append(es, Entry{Principal: p, Deny: true})
	}
	SortEntries(es)
	return &ItemACL{Owner: owner, Public: a.Public, Entries: es}
}

// MaxExtendDays bounds ExtendToken.
const MaxExtendDays = 3650

// ExtendToken pushes the expiry of one of owner's tokens back by days: from
// the current expiry while it is ahead, from now once it has passed. A token
// without an expiry has nothing to extend (giving it one would shorten its
// life), and a revoked token stays revoked. Concurrent extensions add up.
func (s *Service) ExtendToken(ctx context.Context, owner, id int64, days int) (*GuestToken, error) {
	if days < 1 || days > MaxExtendDays {
		return nil, app.Errorf(app.EInvalid, "Extend by 1 to %d days.", MaxExtendDays)
	}
	out := new(GuestToken)
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		t := new(GuestToken)
		q := tx.NewSelect().Model(t).Where("id = ? AND owner_id = ?", id, owner)
		if !database.IsSQLite(tx) {
			// SQLite write transactions are serialised already (BEGIN IMMEDIATE).
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			if isNoRows(err) {
				return app.Errorf(app.ENotFound, "No such guest token.")
			}
			return translate(err)
		}
		switch {
		case t.RevokedAt != nil:
			return app.Errorf(app.EConflict, "A revoked token cannot be extended.")
		case t.ExpiresAt == nil:
			return app.Errorf(app.EConflict, "This token never expires; there is nothing to extend.")
		}
		base := s.now()
		if t.ExpiresAt.After(base) {
			base = *t.ExpiresAt
		}
		e := base.Add(time.Duration(days) * 24 * time.Hour).UTC()
		_, err := tx.NewUpdate().Model((*GuestToken)(nil)).Set("expires_at = ?", e).
			Where("id = ? AND owner_id = ?", id, owner).Returning("*").Exec(ctx, out)
		return translate(err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// How a token reaches an item, for its audience.
const (
	ViaDirect = "direct"
	ViaGroup  = "group"
	ViaAlbum  = "album"
	ViaPublic = "public"
)

// Viewer is one token in an item's audience: how it reaches the item and
// what it did there, from the counts the access log's flush keeps per token
// and item (openings, views and downloads of this item; previews are not
// counted). Networks counts distinct client marks, which rotate daily: one
// network seen on two days counts twice.
type Viewer struct {
	Opener
	Via           string
	FirstOpenedAt *time.Time
	LastSeenAt    *time.Time
	Views         int
	Networks      int
}

// Opened reports whether the token ever reached the item.
func (v *Viewer) Opened() bool { return v.FirstOpenedAt != nil }

// Audience lists, for one of owner's items, every token that reaches it
// (WhoCanOpen: directly, through a group, through its album, or because it
// is public) with when it first opened the item, when it was last seen
// there, its views and its distinct networks; and, apart, the ids of those
// that have not opened it yet. It reads the item's entries and the kept
// counts of the item's tokens, never the access log.
func (s *Service) Audience(ctx context.Context, owner, item int64) ([]Viewer, []int64, error) {
	opens, err := s.WhoCanOpen(ctx, owner, item)
	if err != nil {
		return nil, nil, err
	}
	if len(opens) == 0 {
		return []Viewer{}, []int64{}, nil
	}
	list := make([]int64, len(opens))
	for i := range opens {
		list[i] = opens[i].Token.ID
	}
	var counts []struct {
		TokenID  int64      `bun:"token_id"`
		FirstAt  *time.Time `bun:"first_at"`
		LastAt   *time.Time `bun:"last_at"`
		Views    int        `bun:"views"`
		Networks int        `bun:"networks"`
	}
	err = s.DB.NewRaw(`SELECT v.token_id, v.first_at, v.last_at, v.views,
  (SELECT count(*) FROM token_item_networks AS n WHERE n.item_id = v.item_id AND n.token_id = v.token_id) AS networks
FROM token_item_views AS v WHERE v.item_id = ? AND v.token_id IN (?)`, item, ids(list)).Scan(ctx, &counts)
	if err != nil && !isNoRows(err) {
		return nil, nil, translate(err)
	}
	type stat = struct {
		first, last *time.Time
		views, nets int
	}
	byToken := make(map[int64]stat, len(counts))
	for _, c := range counts {
		byToken[c.TokenID] = stat{c.FirstAt, c.LastAt, c.Views, c.Networks}
	}
	out := make([]Viewer, 0, len(opens))
	notOpened := []int64{}
	for _, o := range opens {
		v := Viewer{Opener: o, Via: viaOf(o)}
		if st, ok := byToken[o.Token.ID]; ok {
			v.FirstOpenedAt, v.LastSeenAt, v.Views, v.Networks = st.first, st.last, st.views, st.nets
		}
		if !v.Opened() {
			notOpened = append(notOpened, o.Token.ID)
		}
		out = append(out, v)
	}
	return out, notOpened, nil
}

func viaOf(o Opener) string {
	switch {
	case o.Public:
		return ViaPublic
	case o.ThroughAlbum:
		return ViaAlbum
	case o.Group != 0:
		return ViaGroup
	}
	return ViaDirect
}
