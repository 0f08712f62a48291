package acl

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// ACL is an item's access-control list as the API shows it.
type ACL struct {
	Public bool    `json:"public"`
	Allow  []int64 `json:"allow"`
	Deny   []int64 `json:"deny"`
}

// aclEntry is one row of acl_entries.
type aclEntry struct {
	bun.BaseModel `bun:"table:acl_entries"`

	ItemID      int64 `bun:"item_id,pk"`
	PrincipalID int64 `bun:"principal_id,pk"`
	Deny        bool  `bun:"deny"`
}

// ownedItem checks that item exists and belongs to owner.
func ownedItem(ctx context.Context, db bun.IDB, owner, item int64) (public bool, err error) {
	err = db.NewRaw("SELECT public FROM items WHERE id = ? AND owner_id = ?", item, owner).Scan(ctx, &public)
	if isNoRows(err) {
		return false, app.Errorf(app.ENotFound, "No such item.")
	}
	return public, translate(err)
}

// ItemACL returns the ACL of one of owner's items.
func (s *Service) ItemACL(ctx context.Context, owner, item int64) (*ACL, error) {
	return itemACL(ctx, s.DB, owner, item)
}

func itemACL(ctx context.Context, db bun.IDB, owner, item int64) (*ACL, error) {
	public, err := ownedItem(ctx, db, owner, item)
	if err != nil {
		return nil, err
	}
	var es []aclEntry
	if err := db.NewSelect().Model(&es).Where("item_id = ?", item).Order("principal_id").Scan(ctx); err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	a := &ACL{Public: public, Allow: []int64{}, Deny: []int64{}}
	for _, e := range es {
		if e.Deny {
			a.Deny = append(a.Deny, e.PrincipalID)
		} else {
			a.Allow = append(a.Allow, e.PrincipalID)
		}
	}
	return a, nil
}

// PutACL replaces the ACL of one of owner's items. Every principal must be
// a member of the hub or a group or token of owner; one principal cannot be
// both allowed and denied.
func (s *Service) PutACL(ctx context.Context, owner, item int64, a ACL) (*ACL, error) {
	allow, deny := dedupe(a.Allow), dedupe(a.Deny)
	for _, id := range allow {
		if slices.Contains(deny, id) {
			return nil, app.Errorf(app.EInvalid, "Principal %d is both allowed and denied.", id)
		}
	}
	var out *ACL
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := ownedItem(ctx, tx, owner, item); err != nil {
			return err
		}
		if err := checkPrincipals(ctx, tx, owner, append(slices.Clone(allow), deny...), true); err != nil {
			return err
		}
		edit := &entryEdit{public: &a.Public, next: func(map[int64]bool) map[int64]bool {
			m := make(map[int64]bool, len(allow)+len(deny))
			for _, id := range allow {
				m[id] = false
			}
			for _, id := range deny {
				m[id] = true
			}
			return m
		}}
		err := withItemsChanging(ctx, tx, owner, []int64{item}, edit, func() error {
			_, err := tx.NewRaw("UPDATE items SET public = ?, updated_at = ? WHERE id = ?", a.Public, s.now(), item).Exec(ctx)
			return translate(err)
		})
		if err != nil {
			return err
		}
		out, err = itemACL(ctx, tx, owner, item)
		return err
	})
	return out, err
}

// Grant adds (or changes) one entry of the item's ACL.
func (s *Service) Grant(ctx context.Context, owner, item, principal int64, deny bool) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.grant(ctx, tx, owner, item, principal, deny)
	})
}

func (s *Service) grant(ctx context.Context, tx bun.IDB, owner, item, principal int64, deny bool) error {
	if _, err := ownedItem(ctx, tx, owner, item); err != nil {
		return err
	}
	if err := checkPrincipals(ctx, tx, owner, []int64{principal}, true); err != nil {
		return err
	}
	edit := &entryEdit{next: func(m map[int64]bool) map[int64]bool { m[principal] = deny; return m }}
	return withItemsChanging(ctx, tx, owner, []int64{item}, edit, nil)
}

// Ungrant removes a principal from the item's ACL.
func (s *Service) Ungrant(ctx context.Context, owner, item, principal int64) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := ownedItem(ctx, tx, owner, item); err != nil {
			return err
		}
		edit := &entryEdit{next: func(m map[int64]bool) map[int64]bool { delete(m, principal); return m }}
		return withItemsChanging(ctx, tx, owner, []int64{item}, edit, nil)
	})
}

// SetPublic changes the item's public flag.
func (s *Service) SetPublic(ctx context.Context, owner, item int64, public bool) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := ownedItem(ctx, tx, owner, item); err != nil {
			return err
		}
		return withItemsChanging(ctx, tx, owner, []int64{item}, nil, func() error {
			_, err := tx.NewRaw("UPDATE items SET public = ?, updated_at = ? WHERE id = ? AND owner_id = ?", public, s.now(), item, owner).Exec(ctx)
			return translate(err)
		})
	})
}

// ShareItem is the one-click share: a new token, already in the item's
// allow list, in one transaction. Without a name it is called "Link N"
// (autoTokenName), never the name of another of the owner's tokens.
func (s *Service) ShareItem(ctx context.Context, owner, item int64, in TokenInput) (*GuestToken, string, error) {
	var t *GuestToken
	var secret string
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := ownedItem(ctx, tx, owner, item); err != nil {
			return err
		}
		var err error
		if t, secret, err = s.createToken(ctx, tx, owner, in); err != nil {
			return err
		}
		return s.grant(ctx, tx, owner, item, t.ID, false)
	})
	return t, secret, err
}

// autoTokenName is the name of a guest token made without one: "Link N",
// with N one more than the highest "Link n" among the owner's tokens, so
// that automatic names never repeat one of theirs. Callers run it in the
// transaction that inserts the token; on PostgreSQL the owner's principal
// row is locked so that two links made at once do not take the same number
// (SQLite write transactions are serialised already).
func autoTokenName(ctx context.Context, tx bun.IDB, owner int64) (string, error) {
	if !database.IsSQLite(tx) {
		if _, err := tx.NewRaw("SELECT id FROM principals WHERE id = ? FOR UPDATE", owner).Exec(ctx); err != nil {
			return "", translate(err)
		}
	}
	var names []string
	err := tx.NewRaw("SELECT name FROM guest_tokens WHERE owner_id = ? AND name LIKE ?", owner, autoNamePrefix+"%").Scan(ctx, &names)
	if err != nil && !isNoRows(err) {
		return "", translate(err)
	}
	return nextAutoName(names), nil
}

const autoNamePrefix = "Link "

// nextAutoName picks "Link N" after the highest N among names, skipping any
// name already taken.
func nextAutoName(names []string) string {
	taken := make(map[string]bool, len(names))
	n := 0
	for _, name := range names {
		taken[name] = true
		if rest, ok := strings.CutPrefix(name, autoNamePrefix); ok {
			if k, err := strconv.Atoi(rest); err == nil && k > n && k < 1<<30 {
				n = k
			}
		}
	}
	for {
		n++
		if name := autoNamePrefix + strconv.Itoa(n); !taken[name] {
			return name
		}
	}
}

// principalRow describes one principal for validation and pickers.
type principalRow struct {
	ID    int64  `bun:"id"`
	Kind  string `bun:"kind"`
	Owner *int64 `bun:"owner"`
}

// checkPrincipals fails with EInvalid unless every id is a member of the hub
// or a token (or, if groupsOK, a group) of owner. Whatever an id that is not
// the owner's names (another member's group or token, nothing at all), the
// error is errUnknownPrincipal's, word for word.
func checkPrincipals(ctx context.Context, db bun.IDB, owner int64, ids []int64, groupsOK bool) error {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil
	}
	var rows []principalRow
	err := db.NewRaw(`SELECT p.id, p.kind, COALESCE(g.owner_id, t.owner_id) AS owner FROM principals AS p
LEFT JOIN groups AS g ON g.id = p.id LEFT JOIN guest_tokens AS t ON t.id = p.id WHERE p.id IN (?)`, bun.List(ids)).Scan(ctx, &rows)
	if err != nil && !isNoRows(err) {
		return translate(err)
	}
	known := make(map[int64]principalRow, len(rows))
	for _, r := range rows {
		known[r.ID] = r
	}
	for _, id := range ids {
		r, ok := known[id]
		switch {
		case ok && r.Kind == "member":
		case !ok, r.Owner == nil, *r.Owner != owner:
			// Unknown ids and other members' groups and tokens get one and
			// the same answer, so that no id can be probed for what it names.
			return errUnknownPrincipal(id)
		case r.Kind == "group" && !groupsOK:
			// Only ever said of the owner's own groups.
			return app.Errorf(app.EInvalid, "Principal %d is one of your groups; a group cannot be a member of a group.", id)
		}
	}
	return nil
}

func dedupe(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func errUnknownPrincipal(id int64) error {
	return app.Errorf(app.EInvalid, "Principal %d is neither a member nor one of your groups or guest tokens.", id)
}
