package content_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/content"
)

var ctKeys = func() *app.Keys {
	k, err := app.DeriveKeys(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// ctWorld is the acl and content services on one fresh database.
type ctWorld struct {
	t     *testing.T
	s     *acl.Service
	cs    *content.Service
	clock *app.FakeClock
}

func ctNewWorld(t *testing.T, db *bun.DB) *ctWorld {
	clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	s := acl.NewService(db, clock, ctKeys)
	return &ctWorld{t: t, s: s, cs: content.NewService(db, clock, s, nil, 0), clock: clock}
}

func (w *ctWorld) member(handle string) *acl.Member {
	w.t.Helper()
	m, err := w.s.CreateMember(context.Background(), handle, handle, "password-"+handle)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *ctWorld) post(owner int64, title, body string) *content.Item {
	w.t.Helper()
	it, err := w.cs.CreatePost(context.Background(), owner, title, body)
	if err != nil {
		w.t.Fatal(err)
	}
	return it
}

func ctWantCode(t *testing.T, what string, err error, code app.Code) {
	t.Helper()
	if err == nil || app.ErrorCode(err) != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, app.ErrorCode(err), code)
	}
}

func TestCreatePostValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice := w.member("alice")
		for _, c := range []struct{ what, title, body string }{
			{"empty", "", ""},
			{"only spaces", "   ", " \n\t "},
			{"a title over the limit", strings.Repeat("é", content.MaxTitle+1), ""},
			{"a body over the limit", "t", strings.Repeat("b", content.MaxBody+1)},
			{"a control character in the title", "a\x01b", ""},
			{"a newline in the title", "first\nsecond", ""},
			{"DEL in the title", "a\x7fb", ""},
			{"NUL in the body", "t", "a\x00b"},
			{"an escape in the body", "t", "a\x1b[31mb"},
		} {
			it, err := w.cs.CreatePost(ctx, alice.ID, c.title, c.body)
			ctWantCode(t, c.what, err, app.EInvalid)
			if it != nil {
				t.Errorf("%s: an item came back: %+v", c.what, it)
			}
		}
		items, err := w.cs.Items(ctx, alice.ID)
		if err != nil || len(items) != 0 {
			t.Fatalf("refused posts left %d items, %v", len(items), err)
		}

		long := w.post(alice.ID, strings.Repeat("é", content.MaxTitle), strings.Repeat("b", content.MaxBody))
		if len([]rune(long.Title)) != content.MaxTitle || len(long.Body) != content.MaxBody {
			t.Errorf("texts at the limits were cut: title %d runes, body %d bytes", len([]rune(long.Title)), len(long.Body))
		}
		it := w.post(alice.ID, "  Hello  ", "line one\nline two\r\n\ttabbed")
		if it.Title != "Hello" || it.Body != "line one\nline two\r\n\ttabbed" || it.Kind != content.KindPost || it.OwnerID != alice.ID {
			t.Errorf("stored post: %+v", it)
		}
		if !it.CreatedAt.Equal(w.clock.Now()) {
			t.Errorf("created_at %v, want %v", it.CreatedAt, w.clock.Now())
		}
		got, err := w.cs.Item(ctx, alice.ID, it.ID)
		if err != nil || got.Title != it.Title || got.Body != it.Body {
			t.Errorf("read back: %+v, %v", got, err)
		}
		if only := w.post(alice.ID, "", "a body alone"); only.Title != "" {
			t.Errorf("a post with only a body: %+v", only)
		}
	})
}

func TestNewPostIsPrivate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		it := w.post(alice.ID, "Private", "Only mine.")
		if it.Public {
			t.Fatalf("a new post is public")
		}
		a, err := w.s.ItemACL(ctx, alice.ID, it.ID)
		if err != nil || a.Public || len(a.Allow) != 0 || len(a.Deny) != 0 {
			t.Errorf("the ACL of a new post: %+v, %v", a, err)
		}
		acc, err := w.cs.View(ctx, it.ID, content.Viewer{Member: alice})
		if err != nil || !acc.Owner || acc.Item.ID != it.ID {
			t.Fatalf("the owner's view: %+v, %v", acc, err)
		}
		_, err = w.cs.View(ctx, it.ID, content.Viewer{Member: bob})
		ctWantCode(t, "another member's view", err, app.ENotFound)
		_, err = w.cs.View(ctx, it.ID, content.Viewer{})
		ctWantCode(t, "an anonymous view", err, app.ENotFound)
		tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.cs.View(ctx, it.ID, content.Viewer{Guest: acl.GuestSession{}.With(tk)})
		ctWantCode(t, "a token of the owner that the ACL does not name", err, app.ENotFound)
		_, err = w.cs.Item(ctx, bob.ID, it.ID)
		ctWantCode(t, "another member reading it as theirs", err, app.ENotFound)
		_, err = w.cs.View(ctx, 999999, content.Viewer{Member: alice})
		ctWantCode(t, "a missing item", err, app.ENotFound)

		if err := w.s.Grant(ctx, alice.ID, it.ID, bob.ID, false); err != nil {
			t.Fatal(err)
		}
		if acc, err := w.cs.View(ctx, it.ID, content.Viewer{Member: bob}); err != nil || acc.Owner {
			t.Errorf("bob once allowed: %+v, %v", acc, err)
		}
	})
}

func TestItemsNewestFirst(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		var want []int64
		for _, title := range []string{"first", "second", "third"} {
			want = append([]int64{w.post(alice.ID, title, "").ID}, want...)
			w.clock.Advance(time.Minute)
		}
		al, err := w.cs.CreateAlbum(ctx, alice.ID, "an album")
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{al.ID}, want...)
		w.post(bob.ID, "bob's", "")
		items, err := w.cs.Items(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, it := range items {
			got = append(got, it.ID)
			if it.OwnerID != alice.ID {
				t.Errorf("alice's items include item %d of member %d", it.ID, it.OwnerID)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("items %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("items %v, want %v (newest first)", got, want)
			}
		}
		if items[0].Kind != content.KindAlbum || items[3].Title != "first" {
			t.Errorf("items: %+v", items)
		}
		none, err := w.cs.Items(ctx, 999999)
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("items of nobody: %v, %v (want an empty list)", none, err)
		}
	})
}

func TestDeleteItemOfAnotherMember(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		it := w.post(alice.ID, "Keep me", "x")
		ctWantCode(t, "bob deleting alice's post", w.cs.DeleteItem(ctx, bob.ID, it.ID), app.ENotFound)
		if _, err := w.cs.Item(ctx, alice.ID, it.ID); err != nil {
			t.Fatalf("alice's post after bob's attempt: %v", err)
		}
		ctWantCode(t, "deleting a missing item", w.cs.DeleteItem(ctx, alice.ID, 999999), app.ENotFound)
		if err := w.cs.DeleteItem(ctx, alice.ID, it.ID); err != nil {
			t.Fatal(err)
		}
		_, err := w.cs.View(ctx, it.ID, content.Viewer{Member: alice})
		ctWantCode(t, "the deleted post", err, app.ENotFound)
		ctWantCode(t, "deleting it again", w.cs.DeleteItem(ctx, alice.ID, it.ID), app.ENotFound)
	})
}

// A guest's view is one query, allowed or not, and so is a member's.
func TestViewIsOneQuery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		shared := w.post(alice.ID, "Shared", "x")
		hidden := w.post(alice.ID, "Hidden", "x")
		tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_download": true}})
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.PutACL(ctx, alice.ID, shared.ID, acl.ACL{Allow: []int64{tk.ID, other.ID, bob.ID}}); err != nil {
			t.Fatal(err)
		}
		session := acl.GuestSession{}.With(other).With(tk)

		qctx, counter := database.WithCounter(ctx)
		acc, err := w.cs.View(qctx, shared.ID, content.Viewer{Guest: session})
		if err != nil || acc.Item.ID != shared.ID || acc.Owner || acc.TokenID != tk.ID || !acc.Download {
			t.Fatalf("guest view: %+v, %v (want the token that may download)", acc, err)
		}
		if n := counter.Count(); n != 1 {
			t.Errorf("a guest view ran %d queries, want 1", n)
		}
		// Again: the kept view, checked by its owner's epoch, one query.
		qctx, counter = database.WithCounter(ctx)
		acc, err = w.cs.View(qctx, shared.ID, content.Viewer{Guest: session})
		if err != nil || acc.Item.ID != shared.ID || acc.TokenID != tk.ID || !acc.Download {
			t.Fatalf("guest view again: %+v, %v", acc, err)
		}
		if n := counter.Count(); n != 1 {
			t.Errorf("a repeated guest view ran %d queries, want 1", n)
		}
		qctx, counter = database.WithCounter(ctx)
		_, err = w.cs.View(qctx, hidden.ID, content.Viewer{Guest: session})
		ctWantCode(t, "a guest view of a hidden item", err, app.ENotFound)
		if n := counter.Count(); n != 1 {
			t.Errorf("a refused guest view ran %d queries, want 1", n)
		}
		qctx, counter = database.WithCounter(ctx)
		acc, err = w.cs.View(qctx, shared.ID, content.Viewer{Member: bob})
		if err != nil || acc.Owner || acc.Item.Title != "Shared" {
			t.Fatalf("member view: %+v, %v", acc, err)
		}
		if n := counter.Count(); n != 1 {
			t.Errorf("a member's view ran %d queries, want 1", n)
		}

		// Revoked: the same session sees nothing. The first request reads
		// the moved epoch, then the statement; a refusal is not kept, so
		// the next is the statement alone.
		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.s.RevokeToken(ctx, alice.ID, other.ID); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int64{2, 1} {
			qctx, counter = database.WithCounter(ctx)
			_, err = w.cs.View(qctx, shared.ID, content.Viewer{Guest: session})
			ctWantCode(t, "a guest view after revocation", err, app.ENotFound)
			if n := counter.Count(); n != want {
				t.Errorf("refused guest view %d after revocation ran %d queries, want %d", i+1, n, want)
			}
		}
	})
}

// The guest view finds every row by key: its cost may depend on the item and
// the session's tokens, never on how many tokens, groups or items the owner
// has. SQLite plans without statistics, so its plan is the same for a
// small and a large owner and can be checked on a small one.
func TestGuestViewPlanFindsRowsByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	w := ctNewWorld(t, db)
	alice := w.member("alice")
	album, err := w.cs.CreateAlbum(ctx, alice.ID, "Album")
	if err != nil {
		t.Fatal(err)
	}
	p := w.post(alice.ID, "Post", "Body.")
	tk, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.s.CreateGroup(ctx, alice.ID, "Family")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.s.AddGroupMember(ctx, alice.ID, g.ID, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.PutACL(ctx, alice.ID, p.ID, acl.ACL{Allow: []int64{tk.ID, g.ID}}); err != nil {
		t.Fatal(err)
	}
	session := acl.GuestSession{}.With(tk)
	if acc, err := w.cs.View(ctx, p.ID, content.Viewer{Guest: session}); err != nil || acc.TokenID != tk.ID {
		t.Fatalf("guest View: %+v, %v", acc, err)
	}
	for _, item := range []int64{p.ID, album.ID} {
		plan, err := content.GuestViewPlan(ctx, w.cs, item, session)
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range plan {
			// The session's list of tokens is the one thing read whole
			// (then g, the one row made from it); each token of the list
			// is found by its id.
			scan := strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN s VIRTUAL TABLE") && step != "SCAN g"
			tokenByOwner := strings.HasPrefix(step, "SEARCH t ") && !strings.Contains(step, "(id=?)") && !strings.Contains(step, " id=?)")
			if scan || tokenByOwner {
				t.Errorf("the guest view's plan reads more than the item and the session's tokens: %q in\n%s", step, strings.Join(plan, "\n"))
			}
		}
	}
}
