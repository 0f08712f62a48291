package content_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/content"
)

// ctPerms is the permission set numbered n (one bit per permission).
func ctPerms(n int) (acl.Permissions, acl.PermissionsEdit) {
	var p acl.Permissions
	e := acl.PermissionsEdit{}
	for i, name := range acl.PermissionNames {
		if err := e.Set(name, n&(1<<i) != 0); err != nil {
			panic(err)
		}
	}
	e.Apply(&p)
	return p, e
}

// The guest view's permissions are acl.Permissions.Union over the session's
// tokens that open the item, for every pair of permission sets; a token that
// does not open the item adds nothing; the comment token is the lowest that
// opens the item and may comment.
func TestGuestViewPermissionsAreTheUnion(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice := w.member("alice")
		it := w.post(alice.ID, "Shared", "x")
		token := func(n int) *acl.GuestToken {
			_, e := ctPerms(n)
			tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: e})
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		sets := 1 << len(acl.PermissionNames)
		// One token that may do everything but is denied the item.
		denied := token(sets - 1)
		var allow []int64
		type pair struct{ a, b *acl.GuestToken }
		var pairs []pair
		for i := range sets {
			for j := range sets {
				p := pair{token(i), token(j)}
				pairs = append(pairs, p)
				allow = append(allow, p.a.ID, p.b.ID)
			}
		}
		if _, err := w.s.PutACL(ctx, alice.ID, it.ID, acl.ACL{Allow: allow, Deny: []int64{denied.ID}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			acc, err := w.cs.View(ctx, it.ID, content.Viewer{Guest: acl.GuestSession{}.With(p.a).With(p.b).With(denied)})
			if err != nil {
				t.Fatal(err)
			}
			want := p.a.Permissions.Union(p.b.Permissions)
			wantComment := int64(0)
			if p.a.Comment {
				wantComment = p.a.ID
			} else if p.b.Comment {
				wantComment = p.b.ID
			}
			if acc.Permissions != want || acc.CommentToken != wantComment || acc.TokenID != p.a.ID {
				t.Fatalf("tokens %+v and %+v: view has %+v (comment token %d, token %d), want %+v (comment token %d)",
					p.a.Permissions, p.b.Permissions, acc.Permissions, acc.CommentToken, acc.TokenID, want, wantComment)
			}
		}
	})
}

// A comment is stored only through a token that may comment, within the
// limits, and is seen by guests only while it is neither hidden nor of a
// revoked token; the hook is called once per stored comment.
func TestAddComment(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice := w.member("alice")
		it := w.post(alice.ID, "Shared", "x")
		_, e := ctPerms(4) // can_comment alone
		tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: e})
		if err != nil {
			t.Fatal(err)
		}
		if !tk.Comment || tk.Download || tk.Metadata {
			t.Fatalf("ctPerms(4) is %+v, want can_comment alone", tk.Permissions)
		}
		if _, err := w.s.PutACL(ctx, alice.ID, it.ID, acl.ACL{Allow: []int64{tk.ID}}); err != nil {
			t.Fatal(err)
		}
		var added []*content.Comment
		w.cs.CommentAdded = func(_ context.Context, c *content.Comment) { added = append(added, c) }
		acc, err := w.cs.View(ctx, it.ID, content.Viewer{Guest: acl.GuestSession{}.With(tk)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.cs.AddComment(ctx, acc, "192.0.2.1", "", "\n\t "); app.ErrorCode(err) != app.EInvalid {
			t.Fatalf("an empty comment: %v", err)
		}
		owner, err := w.cs.View(ctx, it.ID, content.Viewer{Member: alice})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.cs.AddComment(ctx, owner, "192.0.2.1", "", "mine"); app.ErrorCode(err) != app.EForbidden {
			t.Fatalf("the owner's own comment through the guest form: %v", err)
		}
		c, err := w.cs.AddComment(ctx, acc, "192.0.2.1", " Ann ", " Hello\nthere ")
		if err != nil {
			t.Fatal(err)
		}
		if c.Author != "Ann" || c.Body != "Hello\nthere" || c.TokenID != tk.ID || c.OwnerID != alice.ID || c.ItemID != it.ID {
			t.Fatalf("stored %+v", c)
		}
		if len(added) != 1 || added[0].ID != c.ID {
			t.Fatalf("the hook saw %v", added)
		}
		seen := func() int {
			rows, _, err := w.cs.GuestComments(ctx, acc, app.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return len(rows)
		}
		if seen() != 1 {
			t.Fatal("the guest does not see the comment")
		}
		if _, err := w.cs.SetCommentHidden(ctx, alice.ID, c.ID, true); err != nil {
			t.Fatal(err)
		}
		if seen() != 0 {
			t.Fatal("the guest sees a hidden comment")
		}
		if _, err := w.cs.SetCommentHidden(ctx, alice.ID, c.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		if seen() != 0 {
			t.Fatal("the guest sees a revoked token's comment")
		}
		rows, _, err := w.cs.ItemComments(ctx, alice.ID, it.ID, app.Page{Limit: 10})
		if err != nil || len(rows) != 1 || !rows[0].TokenRevoked {
			t.Fatalf("the owner's list after revoking: %+v %v", rows, err)
		}
		// Deleting the item deletes its comments.
		if err := w.cs.DeleteItem(ctx, alice.ID, it.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := db.NewSelect().Table("comments").Count(ctx); err != nil || n != 0 {
			t.Fatalf("%d comments left after deleting the item (%v)", n, err)
		}
	})
}

// BenchmarkGuestComments reads the first page of comments a guest sees on
// an item that has 100 of them, among 10 000 comments on 100 items: a keyed
// read of comments_item_idx, the second (and last) query of a guest page
// with comments.
func BenchmarkGuestComments(b *testing.B) {
	for _, d := range dbtest.Dialects() {
		b.Run(d, func(b *testing.B) {
			ctx := context.Background()
			db := dbtest.Open(b, d)
			clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
			s := acl.NewService(db, clock, ctKeys)
			w := &ctWorld{s: s, cs: content.NewService(db, clock, s, nil, 0), clock: clock}
			alice, err := w.s.CreateMember(ctx, "alice", "Alice", "password-alice")
			if err != nil {
				b.Fatal(err)
			}
			tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_comment": true}})
			if err != nil {
				b.Fatal(err)
			}
			var target *content.Access
			for i := range 100 {
				it, err := w.cs.CreatePost(ctx, alice.ID, "Post", "x")
				if err != nil {
					b.Fatal(err)
				}
				rows := make([]content.Comment, 100)
				for j := range rows {
					rows[j] = content.Comment{ItemID: it.ID, OwnerID: alice.ID, TokenID: tk.ID, Body: "A comment", CreatedAt: w.clock.Now()}
				}
				if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
					b.Fatal(err)
				}
				if i == 50 {
					target = &content.Access{Item: it, TokenID: tk.ID}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rows, _, err := w.cs.GuestComments(ctx, target, app.Page{Limit: 100})
				if err != nil || len(rows) != 100 {
					b.Fatalf("%d comments, %v", len(rows), err)
				}
			}
		})
	}
}
