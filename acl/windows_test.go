package acl_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
)

// sameInstant compares instants to the millisecond (SQLite keeps the end of
// a window to the millisecond).
func sameInstant(a *time.Time, b time.Time) bool {
	if a == nil {
		return false
	}
	d := a.Sub(b)
	return d > -time.Millisecond && d < time.Millisecond
}

func TestValidFromKeepsALinkDeadUntilThen(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		post := w.post(alice.ID, "Party")
		from := w.clock.Now().Add(2 * time.Hour)
		tk, secret := w.token(alice.ID, acl.TokenInput{ValidFrom: &from})
		w.acl(alice.ID, post, false, []int64{tk.ID}, nil)
		if st := w.stored(alice.ID, tk.ID).Status(w.clock.Now()); st != acl.StatusNotYetValid {
			t.Fatalf("status before valid_from: %q", st)
		}
		_, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, &post)
		tkWantCode(t, "opening before valid_from", err, app.ENotFound)
		_, err = w.s.BearerToken(ctx, secret, "203.0.113.1")
		tkWantCode(t, "bearer before valid_from", err, app.ENotFound)
		if got := w.stored(alice.ID, tk.ID); got.Uses != 0 || got.FirstUsedAt != nil {
			t.Errorf("a refused opening counted: uses %d, first used %v", got.Uses, got.FirstUsedAt)
		}
		// Lists say the same as the token: not yet valid, not active.
		ts, _, err := w.s.ListTokensPage(ctx, alice.ID, acl.TokenQuery{Status: acl.StatusNotYetValid})
		if err != nil || len(ts) != 1 || ts[0].ID != tk.ID {
			t.Errorf("not_yet_valid list: %v, %v", ts, err)
		}
		if ts, _, _ := w.s.ListTokensPage(ctx, alice.ID, acl.TokenQuery{Status: acl.StatusActive}); len(ts) != 0 {
			t.Errorf("a token not valid yet is listed as active: %v", ts)
		}

		w.clock.Set(from)
		ex, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, &post)
		if err != nil || ex.Outcome != acl.Opened {
			t.Fatalf("opening at valid_from: %+v, %v", ex, err)
		}

		// Moving valid_from into the future ends the sessions from before.
		later := w.clock.Now().Add(time.Hour)
		before := w.stored(alice.ID, tk.ID).SessionVersion
		up, err := w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ValidFrom: &later})
		if err != nil {
			t.Fatal(err)
		}
		if up.SessionVersion == before || up.Status(w.clock.Now()) != acl.StatusNotYetValid {
			t.Errorf("after moving valid_from ahead: version %d (was %d), status %q", up.SessionVersion, before, up.Status(w.clock.Now()))
		}
		if _, err := w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ClearValidFrom: true}); err != nil {
			t.Fatal(err)
		}
		if st := w.stored(alice.ID, tk.ID).Status(w.clock.Now()); st != acl.StatusActive {
			t.Errorf("after clearing valid_from: %q", st)
		}
		// valid_from must come before the expiry.
		exp := w.clock.Now().Add(time.Hour)
		_, err = w.s.UpdateToken(ctx, alice.ID, tk.ID, acl.TokenInput{ValidFrom: tkPtr(exp.Add(time.Minute)), ExpiresAt: &exp})
		tkWantCode(t, "valid_from after the expiry", err, app.EInvalid)
	})
}

func TestExpiresAfterFirstUseStartsAtTheFirstOpening(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		post := w.post(alice.ID, "Trip")
		week := int64(7 * 24 * 3600)
		exp := w.clock.Now().Add(30 * 24 * time.Hour)
		tk, secret := w.token(alice.ID, acl.TokenInput{ExpiresAfterFirstUse: &week, ExpiresAt: &exp})
		w.acl(alice.ID, post, false, []int64{tk.ID}, nil)

		// Unopened, the link keeps its own expiry however long it waits.
		w.clock.Advance(10 * 24 * time.Hour)
		if got := w.stored(alice.ID, tk.ID); !sameInstant(got.ExpiresAt, exp) || got.FirstUsedAt != nil {
			t.Fatalf("before the first opening: expires %v, first used %v", got.ExpiresAt, got.FirstUsedAt)
		}
		opened := w.clock.Now()
		if _, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, &post); err != nil {
			t.Fatal(err)
		}
		got := w.stored(alice.ID, tk.ID)
		if !sameInstant(got.FirstUsedAt, opened) || !sameInstant(got.ExpiresAt, opened.Add(7*24*time.Hour)) {
			t.Fatalf("after the first opening: first used %v, expires %v; want %v and a week later", got.FirstUsedAt, got.ExpiresAt, opened)
		}
		// A second opening moves nothing.
		w.clock.Advance(24 * time.Hour)
		if _, err := w.s.ExchangeZat(ctx, secret, "203.0.113.2", acl.GuestSession{}, &post); err != nil {
			t.Fatal(err)
		}
		if again := w.stored(alice.ID, tk.ID); !sameInstant(again.ExpiresAt, *got.ExpiresAt) || !sameInstant(again.FirstUsedAt, opened) {
			t.Errorf("a later opening moved the window: %v, %v", again.ExpiresAt, again.FirstUsedAt)
		}
		w.clock.Set(opened.Add(7*24*time.Hour + time.Second))
		_, err := w.s.ExchangeZat(ctx, secret, "203.0.113.1", acl.GuestSession{}, &post)
		tkWantCode(t, "a week after the first opening", err, app.ENotFound)

		// The earlier of the two wins: an expiry sooner than the window stays.
		soon := w.clock.Now().Add(time.Hour)
		short, shortSecret := w.token(alice.ID, acl.TokenInput{ExpiresAfterFirstUse: &week, ExpiresAt: &soon})
		if _, err := w.s.ExchangeZat(ctx, shortSecret, "203.0.113.1", acl.GuestSession{}, nil); err != nil {
			t.Fatal(err)
		}
		if got := w.stored(alice.ID, short.ID); !sameInstant(got.ExpiresAt, soon) {
			t.Errorf("window longer than the expiry: expires %v, want %v", got.ExpiresAt, soon)
		}

		// A limited link starts its clock at the landing page's Open.
		hour := int64(3600)
		limited, limitedSecret := w.token(alice.ID, acl.TokenInput{ExpiresAfterFirstUse: &hour, MaxUses: tkPtr(3)})
		ex, err := w.s.ExchangeZat(ctx, limitedSecret, "203.0.113.1", acl.GuestSession{}, nil)
		if err != nil || ex.Outcome != acl.NeedsOpen {
			t.Fatalf("limited link: %+v, %v", ex, err)
		}
		if got := w.stored(alice.ID, limited.ID); got.FirstUsedAt != nil || got.ExpiresAt != nil {
			t.Errorf("a GET of a limited link started its clock: %v, %v", got.FirstUsedAt, got.ExpiresAt)
		}
		p, _ := w.s.OpenPending(w.s.SealPending(ex.Token, nil))
		if _, err := w.s.OpenPendingLink(ctx, p, "", "203.0.113.1"); err != nil {
			t.Fatal(err)
		}
		if got := w.stored(alice.ID, limited.ID); !sameInstant(got.ExpiresAt, w.clock.Now().Add(time.Hour)) {
			t.Errorf("after Open: expires %v, want an hour from now", got.ExpiresAt)
		}

		// A crawler's bearer request starts the clock too, without a use.
		crawl, crawlSecret := w.token(alice.ID, acl.TokenInput{ExpiresAfterFirstUse: &hour})
		if _, err := w.s.BearerToken(ctx, crawlSecret, "203.0.113.1"); err != nil {
			t.Fatal(err)
		}
		if got := w.stored(alice.ID, crawl.ID); got.Uses != 0 || !sameInstant(got.ExpiresAt, w.clock.Now().Add(time.Hour)) {
			t.Errorf("after a bearer request: uses %d, expires %v", got.Uses, got.ExpiresAt)
		}

		// Set on a link opened already, the window counts from its first opening.
		old, oldSecret := w.token(alice.ID, acl.TokenInput{})
		first := w.clock.Now()
		if _, err := w.s.ExchangeZat(ctx, oldSecret, "203.0.113.1", acl.GuestSession{}, nil); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(30 * time.Minute)
		up, err := w.s.UpdateToken(ctx, alice.ID, old.ID, acl.TokenInput{ExpiresAfterFirstUse: &hour})
		if err != nil {
			t.Fatal(err)
		}
		if !sameInstant(up.ExpiresAt, first.Add(time.Hour)) {
			t.Errorf("window set after the first opening: expires %v, want %v", up.ExpiresAt, first.Add(time.Hour))
		}

		for _, bad := range []int64{0, -5, acl.MaxWindow + 1} {
			_, err := w.s.UpdateToken(ctx, alice.ID, old.ID, acl.TokenInput{ExpiresAfterFirstUse: tkPtr(bad)})
			tkWantCode(t, "window of "+time.Duration(bad).String(), err, app.EInvalid)
		}
	})
}
