package acl_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
)

func bulkIDs(r *acl.BulkResult) (tokens, items []int64) {
	for _, t := range r.Tokens {
		tokens = append(tokens, t.ID)
	}
	for _, it := range r.Items {
		items = append(items, it.ID)
	}
	slices.Sort(tokens)
	slices.Sort(items)
	return tokens, items
}

func TestBulkDryRunAndConfirmTouchTheSameTokensAndItems(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice, bob := w.member("alice"), w.member("bob")
		// Made 100 days ago and never used since.
		old, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Old, no expiry")})
		oldExp := w.clock.Now().Add(200 * 24 * time.Hour)
		oldExpiring, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Old, expiring"), ExpiresAt: &oldExp})
		oldUnlisted, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Old, in no ACL")})
		oldRevoked, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Old, revoked")})
		bobsOld, _ := w.token(bob.ID, acl.TokenInput{Name: tkPtr("Bob's old")})
		w.clock.Advance(100 * 24 * time.Hour)
		fresh, freshSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Fresh")})
		if err := w.s.RevokeToken(ctx, alice.ID, oldRevoked.ID); err != nil {
			t.Fatal(err)
		}
		// old is named directly on a post and through a group on an album
		// (so its photos too); oldExpiring on a public post (which keeps
		// every guest) and denied on another; fresh on the first post.
		family := w.group(alice.ID, "Family", old.ID)
		letter, public, other := w.post(alice.ID, "Letter"), w.post(alice.ID, "Public"), w.post(alice.ID, "Other")
		album := w.album(alice.ID, "Summer")
		photo := w.photo(alice.ID, album, "Beach")
		w.acl(alice.ID, letter, false, []int64{old.ID, fresh.ID}, nil)
		w.acl(alice.ID, album, false, []int64{family}, nil)
		w.acl(alice.ID, public, true, []int64{oldExpiring.ID}, nil)
		w.acl(alice.ID, other, false, []int64{family}, []int64{oldExpiring.ID})
		bobPost := w.post(bob.ID, "Bob's")
		w.acl(bob.ID, bobPost, false, []int64{bobsOld.ID}, nil)
		if _, err := w.s.ExchangeZat(ctx, freshSecret, "203.0.113.1", acl.GuestSession{}, nil); err != nil {
			t.Fatal(err)
		}

		ninety := 90
		rule := acl.BulkRule{UnusedDays: &ninety}
		dry, err := w.s.Bulk(ctx, alice.ID, acl.BulkRequest{Action: acl.BulkRevoke, Rule: rule, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		dt, di := bulkIDs(dry)
		wantTokens := []int64{old.ID, oldExpiring.ID, oldUnlisted.ID}
		slices.Sort(wantTokens)
		wantItems := []int64{letter, album, photo, other}
		slices.Sort(wantItems)
		if !slices.Equal(dt, wantTokens) || !slices.Equal(di, wantItems) {
			t.Fatalf("dry run: tokens %v items %v; want %v and %v", dt, di, wantTokens, wantItems)
		}
		for _, tk := range dry.Tokens {
			if tk.RevokedAt != nil {
				t.Errorf("the dry run revoked %q", tk.Name)
			}
		}
		if got := w.stored(alice.ID, old.ID); got.RevokedAt != nil {
			t.Fatal("the dry run changed a token")
		}

		done, err := w.s.Bulk(ctx, alice.ID, acl.BulkRequest{Action: acl.BulkRevoke, Rule: rule})
		if err != nil {
			t.Fatal(err)
		}
		ct, ci := bulkIDs(done)
		if !slices.Equal(ct, dt) || !slices.Equal(ci, di) {
			t.Errorf("confirm: tokens %v items %v; the dry run said %v and %v", ct, ci, dt, di)
		}
		for _, id := range wantTokens {
			if w.stored(alice.ID, id).RevokedAt == nil {
				t.Errorf("token %d not revoked", id)
			}
		}
		for _, tk := range done.Tokens {
			if tk.RevokedAt == nil || tk.Status(w.clock.Now()) != acl.StatusRevoked {
				t.Errorf("the result shows %q as %q", tk.Name, tk.Status(w.clock.Now()))
			}
		}
		if w.stored(alice.ID, fresh.ID).RevokedAt != nil || w.stored(bob.ID, bobsOld.ID).RevokedAt != nil {
			t.Error("a token outside the rule (a used one, or another member's) was revoked")
		}
		// Run again, the rule chooses nothing: revoked tokens are never chosen.
		again, err := w.s.Bulk(ctx, alice.ID, acl.BulkRequest{Action: acl.BulkRevoke, Rule: rule, DryRun: true})
		if err != nil || len(again.Tokens) != 0 || len(again.Items) != 0 {
			t.Errorf("second dry run: %+v, %v", again, err)
		}
	})
}

func TestBulkRulesCombineAndExtendSkipsLinksThatNeverExpire(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		cut := w.clock.Now().Add(time.Hour)
		exp := w.clock.Now().Add(10 * 24 * time.Hour)
		never, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Never")})
		expiring, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Expiring"), ExpiresAt: &exp})
		past := w.clock.Now().Add(time.Minute)
		lapsed, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Lapsed"), ExpiresAt: &past})
		listed, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Listed"), ExpiresAt: &exp})
		post := w.post(alice.ID, "Post")
		w.acl(alice.ID, post, false, []int64{listed.ID}, nil)
		w.clock.Advance(2 * time.Hour)
		later, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Later"), ExpiresAt: tkPtr(w.clock.Now().Add(time.Hour))})

		// created_before AND in_no_acl: not Listed, not Later.
		req := acl.BulkRequest{Action: acl.BulkExtend, Days: 7, DryRun: true, Rule: acl.BulkRule{CreatedBefore: &cut, InNoACL: true}}
		dry, err := w.s.Bulk(ctx, alice.ID, req)
		if err != nil {
			t.Fatal(err)
		}
		dt, _ := bulkIDs(dry)
		want := []int64{expiring.ID, lapsed.ID}
		slices.Sort(want)
		if !slices.Equal(dt, want) || len(dry.Skipped) != 1 || dry.Skipped[0].Token.ID != never.ID || dry.Skipped[0].Reason != acl.ReasonNeverExpires {
			t.Fatalf("dry run: tokens %v skipped %+v; want %v and Never skipped", dt, dry.Skipped, want)
		}
		req.DryRun = false
		done, err := w.s.Bulk(ctx, alice.ID, req)
		if err != nil {
			t.Fatal(err)
		}
		if ct, _ := bulkIDs(done); !slices.Equal(ct, dt) {
			t.Errorf("confirm extended %v, the dry run said %v", ct, dt)
		}
		// From the expiry while it is ahead; from now once it has passed.
		if got := w.stored(alice.ID, expiring.ID); !sameInstant(got.ExpiresAt, exp.Add(7*24*time.Hour)) {
			t.Errorf("Expiring now expires %v, want %v", got.ExpiresAt, exp.Add(7*24*time.Hour))
		}
		if got := w.stored(alice.ID, lapsed.ID); !sameInstant(got.ExpiresAt, w.clock.Now().Add(7*24*time.Hour)) {
			t.Errorf("Lapsed now expires %v, want a week from now", got.ExpiresAt)
		}
		if got := w.stored(alice.ID, never.ID); got.ExpiresAt != nil {
			t.Errorf("Never got an expiry: %v", got.ExpiresAt)
		}
		if got := w.stored(alice.ID, later.ID); !sameInstant(got.ExpiresAt, w.clock.Now().Add(time.Hour)) {
			t.Errorf("Later, outside the rule, moved: %v", got.ExpiresAt)
		}

		// no_expiry alone takes Never and Later? Later has an expiry: Never only.
		r, err := w.s.Bulk(ctx, alice.ID, acl.BulkRequest{Action: acl.BulkRevoke, DryRun: true, Rule: acl.BulkRule{NoExpiry: true}})
		if ids, _ := bulkIDs(r); err != nil || !slices.Equal(ids, []int64{never.ID}) {
			t.Errorf("no_expiry: %v, %v", ids, err)
		}
		// Only limits a confirmation to what its preview listed.
		r, err = w.s.Bulk(ctx, alice.ID, acl.BulkRequest{Action: acl.BulkRevoke, Rule: acl.BulkRule{CreatedBefore: &cut}, Only: []int64{lapsed.ID}})
		if ids, _ := bulkIDs(r); err != nil || !slices.Equal(ids, []int64{lapsed.ID}) || w.stored(alice.ID, expiring.ID).RevokedAt != nil {
			t.Errorf("Only: %v, %v", ids, err)
		}

		for what, bad := range map[string]acl.BulkRequest{
			"no rule":        {Action: acl.BulkRevoke, DryRun: true},
			"unknown action": {Action: "delete", DryRun: true, Rule: acl.BulkRule{NoExpiry: true}},
			"extend by 0":    {Action: acl.BulkExtend, DryRun: true, Rule: acl.BulkRule{NoExpiry: true}},
			"unused 0 days":  {Action: acl.BulkRevoke, DryRun: true, Rule: acl.BulkRule{UnusedDays: tkPtr(0)}},
		} {
			_, err := w.s.Bulk(ctx, alice.ID, bad)
			tkWantCode(t, what, err, app.EInvalid)
		}
	})
}

func TestAudienceReadReceipts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		direct, directSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Direct")})
		grouped, groupedSecret := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Grouped")})
		viaAlbum, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("Album")})
		w.token(alice.ID, acl.TokenInput{Name: tkPtr("Elsewhere")})
		family := w.group(alice.ID, "Family", grouped.ID)
		album := w.album(alice.ID, "Summer")
		photo := w.photo(alice.ID, album, "Beach")
		w.acl(alice.ID, album, false, []int64{viaAlbum.ID}, nil)
		w.acl(alice.ID, photo, false, []int64{direct.ID, family}, nil)

		first := w.clock.Now()
		for _, n := range []string{"203.0.113.1", "198.51.100.1"} {
			if _, err := w.s.ExchangeZat(ctx, directSecret, n, acl.GuestSession{}, &photo); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(time.Hour)
		last := w.clock.Now()
		for range 3 {
			w.s.Log.Record(acl.AccessEvent{At: last, TokenID: direct.ID, ItemID: &photo, Event: acl.EventView, Network: "203.0.113.1"})
		}
		// A preview is no opening.
		if err := w.s.RecordPreview(ctx, groupedSecret, "203.0.113.1", "Slack", &photo); err != nil {
			t.Fatal(err)
		}
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		vs, notOpened, err := w.s.Audience(ctx, alice.ID, photo)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]acl.Viewer{}
		for _, v := range vs {
			byName[v.Token.Name] = v
		}
		if len(vs) != 3 {
			t.Fatalf("audience %+v, want Direct, Grouped and Album", byName)
		}
		d := byName["Direct"]
		if d.Via != acl.ViaDirect || !sameInstant(d.FirstOpenedAt, first) || !sameInstant(d.LastSeenAt, last) || d.Views != 3 || d.Networks != 2 {
			t.Errorf("Direct: via %q first %v last %v views %d networks %d", d.Via, d.FirstOpenedAt, d.LastSeenAt, d.Views, d.Networks)
		}
		if g := byName["Grouped"]; g.Via != acl.ViaGroup || g.Group != family || g.Opened() || g.Views != 0 {
			t.Errorf("Grouped: %+v", g)
		}
		if a := byName["Album"]; a.Via != acl.ViaAlbum || a.Opened() {
			t.Errorf("Album: %+v", a)
		}
		slices.Sort(notOpened)
		want := []int64{grouped.ID, viaAlbum.ID}
		slices.Sort(want)
		if !slices.Equal(notOpened, want) {
			t.Errorf("not opened %v, want %v", notOpened, want)
		}
	})
}
