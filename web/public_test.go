package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Public means everyone (PRODUCT, contract additions): a public item, and a
// photo of a public album, open for a visitor with no session, a guest of
// another member and a member the ACL does not name; they grant no original,
// and they are neither in a token's "Shared with you" nor in its item count.
func TestPublicItemsAreVisibleToEveryone(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		pub := alice.post("Open day", "Everyone is welcome.")
		alice.putACL(pub, true, nil, nil)
		private := alice.post("Family only", "Not for everyone.")
		album := alice.createAlbum("Beach")
		photo := e.uploadPhoto(alice.key, "Waves", testJPEG(t, 64, 48), album)
		alice.putACL(album, true, nil, nil)
		shared := alice.post("For the token", "Shared on purpose.")
		tk := alice.share(shared, "")
		alice.call(http.MethodPut, fmt.Sprintf("/api/v1/items/%d/acl", pub), fmt.Sprintf(`{"public":true,"allow":[%d]}`, tk.ID), http.StatusOK)

		bobsGuest := gtClientAt(e, "203.0.113.60:1")
		gtOpenLink(t, bobsGuest, bob.share(bob.post("Bob's", "x"), "").Link)
		member := e.client()
		e.member("carol")
		member.login("carol")
		for who, cl := range map[string]*client{"a visitor without a session": e.client(), "another member's guest": bobsGuest, "a member": member} {
			body := gtStatus(t, who+": the public post", gtGet(t, cl, fmt.Sprintf("/items/%d", pub)), http.StatusOK)
			if !strings.Contains(body, "Everyone is welcome.") {
				t.Errorf("%s: the public post does not show its text", who)
			}
			body = gtStatus(t, who+": the public album", gtGet(t, cl, fmt.Sprintf("/items/%d", album)), http.StatusOK)
			if !strings.Contains(body, fmt.Sprintf("/media/%d/thumb", photo)) {
				t.Errorf("%s: the public album does not show its photo", who)
			}
			gtStatus(t, who+": a photo of the public album", gtGet(t, cl, fmt.Sprintf("/items/%d", photo)), http.StatusOK)
			gtStatus(t, who+": its thumbnail", gtGet(t, cl, fmt.Sprintf("/media/%d/thumb", photo)), http.StatusOK)
			if cl != member {
				// Members of the hub may download what they may see (without
				// its metadata); nobody else gets a public photo's original.
				gtStatus(t, who+": its original", gtGet(t, cl, fmt.Sprintf("/media/%d/original", photo)), http.StatusNotFound)
			}
			gtStatus(t, who+": a private post", gtGet(t, cl, fmt.Sprintf("/items/%d", private)), http.StatusNotFound)
		}

		guest := e.client()
		gtOpenLink(t, guest, tk.Link)
		body := gtStatus(t, "the token's Shared with you", gtGet(t, guest, "/shared"), http.StatusOK)
		if !strings.Contains(body, "For the token") {
			t.Errorf("Shared with you lacks what was shared with the token")
		}
		for _, title := range []string{"Open day", "Beach", "Waves"} {
			if strings.Contains(body, title) {
				t.Errorf("Shared with you lists the public %q", title)
			}
		}
		var list struct {
			Tokens []struct {
				ID    int64 `json:"id"`
				Items int   `json:"items"`
			} `json:"tokens"`
		}
		alice.decode(http.MethodGet, "/api/v1/tokens", "", http.StatusOK, &list)
		for _, lt := range list.Tokens {
			if lt.ID == tk.ID && lt.Items != 1 {
				t.Errorf("the token counts %d items, want 1 (public items count for nobody)", lt.Items)
			}
		}
	})
}

// A guest session holding several tokens that may open an item gets the
// union of their permissions: one token that may download and another that
// may show metadata give the original with its metadata.
func TestSessionGetsTheUnionOfItsTokensPermissions(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		const marker = "camera serial 0042"
		photo := e.uploadPhoto(alice.key, "Portrait", jpegWithComment(t, marker), 0)
		download := alice.share(photo, `{"can_download":true}`)
		metadata := alice.share(photo, `{"show_metadata":true}`)
		cl := e.client()
		gtOpenLink(t, cl, download.Link)
		body := gtStatus(t, "the original with the download token alone", gtGet(t, cl, fmt.Sprintf("/media/%d/original", photo)), http.StatusOK)
		if strings.Contains(body, marker) {
			t.Fatalf("the download token alone got the metadata")
		}
		gtOpenLink(t, cl, metadata.Link)
		body = gtStatus(t, "the original with both tokens", gtGet(t, cl, fmt.Sprintf("/media/%d/original", photo)), http.StatusOK)
		if !bytes.Contains([]byte(body), []byte(marker)) {
			t.Errorf("a session holding a download token and a metadata token did not get the original with its metadata")
		}
	})
}

func (o *gtOwner) createAlbum(title string) int64 {
	o.t.Helper()
	in, _ := json.Marshal(map[string]string{"title": title})
	var it struct {
		ID int64 `json:"id"`
	}
	o.decode(http.MethodPost, "/api/v1/albums", string(in), http.StatusCreated, &it)
	return it.ID
}
