package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type ntList struct {
	Notifications []struct {
		ID      int64  `json:"id"`
		At      string `json:"at"`
		Kind    string `json:"kind"`
		TokenID *int64 `json:"token_id"`
		ItemID  *int64 `json:"item_id"`
		Text    string `json:"text"`
		Read    bool   `json:"read"`
	} `json:"notifications"`
	NextCursor *string `json:"next_cursor"`
}

// The page, the bell and the API over real guest openings: newest first,
// links to the token and the item, mark one and mark all read by form
// (303) and by API, and the bell's accessible count following along.
func TestNotificationsPageBellAndAPI(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ann := gtNewOwner(t, e, "ann")
		post := ann.post("Holiday", "Sun.")
		var toks []gtToken
		for i := range 3 {
			tk := ann.share(post, fmt.Sprintf(`{"name":"Guest %d"}`, i+1))
			toks = append(toks, tk)
			gtOpenLink(t, gtClientAt(e, fmt.Sprintf("203.0.113.%d:1", i+1)), tk.Link)
		}
		gtFlush(t, e)

		var list ntList
		ann.decode(http.MethodGet, "/api/v1/notifications", "", http.StatusOK, &list)
		if len(list.Notifications) != 3 || list.NextCursor != nil {
			t.Fatalf("notifications %+v", list)
		}
		for i, n := range list.Notifications {
			want := toks[2-i].ID // newest first
			if n.Kind != "first_open" || n.TokenID == nil || *n.TokenID != want || n.ItemID == nil || *n.ItemID != post || n.Read || n.At == "" {
				t.Errorf("notification %d: %+v", i, n)
			}
		}
		// Keyed pages.
		var page ntList
		ann.decode(http.MethodGet, "/api/v1/notifications?limit=2", "", http.StatusOK, &page)
		if len(page.Notifications) != 2 || page.NextCursor == nil {
			t.Fatalf("first page %+v", page)
		}
		ann.decode(http.MethodGet, "/api/v1/notifications?limit=2&cursor="+url.QueryEscape(*page.NextCursor), "", http.StatusOK, &page)
		if len(page.Notifications) != 1 || page.NextCursor != nil || page.Notifications[0].ID != list.Notifications[2].ID {
			t.Fatalf("second page %+v", page)
		}
		ann.call(http.MethodGet, "/api/v1/notifications?limit=201", "", http.StatusUnprocessableEntity)
		ann.call(http.MethodGet, "/api/v1/notifications?cursor=nope!", "", http.StatusUnprocessableEntity)

		cl := e.client()
		cl.login("ann")
		home := pagesOK(t, cl, "/")
		if !strings.Contains(home, `aria-label="Notifications, 3 unread"`) {
			t.Fatalf("the bell does not say 3 unread:\n%s", home)
		}
		body := pagesOK(t, cl, "/notifications")
		for _, want := range []string{"Guest 1", "Guest 3", fmt.Sprintf(`href="/settings/tokens/%d"`, toks[0].ID), fmt.Sprintf(`href="/items/%d"`, post), "Mark all read"} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.Index(body, "Guest 3") > strings.Index(body, "Guest 1") {
			t.Error("the page is not newest first")
		}

		// Mark one read by form: 303 back to the page, the bell counts 2.
		resp, _ := pagesPost(t, cl, "/notifications", "/notifications/read", url.Values{"id": {fmt.Sprint(list.Notifications[0].ID)}}, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != "/notifications?done=read" {
			t.Errorf("redirect to %q", loc)
		}
		if body := pagesOK(t, cl, "/notifications?done=read"); !strings.Contains(body, `aria-label="Notifications, 2 unread"`) || !strings.Contains(body, "Marked read.") {
			t.Errorf("after marking one: bell or flash wrong")
		}
		// A form without an id is refused with a reason.
		pagesPost(t, cl, "/notifications", "/notifications/read", url.Values{}, http.StatusUnprocessableEntity)
		// Mark all by API.
		var res struct{ Marked, Unread int }
		ann.decode(http.MethodPost, "/api/v1/notifications/read", `{"all":true}`, http.StatusOK, &res)
		if res.Marked != 2 || res.Unread != 0 {
			t.Errorf("mark all: %+v", res)
		}
		if home := pagesOK(t, cl, "/"); !strings.Contains(home, `aria-label="Notifications"`) || strings.Contains(home, "unread") {
			t.Error("the bell still counts after everything was read")
		}
		// Bad bodies.
		ann.call(http.MethodPost, "/api/v1/notifications/read", `{}`, http.StatusUnprocessableEntity)
		ann.call(http.MethodPost, "/api/v1/notifications/read", `{"ids":[1],"all":true}`, http.StatusUnprocessableEntity)
		ann.call(http.MethodPost, "/api/v1/notifications/read", `{"ids":"1"}`, http.StatusUnprocessableEntity)
		ann.call(http.MethodPost, "/api/v1/notifications/read", `{"ids":[`, http.StatusBadRequest)
		// A read-only API token may list but not mark.
		ro := e.apiToken(ann.m, "read")
		gtStatus(t, "list with read scope", e.api(ro, http.MethodGet, "/api/v1/notifications", ""), http.StatusOK)
		gtStatus(t, "mark with read scope", e.api(ro, http.MethodPost, "/api/v1/notifications/read", `{"all":true}`), http.StatusForbidden)
		gtStatus(t, "list without a token", e.api("", http.MethodGet, "/api/v1/notifications", ""), http.StatusUnauthorized)
	})
}

// Marks go only to the caller's notifications: Ann marking Bob's ids, by
// API or by form, leaves them unread; neither sees the other's.
func TestNotificationsOwnerOnly(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ann, bob := gtNewOwner(t, e, "ann"), gtNewOwner(t, e, "bob")
		annPost, bobPost := ann.post("ANN-POST", "a"), bob.post("BOB-POST", "b")
		annTok := ann.share(annPost, `{"name":"ANN-LINK"}`)
		bobTok := bob.share(bobPost, `{"name":"BOB-LINK"}`)
		gtOpenLink(t, gtClientAt(e, "203.0.113.1:1"), annTok.Link)
		gtOpenLink(t, gtClientAt(e, "203.0.113.2:1"), bobTok.Link)
		gtFlush(t, e)
		if err := e.svc.NotifyComment(context.Background(), bobTok.ID, bobPost, "Nice BOB-POST"); err != nil {
			t.Fatal(err)
		}
		var bl ntList
		bob.decode(http.MethodGet, "/api/v1/notifications", "", http.StatusOK, &bl)
		if len(bl.Notifications) != 2 {
			t.Fatalf("Bob's notifications: %+v", bl)
		}
		annAPI := ann.call(http.MethodGet, "/api/v1/notifications", "", http.StatusOK)
		if strings.Contains(annAPI, "BOB-") || strings.Contains(annAPI, fmt.Sprintf(`"token_id":%d`, bobTok.ID)) {
			t.Errorf("Ann's API shows Bob's: %s", annAPI)
		}
		ids, _ := json.Marshal(map[string]any{"ids": []int64{bl.Notifications[0].ID, bl.Notifications[1].ID}})
		var res struct{ Marked, Unread int }
		ann.decode(http.MethodPost, "/api/v1/notifications/read", string(ids), http.StatusOK, &res)
		if res.Marked != 0 || res.Unread != 1 {
			t.Errorf("Ann marking Bob's: %+v", res)
		}
		cl := e.client()
		cl.login("ann")
		pagesPost(t, cl, "/notifications", "/notifications/read", url.Values{"id": {fmt.Sprint(bl.Notifications[0].ID)}}, http.StatusSeeOther)
		page := pagesOK(t, cl, "/notifications")
		if strings.Contains(page, "BOB-") || strings.Contains(page, fmt.Sprintf(`/settings/tokens/%d"`, bobTok.ID)) || strings.Contains(page, fmt.Sprintf(`/items/%d"`, bobPost)) {
			t.Error("Ann's page shows Bob's")
		}
		bob.decode(http.MethodGet, "/api/v1/notifications", "", http.StatusOK, &bl)
		for _, n := range bl.Notifications {
			if n.Read {
				t.Errorf("Bob's notification %d was marked read by Ann", n.ID)
			}
		}
	})
}

// PATCH /me sets the e-mail settings; a bad address is a 422 that says
// what is wrong, and other fields are refused.
func TestPatchMeEmail(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ann := gtNewOwner(t, e, "ann")
		var me struct {
			Email       *string `json:"email"`
			NotifyEmail bool    `json:"notify_email"`
		}
		ann.decode(http.MethodGet, "/api/v1/me", "", http.StatusOK, &me)
		if me.Email != nil || !me.NotifyEmail {
			t.Fatalf("new member: %+v", me)
		}
		body := ann.call(http.MethodPatch, "/api/v1/me", `{"email":"not an address"}`, http.StatusUnprocessableEntity)
		if !strings.Contains(body, "not an e-mail address") {
			t.Errorf("bad address: %s", body)
		}
		ann.call(http.MethodPatch, "/api/v1/me", `{"handle":"x"}`, http.StatusUnprocessableEntity)
		ann.call(http.MethodPatch, "/api/v1/me", `{"notify_email":"yes"}`, http.StatusUnprocessableEntity)
		ann.decode(http.MethodPatch, "/api/v1/me", `{"email":"ann@example.org","notify_email":false}`, http.StatusOK, &me)
		if me.Email == nil || *me.Email != "ann@example.org" || me.NotifyEmail {
			t.Fatalf("after PATCH: %+v", me)
		}
		ann.decode(http.MethodGet, "/api/v1/me", "", http.StatusOK, &me)
		if me.Email == nil || *me.Email != "ann@example.org" || me.NotifyEmail {
			t.Fatalf("GET after PATCH: %+v", me)
		}
		ann.decode(http.MethodPatch, "/api/v1/me", `{"email":null}`, http.StatusOK, &me)
		if me.Email != nil {
			t.Fatalf("after clearing: %+v", me)
		}
		gtStatus(t, "PATCH /me with read scope", e.api(e.apiToken(ann.m, "read"), http.MethodPatch, "/api/v1/me", `{"notify_email":true}`), http.StatusForbidden)
	})
}
