package acl

import (
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// Group is a circle named by its owner ("Family"); it holds members and
// guest tokens, and a grant to it is a grant to everyone in it.
type Group struct {
	bun.BaseModel `bun:"table:groups"`

	ID        int64     `bun:"id,pk"`
	OwnerID   int64     `bun:"owner_id"`
	Name      string    `bun:"name"`
	CreatedAt time.Time `bun:"created_at"`
	Members   []int64   `bun:"-"`
}

type groupMember struct {
	bun.BaseModel `bun:"table:group_members"`

	GroupID     int64 `bun:"group_id,pk"`
	PrincipalID int64 `bun:"principal_id,pk"`
}

func groupName(name string) (string, error) {
	name, err := app.CleanText("The group name", name, 100, false)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", app.Errorf(app.EInvalid, "A group needs a name.")
	}
	return name, nil
}

// CreateGroup makes an empty group.
func (s *Service) CreateGroup(ctx context.Context, owner int64, name string) (*Group, error) {
	name, err := groupName(name)
	if err != nil {
		return nil, err
	}
	g := &Group{OwnerID: owner, Name: name, CreatedAt: s.now(), Members: []int64{}}
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		id, err := newPrincipal(ctx, tx, "group")
		if err != nil {
			return err
		}
		g.ID = id
		_, err = tx.NewInsert().Model(g).Exec(ctx)
		return translate(err)
	})
	if app.ErrorCode(err) == app.EConflict {
		return nil, app.Errorf(app.EConflict, "You already have a group named %q.", name)
	}
	return g, err
}

// Groups lists owner's groups with their members; two queries.
func (s *Service) Groups(ctx context.Context, owner int64) ([]Group, error) {
	var gs []Group
	if err := s.DB.NewSelect().Model(&gs).Where("owner_id = ?", owner).Order("name").Scan(ctx); err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	var ms []groupMember
	err := s.DB.NewSelect().Model(&ms).
		Where("group_id IN (SELECT id FROM groups WHERE owner_id = ?)", owner).Order("group_id", "principal_id").Scan(ctx)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	byGroup := map[int64][]int64{}
	for _, m := range ms {
		byGroup[m.GroupID] = append(byGroup[m.GroupID], m.PrincipalID)
	}
	for i := range gs {
		gs[i].Members = byGroup[gs[i].ID]
		if gs[i].Members == nil {
			gs[i].Members = []int64{}
		}
	}
	return gs, nil
}

// Group returns one of owner's groups with its members.
func (s *Service) Group(ctx context.Context, owner, id int64) (*Group, error) {
	return group(ctx, s.DB, owner, id)
}

func group(ctx context.Context, db bun.IDB, owner, id int64) (*Group, error) {
	g := new(Group)
	if err := db.NewSelect().Model(g).Where("id = ? AND owner_id = ?", id, owner).Scan(ctx); err != nil {
		if isNoRows(err) {
			return nil, app.Errorf(app.ENotFound, "No such group.")
		}
		return nil, translate(err)
	}
	g.Members = []int64{}
	err := db.NewSelect().Model((*groupMember)(nil)).Column("principal_id").Where("group_id = ?", id).Order("principal_id").Scan(ctx, &g.Members)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return g, nil
}

// RenameGroup renames one of owner's groups.
func (s *Service) RenameGroup(ctx context.Context, owner, id int64, name string) (*Group, error) {
	name, err := groupName(name)
	if err != nil {
		return nil, err
	}
	res, err := s.DB.NewUpdate().Model((*Group)(nil)).Set("name = ?", name).Where("id = ? AND owner_id = ?", id, owner).Exec(ctx)
	if err != nil {
		if app.ErrorCode(translate(err)) == app.EConflict {
			return nil, app.Errorf(app.EConflict, "You already have a group named %q.", name)
		}
		return nil, translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, app.Errorf(app.ENotFound, "No such group.")
	}
	return s.Group(ctx, owner, id)
}

// DeleteGroup deletes a group; its ACL entries go with it.
func (s *Service) DeleteGroup(ctx context.Context, owner, id int64) error {
	if _, err := s.Group(ctx, owner, id); err != nil {
		return err
	}
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		none := func([]int64) ([]int64, error) { return nil, nil }
		return withMembershipChanging(ctx, tx, owner, id, none, func() error {
			// Deleting the principal cascades to the group, its members and its ACL entries.
			_, err := tx.NewRaw("DELETE FROM principals WHERE id = ? AND kind = 'group'", id).Exec(ctx)
			return translate(err)
		})
	})
}

// SetGroupMembers replaces the members of a group: members of the hub and
// owner's guest tokens (not groups).
func (s *Service) SetGroupMembers(ctx context.Context, owner, id int64, members []int64) (*Group, error) {
	members = dedupe(members)
	var g *Group
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := group(ctx, tx, owner, id); err != nil {
			return err
		}
		if err := checkPrincipals(ctx, tx, owner, members, false); err != nil {
			return err
		}
		next := func([]int64) ([]int64, error) { return tokensAmong(ctx, tx, owner, members) }
		err := withMembershipChanging(ctx, tx, owner, id, next, func() error {
			if _, err := tx.NewDelete().Model((*groupMember)(nil)).Where("group_id = ?", id).Exec(ctx); err != nil {
				return translate(err)
			}
			if len(members) > 0 {
				rows := make([]groupMember, len(members))
				for i, m := range members {
					rows[i] = groupMember{GroupID: id, PrincipalID: m}
				}
				if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
					return translate(err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		g, err = group(ctx, tx, owner, id)
		return err
	})
	return g, err
}

// AddGroupMember adds one member or token to a group.
func (s *Service) AddGroupMember(ctx context.Context, owner, id, principal int64) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := group(ctx, tx, owner, id); err != nil {
			return err
		}
		if err := checkPrincipals(ctx, tx, owner, []int64{principal}, false); err != nil {
			return err
		}
		next := func(before []int64) ([]int64, error) {
			added, err := tokensAmong(ctx, tx, owner, []int64{principal})
			if err != nil || len(added) == 0 || slices.Contains(before, principal) {
				return before, err
			}
			return append(slices.Clone(before), principal), nil
		}
		return withMembershipChanging(ctx, tx, owner, id, next, func() error {
			_, err := tx.NewInsert().Model(&groupMember{GroupID: id, PrincipalID: principal}).On("CONFLICT DO NOTHING").Exec(ctx)
			return translate(err)
		})
	})
}

// RemoveGroupMember removes one member or token from a group.
func (s *Service) RemoveGroupMember(ctx context.Context, owner, id, principal int64) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := group(ctx, tx, owner, id); err != nil {
			return err
		}
		next := func(before []int64) ([]int64, error) {
			return slices.DeleteFunc(slices.Clone(before), func(t int64) bool { return t == principal }), nil
		}
		return withMembershipChanging(ctx, tx, owner, id, next, func() error {
			_, err := tx.NewDelete().Model((*groupMember)(nil)).Where("group_id = ? AND principal_id = ?", id, principal).Exec(ctx)
			return translate(err)
		})
	})
}
