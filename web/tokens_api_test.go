package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"hubshare/acl"
)

// gtAPIError checks an API error: the status, and a body that is exactly
// {"error":{"code","message"}} with the code.
func gtAPIError(t *testing.T, what string, resp *http.Response, status int, code string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d\n%s", what, resp.StatusCode, status, gtShort(body))
	}
	var shape map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &shape); err != nil || len(shape) != 1 || shape["error"] == nil {
		t.Errorf("%s: body is not {\"error\": {...}}: %s", what, gtShort(body))
		return
	}
	var gotCode, msg string
	json.Unmarshal(shape["error"]["code"], &gotCode)
	json.Unmarshal(shape["error"]["message"], &msg)
	if len(shape["error"]) != 2 || gotCode != code || msg == "" {
		t.Errorf("%s: error %s, want code %q and a message", what, body, code)
	}
}

// gtRFC3339 formats an instant as the API gives it back.
func gtRFC3339(tm time.Time) string { return tm.UTC().Format(time.RFC3339) }

func gtFields(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return m
}

func gtNoSecret(t *testing.T, what, body string, secrets ...string) {
	t.Helper()
	if strings.Contains(body, acl.GuestTokenPrefix) {
		t.Errorf("%s contains %q", what, acl.GuestTokenPrefix)
	}
	for _, s := range secrets {
		if strings.Contains(body, s) || strings.Contains(body, s[len(acl.GuestTokenPrefix):]) {
			t.Errorf("%s contains a token secret", what)
		}
	}
}

func TestCreateTokenWithEveryField(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		const expires = "2026-06-03T18:30:45+02:00"
		raw := alice.call(http.MethodPost, "/api/v1/tokens", `{"name":"Grandma","expires_at":"`+expires+`","max_uses":7,
			"password":"tea and biscuits","can_download":true,"show_metadata":true,"note":"Hugs from Alice"}`, http.StatusCreated)
		if !strings.HasPrefix(raw, `{"id":`) {
			t.Errorf("the new token's id is not first: %s", raw)
		}
		if strings.Contains(raw, "tea and biscuits") || strings.Contains(raw, "argon2") {
			t.Errorf("the answer shows the password or its hash: %s", raw)
		}
		var tk gtToken
		json.Unmarshal([]byte(raw), &tk)
		wantExpiry := time.Date(2026, 6, 3, 16, 30, 45, 0, time.UTC)
		switch {
		case tk.ID == 0 || tk.Name != "Grandma" || tk.Note != "Hugs from Alice":
			t.Errorf("id, name or note: %s", raw)
		case !acl.ValidSecret(acl.GuestTokenPrefix, tk.Token):
			t.Errorf("token %q", tk.Token)
		case tk.Link != gtBase+"/shared?zat="+tk.Token:
			t.Errorf("link %q, want %s/shared?zat=<token>", tk.Link, gtBase)
		case tk.Status != acl.StatusActive || tk.Uses != 0 || tk.MaxUses == nil || *tk.MaxUses != 7:
			t.Errorf("status %q uses %d max_uses %v", tk.Status, tk.Uses, tk.MaxUses)
		case tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(wantExpiry):
			t.Errorf("expires_at %v, want %v", tk.ExpiresAt, wantExpiry)
		case !tk.CanDownload || !tk.ShowMetadata || !tk.HasPassword:
			t.Errorf("permissions or password not kept: %s", raw)
		case !tk.CreatedAt.Equal(e.clock.Now()) || tk.LastUsedAt != nil || tk.RevokedAt != nil:
			t.Errorf("created_at %v last_used_at %v revoked_at %v", tk.CreatedAt, tk.LastUsedAt, tk.RevokedAt)
		}

		// A second token, shared on a post and used once, for last_used_at and items.
		p := alice.post("Used", "Opened once.")
		used := alice.share(p, `{"name":"Used once"}`)
		gtOpenLink(t, e.client(), used.Link)
		openedAt := e.clock.Now()
		gtFlush(t, e)
		e.clock.Advance(time.Minute)

		list := alice.call(http.MethodGet, "/api/v1/tokens", "", http.StatusOK)
		gtNoSecret(t, "GET /tokens", list, tk.Token, used.Token)
		var listed struct {
			Tokens []json.RawMessage `json:"tokens"`
		}
		json.Unmarshal([]byte(list), &listed)
		if len(listed.Tokens) != 2 {
			t.Fatalf("GET /tokens lists %d tokens, want 2: %s", len(listed.Tokens), list)
		}
		byID := map[int64]gtToken{}
		for _, r := range listed.Tokens {
			f := gtFields(t, r)
			for _, k := range []string{"id", "name", "status", "uses", "max_uses", "last_used_at", "items", "expires_at", "created_at"} {
				if _, ok := f[k]; !ok {
					t.Errorf("a listed token lacks %q: %s", k, r)
				}
			}
			var v gtToken
			json.Unmarshal(r, &v)
			byID[v.ID] = v
		}
		if v := byID[tk.ID]; v.Status != acl.StatusActive || v.Uses != 0 || v.MaxUses == nil || *v.MaxUses != 7 ||
			v.LastUsedAt != nil || v.Items == nil || *v.Items != 0 || v.Name != "Grandma" {
			t.Errorf("listed Grandma: %+v", v)
		}
		if v := byID[used.ID]; v.Status != acl.StatusActive || v.Uses != 1 || v.MaxUses != nil ||
			v.LastUsedAt == nil || !v.LastUsedAt.Equal(openedAt) || v.Items == nil || *v.Items != 1 {
			t.Errorf("listed used token: %+v (last used %v, want %v)", v, v.LastUsedAt, openedAt)
		}

		detail := alice.call(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusOK)
		gtNoSecret(t, "GET /tokens/{id}", detail, tk.Token, used.Token)
		if !strings.HasPrefix(detail, `{"id":`) {
			t.Errorf("GET /tokens/{id}: id is not first: %s", detail)
		}

		link := alice.call(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d/link", tk.ID), "", http.StatusOK)
		f := gtFields(t, []byte(link))
		var gotToken, gotLink string
		json.Unmarshal(f["token"], &gotToken)
		json.Unmarshal(f["link"], &gotLink)
		if len(f) != 2 || gotToken != tk.Token || gotLink != tk.Link {
			t.Errorf("GET /tokens/{id}/link = %s, want the token and link of the creation", link)
		}
	})
}

func TestTokenAPIValidation(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		p := alice.post("Mine", "Alice's post.")
		bp := bob.post("Bob's", "Bob's post.")
		api := func(method, path, body string) *http.Response { return e.api(alice.key, method, path, body) }

		gtAPIError(t, "malformed JSON", api(http.MethodPost, "/api/v1/tokens", `{"name":`), http.StatusBadRequest, "malformed")
		gtAPIError(t, "not JSON", api(http.MethodPost, "/api/v1/tokens", `name=x`), http.StatusBadRequest, "malformed")
		past := gtRFC3339(e.clock.Now().Add(-time.Second))
		gtAPIError(t, "expires_at in the past", api(http.MethodPost, "/api/v1/tokens", `{"expires_at":"`+past+`"}`), http.StatusUnprocessableEntity, "invalid")
		gtAPIError(t, "expires_at now", api(http.MethodPost, "/api/v1/tokens", `{"expires_at":"`+gtRFC3339(e.clock.Now())+`"}`), http.StatusUnprocessableEntity, "invalid")
		gtAPIError(t, "max_uses -1", api(http.MethodPost, "/api/v1/tokens", `{"max_uses":-1}`), http.StatusUnprocessableEntity, "invalid")
		gtAPIError(t, "max_uses -1 on share", api(http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", p), `{"max_uses":-1}`), http.StatusUnprocessableEntity, "invalid")
		var list struct {
			Tokens []gtToken `json:"tokens"`
		}
		alice.decode(http.MethodGet, "/api/v1/tokens", "", http.StatusOK, &list)
		if len(list.Tokens) != 0 {
			t.Errorf("refused creations left %d tokens", len(list.Tokens))
		}

		mine := alice.newToken(`{"name":"mine"}`)
		bobsToken := bob.newToken(`{"name":"bob's"}`)
		bobsGroup := bob.group("Bob's friends")
		aclPath := fmt.Sprintf("/api/v1/items/%d/acl", p)
		put := func(what, body string) {
			t.Helper()
			gtAPIError(t, what, api(http.MethodPut, aclPath, body), http.StatusUnprocessableEntity, "invalid")
		}
		put("an unknown principal", `{"public":false,"allow":[999999]}`)
		put("another member's token", fmt.Sprintf(`{"public":false,"allow":[%d]}`, bobsToken.ID))
		put("another member's group", fmt.Sprintf(`{"public":false,"allow":[%d]}`, bobsGroup))
		put("another member's group, denied", fmt.Sprintf(`{"public":false,"deny":[%d]}`, bobsGroup))
		put("the same id allowed and denied", fmt.Sprintf(`{"public":false,"allow":[%d],"deny":[%d]}`, mine.ID, mine.ID))
		var a acl.ACL
		alice.decode(http.MethodGet, aclPath, "", http.StatusOK, &a)
		if a.Public || len(a.Allow) != 0 || len(a.Deny) != 0 {
			t.Errorf("refused ACL changes left %+v", a)
		}
		// A member of the hub may be named; the answer is the ACL as stored.
		var stored acl.ACL
		alice.decode(http.MethodPut, aclPath, fmt.Sprintf(`{"public":true,"allow":[%d,%d,%d],"deny":[]}`, mine.ID, bob.m.ID, mine.ID), http.StatusOK, &stored)
		if want := []int64{bob.m.ID, mine.ID}; !stored.Public || !slices.Equal(stored.Allow, want) || len(stored.Deny) != 0 {
			t.Errorf("PUT acl answered %+v, want public and allow %v", stored, want)
		}

		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, fmt.Sprintf("/api/v1/items/%d", bp), ""},
			{http.MethodGet, fmt.Sprintf("/api/v1/items/%d/acl", bp), ""},
			{http.MethodPut, fmt.Sprintf("/api/v1/items/%d/acl", bp), `{"public":true,"allow":[],"deny":[]}`},
			{http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", bp), ""},
			{http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access", bp), ""},
			{http.MethodDelete, fmt.Sprintf("/api/v1/items/%d", bp), ""},
			{http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", bobsToken.ID), ""},
			{http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", bobsToken.ID), `{"name":"mine now"}`},
			{http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d/link", bobsToken.ID), ""},
			{http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/rotate", bobsToken.ID), ""},
			{http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", bobsToken.ID), ""},
			{http.MethodPatch, fmt.Sprintf("/api/v1/groups/%d", bobsGroup), `{"name":"mine now"}`},
			{http.MethodPut, fmt.Sprintf("/api/v1/groups/%d/members", bobsGroup), `{"members":[]}`},
			{http.MethodDelete, fmt.Sprintf("/api/v1/groups/%d", bobsGroup), ""},
			{http.MethodGet, "/api/v1/items/999999/acl", ""},
		} {
			gtAPIError(t, r.method+" "+r.path+" of another member", api(r.method, r.path, r.body), http.StatusNotFound, "not_found")
		}
		// Bob's things are untouched.
		var bobACL acl.ACL
		bob.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/acl", bp), "", http.StatusOK, &bobACL)
		if bobACL.Public {
			t.Errorf("alice made bob's post public")
		}
		if got := bob.token(bobsToken.ID); got.Status != acl.StatusActive || got.Name != "bob's" {
			t.Errorf("bob's token after alice's attempts: %+v", got)
		}

		gtAPIError(t, "no API token", e.api("", http.MethodGet, "/api/v1/tokens", ""), http.StatusUnauthorized, "unauthorized")
		gtAPIError(t, "no API token on POST", e.api("", http.MethodPost, "/api/v1/tokens", `{}`), http.StatusUnauthorized, "unauthorized")
		gtAPIError(t, "a guest token as API token", e.api(mine.Token, http.MethodGet, "/api/v1/tokens", ""), http.StatusUnauthorized, "unauthorized")
		read := e.apiToken(alice.m, "read")
		gtAPIError(t, "a read token on POST /tokens", e.api(read, http.MethodPost, "/api/v1/tokens", `{}`), http.StatusForbidden, "forbidden")
		gtAPIError(t, "a read token on PUT acl", e.api(read, http.MethodPut, aclPath, `{"public":false}`), http.StatusForbidden, "forbidden")
		gtStatus(t, "a read token on GET /tokens", e.api(read, http.MethodGet, "/api/v1/tokens", ""), http.StatusOK)
	})
}

// The token's page answers "which ACLs use this token": every entry naming
// it, directly or through a group, allow or deny, with views per item.
func TestTokenGrantsShowWhichACLsUseIt(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		tk := alice.newToken(`{"name":"Cousin"}`)
		g := alice.group("Family", tk.ID)
		p1 := alice.post("P1 direct", "x")
		p2 := alice.post("P2 through the group", "x")
		p3 := alice.post("P3 denied to the group", "x")
		p4 := alice.post("P4 allowed directly, denied to the group", "x")
		alice.putACL(p1, false, []int64{tk.ID}, nil)
		alice.putACL(p2, false, []int64{g}, nil)
		alice.putACL(p3, false, nil, []int64{g})
		alice.putACL(p4, false, []int64{tk.ID}, []int64{g})

		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		gtStatus(t, "the guest views P1", gtGet(t, cl, fmt.Sprintf("/items/%d", p1)), http.StatusOK)
		gtStatus(t, "a deny through a group beats a direct allow", gtGet(t, cl, fmt.Sprintf("/items/%d", p4)), http.StatusNotFound)
		gtStatus(t, "P3", gtGet(t, cl, fmt.Sprintf("/items/%d", p3)), http.StatusNotFound)
		gtFlush(t, e)

		type key struct {
			item int64
			via  int64
		}
		grants := func(tv gtToken) map[key]gtGrant {
			t.Helper()
			out := map[key]gtGrant{}
			for _, gr := range tv.Grants {
				k := key{gr.ItemID, 0}
				if gr.Via != nil {
					k.via = *gr.Via
				}
				if _, dup := out[k]; dup {
					t.Errorf("grant %+v listed twice", gr)
				}
				out[k] = gr
			}
			return out
		}
		want := map[key]struct {
			effect string
			views  int
			title  string
		}{
			{p1, 0}: {"allow", 1, "P1 direct"},
			{p2, g}: {"allow", 0, "P2 through the group"},
			{p3, g}: {"deny", 0, "P3 denied to the group"},
			{p4, 0}: {"allow", 0, "P4 allowed directly, denied to the group"},
			{p4, g}: {"deny", 0, "P4 allowed directly, denied to the group"},
		}
		check := func(what string, tv gtToken, active bool) {
			t.Helper()
			got := grants(tv)
			if len(got) != len(want) {
				t.Errorf("%s: %d grants, want %d: %+v", what, len(got), len(want), tv.Grants)
			}
			for k, w := range want {
				gr, ok := got[k]
				if !ok {
					t.Errorf("%s: no grant for item %d via %d", what, k.item, k.via)
					continue
				}
				if gr.Effect != w.effect || gr.Views != w.views || gr.Active != active || gr.ItemTitle != w.title {
					t.Errorf("%s: grant for item %d via %d: %+v, want effect %s, views %d, active %v", what, k.item, k.via, gr, w.effect, w.views, active)
				}
				if k.via != 0 && (gr.ViaName == nil || *gr.ViaName != "Family") {
					t.Errorf("%s: grant via the group names it %v", what, gr.ViaName)
				}
			}
			if tv.Views == nil || *tv.Views != 1 {
				t.Errorf("%s: views %v, want 1", what, tv.Views)
			}
		}
		tv := alice.token(tk.ID)
		if tv.Status != acl.StatusActive {
			t.Errorf("status %q", tv.Status)
		}
		check("before revocation", tv, true)
		listed := func() gtToken {
			var list struct {
				Tokens []gtToken `json:"tokens"`
			}
			alice.decode(http.MethodGet, "/api/v1/tokens", "", http.StatusOK, &list)
			for _, v := range list.Tokens {
				if v.ID == tk.ID {
					return v
				}
			}
			t.Fatalf("token %d is not listed", tk.ID)
			return gtToken{}
		}
		if v := listed(); v.Items == nil || *v.Items != 2 {
			t.Errorf("items of the token in GET /tokens: %v, want 2 (P1, P2)", v.Items)
		}

		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
		tv = alice.token(tk.ID)
		if tv.Status != acl.StatusRevoked || tv.RevokedAt == nil || !tv.RevokedAt.Equal(e.clock.Now()) {
			t.Errorf("after revocation: status %q revoked_at %v", tv.Status, tv.RevokedAt)
		}
		check("after revocation", tv, false)
		if v := listed(); v.Status != acl.StatusRevoked {
			t.Errorf("the revoked token is listed as %q", v.Status)
		}
		// Revoking again changes nothing.
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
		if again := alice.token(tk.ID); again.RevokedAt == nil || !again.RevokedAt.Equal(*tv.RevokedAt) {
			t.Errorf("a second revocation moved revoked_at to %v", again.RevokedAt)
		}
	})
}

func TestPatchToken(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		soon := e.clock.Now().Add(time.Hour)
		tk := alice.newToken(`{"name":"Old name","expires_at":"` + gtRFC3339(soon) + `","max_uses":1}`)
		path := fmt.Sprintf("/api/v1/tokens/%d", tk.ID)
		patch := func(body string) gtToken {
			t.Helper()
			var v gtToken
			raw := alice.decode(http.MethodPatch, path, body, http.StatusOK, &v)
			gtNoSecret(t, "PATCH answer", raw, tk.Token)
			return v
		}

		later := e.clock.Now().Add(48 * time.Hour)
		if v := patch(`{"expires_at":"` + gtRFC3339(later) + `"}`); v.ExpiresAt == nil || !v.ExpiresAt.Equal(later) {
			t.Errorf("extended expiry: %v, want %v", v.ExpiresAt, later)
		}
		e.clock.Advance(2 * time.Hour)
		if v := alice.token(tk.ID); v.Status != acl.StatusActive || v.ExpiresAt == nil || !v.ExpiresAt.Equal(later) {
			t.Errorf("after the old expiry: status %q expires_at %v", v.Status, v.ExpiresAt)
		}
		if v := patch(`{"max_uses":3}`); v.MaxUses == nil || *v.MaxUses != 3 {
			t.Errorf("raised max_uses: %v", v.MaxUses)
		}
		if v := alice.token(tk.ID); v.MaxUses == nil || *v.MaxUses != 3 {
			t.Errorf("GET after raising max_uses: %v", v.MaxUses)
		}
		if v := patch(`{"max_uses":null}`); v.MaxUses != nil {
			t.Errorf("max_uses null: %v", *v.MaxUses)
		}
		raw := alice.call(http.MethodGet, path, "", http.StatusOK)
		if f := gtFields(t, []byte(raw)); string(f["max_uses"]) != "null" {
			t.Errorf("GET after max_uses null: max_uses %s", f["max_uses"])
		}
		v := patch(`{"name":"New name"}`)
		if v.Name != "New name" || v.MaxUses != nil || v.ExpiresAt == nil || !v.ExpiresAt.Equal(later) {
			t.Errorf("renamed: %+v", v)
		}
		if v := alice.token(tk.ID); v.Name != "New name" || v.Status != acl.StatusActive {
			t.Errorf("GET after renaming: %+v", v)
		}
		if v := patch(`{"expires_at":null}`); v.ExpiresAt != nil {
			t.Errorf("expires_at null: %v", v.ExpiresAt)
		}
		gtAPIError(t, "PATCH with an expiry in the past", e.api(alice.key, http.MethodPatch, path,
			`{"expires_at":"`+gtRFC3339(e.clock.Now().Add(-time.Minute))+`"}`), http.StatusUnprocessableEntity, "invalid")
		gtAPIError(t, "PATCH with max_uses -1", e.api(alice.key, http.MethodPatch, path, `{"max_uses":-1}`), http.StatusUnprocessableEntity, "invalid")

		// used_up → active by raising the limit.
		p := alice.post("Limited", "Twice at most.")
		u := alice.share(p, `{"max_uses":1}`)
		cl := e.client()
		csrf, next, _ := gtLanding(t, cl, u.Link)
		gtSee303(t, "the only use", gtPost(t, cl, "/open", gtOpenForm(csrf, next, "")), fmt.Sprintf("/items/%d", p))
		if v := alice.token(u.ID); v.Status != acl.StatusUsedUp || v.Uses != 1 {
			t.Fatalf("after its only use: status %q uses %d", v.Status, v.Uses)
		}
		var raised gtToken
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", u.ID), `{"max_uses":2}`, http.StatusOK, &raised)
		if raised.Status != acl.StatusActive || raised.Uses != 1 || raised.MaxUses == nil || *raised.MaxUses != 2 {
			t.Errorf("after raising max_uses: %+v", raised)
		}
		if v := alice.token(u.ID); v.Status != acl.StatusActive {
			t.Errorf("GET after raising max_uses: status %q", v.Status)
		}
		cl2 := e.client()
		csrf, next, _ = gtLanding(t, cl2, u.Link)
		gtSee303(t, "the raised use", gtPost(t, cl2, "/open", gtOpenForm(csrf, next, "")), fmt.Sprintf("/items/%d", p))
		if v := alice.token(u.ID); v.Status != acl.StatusUsedUp || v.Uses != 2 {
			t.Errorf("after the second use: status %q uses %d", v.Status, v.Uses)
		}
	})
}

func TestGroupsAPI(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		tk := alice.newToken(`{"name":"In the family"}`)
		bobsToken := bob.newToken(`{"name":"bob's"}`)
		type group struct {
			ID      int64   `json:"id"`
			Name    string  `json:"name"`
			Members []int64 `json:"members"`
		}
		var g group
		raw := alice.decode(http.MethodPost, "/api/v1/groups", `{"name":"Family"}`, http.StatusCreated, &g)
		if !strings.HasPrefix(raw, `{"id":`) || g.ID == 0 || g.Name != "Family" || g.Members == nil || len(g.Members) != 0 {
			t.Errorf("POST /groups: %s", raw)
		}
		gtAPIError(t, "a second group with the same name", e.api(alice.key, http.MethodPost, "/api/v1/groups", `{"name":"Family"}`), http.StatusConflict, "conflict")
		membersPath := fmt.Sprintf("/api/v1/groups/%d/members", g.ID)
		var withMembers group
		alice.decode(http.MethodPut, membersPath, fmt.Sprintf(`{"members":[%d,%d]}`, tk.ID, bob.m.ID), http.StatusOK, &withMembers)
		want := []int64{bob.m.ID, tk.ID}
		slices.Sort(want)
		if withMembers.ID != g.ID || !slices.Equal(withMembers.Members, want) {
			t.Errorf("PUT members: %+v, want members %v", withMembers, want)
		}
		gtAPIError(t, "another member's token as a member", e.api(alice.key, http.MethodPut, membersPath,
			fmt.Sprintf(`{"members":[%d]}`, bobsToken.ID)), http.StatusUnprocessableEntity, "invalid")
		other := alice.group("Other")
		gtAPIError(t, "a group as a member", e.api(alice.key, http.MethodPut, membersPath,
			fmt.Sprintf(`{"members":[%d]}`, other)), http.StatusUnprocessableEntity, "invalid")
		var got group
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/groups/%d", g.ID), "", http.StatusOK, &got)
		if !slices.Equal(got.Members, want) {
			t.Errorf("members after refused changes: %v, want %v", got.Members, want)
		}

		var renamed group
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/groups/%d", g.ID), `{"name":"Kin"}`, http.StatusOK, &renamed)
		if renamed.Name != "Kin" || !slices.Equal(renamed.Members, want) {
			t.Errorf("PATCH rename: %+v", renamed)
		}

		p := alice.post("For the family", "x")
		alice.putACL(p, false, []int64{g.ID}, nil)
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		gtStatus(t, "the group's token before the deletion", gtGet(t, cl, fmt.Sprintf("/items/%d", p)), http.StatusOK)

		if body := alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/groups/%d", g.ID), "", http.StatusNoContent); body != "" {
			t.Errorf("DELETE /groups answered a body: %q", body)
		}
		var a acl.ACL
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/acl", p), "", http.StatusOK, &a)
		if len(a.Allow) != 0 || len(a.Deny) != 0 {
			t.Errorf("the deleted group is still in the ACL: %+v", a)
		}
		gtStatus(t, "the group's token after the deletion", gtGet(t, cl, fmt.Sprintf("/items/%d", p)), http.StatusNotFound)
		gtAPIError(t, "GET of the deleted group", e.api(alice.key, http.MethodGet, fmt.Sprintf("/api/v1/groups/%d", g.ID), ""), http.StatusNotFound, "not_found")
		var groups struct {
			Groups []group `json:"groups"`
		}
		alice.decode(http.MethodGet, "/api/v1/groups", "", http.StatusOK, &groups)
		if len(groups.Groups) != 1 || groups.Groups[0].Name != "Other" {
			t.Errorf("GET /groups after the deletion: %+v", groups.Groups)
		}

		var members struct {
			Members []struct {
				ID          int64  `json:"id"`
				Handle      string `json:"handle"`
				DisplayName string `json:"display_name"`
			} `json:"members"`
		}
		alice.decode(http.MethodGet, "/api/v1/members", "", http.StatusOK, &members)
		handles := map[string]int64{}
		for _, m := range members.Members {
			handles[m.Handle] = m.ID
		}
		if len(handles) != 2 || handles["alice"] != alice.m.ID || handles["bob"] != bob.m.ID {
			t.Errorf("GET /members: %+v", members.Members)
		}
	})
}

func TestItemAccessLog(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Watched", "Who opened me?")
		other := alice.post("Elsewhere", "Not this item.")
		itemPath := fmt.Sprintf("/items/%d", p)
		cousin := alice.share(p, `{"name":"Cousin"}`)
		alice.putACL(other, false, []int64{cousin.ID}, nil)

		t0 := e.clock.Now()
		cl := e.client()
		gtOpenLink(t, cl, cousin.Link) // an opening of p, and a view of it
		e.clock.Advance(time.Minute)
		gtStatus(t, "a view of another item", gtGet(t, cl, fmt.Sprintf("/items/%d", other)), http.StatusOK)
		neighbour := alice.share(p, `{"name":"Neighbour"}`)
		e.clock.Advance(time.Minute)
		t2 := e.clock.Now()
		cl2 := e.client()
		resp := gtGet(t, cl2, gtLinkPath(t, neighbour.Link))
		gtSee303(t, "the neighbour's opening", resp, itemPath)
		e.clock.Advance(time.Minute)
		t3 := e.clock.Now()
		gtStatus(t, "the neighbour's view", gtGet(t, cl2, itemPath), http.StatusOK)
		gtFlush(t, e)

		raw := alice.call(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access", p), "", http.StatusOK)
		var log struct {
			Entries []json.RawMessage `json:"entries"`
		}
		json.Unmarshal([]byte(raw), &log)
		type entry struct {
			At        time.Time `json:"at"`
			TokenID   int64     `json:"token_id"`
			TokenName string    `json:"token_name"`
			Event     string    `json:"event"`
		}
		want := []entry{
			{t3, neighbour.ID, "Neighbour", acl.EventView},
			{t2, neighbour.ID, "Neighbour", acl.EventOpen},
			{t0, cousin.ID, "Cousin", acl.EventView},
			{t0, cousin.ID, "Cousin", acl.EventOpen},
		}
		if len(log.Entries) != len(want) {
			t.Fatalf("access log of the item: %d entries, want %d:\n%s", len(log.Entries), len(want), raw)
		}
		for i, r := range log.Entries {
			f := gtFields(t, r)
			for _, k := range []string{"at", "token_id", "token_name", "event"} {
				if _, ok := f[k]; !ok {
					t.Errorf("entry %d lacks %q: %s", i, k, r)
				}
			}
			var got entry
			json.Unmarshal(r, &got)
			if !got.At.Equal(want[i].At) || got.TokenID != want[i].TokenID || got.TokenName != want[i].TokenName || got.Event != want[i].Event {
				t.Errorf("entry %d: %+v, want %+v", i, got, want[i])
			}
		}
		gtNoSecret(t, "the access log", raw, cousin.Token, neighbour.Token)
	})
}

// gtTableValues reads every value of every table of db, as text in every
// form a secret could hide in: strings, and bytes raw, in hex and in base64.
func gtTableValues(t *testing.T, db *bun.DB) (texts []string, blobs [][]byte, tables map[string]int) {
	t.Helper()
	ctx := context.Background()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if db.Dialect().Name() == dialect.PG {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	var names []string
	if err := db.NewRaw(q).Scan(ctx, &names); err != nil {
		t.Fatal(err)
	}
	tables = map[string]int{}
	for _, name := range names {
		rows, err := db.DB.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(name, `"`, `""`)+`"`)
		if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", name, err)
			}
			tables[name]++
			for _, v := range vals {
				switch x := v.(type) {
				case nil:
				case []byte:
					b := bytes.Clone(x)
					blobs = append(blobs, b)
					texts = append(texts, string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
						base64.RawStdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
				case string:
					texts = append(texts, x)
				default:
					texts = append(texts, fmt.Sprint(x))
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return texts, blobs, tables
}

// No table holds a guest or API token in clear (nor its payload, nor its
// random bytes).
func TestNoTableHoldsASecret(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		readKey := e.apiToken(alice.m, "read")
		p := alice.post("Dumped", "x")
		var secrets []string
		for _, fields := range []string{
			`{"name":"Plain dump token"}`,
			`{"name":"Limited","max_uses":3,"note":"n"}`,
			`{"name":"With password","password":"dump password"}`,
			`{"name":"Expiring","expires_at":"` + gtRFC3339(e.clock.Now().Add(time.Hour)) + `"}`,
		} {
			secrets = append(secrets, alice.newToken(fields).Token)
		}
		shared := alice.share(p, `{"name":"Shared"}`)
		secrets = append(secrets, shared.Token)
		var rotated gtToken
		alice.decode(http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/rotate", shared.ID), "", http.StatusCreated, &rotated)
		secrets = append(secrets, rotated.Token)
		gtOpenLink(t, e.client(), rotated.Link)
		gtFlush(t, e)
		apiSecrets := []string{alice.key, readKey}

		texts, blobs, tables := gtTableValues(t, e.db)
		if tables["guest_tokens"] != 5 || tables["api_tokens"] != 2 || tables["access_log"] == 0 {
			t.Fatalf("the dump does not see the rows: %v", tables)
		}
		all := strings.Join(texts, "\x00")
		if !strings.Contains(all, "Plain dump token") {
			t.Fatalf("the dump does not see the token names")
		}
		check := func(secret, prefix string) {
			t.Helper()
			payload := secret[len(prefix):]
			if strings.Contains(all, secret) || strings.Contains(all, payload) {
				t.Errorf("a table holds the secret %s… in clear", secret[:8])
			}
			raw, err := base64.RawURLEncoding.DecodeString(payload)
			if err != nil || len(raw) < 32 {
				t.Fatalf("secret payload does not decode: %v", err)
			}
			for _, b := range blobs {
				if bytes.Contains(b, raw[:32]) {
					t.Errorf("a table holds the random bytes of the secret %s…", secret[:8])
				}
			}
		}
		for _, s := range secrets {
			check(s, acl.GuestTokenPrefix)
		}
		for _, s := range apiSecrets {
			check(s, acl.APITokenPrefix)
		}
	})
}

// User text with SQL or HTML in it is stored and returned literally by the
// API and escaped in pages.
func TestUserTextIsKeptLiterally(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		const sqlText, htmlText = `' OR 1=1 --`, `<script>alert(1)</script>`
		const sqlHTML, htmlHTML = `&#39; OR 1=1 --`, `&lt;script&gt;alert(1)&lt;/script&gt;`
		bob.post("Bob's private post", "Not for alice.")
		p1 := alice.post(sqlText, htmlText)
		p2 := alice.post(htmlText, sqlText)
		var it struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d", p1), "", http.StatusOK, &it)
		if it.Title != sqlText || it.Body != htmlText {
			t.Errorf("item 1 through the API: %+v", it)
		}
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d", p2), "", http.StatusOK, &it)
		if it.Title != htmlText || it.Body != sqlText {
			t.Errorf("item 2 through the API: %+v", it)
		}
		var items struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
		}
		alice.decode(http.MethodGet, "/api/v1/items", "", http.StatusOK, &items)
		if len(items.Items) != 2 {
			t.Errorf("alice's items: %d, want 2", len(items.Items))
		}

		fields, _ := json.Marshal(map[string]any{"name": sqlText, "note": htmlText})
		tk := alice.newToken(string(fields))
		if v := alice.token(tk.ID); v.Name != sqlText || v.Note != htmlText {
			t.Errorf("token through the API: name %q note %q", v.Name, v.Note)
		}
		gname, _ := json.Marshal(map[string]any{"name": sqlText})
		var g struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		alice.decode(http.MethodPost, "/api/v1/groups", string(gname), http.StatusCreated, &g)
		if g.Name != sqlText {
			t.Errorf("group name %q", g.Name)
		}
		alice.putACL(p1, false, []int64{tk.ID}, nil)
		alice.putACL(p2, false, []int64{g.ID}, nil)
		alice.call(http.MethodPut, fmt.Sprintf("/api/v1/groups/%d/members", g.ID), fmt.Sprintf(`{"members":[%d]}`, tk.ID), http.StatusOK)

		cl := e.client()
		_, page := gtOpenLink(t, cl, tk.Link)
		pages := map[string]string{"/shared": gtStatus(t, "/shared", page, http.StatusOK)}
		for _, id := range []int64{p1, p2} {
			path := fmt.Sprintf("/items/%d", id)
			pages[path] = gtStatus(t, path, gtGet(t, cl, path), http.StatusOK)
		}
		for path, body := range pages {
			if strings.Contains(body, htmlText) || strings.Contains(body, "<script>") {
				t.Errorf("%s holds the raw script", path)
			}
			if !strings.Contains(body, htmlHTML) || !strings.Contains(body, sqlHTML) {
				t.Errorf("%s lacks the escaped texts:\n%s", path, gtShort(body))
			}
		}
		// The landing page shows the note escaped too.
		limited := alice.share(p1, string(gtJSON(t, map[string]any{"max_uses": 2, "note": htmlText})))
		_, _, landing := gtLanding(t, e.client(), limited.Link)
		if strings.Contains(landing, htmlText) || !strings.Contains(landing, htmlHTML) {
			t.Errorf("the landing page does not escape the note:\n%s", gtShort(landing))
		}
	})
}

func gtJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
