package acl_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
)

// TestForeignPrincipalsLookUnknown: in an ACL and in a group's members,
// another member's group or token gets exactly the error of an id that
// names nothing (apart from the id itself), whatever kind of principal the
// id names; the error for the owner's own group in a group stays specific.
func TestForeignPrincipalsLookUnknown(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		item := w.post(alice.ID, "Plans")
		own, err := w.s.CreateGroup(ctx, alice.ID, "Family")
		if err != nil {
			t.Fatal(err)
		}
		bobsGroup := w.group(bob.ID, "Bob's friends")
		bobsToken, _ := w.token(bob.ID, acl.TokenInput{Name: tkPtr("bob's link")})
		const unknown = int64(987654321)

		ops := map[string]func(id int64) error{
			"PutACL allow": func(id int64) error {
				_, err := w.s.PutACL(ctx, alice.ID, item, acl.ACL{Allow: []int64{id}})
				return err
			},
			"PutACL deny": func(id int64) error {
				_, err := w.s.PutACL(ctx, alice.ID, item, acl.ACL{Deny: []int64{id}})
				return err
			},
			"Grant": func(id int64) error { return w.s.Grant(ctx, alice.ID, item, id, false) },
			"SetGroupMembers": func(id int64) error {
				_, err := w.s.SetGroupMembers(ctx, alice.ID, own.ID, []int64{id})
				return err
			},
			"AddGroupMember": func(id int64) error { return w.s.AddGroupMember(ctx, alice.ID, own.ID, id) },
		}
		// answer is the error's code and text with the id itself replaced.
		answer := func(err error, id int64) string {
			if err == nil {
				return "no error"
			}
			return string(app.ErrorCode(err)) + ": " + strings.ReplaceAll(app.ErrorMessage(err), strconv.FormatInt(id, 10), "ID")
		}
		for name, op := range ops {
			want := answer(op(unknown), unknown)
			if !strings.HasPrefix(want, string(app.EInvalid)+": ") {
				t.Errorf("%s with an unknown id: %s", name, want)
			}
			for what, id := range map[string]int64{"bob's group": bobsGroup, "bob's token": bobsToken.ID} {
				if got := answer(op(id), id); got != want {
					t.Errorf("%s with %s: %q, want the unknown id's %q", name, what, got, want)
				}
			}
		}
		// Nothing was stored by the refused calls.
		if a, err := w.s.ItemACL(ctx, alice.ID, item); err != nil || len(a.Allow)+len(a.Deny) != 0 {
			t.Errorf("ACL after refused calls: %+v, %v", a, err)
		}
		if g, err := w.s.Group(ctx, alice.ID, own.ID); err != nil || len(g.Members) != 0 {
			t.Errorf("group after refused calls: %+v, %v", g, err)
		}

		// The owner's own group: allowed in an ACL, refused in a group with its own reason.
		if err := w.s.Grant(ctx, alice.ID, item, own.ID, false); err != nil {
			t.Errorf("granting the owner's own group: %v", err)
		}
		other, err := w.s.CreateGroup(ctx, alice.ID, "Friends")
		if err != nil {
			t.Fatal(err)
		}
		err = w.s.AddGroupMember(ctx, alice.ID, other.ID, own.ID)
		if app.ErrorCode(err) != app.EInvalid || !strings.Contains(app.ErrorMessage(err), "a group cannot be a member of a group") {
			t.Errorf("the owner's group in a group: %v", err)
		}
	})
}
