package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
)

// apCount is how many guest tokens, API tokens and groups alice has.
func apCount(t *testing.T, e *env, owner int64) (tokens, apiTokens, groups int) {
	t.Helper()
	ctx := context.Background()
	ts, err := e.svc.Tokens(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	as, err := e.svc.ListAPITokens(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := e.svc.Groups(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	return len(ts), len(as), len(gs)
}

// apReload loads the page a form redirected to again, as a browser's
// refresh does after a 303, and returns it.
func apReload(t *testing.T, cl *client, location string) string {
	t.Helper()
	return pagesOK(t, cl, location)
}

// Defect 2: every form of the share panel, the audit, the token page, the
// groups and the API tokens answers 303; the result is on the page it lands
// on, and reloading that page repeats nothing.
func TestOwnerFormsRedirectAndARefreshRepeatsNothing(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Holiday letter")
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)

		// Create guest link: the new link, with copy button and QR code, is
		// on the page after the redirect; the URL names the token, not its secret.
		loc, body := pagesFollow(t, cl, share, share+"/link", url.Values{"name": {"Grandma"}}, share+"?new=")
		tok := pagesTokenByName(t, e, alice.ID, "Grandma")
		secret, err := e.svc.TokenSecret(ctx, alice.ID, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if loc != fmt.Sprintf("%s?new=%d", share, tok.ID) || strings.Contains(loc, "hsg_") {
			t.Errorf("Location %q", loc)
		}
		link := fmt.Sprintf(`value="http://hub.test/items/%d?zat=%s"`, post.ID, secret)
		pagesContains(t, "share panel after create", body, link, `data-copy="share-link"`, `src="data:image/png;base64,`,
			"New link for “Grandma”", `class="is-new"`)
		for range 2 {
			pagesContains(t, "share panel reloaded", apReload(t, cl, loc), link)
		}
		if n, _, _ := apCount(t, e, alice.ID); n != 1 {
			t.Fatalf("after one click and two reloads alice has %d guest tokens, want 1", n)
		}
		// Minutes later the same address no longer shows the secret.
		e.clock.Advance(11 * time.Minute)
		pagesLacks(t, "old ?new= address", apReload(t, cl, loc), "hsg_")
		e.clock.Advance(-11 * time.Minute)

		// Copy link on the panel.
		loc, body = pagesFollow(t, cl, share, share+"/showlink", url.Values{"token": {fmt.Sprint(tok.ID)}}, share+"?link=")
		pagesContains(t, "copied link", body, link, "Link for “Grandma”")
		pagesLacks(t, "copied link", body, "New link for")
		pagesContains(t, "copied link, reloaded", apReload(t, cl, loc), link)

		// The audit's "New guest link": the token page shows it after the redirect.
		loc, body = pagesFollow(t, cl, "/settings/tokens", "/settings/tokens", url.Values{"name": {"Uncle"}}, "/settings/tokens/")
		uncle := pagesTokenByName(t, e, alice.ID, "Uncle")
		if loc != fmt.Sprintf("/settings/tokens/%d?link=created", uncle.ID) {
			t.Errorf("Location %q", loc)
		}
		uncleSecret, err := e.svc.TokenSecret(ctx, alice.ID, uncle.ID)
		if err != nil {
			t.Fatal(err)
		}
		pagesContains(t, "new token page", body, `value="http://hub.test/shared?zat=`+uncleSecret+`"`, "New link for “Uncle”")
		apReload(t, cl, loc)
		if n, _, _ := apCount(t, e, alice.ID); n != 2 {
			t.Fatalf("after creating Uncle and a reload alice has %d guest tokens, want 2", n)
		}

		// Rotate: the new link after the redirect; a reload does not rotate again.
		page := fmt.Sprintf("/settings/tokens/%d", uncle.ID)
		loc, body = pagesFollow(t, cl, page, page+"/rotate", url.Values{}, page+"?link=rotated")
		rotated, err := e.svc.TokenSecret(ctx, alice.ID, uncle.ID)
		if err != nil || rotated == uncleSecret {
			t.Fatalf("rotate did not change the secret (%v)", err)
		}
		pagesContains(t, "rotated", body, rotated, "The old link no longer works")
		pagesContains(t, "rotated, reloaded", apReload(t, cl, loc), rotated)
		if again, _ := e.svc.TokenSecret(ctx, alice.ID, uncle.ID); again != rotated {
			t.Fatal("reloading the page after a rotation rotated again")
		}

		// Extend and the other forms redirect with a flash.
		in := e.clock.Now().Add(24 * time.Hour)
		if _, err := e.svc.UpdateToken(ctx, alice.ID, uncle.ID, acl.TokenInput{ExpiresAt: &in}); err != nil {
			t.Fatal(err)
		}
		pagesSaved(t, cl, "/settings/tokens", page+"/extend", url.Values{"days": {"7"}}, "/settings/tokens?done=saved")
		pagesContains(t, "after extend", apReload(t, cl, "/settings/tokens?done=saved"), "Saved.")
		if got, _ := e.svc.Token(ctx, alice.ID, uncle.ID); !got.ExpiresAt.Equal(in.Add(7 * 24 * time.Hour)) {
			t.Errorf("expiry after one extend and a reload: %v", got.ExpiresAt)
		}

		// Groups.
		pagesSaved(t, cl, "/settings/groups", "/settings/groups", url.Values{"name": {"Family"}}, "/settings/groups?done=saved")
		apReload(t, cl, "/settings/groups?done=saved")
		if _, _, g := apCount(t, e, alice.ID); g != 1 {
			t.Fatalf("groups after one create and a reload: %d", g)
		}

		// API tokens: the secret is shown once after the redirect, never in
		// the URL, and a reload shows it no more and makes no second token.
		resp := cl.postForm("/settings/apitokens", url.Values{"description": {"backup"}, "scope": {"read"}}, "/settings/apitokens")
		wantRedirect(t, "create API token", resp, "/settings/apitokens?done=created")
		body = pagesOK(t, cl, "/settings/apitokens?done=created")
		secrets := apiSecretRE.FindAllString(body, -1)
		if len(secrets) != 1 || !acl.ValidSecret(acl.APITokenPrefix, secrets[0]) {
			t.Fatalf("the page after the redirect shows %q, want the one new secret", secrets)
		}
		pagesContains(t, "new API token", body, `data-copy="new-token"`, "will not be shown again")
		pagesLacks(t, "API tokens page reloaded", apReload(t, cl, "/settings/apitokens?done=created"), "hsp_")
		if _, a, _ := apCount(t, e, alice.ID); a != 1 {
			t.Fatalf("API tokens after one create and a reload: %d", a)
		}
	})
}

// The page a create redirects to shows a link only to its owner, and only
// for a token that was just made and is not revoked.
func TestNewLinkAfterRedirectOnlyForTheOwnersFreshToken(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice, bob := e.member("alice"), e.member("bob")
		post := pagesPost0(t, e, alice.ID, "Letter")
		share := fmt.Sprintf("/items/%d/share", post.ID)
		bobs := pagesToken(t, e, bob.ID, "Bob's", acl.TokenInput{})
		old := pagesToken(t, e, alice.ID, "Old", acl.TokenInput{})
		e.clock.Advance(time.Hour)
		revoked := pagesToken(t, e, alice.ID, "Revoked", acl.TokenInput{})
		if err := e.svc.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		for _, q := range []string{
			fmt.Sprintf("?new=%d", bobs.ID), fmt.Sprintf("?link=%d", bobs.ID), // another member's
			fmt.Sprintf("?new=%d", old.ID), // made an hour ago
			fmt.Sprintf("?new=%d", revoked.ID), fmt.Sprintf("?link=%d", revoked.ID),
			"?new=x", "?new=-1", "?new=99999",
		} {
			body := pagesOK(t, cl, share+q)
			pagesLacks(t, "share panel "+q, body, "hsg_", "Bob's")
		}
		for _, p := range []string{fmt.Sprintf("/settings/tokens/%d?link=created", old.ID), fmt.Sprintf("/settings/tokens/%d?link=shown", revoked.ID)} {
			pagesLacks(t, p, pagesOK(t, cl, p), "hsg_")
		}
		if resp := cl.get(fmt.Sprintf("/settings/tokens/%d?link=shown", bobs.ID)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob's token page for alice: %d", resp.StatusCode)
		}
		// An older token's link is still there on request.
		pagesContains(t, "?link= of an old token", pagesOK(t, cl, fmt.Sprintf("%s?link=%d", share, old.ID)), "hsg_", "Link for “Old”")
	})
}

// Item 15: unnamed one-click links are "Link 1", "Link 2"…, never a repeat.
func TestSharePanelAutomaticNamesAreDistinct(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		pagesToken(t, e, alice.ID, "Link 2", acl.TokenInput{})
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)
		var body string
		for range 3 {
			_, body = pagesFollow(t, cl, share, share+"/link", url.Values{}, share+"?new=")
		}
		pagesContains(t, "share panel", body, "New link for “Link 5”")
		ts, err := e.svc.Tokens(context.Background(), alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, tk := range ts {
			if seen[tk.Name] {
				t.Errorf("two tokens named %q", tk.Name)
			}
			seen[tk.Name] = true
		}
		for _, want := range []string{"Link 2", "Link 3", "Link 4", "Link 5"} {
			if !seen[want] {
				t.Errorf("no token named %q among %v", want, seen)
			}
		}
	})
}

// Item 15: expiry presets are instants from now; a typed date is the
// viewer's local time when the browser says its offset, UTC without script.
func TestSharePanelExpiryPresets(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)
		body := pagesOK(t, cl, share)
		pagesContains(t, "share panel", body, `name="expires_in" value="never" checked`, `value="day"`, `value="week"`, `value="month"`,
			`name="tz_offset"`, `<legend>Expires</legend>`, `<script src="/static/share.js" defer></script>`)
		now := e.clock.Now()
		for _, c := range []struct {
			name string
			form url.Values
			want time.Time
		}{
			{"Day", url.Values{"expires_in": {"day"}}, now.Add(24 * time.Hour)},
			{"Week", url.Values{"expires_in": {"week"}, "expires_at": {"2030-01-01T00:00"}}, now.Add(7 * 24 * time.Hour)},
			{"Month", url.Values{"expires_in": {"month"}}, now.Add(30 * 24 * time.Hour)},
			{"Paris", url.Values{"expires_in": {"date"}, "expires_at": {"2026-06-30T18:00"}, "tz_offset": {"120"}}, time.Date(2026, 6, 30, 16, 0, 0, 0, time.UTC)},
			{"No script", url.Values{"expires_in": {"date"}, "expires_at": {"2026-06-30T18:00"}}, time.Date(2026, 6, 30, 18, 0, 0, 0, time.UTC)},
			{"Never", url.Values{"expires_in": {"never"}}, time.Time{}},
		} {
			c.form.Set("name", c.name)
			pagesFollow(t, cl, share, share+"/link", c.form, share+"?new=")
			tk := pagesTokenByName(t, e, alice.ID, c.name)
			switch {
			case c.want.IsZero() && tk.ExpiresAt != nil:
				t.Errorf("%s: expires %v, want never", c.name, tk.ExpiresAt)
			case !c.want.IsZero() && (tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(c.want)):
				t.Errorf("%s: expires %v, want %v", c.name, tk.ExpiresAt, c.want)
			}
		}
		// "On a date" without a date is refused, with the choice kept.
		_, body = pagesPost(t, cl, share, share+"/link", url.Values{"name": {"Nodate"}, "expires_in": {"date"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused", body, "Pick the date and time", `name="expires_in" value="date" checked`, `value="Nodate"`)
		// Expiries are <time> elements that share.js shows in local time.
		body = pagesOK(t, cl, "/settings/tokens")
		pagesContains(t, "token list", body, `<time datetime="2026-06-30T16:00:00Z" data-local>30 Jun 2026 16:00 UTC</time>`)
	})
}

// Item 15: with many guest links the panel offers a filterable list, which
// also works as a plain select without script.
func TestSharePanelPickerForManyTokens(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)
		for i := range 3 {
			pagesToken(t, e, alice.ID, fmt.Sprintf("Cousin %d", i), acl.TokenInput{})
		}
		body := pagesOK(t, cl, share)
		pagesContains(t, "few links", body, `class="btn btn-small chip"`)
		pagesLacks(t, "few links", body, `id="reuse-pick"`)
		for i := 3; i < 12; i++ {
			pagesToken(t, e, alice.ID, fmt.Sprintf("Cousin %d", i), acl.TokenInput{})
		}
		body = pagesOK(t, cl, share)
		pick := section(t, body, `id="reuse-pick"`, "</select>")
		for i := range 12 {
			pagesContains(t, "picker", pick, fmt.Sprintf(">Cousin %d</option>", i))
		}
		pagesContains(t, "picker", body, `data-filter="reuse-pick"`, `<span>Find a guest link</span>`)
		pagesLacks(t, "many links", body, `class="btn btn-small chip"`)
		cousin := pagesTokenByName(t, e, alice.ID, "Cousin 7")
		pagesSaved(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(cousin.ID)}, "effect": {"allow"}}, share+"?done=saved")
		if a := pagesACL(t, e, alice.ID, post.ID); len(a.Allow) != 1 || a.Allow[0] != cousin.ID {
			t.Errorf("ACL after picking Cousin 7: %+v", a)
		}
	})
}

// Defect 8: every status and event in words, on every page.
func TestStatusAndEventLabels(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		zero, soon := 0, e.clock.Now().Add(time.Hour)
		active := pagesToken(t, e, alice.ID, "Tok active", acl.TokenInput{})
		pagesToken(t, e, alice.ID, "Tok usedup", acl.TokenInput{MaxUses: &zero})
		pagesToken(t, e, alice.ID, "Tok expired", acl.TokenInput{ExpiresAt: &soon})
		revoked := pagesToken(t, e, alice.ID, "Tok revoked", acl.TokenInput{})
		if err := e.svc.Grant(ctx, alice.ID, post.ID, active.ID, false); err != nil {
			t.Fatal(err)
		}
		group, err := e.svc.CreateGroup(ctx, alice.ID, "Everyone")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetGroupMembers(ctx, alice.ID, group.ID, []int64{active.ID, revoked.ID}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		item := post.ID
		for _, ev := range []struct{ event, reason string }{
			{acl.EventOpen, ""}, {acl.EventView, ""}, {acl.EventDownload, ""}, {acl.EventDeniedPassword, ""},
			{acl.EventFailed, acl.StatusRevoked}, {acl.EventFailed, acl.StatusUsedUp}, {acl.EventFailed, ""},
		} {
			e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: active.ID, ItemID: &item, Event: ev.event, Network: "203.0.113.0/24", Reason: ev.reason})
		}
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Hour)
		cl := e.client()
		cl.login("alice")
		raw := []string{">active<", ">expired<", ">revoked<", ">used_up<", ">used up<", ">open<", ">view<", ">download<",
			">denied_password<", ">failed<", "refused", ">allow<", ">deny<", ">inactive<", "opened the link"}

		body := pagesOK(t, cl, "/settings/tokens")
		pagesContains(t, "token list", body, ">Active<", ">Used up<", ">Expired<", ">Revoked<")
		pagesLacks(t, "token list", body, raw...)

		events := []string{">Opened<", ">Viewed<", ">Downloaded<", ">Wrong password<", ">Refused: revoked<", ">Refused: used up<", ">Refused<"}
		body = pagesOK(t, cl, fmt.Sprintf("/settings/tokens/%d", active.ID))
		pagesContains(t, "token page", body, append(events, ">Allowed<", ">Active<")...)
		pagesLacks(t, "token page", body, raw...)

		body = pagesOK(t, cl, fmt.Sprintf("/items/%d/share", post.ID))
		pagesContains(t, "share panel", body, append(events, ">Active<")...)
		pagesLacks(t, "share panel", body, raw...)

		body = pagesOK(t, cl, "/settings/groups")
		pagesContains(t, "groups", body, ">Active<", ">Revoked<")
		pagesLacks(t, "groups", body, raw...)

		if _, _, err := e.svc.CreateAPIToken(ctx, alice.ID, "script", "read", nil); err != nil {
			t.Fatal(err)
		}
		body = pagesOK(t, cl, "/settings/apitokens")
		pagesContains(t, "API tokens", body, ">Active<")
		pagesLacks(t, "API tokens", body, raw...)
	})
}

// Defect 10: a revoked token's page keeps its history and grants, shown
// inactive, but offers no edit, extend, rotate or copy.
func TestRevokedTokenPageHasNoEditForms(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		soon := e.clock.Now().Add(time.Hour)
		tok := pagesToken(t, e, alice.ID, "Grandma", acl.TokenInput{ExpiresAt: &soon})
		if err := e.svc.Grant(ctx, alice.ID, post.ID, tok.ID, false); err != nil {
			t.Fatal(err)
		}
		item := post.ID
		// Three views between two flushes: one entry that says how many.
		for range 3 {
			e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: tok.ID, ItemID: &item, Event: acl.EventView, Network: "203.0.113.0/24"})
		}
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		page := fmt.Sprintf("/settings/tokens/%d", tok.ID)
		forms := []string{`action="` + page + `"`, page + "/extend", page + "/rotate", page + "/showlink", page + "/revoke"}

		// An active (or expired) token can still be changed.
		pagesContains(t, "active token page", pagesOK(t, cl, page), forms...)
		e.clock.Advance(2 * time.Hour)
		pagesContains(t, "expired token page", pagesOK(t, cl, page), `action="`+page+`"`, page+"/extend")

		if err := e.svc.RevokeToken(ctx, alice.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		body := pagesOK(t, cl, page)
		pagesLacks(t, "revoked token page", body, forms...)
		pagesLacks(t, "revoked token page", body, `name="max_uses"`, `name="password"`, `name="expires_at"`)
		pagesContains(t, "revoked token page", body, "was revoked", "status-revoked", ">Revoked<", "Letter", ">Inactive<", ">Viewed × 3<",
			"Items it is on", "Access history")
		// The audit list offers nothing for it either.
		list := pagesOK(t, cl, "/settings/tokens")
		pagesLacks(t, "token list", list, page+"/extend", page+"/rotate", page+"/revoke")
		// And the server refuses an extend sent anyway.
		_, body = pagesPost(t, cl, "/settings/tokens", page+"/extend", url.Values{"days": {"7"}}, http.StatusConflict)
		pagesContains(t, "refused extend", body, "A revoked token cannot be extended.")
		_, body = pagesPost(t, cl, "/settings/tokens", page+"/extend", url.Values{"expires_at": {"2026-12-01T10:00"}, "from": {"token"}}, http.StatusConflict)
		pagesContains(t, "refused extend", body, "A revoked token cannot be extended.")
	})
}
