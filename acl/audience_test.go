package acl_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
)

func TestWhoCanOpenFollowsTheDecision(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice, bob := w.member("alice"), w.member("bob")
		direct, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Direct")})
		viaGroup, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Via group")})
		denied, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Denied")})
		revoked, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Revoked")})
		other, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Elsewhere")})
		bobs, _ := w.token(bob.ID, acl.TokenInput{Name: tkPtr("Bob's")})
		family := w.group(alice.ID, "Family", viaGroup.ID, denied.ID)
		album := w.album(alice.ID, "Summer")
		photo := w.photo(alice.ID, album, "Beach")
		w.acl(alice.ID, album, false, []int64{family, revoked.ID}, nil)
		w.acl(alice.ID, photo, false, []int64{direct.ID}, []int64{denied.ID})
		if err := w.s.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		_ = other
		_ = bobs

		got, err := w.s.WhoCanOpen(ctx, alice.ID, photo)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			name, status, group string
			album, public       bool
		}
		var rows []row
		for _, o := range got {
			rows = append(rows, row{o.Token.Name, o.Status, o.GroupName, o.ThroughAlbum, o.Public})
		}
		// Active first (newest first among them), the revoked one last; the
		// denied token and the token on no list are not there.
		want := []row{
			{"Via group", acl.StatusActive, "Family", true, false},
			{"Direct", acl.StatusActive, "", false, false},
			{"Revoked", acl.StatusRevoked, "", true, false},
		}
		if len(rows) != len(want) {
			t.Fatalf("openers %+v, want %+v", rows, want)
		}
		for i := range want {
			if rows[i] != want[i] {
				t.Errorf("opener %d: %+v, want %+v", i, rows[i], want[i])
			}
		}

		// A public album opens its photo to every token of the owner, and only the owner's.
		w.acl(alice.ID, album, true, nil, nil)
		got, err = w.s.WhoCanOpen(ctx, alice.ID, photo)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]acl.Opener{}
		for _, o := range got {
			seen[o.Token.Name] = o
		}
		if o, ok := seen["Elsewhere"]; !ok || !o.Public || !o.ThroughAlbum {
			t.Errorf("public album: Elsewhere = %+v (listed %v)", o, ok)
		}
		if _, ok := seen["Denied"]; ok {
			t.Error("public album: the token denied on the photo is listed")
		}
		if _, ok := seen["Bob's"]; ok {
			t.Error("another member's token is listed")
		}

		// Another member's item is not found.
		_, err = w.s.WhoCanOpen(ctx, bob.ID, photo)
		tkWantCode(t, "bob asks about alice's photo", err, app.ENotFound)
	})
}

func TestExtendToken(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice, bob := w.member("alice"), w.member("bob")
		now := w.clock.Now()
		inTwo := now.Add(48 * time.Hour)
		tk, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Grandma"), ExpiresAt: &inTwo})

		// From the current expiry while it is ahead.
		got, err := w.s.ExtendToken(ctx, alice.ID, tk.ID, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want := inTwo.Add(7 * 24 * time.Hour); got.ExpiresAt == nil || !got.ExpiresAt.Equal(want) {
			t.Errorf("extended to %v, want %v", got.ExpiresAt, want)
		}
		if st := w.stored(alice.ID, tk.ID); !st.ExpiresAt.Equal(*got.ExpiresAt) {
			t.Errorf("stored %v, returned %v", st.ExpiresAt, got.ExpiresAt)
		}
		// From now once it has passed.
		w.clock.Advance(30 * 24 * time.Hour)
		got, err = w.s.ExtendToken(ctx, alice.ID, tk.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := w.clock.Now().Add(24 * time.Hour); !got.ExpiresAt.Equal(want) {
			t.Errorf("expired token extended to %v, want %v", got.ExpiresAt, want)
		}
		if got.Status(w.clock.Now()) != acl.StatusActive {
			t.Errorf("status after extending an expired token: %s", got.Status(w.clock.Now()))
		}

		for _, days := range []int{0, -1, acl.MaxExtendDays + 1} {
			_, err = w.s.ExtendToken(ctx, alice.ID, tk.ID, days)
			tkWantCode(t, "extend by out-of-range days", err, app.EInvalid)
		}
		_, err = w.s.ExtendToken(ctx, bob.ID, tk.ID, 7)
		tkWantCode(t, "bob extends alice's token", err, app.ENotFound)

		forever, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Forever")})
		_, err = w.s.ExtendToken(ctx, alice.ID, forever.ID, 7)
		tkWantCode(t, "extend a token without expiry", err, app.EConflict)
		if st := w.stored(alice.ID, forever.ID); st.ExpiresAt != nil {
			t.Errorf("a token without expiry got one: %v", st.ExpiresAt)
		}

		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		before := w.stored(alice.ID, tk.ID).ExpiresAt
		_, err = w.s.ExtendToken(ctx, alice.ID, tk.ID, 7)
		tkWantCode(t, "extend a revoked token", err, app.EConflict)
		if st := w.stored(alice.ID, tk.ID); !st.ExpiresAt.Equal(*before) || st.RevokedAt == nil {
			t.Errorf("the revoked token changed: %+v", st)
		}
	})
}

func TestConcurrentExtensionsAddUp(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		start := w.clock.Now().Add(time.Hour)
		tk, _ := w.token(alice.ID, acl.TokenInput{ExpiresAt: &start})
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := w.s.ExtendToken(context.Background(), alice.ID, tk.ID, 1)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := start.Add(n * 24 * time.Hour); !w.stored(alice.ID, tk.ID).ExpiresAt.Equal(want) {
			t.Errorf("after %d concurrent one-day extensions the expiry is %v, want %v", n, w.stored(alice.ID, tk.ID).ExpiresAt, want)
		}
	})
}

func TestAutomaticLinkNamesNeverRepeat(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice, bob := w.member("alice"), w.member("bob")
		post := w.post(alice.ID, "Letter")
		share := func(in acl.TokenInput) string {
			t.Helper()
			tk, _, err := w.s.ShareItem(ctx, alice.ID, post, in)
			if err != nil {
				t.Fatal(err)
			}
			return tk.Name
		}
		if a, b := share(acl.TokenInput{}), share(acl.TokenInput{Name: tkPtr("  ")}); a != "Link 1" || b != "Link 2" {
			t.Errorf("first automatic names %q, %q; want Link 1, Link 2", a, b)
		}
		// A name the owner typed counts; other members' tokens do not.
		w.token(alice.ID, acl.TokenInput{Name: tkPtr("Link 7")})
		w.token(bob.ID, acl.TokenInput{Name: tkPtr("Link 40")})
		if got := share(acl.TokenInput{}); got != "Link 8" {
			t.Errorf("after Link 7: %q, want Link 8", got)
		}
		// The audit's "New guest link" without a name follows the same rule.
		if tk, _ := w.token(alice.ID, acl.TokenInput{}); tk.Name != "Link 9" {
			t.Errorf("an unnamed token from CreateToken is %q, want Link 9", tk.Name)
		}
		if tk, _ := w.token(bob.ID, acl.TokenInput{}); tk.Name != "Link 41" {
			t.Errorf("bob's unnamed token is %q, want Link 41", tk.Name)
		}

		// Links made at the same moment still get distinct names.
		const n = 8
		var wg sync.WaitGroup
		names := make(chan string, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk, _, err := w.s.ShareItem(ctx, alice.ID, post, acl.TokenInput{})
				if err != nil {
					t.Error(err)
					return
				}
				names <- tk.Name
			}()
		}
		wg.Wait()
		close(names)
		seen := map[string]bool{}
		ts, err := w.s.Tokens(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			if seen[tk.Name] {
				t.Errorf("two tokens of alice are named %q", tk.Name)
			}
			seen[tk.Name] = true
		}
		if len(ts) != 5+n {
			t.Errorf("alice has %d tokens, want %d", len(ts), 5+n)
		}
	})
}
