package web_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"hubshare/acl"
)

// sbViewport is one screen a person uses: a laptop or a phone (390 × 844
// CSS pixels, without mobile zoom-out, so that anything wider than the
// screen shows as a horizontal scroll).
type sbViewport struct {
	name          string
	width, height int64
}

var sbViewports = []sbViewport{{"desktop", 1280, 800}, {"phone", 390, 844}}

// sbWorld is a served hub with a member signed in in a real browser.
type sbWorld struct {
	e     *env
	base  string
	owner *acl.Member
	ctx   context.Context
}

func sbStart(t *testing.T) *sbWorld {
	t.Helper()
	exe := chromiumPath(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newEnv(t, "sqlite", withBaseURL(base))
	e.clock.Set(time.Now()) // the browser's cookies and clock are real
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	owner := e.member("olivia")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	t.Cleanup(cancel)
	bctx := browser(t, ctx, exe)
	err = steps(t, bctx, "sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name=handle]`), "olivia"),
		chromedp.SendKeys(css(`input[name=password]`), "password-olivia"),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`form.signout`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return &sbWorld{e: e, base: base, owner: owner, ctx: bctx}
}

// open sets the viewport and loads path, waiting for sel.
func (w *sbWorld) open(t *testing.T, vp sbViewport, path, sel string) {
	t.Helper()
	err := steps(t, w.ctx, "open "+path,
		chromedp.EmulateViewport(vp.width, vp.height),
		chromedp.Navigate(w.base+path),
		chromedp.WaitVisible(css(sel)),
	)
	if err != nil {
		t.Fatal(err)
	}
}

func sbEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// noSideScroll fails when the page is wider than the screen.
func (w *sbWorld) noSideScroll(t *testing.T, vp sbViewport, what string) {
	t.Helper()
	inner := sbEval[int](t, w.ctx, `window.innerWidth`)
	if inner != int(vp.width) {
		t.Fatalf("%s: window.innerWidth %d, want %d", what, inner, vp.width)
	}
	scroll := sbEval[int](t, w.ctx, `document.documentElement.scrollWidth`)
	if scroll > inner {
		wide := sbEval[[]string](t, w.ctx, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className)`)
		t.Errorf("%s at %d px: the page is %d px wide (wider: %q)", what, vp.width, scroll, wide)
	}
}

// Defect 3: a 100-character token name without spaces neither widens the
// phone page nor pushes the audit's actions off a desktop screen.
func TestBrowserLongTokenNames(t *testing.T) {
	w := sbStart(t)
	ctx := context.Background()
	long := strings.Repeat("Grandmother", 9) + "X"
	if len(long) != 100 {
		t.Fatalf("name of %d characters", len(long))
	}
	post := pagesPost0(t, w.e, w.owner.ID, "Letter to "+long)
	soon := time.Now().Add(72 * time.Hour)
	tok := pagesToken(t, w.e, w.owner.ID, long, acl.TokenInput{ExpiresAt: &soon})
	pagesToken(t, w.e, w.owner.ID, "Uncle", acl.TokenInput{})
	// On no list: offered on the share panel as a one-click chip.
	pagesToken(t, w.e, w.owner.ID, "Cousin"+long[:94], acl.TokenInput{})
	if err := w.e.svc.Grant(ctx, w.owner.ID, post.ID, tok.ID, false); err != nil {
		t.Fatal(err)
	}
	revoked := pagesToken(t, w.e, w.owner.ID, "Old"+long[:97], acl.TokenInput{})
	if err := w.e.svc.Grant(ctx, w.owner.ID, post.ID, revoked.ID, false); err != nil {
		t.Fatal(err)
	}
	item := post.ID
	w.e.svc.Log.Record(acl.AccessEvent{At: time.Now(), TokenID: revoked.ID, ItemID: &item, Event: acl.EventView, Network: "203.0.113.0/24"})
	w.e.svc.Log.Record(acl.AccessEvent{At: time.Now(), TokenID: revoked.ID, ItemID: &item, Event: acl.EventFailed, Network: "203.0.113.0/24", Reason: acl.StatusRevoked})
	if err := w.e.svc.Log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.e.svc.RevokeToken(ctx, w.owner.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	group, err := w.e.svc.CreateGroup(ctx, w.owner.ID, "Family"+long[:94])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.svc.SetGroupMembers(ctx, w.owner.ID, group.ID, []int64{tok.ID}); err != nil {
		t.Fatal(err)
	}

	for _, vp := range sbViewports {
		t.Run(vp.name, func(t *testing.T) {
			w.open(t, vp, "/settings/tokens", `.tokens-table`)
			w.noSideScroll(t, vp, "guest links")
			// Every row's last button is on the screen, the long one's included.
			right := sbEval[float64](t, w.ctx, `Math.max(...Array.from(document.querySelectorAll('.tokens-table td.actions .btn')).map(b => b.getBoundingClientRect().right))`)
			if math.IsInf(right, 0) || right > float64(vp.width) {
				t.Errorf("the actions column ends at %.0f px on a %d px screen", right, vp.width)
			}
			// The name is still readable: it wraps rather than vanishing.
			h := sbEval[float64](t, w.ctx, fmt.Sprintf(`document.querySelector('a[href="/settings/tokens/%d"]').getBoundingClientRect().width`, tok.ID))
			if h < 60 {
				t.Errorf("the long name is squeezed to %.0f px", h)
			}
			screenshot(t, w.ctx, "tokens-"+vp.name)

			w.open(t, vp, fmt.Sprintf("/settings/tokens/%d", tok.ID), `h1`)
			w.noSideScroll(t, vp, "token page")
			screenshot(t, w.ctx, "token-"+vp.name)

			w.open(t, vp, fmt.Sprintf("/settings/tokens/%d", revoked.ID), `.revoked-note`)
			w.noSideScroll(t, vp, "revoked token page")
			if n := sbEval[int](t, w.ctx, `document.querySelectorAll('form[action$="/extend"], form[action$="/rotate"], input[name=max_uses]').length`); n != 0 {
				t.Errorf("the revoked token's page has %d edit controls", n)
			}
			screenshot(t, w.ctx, "token-revoked-"+vp.name)

			w.open(t, vp, "/settings/groups", `.group-card`)
			w.noSideScroll(t, vp, "groups")
			screenshot(t, w.ctx, "groups-"+vp.name)

			w.open(t, vp, fmt.Sprintf("/items/%d/share", post.ID), `.share-link-form`)
			w.noSideScroll(t, vp, "share panel")
			chip := sbEval[float64](t, w.ctx, `Math.max(...Array.from(document.querySelectorAll('.chip')).map(b => b.getBoundingClientRect().right))`)
			if math.IsInf(chip, 0) || chip > float64(vp.width) {
				t.Errorf("the long name's chip ends at %.0f px on a %d px screen", chip, vp.width)
			}
			screenshot(t, w.ctx, "share-longnames-"+vp.name)
		})
	}
}

// Item 15 in a browser: "a week" is stored as an instant a week from now, a
// typed date is the viewer's local time, the new link is on the page after
// the redirect and a reload makes no second link; the token picker filters
// as one types.
func TestBrowserSharePanel(t *testing.T) {
	w := sbStart(t)
	post := pagesPost0(t, w.e, w.owner.ID, "Vieux-Port at sunset")
	share := fmt.Sprintf("/items/%d/share", post.ID)
	if _, err := chromedp.Call(w.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}

	w.open(t, sbViewports[0], share, `.share-link-form`)
	chose := time.Now()
	err := steps(t, w.ctx, "create a link for a week",
		chromedp.SendKeys(css(`.share-link-form input[name=name]`), "Grandma"),
		chromedp.Click(css(`.share-link-form input[name=expires_in][value=week]`)),
		chromedp.Click(css(`.share-link-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#share-link`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	tk := pagesTokenByName(t, w.e, w.owner.ID, "Grandma")
	if tk.ExpiresAt == nil {
		t.Fatal("the week link has no expiry")
	}
	if d := tk.ExpiresAt.Sub(chose.Add(7 * 24 * time.Hour)); d < -time.Minute || d > time.Minute {
		t.Errorf("expires_at %v is %v away from a week after the click", tk.ExpiresAt, d)
	}
	link := sbEval[string](t, w.ctx, `document.getElementById('share-link').value`)
	if loc := location(t, w.ctx); strings.Contains(loc, "hsg_") || !strings.Contains(loc, "?new=") {
		t.Errorf("after the create the browser is at %s", loc)
	}
	if err := chromedp.Do(w.ctx, chromedp.Reload(), chromedp.WaitVisible(css(`#share-link`))); err != nil {
		t.Fatal(err)
	}
	if again := sbEval[string](t, w.ctx, `document.getElementById('share-link').value`); again != link {
		t.Errorf("after a reload the link is %q, was %q", again, link)
	}
	if ts, _ := w.e.svc.Tokens(context.Background(), w.owner.ID); len(ts) != 1 {
		t.Fatalf("after a create and a reload there are %d tokens", len(ts))
	}
	// The expiry shows in the viewer's zone, not UTC.
	w.open(t, sbViewports[0], "/settings/tokens", `.tokens-table`)
	shown := sbEval[string](t, w.ctx, `document.querySelector('td[data-label="Expires"] time').textContent`)
	if strings.Contains(shown, "UTC") || shown == "" {
		t.Errorf("the expiry reads %q, not local time", shown)
	}

	// A date typed in Paris (UTC+1 in January) is stored as that instant.
	w.open(t, sbViewports[0], share, `.share-link-form`)
	err = steps(t, w.ctx, "create a link until a date",
		chromedp.SendKeys(css(`.share-link-form input[name=name]`), "Until January"),
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('.share-link-form input[name=expires_at]'); i.value = '2027-01-15T18:00'; i.dispatchEvent(new Event('input', {bubbles: true})); })()`),
		chromedp.Click(css(`.share-link-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#share-link`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if tk := pagesTokenByName(t, w.e, w.owner.ID, "Until January"); tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(time.Date(2027, 1, 15, 17, 0, 0, 0, time.UTC)) {
		t.Errorf("18:00 in Paris stored as %v, want 17:00 UTC", tk.ExpiresAt)
	}

	// Many links: the picker filters as one types.
	for i := range 12 {
		pagesToken(t, w.e, w.owner.ID, fmt.Sprintf("Cousin %02d", i), acl.TokenInput{})
	}
	for _, vp := range sbViewports {
		t.Run(vp.name, func(t *testing.T) {
			w.open(t, vp, share, `#reuse-pick`)
			w.noSideScroll(t, vp, "share panel")
			visible := `Array.from(document.querySelectorAll('#reuse-pick option')).filter(o => !o.hidden).length`
			if n := sbEval[int](t, w.ctx, visible); n != 12 {
				t.Fatalf("the picker shows %d links before typing, want 12", n)
			}
			if err := chromedp.Do(w.ctx, chromedp.SendKeys(css(`input[data-filter="reuse-pick"]`), "sin 07")); err != nil {
				t.Fatal(err)
			}
			if n := sbEval[int](t, w.ctx, visible); n != 1 {
				t.Errorf("after typing, the picker shows %d links, want 1", n)
			}
			if v := sbEval[string](t, w.ctx, `document.querySelector('#reuse-pick').selectedOptions[0]?.textContent || ''`); v != "Cousin 07" {
				t.Errorf("the one match left is not picked: %q", v)
			}
			if vp.name == "desktop" {
				// The filter goes back to the full list.
				if err := chromedp.Do(w.ctx, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector('input[data-filter="reuse-pick"]'); f.value = ''; f.dispatchEvent(new Event('input')); })()`)); err != nil {
					t.Fatal(err)
				}
				if n := sbEval[int](t, w.ctx, visible); n != 12 {
					t.Errorf("after clearing the filter, %d links", n)
				}
			}
			w.open(t, vp, share+fmt.Sprintf("?link=%d", tk.ID), `#share-link`)
			w.noSideScroll(t, vp, "share panel with a link")
			screenshot(t, w.ctx, "share-"+vp.name)
		})
	}
}

// The API tokens page on a phone, with a new secret shown once.
func TestBrowserAPITokensPage(t *testing.T) {
	w := sbStart(t)
	phone := sbViewports[1]
	w.open(t, phone, "/settings/apitokens", `form[action="/settings/apitokens"]`)
	err := steps(t, w.ctx, "create an API token",
		chromedp.SendKeys(css(`input[name=description]`), "nightly backup of the family album"),
		chromedp.Click(css(`form[action="/settings/apitokens"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#new-token`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	w.noSideScroll(t, phone, "API tokens")
	screenshot(t, w.ctx, "apitokens-phone")
	if err := chromedp.Do(w.ctx, chromedp.Reload(), chromedp.WaitVisible(css(`.apitokens-table`))); err != nil {
		t.Fatal(err)
	}
	if n := sbEval[int](t, w.ctx, `document.querySelectorAll('#new-token').length`); n != 0 {
		t.Error("a reload shows the secret again")
	}
	if ts, _ := w.e.svc.ListAPITokens(context.Background(), w.owner.ID); len(ts) != 1 {
		t.Errorf("after a create and a reload there are %d API tokens", len(ts))
	}
}
