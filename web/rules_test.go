package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
)

func TestAudienceIsTheOwnersOnly(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice, bob := e.member("alice"), e.member("bob")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Letter", "Dear all")
		if err != nil {
			t.Fatal(err)
		}
		opener, secret, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("Grandma")})
		if err != nil {
			t.Fatal(err)
		}
		waiting, _, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("Uncle")})
		if err != nil {
			t.Fatal(err)
		}
		path := "/items/" + itoa(post.ID)
		guest := e.client()
		gtGet(t, guest, path+"?zat="+url.QueryEscape(secret))
		gtGet(t, guest, path)
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		aliceKey, bobKey := e.apiToken(alice, "read"), e.apiToken(bob, "read")
		resp := e.api(aliceKey, http.MethodGet, "/api/v1"+path+"/audience", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("owner: %d %s", resp.StatusCode, readBody(t, resp))
		}
		var got struct {
			Audience []struct {
				TokenID       int64      `json:"token_id"`
				TokenName     string     `json:"token_name"`
				Via           string     `json:"via"`
				FirstOpenedAt *time.Time `json:"first_opened_at"`
				LastSeenAt    *time.Time `json:"last_seen_at"`
				Views         int        `json:"views"`
				Networks      int        `json:"networks"`
			} `json:"audience"`
			NotOpened []int64 `json:"not_opened"`
		}
		decodeJSONBody(t, resp, &got)
		if len(got.Audience) != 2 || !slices.Equal(got.NotOpened, []int64{waiting.ID}) {
			t.Fatalf("audience %+v", got)
		}
		for _, a := range got.Audience {
			switch a.TokenID {
			case opener.ID:
				if a.TokenName != "Grandma" || a.Via != "direct" || a.FirstOpenedAt == nil || a.LastSeenAt == nil || a.Views != 1 || a.Networks != 1 {
					t.Errorf("Grandma: %+v", a)
				}
			case waiting.ID:
				if a.FirstOpenedAt != nil || a.Views != 0 {
					t.Errorf("Uncle: %+v", a)
				}
			}
		}
		// Another member gets "not found", as for an item that does not exist.
		resp = e.api(bobKey, http.MethodGet, "/api/v1"+path+"/audience", "")
		wantAPIError(t, "another member's audience", resp, http.StatusNotFound, "not_found")
		resp = e.api(bobKey, http.MethodGet, "/api/v1/items/999999/audience", "")
		wantAPIError(t, "no such item", resp, http.StatusNotFound, "not_found")

		// The share panel shows the same receipts, to the owner only.
		cl := e.client()
		cl.login("alice")
		body := readBody(t, cl.get(path+"/share"))
		who := section(t, body, `id="openers-h"`, `id="history-h"`)
		for _, want := range []string{"Grandma", "First opened", "1 view ", "1 network", "Uncle", "not opened yet", "1 not opened yet"} {
			if !strings.Contains(who, want) {
				t.Errorf("share panel lacks %q:\n%s", want, who)
			}
		}
		other := e.client()
		other.login("bob")
		if resp := other.get(path + "/share"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob's view of alice's share panel: %d", resp.StatusCode)
		}
	})
}

type bulkAnswer struct {
	Tokens []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	} `json:"tokens"`
	Items []struct {
		ID int64 `json:"id"`
	} `json:"items"`
	Skipped []struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
	} `json:"skipped"`
	DryRun bool `json:"dry_run"`
}

func (b bulkAnswer) ids() (tokens, items []int64) {
	for _, t := range b.Tokens {
		tokens = append(tokens, t.ID)
	}
	for _, i := range b.Items {
		items = append(items, i.ID)
	}
	slices.Sort(tokens)
	slices.Sort(items)
	return tokens, items
}

func TestBulkAPIDryRunThenConfirm(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice, bob := e.member("alice"), e.member("bob")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Letter", "")
		if err != nil {
			t.Fatal(err)
		}
		shared, _, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("On the letter")})
		if err != nil {
			t.Fatal(err)
		}
		loose, _, err := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptrTo("Loose")})
		if err != nil {
			t.Fatal(err)
		}
		bobs, _, err := e.svc.CreateToken(ctx, bob.ID, acl.TokenInput{Name: ptrTo("Bob's")})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(100 * 24 * time.Hour)
		key := e.apiToken(alice, "write")
		body := `{"action":"revoke","rule":{"unused_days":90,"no_expiry":true},"dry_run":%s}`
		resp := e.api(key, http.MethodPost, "/api/v1/tokens/bulk", fmt.Sprintf(body, "true"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("dry run: %d %s", resp.StatusCode, readBody(t, resp))
		}
		var dry, done bulkAnswer
		decodeJSONBody(t, resp, &dry)
		dt, di := dry.ids()
		want := []int64{shared.ID, loose.ID}
		slices.Sort(want)
		if !dry.DryRun || !slices.Equal(dt, want) || !slices.Equal(di, []int64{post.ID}) {
			t.Fatalf("dry run: %+v", dry)
		}
		if tk, _ := e.svc.Token(ctx, alice.ID, loose.ID); tk.RevokedAt != nil {
			t.Fatal("the dry run revoked a token")
		}
		resp = e.api(key, http.MethodPost, "/api/v1/tokens/bulk", fmt.Sprintf(body, "false"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("confirm: %d %s", resp.StatusCode, readBody(t, resp))
		}
		decodeJSONBody(t, resp, &done)
		ct, ci := done.ids()
		if done.DryRun || !slices.Equal(ct, dt) || !slices.Equal(ci, di) {
			t.Errorf("confirm %+v differs from the dry run %+v", done, dry)
		}
		for _, tk := range done.Tokens {
			if tk.Status != acl.StatusRevoked {
				t.Errorf("token %d is %q after the revoke", tk.ID, tk.Status)
			}
		}
		if tk, _ := e.svc.Token(ctx, bob.ID, bobs.ID); tk.RevokedAt != nil {
			t.Error("another member's token was revoked")
		}

		// Extend skips the links that never expire, and says so.
		exp := e.clock.Now().Add(24 * time.Hour)
		expiring, _, err := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptrTo("Expiring"), ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		never, _, err := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptrTo("Never")})
		if err != nil {
			t.Fatal(err)
		}
		resp = e.api(key, http.MethodPost, "/api/v1/tokens/bulk", `{"action":"extend","days":7,"rule":{"in_no_acl":true},"dry_run":false}`)
		var ext bulkAnswer
		decodeJSONBody(t, resp, &ext)
		if et, _ := ext.ids(); !slices.Equal(et, []int64{expiring.ID}) || len(ext.Skipped) != 1 || ext.Skipped[0].ID != never.ID || ext.Skipped[0].Reason == "" {
			t.Errorf("extend: %+v", ext)
		}
		if tk, _ := e.svc.Token(ctx, alice.ID, expiring.ID); tk.ExpiresAt == nil || tk.ExpiresAt.Sub(exp.Add(7*24*time.Hour)).Abs() > time.Millisecond {
			t.Errorf("extended expiry %v", tk.ExpiresAt)
		}

		for what, bad := range map[string]string{
			"no dry_run":      `{"action":"revoke","rule":{"no_expiry":true}}`,
			"no rule":         `{"action":"revoke","rule":{},"dry_run":true}`,
			"unknown action":  `{"action":"drop","rule":{"no_expiry":true},"dry_run":true}`,
			"extend, no days": `{"action":"extend","rule":{"no_expiry":true},"dry_run":true}`,
			"bad instant":     `{"action":"revoke","rule":{"created_before":"yesterday"},"dry_run":true}`,
			"wrong type":      `{"action":"revoke","rule":{"unused_days":"ninety"},"dry_run":true}`,
		} {
			wantAPIError(t, what, e.api(key, http.MethodPost, "/api/v1/tokens/bulk", bad), http.StatusUnprocessableEntity, "invalid")
		}
		wantAPIError(t, "malformed", e.api(key, http.MethodPost, "/api/v1/tokens/bulk", `{"action":`), http.StatusBadRequest, "malformed")
		wantAPIError(t, "read scope", e.api(e.apiToken(alice, "read"), http.MethodPost, "/api/v1/tokens/bulk", fmt.Sprintf(body, "true")), http.StatusForbidden, "forbidden")
	})
}

func TestBulkFormPreviewsThenConfirms(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Old letter", "")
		if err != nil {
			t.Fatal(err)
		}
		stale, _, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("Stale link")})
		if err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		if body := readBody(t, cl.get("/settings/tokens")); !strings.Contains(body, `action="/settings/tokens/bulk"`) {
			t.Fatal("no cleanup form on /settings/tokens")
		}
		resp := cl.get("/settings/tokens/bulk?action=revoke&no_expiry=1")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Stale link") || !strings.Contains(body, "Old letter") {
			t.Fatalf("preview: %d\n%s", resp.StatusCode, body)
		}
		if tk, _ := e.svc.Token(ctx, alice.ID, stale.ID); tk.RevokedAt != nil {
			t.Fatal("the preview revoked the token")
		}
		// A link made after the preview is not in its list: the confirmation
		// leaves it alone even though the rule would now take it too.
		late, _, err := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptrTo("Made meanwhile")})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"_csrf": {csrfRE.FindStringSubmatch(body)[1]}}
		for _, f := range []string{"action", "days", "unused_days", "no_expiry", "created_before", "ids"} {
			m := regexpValue(body, f)
			form.Set(f, m)
		}
		if form.Get("ids") != itoa(stale.ID) {
			t.Fatalf("ids carried to the confirmation: %q", form.Get("ids"))
		}
		resp = cl.postForm("/settings/tokens/bulk", form, "")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm: %d %s", resp.StatusCode, readBody(t, resp))
		}
		if tk, _ := e.svc.Token(ctx, alice.ID, stale.ID); tk.RevokedAt == nil {
			t.Error("the confirmation did not revoke the previewed token")
		}
		if tk, _ := e.svc.Token(ctx, alice.ID, late.ID); tk.RevokedAt != nil {
			t.Error("the confirmation revoked a token its preview did not list")
		}
		// A form without any rule says what is missing.
		resp = cl.get("/settings/tokens/bulk?action=revoke")
		if body := readBody(t, resp); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least one rule") {
			t.Errorf("no rule: %d", resp.StatusCode)
		}
	})
}

// regexpValue is the value of the hidden field name on a page.
func regexpValue(body, name string) string {
	i := strings.Index(body, `name="`+name+`" value="`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`name="`+name+`" value="`):]
	return rest[:strings.Index(rest, `"`)]
}

func TestAccessWindowFieldsInTheAPIAndOnTheWire(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Surprise", "")
		if err != nil {
			t.Fatal(err)
		}
		key := e.apiToken(alice, "write")
		from := e.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
		resp := e.api(key, http.MethodPost, "/api/v1/items/"+itoa(post.ID)+"/share",
			`{"name":"Birthday","valid_from":"`+from+`","expires_after_first_use":604800}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("share: %d %s", resp.StatusCode, readBody(t, resp))
		}
		var tk struct {
			ID         int64           `json:"id"`
			Token      string          `json:"token"`
			Status     string          `json:"status"`
			ValidFrom  *time.Time      `json:"valid_from"`
			Window     *int64          `json:"expires_after_first_use"`
			FirstUsed  json.RawMessage `json:"first_used_at"`
			ExpiresAt  *time.Time      `json:"expires_at"`
			RawUnknown json.RawMessage `json:"-"`
		}
		decodeJSONBody(t, resp, &tk)
		if tk.Status != acl.StatusNotYetValid || tk.ValidFrom == nil || tk.ValidFrom.Format(time.RFC3339) != from || tk.Window == nil || *tk.Window != 604800 || string(tk.FirstUsed) != "null" {
			t.Fatalf("created %+v", tk)
		}
		// Before valid_from the link is "not found", exactly as a dead one.
		path := "/items/" + itoa(post.ID)
		early := gtGet(t, e.client(), path+"?zat="+url.QueryEscape(tk.Token))
		dead := gtGet(t, e.client(), path+"?zat=zat_thisisnotatokenatall00000000000000000000")
		if early.StatusCode != http.StatusNotFound || readBody(t, early) != readBody(t, dead) {
			t.Errorf("before valid_from: %d", early.StatusCode)
		}
		e.clock.Advance(49 * time.Hour)
		guest := e.client()
		guest.remote = "192.0.2.9:1000"
		if resp := gtGet(t, guest, path+"?zat="+url.QueryEscape(tk.Token)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after valid_from: %d", resp.StatusCode)
		}
		resp = e.api(key, http.MethodGet, "/api/v1/tokens/"+itoa(tk.ID), "")
		decodeJSONBody(t, resp, &tk)
		if tk.Status != acl.StatusActive || tk.ExpiresAt == nil || tk.ExpiresAt.Sub(e.clock.Now().Add(7*24*time.Hour)).Abs() > time.Millisecond {
			t.Errorf("after the first opening: %+v", tk)
		}
		// A week later the session ends on its next request.
		e.clock.Advance(7*24*time.Hour + time.Minute)
		if resp := gtGet(t, guest, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a week after the first opening the guest still sees the post: %d", resp.StatusCode)
		}
		// PATCH clears and sets them; bad values are 422 with the field named.
		resp = e.api(key, http.MethodPatch, "/api/v1/tokens/"+itoa(tk.ID), `{"valid_from":null,"expires_after_first_use":null}`)
		decodeJSONBody(t, resp, &tk)
		if tk.ValidFrom != nil || tk.Window != nil {
			t.Errorf("after clearing: %+v", tk)
		}
		for what, bad := range map[string]string{
			"zero window":       `{"expires_after_first_use":0}`,
			"fractional window": `{"expires_after_first_use":1.5}`,
			"text window":       `{"expires_after_first_use":"a week"}`,
			"bad valid_from":    `{"valid_from":"soon"}`,
		} {
			resp := e.api(key, http.MethodPatch, "/api/v1/tokens/"+itoa(tk.ID), bad)
			ae := wantAPIError(t, what, resp, http.StatusUnprocessableEntity, "invalid")
			if !strings.Contains(ae.Message, "expires_after_first_use") && !strings.Contains(ae.Message, "valid_from") {
				t.Errorf("%s: message %q names no field", what, ae.Message)
			}
		}
	})
}

func TestAccessWindowInTheForms(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Plans", "")
		if err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		share := "/items/" + itoa(post.ID) + "/share"
		resp := cl.postForm(share+"/link", url.Values{"name": {"Later"}, "expires_in": {"never"},
			"valid_from": {"2026-06-03T10:00"}, "expires_after_first_use": {"86400"}}, share)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("share form: %d %s", resp.StatusCode, readBody(t, resp))
		}
		ts, err := e.svc.Tokens(ctx, alice.ID)
		if err != nil || len(ts) != 1 {
			t.Fatalf("tokens %v %v", ts, err)
		}
		tk := ts[0]
		if tk.ValidFrom == nil || !tk.ValidFrom.Equal(time.Date(2026, 6, 3, 10, 0, 0, 0, time.UTC)) || tk.ExpiresAfterFirstUse == nil || *tk.ExpiresAfterFirstUse != 86400 {
			t.Fatalf("made %+v", tk)
		}
		page := readBody(t, cl.get("/settings/tokens/"+itoa(tk.ID)))
		for _, want := range []string{"Not yet valid", "works for a day", `value="86400" checked`} {
			if !strings.Contains(page, want) {
				t.Errorf("token page lacks %q", want)
			}
		}
		// The edit clears valid_from and changes the window.
		resp = cl.postForm("/settings/tokens/"+itoa(tk.ID), url.Values{"name": {"Later"}, "clear_valid_from": {"1"}, "expires_after_first_use": {"3600"}}, "/settings/tokens/"+itoa(tk.ID))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("edit: %d %s", resp.StatusCode, readBody(t, resp))
		}
		got, _ := e.svc.Token(ctx, alice.ID, tk.ID)
		if got.ValidFrom != nil || got.ExpiresAfterFirstUse == nil || *got.ExpiresAfterFirstUse != 3600 {
			t.Errorf("after the edit: %+v", got)
		}
		resp = cl.postForm("/settings/tokens/"+itoa(tk.ID), url.Values{"name": {"Later"}, "expires_after_first_use": {"soon"}}, "/settings/tokens/"+itoa(tk.ID))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("a bad window: %d", resp.StatusCode)
		}
	})
}
