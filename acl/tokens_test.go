package acl_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/content"
	"hubshare/content/media"
)

var tkKeys = func() *app.Keys {
	k, err := app.DeriveKeys(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// tkWorld is a service on a fresh database with a fake clock, and a content
// service on the same database for items.
type tkWorld struct {
	t     *testing.T
	db    *bun.DB
	s     *acl.Service
	cs    *content.Service
	clock *app.FakeClock
}

func tkNewWorld(t *testing.T, db *bun.DB) *tkWorld {
	clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	s := acl.NewService(db, clock, tkKeys)
	store, err := media.NewFSStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &tkWorld{t: t, db: db, s: s, cs: content.NewService(db, clock, s, store, 0), clock: clock}
}

func (w *tkWorld) member(handle string) *acl.Member {
	w.t.Helper()
	m, err := w.s.CreateMember(context.Background(), handle, handle, "password-"+handle)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *tkWorld) token(owner int64, in acl.TokenInput) (*acl.GuestToken, string) {
	w.t.Helper()
	tk, secret, err := w.s.CreateToken(context.Background(), owner, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return tk, secret
}

func (w *tkWorld) stored(owner, id int64) *acl.GuestToken {
	w.t.Helper()
	tk, err := w.s.Token(context.Background(), owner, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return tk
}

func (w *tkWorld) post(owner int64, title string) int64 {
	w.t.Helper()
	it, err := w.cs.CreatePost(context.Background(), owner, title, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return it.ID
}

func (w *tkWorld) album(owner int64, title string) int64 {
	w.t.Helper()
	it, err := w.cs.CreateAlbum(context.Background(), owner, title)
	if err != nil {
		w.t.Fatal(err)
	}
	return it.ID
}

// photo saves a photo of owner, in album when album is not 0, as an upload
// does once its files are stored (these tests need no files).
func (w *tkWorld) photo(owner, album int64, title string) int64 {
	w.t.Helper()
	var in *int64
	if album != 0 {
		in = &album
	}
	it, err := w.cs.SavePhoto(context.Background(), owner, &media.Photo{Key: fmt.Sprintf("te/p%d", tkPhotos.Add(1)),
		ContentType: "image/jpeg", Width: 4, Height: 3, Size: 100}, title, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return it.ID
}

func (w *tkWorld) group(owner int64, name string, members ...int64) int64 {
	w.t.Helper()
	ctx := context.Background()
	g, err := w.s.CreateGroup(ctx, owner, name)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.s.SetGroupMembers(ctx, owner, g.ID, members); err != nil {
		w.t.Fatal(err)
	}
	return g.ID
}

func (w *tkWorld) acl(owner, item int64, public bool, allow, deny []int64) {
	w.t.Helper()
	if _, err := w.s.PutACL(context.Background(), owner, item, acl.ACL{Public: public, Allow: allow, Deny: deny}); err != nil {
		w.t.Fatal(err)
	}
}

func tkWantCode(t *testing.T, what string, err error, code app.Code) {
	t.Helper()
	if err == nil || app.ErrorCode(err) != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, app.ErrorCode(err), code)
	}
}

func tkPtr[T any](v T) *T { return &v }

// tkListTokens lists every token of owner (tests have fewer than a page).
func tkListTokens(s *acl.Service, ctx context.Context, owner int64) ([]acl.TokenSummary, error) {
	ts, _, err := s.ListTokensPage(ctx, owner, acl.TokenQuery{Page: app.Page{Limit: app.MaxPageSize}})
	return ts, err
}

// tkPhotos numbers the photos the tests save.
var tkPhotos atomic.Int64

func TestTokenStatusFollowsTheClock(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		expiry := w.clock.Now().Add(time.Hour)
		tk, secret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("limited"), ExpiresAt: &expiry, MaxUses: tkPtr(1)})
		if st := tk.Status(w.clock.Now()); st != acl.StatusActive {
			t.Fatalf("a new token is %q", st)
		}
		if !tk.NeedsExplicitOpen() || tk.HasPassword() {
			t.Errorf("a token with a use limit: NeedsExplicitOpen %v HasPassword %v", tk.NeedsExplicitOpen(), tk.HasPassword())
		}

		ex, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, nil)
		if err != nil || ex.Outcome != acl.NeedsOpen || ex.Token.ID != tk.ID {
			t.Fatalf("exchange of a limited token: %+v, %v", ex, err)
		}
		if n := w.stored(alice.ID, tk.ID).Uses; n != 0 {
			t.Errorf("the exchange spent %d uses", n)
		}
		p := acl.Pending{TokenID: tk.ID, Version: tk.SessionVersion}
		if _, err := w.s.OpenPendingLink(ctx, p, "", "203.0.113.1"); err != nil {
			t.Fatalf("open: %v", err)
		}
		st := w.stored(alice.ID, tk.ID)
		if st.Uses != 1 || st.Status(w.clock.Now()) != acl.StatusUsedUp || st.LastUsedAt == nil || !st.LastUsedAt.Equal(w.clock.Now()) {
			t.Errorf("after its only use: uses %d status %q last used %v", st.Uses, st.Status(w.clock.Now()), st.LastUsedAt)
		}
		_, err = w.s.OpenPendingLink(ctx, p, "", "203.0.113.1")
		tkWantCode(t, "a second open of a used-up token", err, app.ENotFound)

		if _, err := w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{MaxUses: tkPtr(2)}); err != nil {
			t.Fatal(err)
		}
		if st := w.stored(alice.ID, tk.ID).Status(w.clock.Now()); st != acl.StatusActive {
			t.Errorf("after raising the limit: %q", st)
		}

		w.clock.Set(expiry.Add(-time.Second))
		if st := w.stored(alice.ID, tk.ID).Status(w.clock.Now()); st != acl.StatusActive {
			t.Errorf("a second before the expiry: %q", st)
		}
		w.clock.Set(expiry)
		if st := w.stored(alice.ID, tk.ID).Status(w.clock.Now()); st != acl.StatusExpired {
			t.Errorf("at the expiry: %q", st)
		}
		_, err = w.s.ExchangeZat(ctx, secret, "203.0.113.2", acl.GuestSession{}, nil)
		tkWantCode(t, "exchange of an expired token", err, app.ENotFound)
		_, err = w.s.OpenPendingLink(ctx, p, "", "203.0.113.1")
		tkWantCode(t, "open of an expired token", err, app.ENotFound)

		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		st = w.stored(alice.ID, tk.ID)
		if st.Status(w.clock.Now()) != acl.StatusRevoked || st.RevokedAt == nil || !st.RevokedAt.Equal(w.clock.Now()) {
			t.Errorf("revoked (and expired): status %q revoked_at %v", st.Status(w.clock.Now()), st.RevokedAt)
		}
		if st.Status(expiry.Add(-time.Hour)) != acl.StatusRevoked {
			t.Errorf("revocation does not win over every other state")
		}
		// Statuses in order of precedence, on values.
		max := 1
		future := w.clock.Now().Add(time.Hour)
		for _, c := range []struct {
			tok  acl.GuestToken
			want string
		}{
			{acl.GuestToken{}, acl.StatusActive},
			{acl.GuestToken{ExpiresAt: &future, MaxUses: &max}, acl.StatusActive},
			{acl.GuestToken{MaxUses: &max, Uses: 1}, acl.StatusUsedUp},
			{acl.GuestToken{MaxUses: &max, Uses: 1, ExpiresAt: tkPtr(w.clock.Now())}, acl.StatusExpired},
			{acl.GuestToken{MaxUses: &max, Uses: 1, ExpiresAt: tkPtr(w.clock.Now()), RevokedAt: tkPtr(w.clock.Now())}, acl.StatusRevoked},
		} {
			if got := c.tok.Status(w.clock.Now()); got != c.want {
				t.Errorf("Status of %+v = %q, want %q", c.tok, got, c.want)
			}
		}
	})
}

func TestRotateTokenKeepsGrants(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		tk, secret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("to rotate")})
		g := w.group(alice.ID, "Family", tk.ID)
		p1, p2 := w.post(alice.ID, "direct"), w.post(alice.ID, "through the group")
		w.acl(alice.ID, p1, false, []int64{tk.ID}, nil)
		w.acl(alice.ID, p2, false, []int64{g}, nil)

		rotated, secret2, err := w.s.RotateToken(ctx, alice.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if secret2 == secret || !acl.ValidSecret(acl.GuestTokenPrefix, secret2) || rotated.ID != tk.ID {
			t.Fatalf("rotation gave %q for token %d", secret2, rotated.ID)
		}
		st := w.stored(alice.ID, tk.ID)
		if st.SessionVersion != tk.SessionVersion+1 {
			t.Errorf("session version %d after rotation, want %d", st.SessionVersion, tk.SessionVersion+1)
		}
		if !bytes.Equal(st.SecretHash, acl.LookupHash(tkKeys.Lookup, secret2)) {
			t.Errorf("the stored lookup hash is not the new secret's")
		}
		a, err := w.s.ItemACL(ctx, alice.ID, p1)
		if err != nil || !slices.Equal(a.Allow, []int64{tk.ID}) {
			t.Errorf("ACL of the direct grant after rotation: %+v, %v", a, err)
		}
		a, err = w.s.ItemACL(ctx, alice.ID, p2)
		if err != nil || !slices.Equal(a.Allow, []int64{g}) {
			t.Errorf("ACL of the group grant after rotation: %+v, %v", a, err)
		}
		grp, err := w.s.Group(ctx, alice.ID, g)
		if err != nil || !slices.Equal(grp.Members, []int64{tk.ID}) {
			t.Errorf("group members after rotation: %+v, %v", grp, err)
		}
		if got, err := w.s.TokenSecret(ctx, alice.ID, tk.ID); err != nil || got != secret2 {
			t.Errorf("TokenSecret after rotation: %v", err)
		}
		_, err = w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, nil)
		tkWantCode(t, "the old secret", err, app.ENotFound)
		opened, err := w.s.ExchangeZat(ctx, secret2, "203.0.113.1", acl.GuestSession{}, nil)
		if err != nil || opened.Outcome != acl.Opened || opened.Token.SessionVersion != st.SessionVersion {
			t.Errorf("the new secret: %+v, %v", opened, err)
		}
		n, err := tkListTokens(w.s, ctx, alice.ID)
		if err != nil || len(n) != 1 || n[0].Items != 2 {
			t.Errorf("items of the rotated token: %+v, %v", n, err)
		}

		_, _, err = w.s.RotateToken(ctx, bob.ID, tk.ID)
		tkWantCode(t, "bob rotating alice's token", err, app.ENotFound)
		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = w.s.RotateToken(ctx, alice.ID, tk.ID)
		tkWantCode(t, "rotating a revoked token", err, app.EConflict)
		later := w.clock.Now().Add(30 * 24 * time.Hour)
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ExpiresAt: &later})
		tkWantCode(t, "a new expiry for a revoked token", err, app.EConflict)
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ClearExpiry: true})
		tkWantCode(t, "no expiry for a revoked token", err, app.EConflict)
	})
}

func TestUpdateTokenPasswordEndsSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		tk, _ := w.token(alice.ID, acl.TokenInput{})
		v := tk.SessionVersion
		up, err := w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{Name: tkPtr("renamed"), Note: tkPtr("hello"), Permissions: acl.PermissionsEdit{"can_download": true}})
		if err != nil || up.SessionVersion != v || up.Name != "renamed" || !up.Download {
			t.Fatalf("edit without a password: %+v, %v", up, err)
		}
		up, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{Password: tkPtr("visitor password ✓")})
		if err != nil || up.SessionVersion != v+1 || !up.HasPassword() {
			t.Fatalf("setting a password: version %d (want %d), %v", up.SessionVersion, v+1, err)
		}
		if st := w.stored(alice.ID, tk.ID); st.SessionVersion != v+1 || st.PasswordHash == nil || st.Name != "renamed" {
			t.Errorf("stored after setting a password: %+v", st)
		}
		up, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{Password: tkPtr("")})
		if err != nil || up.SessionVersion != v+2 || up.HasPassword() {
			t.Errorf("removing the password: version %d (want %d) has password %v, %v", up.SessionVersion, v+2, up.HasPassword(), err)
		}
		up, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{Password: tkPtr("")})
		if err != nil || up.SessionVersion != v+2 {
			t.Errorf("removing an absent password: version %d (want %d), %v", up.SessionVersion, v+2, err)
		}
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ExpiresAt: tkPtr(w.clock.Now())})
		tkWantCode(t, "an expiry at now", err, app.EInvalid)
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{MaxUses: tkPtr(-1)})
		tkWantCode(t, "negative max uses", err, app.EInvalid)
	})
}

func TestOtherMembersTokensAreNotFound(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		tk, secret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("alice's")})
		tkWantCode(t, "bob revoking alice's token", w.s.RevokeToken(ctx, bob.ID, tk.ID), app.ENotFound)
		tkWantCode(t, "revoking an unknown token", w.s.RevokeToken(ctx, alice.ID, 999999), app.ENotFound)
		_, err := w.s.Token(ctx, bob.ID, tk.ID)
		tkWantCode(t, "bob reading alice's token", err, app.ENotFound)
		_, err = w.s.TokenSecret(ctx, bob.ID, tk.ID)
		tkWantCode(t, "bob copying alice's link", err, app.ENotFound)
		_, err = w.s.UpdateToken(ctx, bob.ID, tk.ID, acl.TokenInput{Name: tkPtr("bob's now")})
		tkWantCode(t, "bob editing alice's token", err, app.ENotFound)
		_, err = w.s.TokenAccess(ctx, bob.ID, tk.ID, 10)
		tkWantCode(t, "bob reading alice's token log", err, app.ENotFound)
		st := w.stored(alice.ID, tk.ID)
		if st.Status(w.clock.Now()) != acl.StatusActive || st.Name != "alice's" {
			t.Errorf("alice's token after bob's attempts: %+v", st)
		}
		if ex, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, nil); err != nil || ex.Outcome != acl.Opened {
			t.Errorf("alice's token no longer opens: %+v, %v", ex, err)
		}
		// Revoking twice is not an error and keeps the first time.
		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		first := *w.stored(alice.ID, tk.ID).RevokedAt
		w.clock.Advance(time.Hour)
		if err := w.s.RevokeToken(ctx, alice.ID, tk.ID); err != nil {
			t.Errorf("revoking again: %v", err)
		}
		if again := w.stored(alice.ID, tk.ID).RevokedAt; again == nil || !again.Equal(first) {
			t.Errorf("revoking again moved revoked_at from %v to %v", first, again)
		}
	})
}

func TestTokenSecretRoundTrips(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		secrets := map[int64]string{}
		for i := 0; i < 3; i++ {
			tk, secret := w.token(alice.ID, acl.TokenInput{Name: tkPtr(fmt.Sprintf("t%d", i))})
			if !acl.ValidSecret(acl.GuestTokenPrefix, secret) {
				t.Fatalf("CreateToken gave %q", secret)
			}
			if bytes.Contains(tk.SecretSealed, []byte(secret)) || bytes.Contains(tk.SecretHash, []byte(secret)) {
				t.Errorf("the stored forms of the token hold the secret")
			}
			secrets[tk.ID] = secret
		}
		for id, want := range secrets {
			got, err := w.s.TokenSecret(ctx, alice.ID, id)
			if err != nil || got != want {
				t.Errorf("TokenSecret(%d) = %q, %v; want the secret of the creation", id, got, err)
			}
		}
		// Under another server key the sealed copy does not open.
		otherKeys, err := app.DeriveKeys(bytes.Repeat([]byte{4}, 32))
		if err != nil {
			t.Fatal(err)
		}
		other := acl.NewService(db, w.clock, otherKeys)
		for id := range secrets {
			_, err := other.TokenSecret(ctx, alice.ID, id)
			tkWantCode(t, "TokenSecret under another key", err, app.EInternal)
			break
		}
	})
}

func TestListTokensCountsWhatEachTokenOpens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice, bob := w.member("alice"), w.member("bob")
		tDirect, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("direct")})
		tGroup, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("group")})
		tDenied, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("denied")})
		tAlbum, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("album")})
		tNone, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("none")})
		g := w.group(alice.ID, "Family", tGroup.ID, tDenied.ID)

		p1 := w.post(alice.ID, "p1")
		w.acl(alice.ID, p1, false, []int64{tDirect.ID}, nil)
		p2 := w.post(alice.ID, "p2")
		w.acl(alice.ID, p2, false, []int64{g}, nil)
		p3 := w.post(alice.ID, "p3")
		w.acl(alice.ID, p3, false, []int64{g}, []int64{tDenied.ID})
		p4 := w.post(alice.ID, "public")
		w.acl(alice.ID, p4, true, nil, nil)
		p5 := w.post(alice.ID, "p5")
		w.acl(alice.ID, p5, false, []int64{tDirect.ID, tAlbum.ID}, []int64{g})
		a := w.album(alice.ID, "album")
		w.acl(alice.ID, a, false, []int64{tAlbum.ID}, nil)
		w.photo(alice.ID, a, "photo 1")
		ph2 := w.photo(alice.ID, a, "photo 2, hidden from the album token")
		w.acl(alice.ID, ph2, false, nil, []int64{tAlbum.ID})
		loose := w.photo(alice.ID, 0, "loose photo")
		w.acl(alice.ID, loose, false, []int64{bob.ID}, nil)
		bp := w.post(bob.ID, "bob's public post")
		w.acl(bob.ID, bp, true, nil, nil)

		// The public post p4 is visible to every token but shared with none,
		// so it counts for nobody, not even for a token it names.
		p6 := w.post(alice.ID, "public, naming a token")
		w.acl(alice.ID, p6, true, []int64{tDirect.ID}, nil)
		want := map[int64]struct{ items, entries int }{
			tDirect.ID: {2, 3}, // p1, p5; entries p1, p5, p6
			tGroup.ID:  {2, 3}, // p2, p3; entries p2, p3, p5 (all through the group)
			tDenied.ID: {1, 4}, // p2; entries p2, p3 (group and direct), p5
			tAlbum.ID:  {3, 3}, // p5, the album, photo 1; entries p5, the album, photo 2
			tNone.ID:   {0, 0},
		}
		ts, err := tkListTokens(w.s, ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != len(want) {
			t.Fatalf("ListTokens: %d tokens, want %d", len(ts), len(want))
		}
		for i, tk := range ts {
			if i > 0 && ts[i-1].ID < tk.ID {
				t.Errorf("ListTokens is not newest first: %d before %d", ts[i-1].ID, tk.ID)
			}
			if w := want[tk.ID]; tk.Items != w.items || tk.Entries != w.entries {
				t.Errorf("token %q: items %d entries %d, want %d and %d", tk.Name, tk.Items, tk.Entries, w.items, w.entries)
			}
		}
		if bt, err := tkListTokens(w.s, ctx, bob.ID); err != nil || len(bt) != 0 {
			t.Errorf("bob's tokens: %+v, %v", bt, err)
		}
	})
}

func TestListTokensQueriesDoNotGrowWithTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		count := func(n int) int64 {
			t.Helper()
			m := w.member(fmt.Sprintf("owner%d", n))
			p := w.post(m.ID, "shared")
			var ids []int64
			for i := 0; i < n; i++ {
				tk, _ := w.token(m.ID, acl.TokenInput{Name: tkPtr(fmt.Sprintf("t%d", i))})
				ids = append(ids, tk.ID)
			}
			g := w.group(m.ID, "all", ids[:n/2]...)
			w.acl(m.ID, p, false, append([]int64{g}, ids[n/2:]...), nil)
			qctx, counter := database.WithCounter(ctx)
			ts, err := tkListTokens(w.s, qctx, m.ID)
			if err != nil || len(ts) != n {
				t.Fatalf("ListTokens with %d tokens: %d, %v", n, len(ts), err)
			}
			for _, tk := range ts {
				if tk.Items != 1 || tk.Entries != 1 {
					t.Errorf("token %q: items %d entries %d, want 1 and 1", tk.Name, tk.Items, tk.Entries)
				}
			}
			return counter.Count()
		}
		few, many := count(3), count(30)
		if few == 0 || few != many {
			t.Errorf("ListTokens ran %d queries for 3 tokens and %d for 30, want the same number", few, many)
		}
	})
}

// A revoked or expired token opens nothing now: GET /tokens says how many
// items each token "opens now", and such a token opens none (its ACL entries
// are still counted, and still listed as inactive grants).
func TestListTokensDeadTokensOpenNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		expiry := w.clock.Now().Add(time.Hour)
		revoked, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("revoked")})
		expired, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("expired"), ExpiresAt: &expiry})
		live, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("live")})
		p := w.post(alice.ID, "shared with all three")
		w.acl(alice.ID, p, false, []int64{revoked.ID, expired.ID, live.ID}, nil)
		if err := w.s.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Set(expiry.Add(time.Minute))
		ts, err := tkListTokens(w.s, ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]int{revoked.ID: 0, expired.ID: 0, live.ID: 1}
		for _, tk := range ts {
			if tk.Items != want[tk.ID] || tk.Entries != 1 {
				t.Errorf("token %q (%s): items %d entries %d, want items %d entries 1",
					tk.Name, tk.Status(w.clock.Now()), tk.Items, tk.Entries, want[tk.ID])
			}
		}
	})
}

type tkPauseKey struct{}

// tkPauseHook holds a query run with tkPauseKey in its context right after
// its first read of guest_tokens, until resume is closed (or a short while
// has passed, for databases where the other writer has to wait for it).
type tkPauseHook struct {
	once   sync.Once
	read   chan struct{}
	resume chan struct{}
}

func (h *tkPauseHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *tkPauseHook) AfterQuery(ctx context.Context, ev *bun.QueryEvent) {
	if ctx.Value(tkPauseKey{}) == nil {
		return
	}
	q := strings.TrimSpace(ev.Query)
	if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "guest_tokens") {
		h.once.Do(func() {
			close(h.read)
			select {
			case <-h.resume:
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
}

// An edit of a token that runs while the token is rotated must not undo the
// rotation: the sessions from before the rotation stay ended.
func TestRotationSurvivesAConcurrentEdit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		alice := w.member("alice")
		tk, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("rotated while edited")})
		p := w.post(alice.ID, "shared")
		w.acl(alice.ID, p, false, []int64{tk.ID}, nil)
		before := acl.GuestSession{}.With(tk)
		if _, err := w.cs.View(ctx, p, content.Viewer{Guest: before}); err != nil {
			t.Fatalf("the session before the rotation: %v", err)
		}

		hook := &tkPauseHook{read: make(chan struct{}), resume: make(chan struct{})}
		db.AddQueryHook(hook)
		var editErr error
		edited := make(chan struct{})
		go func() {
			defer close(edited)
			_, editErr = w.s.UpdateToken(context.WithValue(ctx, tkPauseKey{}, true), alice.ID, tk.ID, acl.TokenInput{Note: tkPtr("edited")})
		}()
		<-hook.read
		_, secret, err := w.s.RotateToken(ctx, alice.ID, tk.ID)
		close(hook.resume)
		<-edited
		if err != nil || editErr != nil {
			t.Fatalf("rotate: %v; edit: %v", err, editErr)
		}
		st := w.stored(alice.ID, tk.ID)
		if st.Note != "edited" {
			t.Errorf("the edit was lost: note %q", st.Note)
		}
		if !bytes.Equal(st.SecretHash, acl.LookupHash(tkKeys.Lookup, secret)) {
			t.Errorf("the rotation's secret was lost")
		}
		if st.SessionVersion <= tk.SessionVersion {
			t.Errorf("session version %d after a rotation from %d: the concurrent edit wrote the old version back", st.SessionVersion, tk.SessionVersion)
		}
		_, err = w.cs.View(ctx, p, content.Viewer{Guest: before})
		tkWantCode(t, "a session from before the rotation", err, app.ENotFound)

		// The same for a password change while the token is renamed.
		st = w.stored(alice.ID, tk.ID)
		current := acl.GuestSession{}.With(st)
		if _, err := w.cs.View(ctx, p, content.Viewer{Guest: current}); err != nil {
			t.Fatalf("a session at the current version: %v", err)
		}
		hook = &tkPauseHook{read: make(chan struct{}), resume: make(chan struct{})}
		db.AddQueryHook(hook)
		renamed := make(chan struct{})
		go func() {
			defer close(renamed)
			_, editErr = w.s.UpdateToken(context.WithValue(ctx, tkPauseKey{}, true), alice.ID, tk.ID, acl.TokenInput{Name: tkPtr("renamed")})
		}()
		<-hook.read
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{Password: tkPtr("a new visitor password")})
		close(hook.resume)
		<-renamed
		if err != nil || editErr != nil {
			t.Fatalf("password change: %v; rename: %v", err, editErr)
		}
		after := w.stored(alice.ID, tk.ID)
		if after.Name != "renamed" {
			t.Errorf("the rename was lost: %q", after.Name)
		}
		if after.PasswordHash == nil || after.SessionVersion <= st.SessionVersion {
			t.Errorf("the password change was undone by the concurrent rename: password set %v, session version %d (was %d)",
				after.PasswordHash != nil, after.SessionVersion, st.SessionVersion)
		}
		_, err = w.cs.View(ctx, p, content.Viewer{Guest: current})
		tkWantCode(t, "a session from before the password change", err, app.ENotFound)
	})
}

// An event is tied to an item only when its token may open that item
// (SECURITY 26): a token presented on the URL of another member's item, or of
// an item of its owner that is not shared with it, is logged without the
// item, whether the token opens at once, needs its landing page, or is dead.
func TestExchangeTiesEventsOnlyToOpenableItems(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice, bob := w.member("alice"), w.member("bob")
		open, openSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("open")})
		limited, limitedSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("limited"), MaxUses: tkPtr(3)})
		dead, deadSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("dead")})
		mine, unshared := w.post(alice.ID, "shared"), w.post(alice.ID, "not shared")
		album := w.album(alice.ID, "album")
		inAlbum := w.photo(alice.ID, album, "in the album")
		theirs := w.post(bob.ID, "bob's")
		w.acl(alice.ID, mine, false, []int64{open.ID, limited.ID, dead.ID}, nil)
		w.acl(alice.ID, album, false, []int64{open.ID}, nil)
		if err := w.s.RevokeToken(ctx, alice.ID, dead.ID); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct {
			item int64
			want bool
		}{{mine, true}, {inAlbum, true}, {unshared, false}, {theirs, false}} {
			// An opening's entry is tied when it is written (below).
			ex, err := w.s.ExchangeZat(ctx, openSecret, "203.0.113.1", acl.GuestSession{}, &c.item)
			if err != nil || ex.Outcome != acl.Opened {
				t.Fatalf("open token on item %d: %+v, %v", c.item, ex, err)
			}
			ex, err = w.s.ExchangeZat(ctx, limitedSecret, "203.0.113.1", acl.GuestSession{}, &c.item)
			if err != nil || ex.Outcome != acl.NeedsOpen {
				t.Fatalf("limited token on item %d: %+v, %v", c.item, ex, err)
			}
			if want := c.want && c.item == mine; (ex.Item != nil) != want {
				t.Errorf("limited token on item %d: pending item %v, want tied %v", c.item, ex.Item, want)
			}
			_, err = w.s.ExchangeZat(ctx, deadSecret, "203.0.113.1", acl.GuestSession{}, &c.item)
			tkWantCode(t, "a dead token", err, app.ENotFound)
		}
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			TokenID int64  `bun:"token_id"`
			ItemID  *int64 `bun:"item_id"`
			Event   string `bun:"event"`
		}
		if err := db.NewRaw("SELECT token_id, item_id, event FROM access_log").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		tied := map[string]int{}
		for _, r := range rows {
			if r.ItemID != nil {
				if *r.ItemID != mine && *r.ItemID != inAlbum {
					t.Errorf("event %q of token %d tied to item %d, which it cannot open", r.Event, r.TokenID, *r.ItemID)
				}
				tied[r.Event]++
			}
		}
		// The open token's two openable items, and the dead token's attempt
		// on the item it had been shared on.
		if tied[acl.EventOpen] != 2 || tied[acl.EventFailed] != 1 {
			t.Errorf("tied events %v, want 2 openings and 1 failure; rows %+v", tied, rows)
		}
	})
}

// Tokens whose reach was never kept (data from before the counts, or written
// behind the services' back) are counted from scratch on the next listing,
// with the same answer the kept counts give.
func TestListTokensCountsTokensWithoutKeptReach(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		direct, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("direct")})
		viaGroup, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("group")})
		g := w.group(alice.ID, "Family", viaGroup.ID)
		album := w.album(alice.ID, "album")
		w.photo(alice.ID, album, "one")
		w.photo(alice.ID, album, "two")
		post := w.post(alice.ID, "post")
		w.acl(alice.ID, album, false, []int64{g}, nil)
		w.acl(alice.ID, post, false, []int64{direct.ID, g}, nil)
		kept, err := tkListTokens(w.s, ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM token_stats"); err != nil {
			t.Fatal(err)
		}
		counted, err := tkListTokens(w.s, ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64][2]int{direct.ID: {1, 1}, viaGroup.ID: {4, 2}}
		for i, lt := range counted {
			if got := [2]int{lt.Items, lt.Entries}; got != want[lt.ID] {
				t.Errorf("token %q counted from scratch: items, entries %v, want %v", lt.Name, got, want[lt.ID])
			}
			if kept[i].Items != lt.Items || kept[i].Entries != lt.Entries {
				t.Errorf("token %q: kept %d/%d, counted %d/%d", lt.Name, kept[i].Items, kept[i].Entries, lt.Items, lt.Entries)
			}
		}
		var rows int
		if err := db.NewRaw("SELECT count(*) FROM token_stats").Scan(ctx, &rows); err != nil || rows != 2 {
			t.Errorf("token_stats after the listing: %d rows, %v", rows, err)
		}

		// The flagged count and the bulk revoke, reached before any listing,
		// count such tokens too: a shared link without its row is not "in
		// no ACL".
		unshared, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("unshared")})
		if _, err := db.ExecContext(ctx, "DELETE FROM token_stats"); err != nil {
			t.Fatal(err)
		}
		if n, err := w.s.CountFlagged(ctx, alice.ID); err != nil || n != 1 {
			t.Errorf("flagged %d (%v), want 1: the unshared link only", n, err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM token_stats"); err != nil {
			t.Fatal(err)
		}
		if n, err := w.s.RevokeFlagged(ctx, alice.ID); err != nil || n != 1 {
			t.Errorf("revoked %d (%v), want 1", n, err)
		}
		for _, tk := range []*acl.GuestToken{direct, viaGroup, unshared} {
			got, err := w.s.Token(ctx, alice.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if revoked := got.RevokedAt != nil; revoked != (tk.ID == unshared.ID) {
				t.Errorf("token %q revoked %v", got.Name, revoked)
			}
		}
	})
}

// tkKeptStats reads the kept counts (items, entries) of the tokens that
// have them.
func tkKeptStats(ctx context.Context, q bun.IDB, tokens []int64) (map[int64][2]int, error) {
	var rows []struct {
		TokenID int64 `bun:"token_id"`
		Items   int   `bun:"items"`
		Entries int   `bun:"entries"`
	}
	if err := q.NewRaw("SELECT token_id, items, entries FROM token_stats WHERE token_id IN (?)", bun.List(tokens)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make(map[int64][2]int, len(rows))
	for _, r := range rows {
		out[r.TokenID] = [2]int{r.Items, r.Entries}
	}
	return out, nil
}

// A write of one item's entries recounts only the tokens of the entries that
// change, directly or through their groups, and the counts stay those a
// count from scratch gives: for a post and for an album's photos, for a
// group's tokens, a deny, an entry removed, a whole list replaced with the
// same flag, and a list whose public flag flips.
func TestEntryEditsKeepTheCountsOfTheTokensTheyChange(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		inG, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("in G")})
		inGH, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("in G and H")})
		inH, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("in H")})
		direct, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("direct")})
		g := w.group(alice.ID, "G", inG.ID, inGH.ID)
		h := w.group(alice.ID, "H", inGH.ID, inH.ID)
		post := w.post(alice.ID, "post")
		album := w.album(alice.ID, "album")
		photo := w.photo(alice.ID, album, "photo")
		w.photo(alice.ID, album, "another photo")
		tokens := []int64{inG.ID, inGH.ID, inH.ID, direct.ID}
		if _, err := w.s.CatchUpReach(ctx); err != nil { // the groups' new tokens
			t.Fatal(err)
		}

		stats := func(q bun.IDB) map[int64][2]int {
			t.Helper()
			out, err := tkKeptStats(ctx, q, tokens)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		// The reference: the counts from scratch, in a transaction undone.
		fromScratch := func() map[int64][2]int {
			t.Helper()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			if err := w.s.RebuildTokenStats(ctx, tx, alice.ID); err != nil {
				t.Fatal(err)
			}
			return stats(tx)
		}
		put := func(item int64, public bool, allow, deny []int64) func() error {
			return func() error {
				_, err := w.s.PutACL(ctx, alice.ID, item, acl.ACL{Public: public, Allow: allow, Deny: deny})
				return err
			}
		}
		steps := []struct {
			name  string
			write func() error
			items map[int64]int // items shared with each token after the step, where it is not 0
		}{
			{"post to G", put(post, false, []int64{g}, nil), map[int64]int{inG.ID: 1, inGH.ID: 1}},
			{"H denied the post", func() error { return w.s.Grant(ctx, alice.ID, post, h, true) }, map[int64]int{inG.ID: 1}},
			{"H's deny removed", func() error { return w.s.Ungrant(ctx, alice.ID, post, h) }, map[int64]int{inG.ID: 1, inGH.ID: 1}},
			{"album to H and a token", put(album, false, []int64{h, direct.ID}, nil), map[int64]int{inG.ID: 1, inGH.ID: 4, inH.ID: 3, direct.ID: 3}},
			{"a photo denies G", func() error { return w.s.Grant(ctx, alice.ID, photo, g, true) }, map[int64]int{inG.ID: 1, inGH.ID: 3, inH.ID: 3, direct.ID: 3}},
			{"H turned to deny on the album", func() error { return w.s.Grant(ctx, alice.ID, album, h, true) }, map[int64]int{inG.ID: 1, inGH.ID: 1, direct.ID: 3}},
			{"album list replaced, same flag", put(album, false, []int64{g}, []int64{direct.ID}), map[int64]int{inG.ID: 3, inGH.ID: 3}},
			{"post made public", put(post, true, []int64{g}, nil), map[int64]int{inG.ID: 2, inGH.ID: 2}},
			{"public post's list replaced, same flag", put(post, true, []int64{h, direct.ID}, nil), map[int64]int{inG.ID: 2, inGH.ID: 2}},
			{"post private again", put(post, false, []int64{h, direct.ID}, nil), map[int64]int{inG.ID: 2, inGH.ID: 3, inH.ID: 1, direct.ID: 1}},
		}
		for _, st := range steps {
			if err := st.write(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			kept, want := stats(db), fromScratch()
			for _, tk := range tokens {
				if kept[tk] != want[tk] {
					t.Errorf("%s: token %d kept items, entries %v, counted from scratch %v", st.name, tk, kept[tk], want[tk])
				}
				if kept[tk][0] != st.items[tk] {
					t.Errorf("%s: token %d is shared %d items, want %d", st.name, tk, kept[tk][0], st.items[tk])
				}
			}
		}
	})
}

// A kept guest session is the one the cookie opens to, and a cookie changed
// by one byte still opens to nothing, after its original was kept.
func TestOpenGuestKeepsOnlyWhatItOpened(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite")
	w := tkNewWorld(t, db)
	alice := w.member("alice")
	one, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("one")})
	two, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("two")})
	want := acl.GuestSession{}.With(one).With(two)
	cookie := w.s.SealGuest(want)
	for i := range 2 {
		if got := w.s.OpenGuest(cookie); !slices.Equal(got.TokenIDs(), want.TokenIDs()) || got.Tokens[1].Version != two.SessionVersion {
			t.Fatalf("open %d: %+v, want %+v", i+1, got, want)
		}
	}
	for _, forged := range []string{cookie[:len(cookie)-1], cookie[:len(cookie)-2] + "AA", "x" + cookie} {
		if forged == cookie {
			continue
		}
		if got := w.s.OpenGuest(forged); len(got.Tokens) != 0 {
			t.Errorf("a changed cookie opened to %+v", got)
		}
	}
}

// Every statement of the owner's reach-moving writes finds its rows by key:
// SQLite has no statistics, so a join left to its choice may go through
// every token or entry of the owner (or of every owner), which costs nothing
// in a small test database and tens of milliseconds at S4's size. A plan
// does not depend on the amount of data without statistics, so the small
// world here shows the plans of the large one.
func TestOwnerWritesFindRowsByKey(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite")
	w := tkNewWorld(t, db)
	ctx := context.Background()
	alice := w.member("alice")
	one, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("one")})
	two, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("two")})
	three, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("three")})
	g := w.group(alice.ID, "Family", one.ID, two.ID)
	h := w.group(alice.ID, "Friends", two.ID)
	post := w.post(alice.ID, "post")
	album := w.album(alice.ID, "album")
	photo := w.photo(alice.ID, album, "photo")
	w.acl(alice.ID, post, false, []int64{g, one.ID}, []int64{h})
	w.acl(alice.ID, album, false, []int64{g}, nil)
	if _, err := w.s.CatchUpReach(ctx); err != nil {
		t.Fatal(err)
	}
	// Names the statements give their own rows (VALUES lists and CTEs).
	own := map[string]bool{"w": true, "x": true, "c": true, "named": true, "wi": true, "wt": true, "p": true, "d": true}
	owned := regexp.MustCompile(`\(owner_id=\?\)$`)
	constant := regexp.MustCompile(`^(CONSTANT ROW|\d+ CONSTANT ROWS)$`)
	put := func(item int64, public bool, allow, deny []int64) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := w.s.PutACL(ctx, alice.ID, item, acl.ACL{Public: public, Allow: allow, Deny: deny})
			return err
		}
	}
	for _, c := range []struct {
		name  string
		write func(context.Context) error
	}{
		{"PutACL, a token in", put(post, false, []int64{g, one.ID, three.ID}, []int64{h})},
		{"PutACL, a token out", put(post, false, []int64{g, one.ID}, []int64{h})},
		{"PutACL, made public", put(post, true, []int64{g, one.ID}, []int64{h})},
		{"PutACL of an album", put(album, false, []int64{g, three.ID}, nil)},
		{"Grant a group", func(ctx context.Context) error { return w.s.Grant(ctx, alice.ID, photo, h, true) }},
		{"Ungrant a group", func(ctx context.Context) error { return w.s.Ungrant(ctx, alice.ID, photo, h) }},
		{"SetPublic", func(ctx context.Context) error { return w.s.SetPublic(ctx, alice.ID, post, false) }},
		{"AddGroupMember", func(ctx context.Context) error { return w.s.AddGroupMember(ctx, alice.ID, h, three.ID) }},
		{"RemoveGroupMember", func(ctx context.Context) error { return w.s.RemoveGroupMember(ctx, alice.ID, h, three.ID) }},
	} {
		plans, err := acl.QueryPlans(ctx, db, c.write)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(plans) == 0 {
			t.Fatalf("%s: no statement seen", c.name)
		}
		for _, p := range plans {
			for _, step := range p.Steps {
				scan, isScan := strings.CutPrefix(step, "SCAN ")
				if isScan && !own[strings.Fields(scan + " ")[0]] && !constant.MatchString(scan) || owned.MatchString(step) {
					t.Errorf("%s: %q\n%s\n%s", c.name, step, p.Query, strings.Join(p.Steps, "\n"))
				}
			}
		}
	}
}

// The tokens an ACL edit can concern are found by key from the items edited:
// SQLite without statistics would rather scan every owner's entries by
// principal (250 ms per ACL write at S4's size, for a small owner too).
func TestCandidatesPlanFindsRowsByKey(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite")
	w := tkNewWorld(t, db)
	alice := w.member("alice")
	tk, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("one")})
	g := w.group(alice.ID, "Family", tk.ID)
	p := w.post(alice.ID, "post")
	w.acl(alice.ID, p, false, []int64{tk.ID, g}, nil)
	plan, err := acl.CandidatesPlan(context.Background(), db, alice.ID, []int64{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 {
		t.Fatal("no plan")
	}
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN ") && !slices.Contains([]string{"SCAN w", "SCAN x", "SCAN c", "SCAN named", "SCAN CONSTANT ROW"}, step) {
			t.Errorf("the candidates statement scans: %q\n%s", step, strings.Join(plan, "\n"))
		}
	}
}
