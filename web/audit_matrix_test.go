package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// auditSide is one member's world for the cross-owner matrix: items with
// titles and tokens with names that must never show on the other's pages.
type auditSide struct {
	o                    *gtOwner
	cl                   *client
	private, shared, pic int64
	open, limited, pw    gtToken
	dead                 gtToken
	titles, names        []string
	items, tokens        []int64
}

func newAuditSide(t *testing.T, e *env, handle string) *auditSide {
	t.Helper()
	o := gtNewOwner(t, e, handle)
	s := &auditSide{o: o}
	tag := strings.ToUpper(handle)
	s.titles = []string{tag + "-PRIVATE-POST", tag + "-SHARED-POST", tag + "-PRIVATE-PHOTO"}
	s.private = o.post(s.titles[0], "Not for anyone else.")
	s.shared = o.post(s.titles[1], "For the family.")
	s.pic = e.uploadPhoto(o.key, s.titles[2], testJPEG(t, 48, 32), 0)
	s.items = []int64{s.private, s.shared, s.pic}
	s.names = []string{tag + "-OPEN-TOKEN", tag + "-LIMITED-TOKEN", tag + "-PASSWORD-TOKEN", tag + "-DEAD-TOKEN"}
	s.open = o.share(s.shared, fmt.Sprintf(`{"name":%q}`, s.names[0]))
	s.limited = o.share(s.shared, fmt.Sprintf(`{"name":%q,"max_uses":5}`, s.names[1]))
	s.pw = o.share(s.shared, fmt.Sprintf(`{"name":%q,"password":"open sesame 42"}`, s.names[2]))
	s.dead = o.share(s.shared, fmt.Sprintf(`{"name":%q}`, s.names[3]))
	o.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", s.dead.ID), "", http.StatusNoContent)
	s.tokens = []int64{s.open.ID, s.limited.ID, s.pw.ID, s.dead.ID}
	s.cl = e.client()
	s.cl.login(handle)
	return s
}

// attack sends guest traffic with from's tokens at the URLs of to's items:
// links opened on them, landing pages opened and spent, wrong and right
// visitor passwords, dead links and bearer requests.
func attack(t *testing.T, e *env, from, to *auditSide, net int) {
	t.Helper()
	n := 0
	guest := func() *client {
		n++
		return gtClientAt(e, fmt.Sprintf("198.18.%d.%d:1", net, n))
	}
	for _, item := range to.items {
		for _, path := range []string{fmt.Sprintf("/items/%d", item), fmt.Sprintf("/media/%d/thumb", item), fmt.Sprintf("/media/%d/large", item)} {
			cl := guest()
			resp := gtGet(t, cl, path+"?zat="+from.open.Token)
			gtSee303(t, "another member's token on "+path, resp, path)
			gtStatus(t, "the clean URL of "+path+" with another member's token", gtGet(t, cl, path), http.StatusNotFound)
			gtStatus(t, "a dead token on "+path, gtGet(t, guest(), path+"?zat="+from.dead.Token), http.StatusNotFound)
			gtStatus(t, "bearer on "+path, gtGet(t, guest(), path, "Authorization", "Bearer "+from.open.Token), http.StatusNotFound)
		}
		itemPath := fmt.Sprintf("/items/%d", item)
		for _, tk := range []gtToken{from.limited, from.pw} {
			cl := guest()
			gtSee303(t, "a landing token on another member's item", gtGet(t, cl, itemPath+"?zat="+tk.Token), itemPath)
			gtStatus(t, "another member's item behind a pending link", gtGet(t, cl, itemPath), http.StatusNotFound)
			// The landing page is reachable through /shared, and its form
			// carries the pending mark made on the foreign URL.
			body := gtStatus(t, "the landing page through /shared", gtGet(t, cl, "/shared"), http.StatusOK)
			m := csrfRE.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("landing page without a form:\n%s", gtShort(body))
			}
			if tk.ID == from.pw.ID {
				gtStatus(t, "a wrong visitor password", gtPost(t, cl, "/open", gtOpenForm(m[1], itemPath, "not it")), http.StatusUnauthorized)
				body = gtStatus(t, "the landing page again", gtGet(t, cl, "/shared"), http.StatusOK)
				m = csrfRE.FindStringSubmatch(body)
				gtStatus(t, "the right visitor password", gtPost(t, cl, "/open", gtOpenForm(m[1], itemPath, "open sesame 42")), http.StatusSeeOther)
			} else {
				gtStatus(t, "Open", gtPost(t, cl, "/open", gtOpenForm(m[1], itemPath, "")), http.StatusSeeOther)
			}
			gtStatus(t, "another member's item after opening", gtGet(t, cl, itemPath), http.StatusNotFound)
		}
	}
	// Ordinary use of one's own link, so the logs are not empty.
	cl := guest()
	loc, page := gtOpenLink(t, cl, from.open.Link)
	gtStatus(t, "one's own shared post at "+loc, page, http.StatusOK)
}

// foreignIn reports the other side's ids found in a JSON document: any
// "item_id" or "id" of an item list naming one of their items, any
// "token_id" or token "id" naming one of their tokens.
func foreignIn(t *testing.T, raw string, other *auditSide) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	isItem := map[float64]bool{}
	for _, id := range other.items {
		isItem[float64(id)] = true
	}
	isToken := map[float64]bool{}
	for _, id := range other.tokens {
		isToken[float64(id)] = true
	}
	var found []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case float64:
			if (key == "item_id" && isItem[v]) || ((key == "token_id" || key == "via") && isToken[v]) {
				found = append(found, fmt.Sprintf("%s=%v", key, v))
			}
		}
	}
	walk("", v)
	return found
}

// The two-member matrix over every audit surface (SECURITY 26): after guest
// traffic in which each member's tokens name the other's item ids, neither
// member's token pages, share panels, token list, token API, item access
// log or notifications shows an id, title or token name of the other.
func TestNoAuditSurfaceCrossesOwners(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := newAuditSide(t, e, "alice"), newAuditSide(t, e, "bob")
		attack(t, e, alice, bob, 1)
		attack(t, e, bob, alice, 2)
		gtFlush(t, e)

		for _, pair := range [][2]*auditSide{{alice, bob}, {bob, alice}} {
			me, other := pair[0], pair[1]
			who := strings.ToLower(me.titles[0][:strings.Index(me.titles[0], "-")])
			leaks := func(surface, body string, html bool) {
				t.Helper()
				for _, s := range append(append([]string{}, other.titles...), other.names...) {
					if strings.Contains(body, s) {
						t.Errorf("%s's %s shows %q", who, surface, s)
					}
				}
				if html {
					for _, id := range other.items {
						for _, p := range []string{fmt.Sprintf(`/items/%d"`, id), fmt.Sprintf(`/items/%d/`, id), fmt.Sprintf(`/media/%d/`, id)} {
							if strings.Contains(body, p) {
								t.Errorf("%s's %s links to %s", who, surface, p)
							}
						}
					}
					for _, id := range other.tokens {
						if p := fmt.Sprintf(`/settings/tokens/%d"`, id); strings.Contains(body, p) {
							t.Errorf("%s's %s links to %s", who, surface, p)
						}
					}
				} else if f := foreignIn(t, body, other); len(f) > 0 {
					t.Errorf("%s's %s names the other member's %v", who, surface, f)
				}
			}
			leaks("token list page", pagesOK(t, me.cl, "/settings/tokens"), true)
			leaks("GET /tokens", me.o.call(http.MethodGet, "/api/v1/tokens", "", http.StatusOK), false)
			for _, id := range me.tokens {
				leaks(fmt.Sprintf("token page %d", id), pagesOK(t, me.cl, fmt.Sprintf("/settings/tokens/%d", id)), true)
				leaks(fmt.Sprintf("GET /tokens/%d", id), me.o.call(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", id), "", http.StatusOK), false)
			}
			for _, id := range me.items {
				leaks(fmt.Sprintf("share panel of %d", id), pagesOK(t, me.cl, fmt.Sprintf("/items/%d/share", id)), true)
				leaks(fmt.Sprintf("GET /items/%d/access", id), me.o.call(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access", id), "", http.StatusOK), false)
			}
			leaks("notifications page", pagesOK(t, me.cl, "/notifications"), true)
			notes := me.o.call(http.MethodGet, "/api/v1/notifications?limit=200", "", http.StatusOK)
			leaks("GET /notifications", notes, false)
			// The own links' first openings are there, the one on the
			// other's item without that item.
			var nl struct {
				Notifications []struct {
					Kind    string `json:"kind"`
					TokenID *int64 `json:"token_id"`
					ItemID  *int64 `json:"item_id"`
				} `json:"notifications"`
			}
			if err := json.Unmarshal([]byte(notes), &nl); err != nil {
				t.Fatal(err)
			}
			firstOpen := false
			for _, n := range nl.Notifications {
				if n.Kind == "first_open" && n.TokenID != nil && *n.TokenID == me.open.ID {
					firstOpen = true
				}
			}
			if !firstOpen {
				t.Errorf("%s's notifications lack the first opening of the own link: %s", who, notes)
			}

			// The owner still sees the own side of the traffic: the opening
			// of the own link on the shared post.
			var log struct {
				Entries []struct {
					TokenID int64  `json:"token_id"`
					Event   string `json:"event"`
				} `json:"entries"`
			}
			me.o.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access", me.shared), "", http.StatusOK, &log)
			opened := false
			for _, en := range log.Entries {
				opened = opened || (en.TokenID == me.open.ID && en.Event == "open")
			}
			if !opened {
				t.Errorf("%s's log of the shared post lacks the opening of the own link: %+v", who, log.Entries)
			}
		}
	})
}
