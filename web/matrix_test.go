package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"hubshare/acl"
)

// jpegWithComment puts a COM segment (metadata a guest must not get) right
// after the start-of-image marker of a real JPEG.
func jpegWithComment(t *testing.T, comment string) []byte {
	t.Helper()
	img := testJPEG(t, 48, 32)
	seg := append([]byte{0xFF, 0xFE, byte((len(comment) + 2) >> 8), byte(len(comment) + 2)}, comment...)
	return append(append(append([]byte{}, img[:2]...), seg...), img[2:]...)
}

func (e *env) uploadPhoto(token, title string, photo []byte, album int64) int64 {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("title", title)
	if album != 0 {
		mw.WriteField("album_id", fmt.Sprint(album))
	}
	fw, _ := mw.CreateFormFile("file", "p.jpg")
	fw.Write(photo)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/photos", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.test(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return createdID(e.t, resp)
}

func createdID(t *testing.T, resp *http.Response) int64 {
	t.Helper()
	b := readBody(t, resp)
	var v struct{ ID int64 }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(b), &v) != nil || v.ID == 0 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	return v.ID
}

// TestAccessMatrix covers every guest route and every API route with an id:
// what is shared (directly, or as a photo of a shared album) is reachable,
// and everything else — a photo denied inside a shared album, an unshared
// photo or post, another member's item — is not found, for every media
// variant. Originals need can_download and come without metadata unless the
// token has show_metadata.
func TestAccessMatrix(t *testing.T) {
	eachStoreEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice, bob := e.member("alice"), e.member("bob")
		at, bt := e.apiToken(alice, "write"), e.apiToken(bob, "write")
		const secretMeta = "serial-4711-camera-owner-only"
		photo := jpegWithComment(t, secretMeta)

		album := createdID(t, e.api(at, http.MethodPost, "/api/v1/albums", `{"title":"Trip"}`))
		inAlbum := e.uploadPhoto(at, "in album", photo, album)
		deniedInAlbum := e.uploadPhoto(at, "denied in album", photo, album)
		loose := e.uploadPhoto(at, "not shared", photo, 0)
		sharedPost := createdID(t, e.api(at, http.MethodPost, "/api/v1/posts", `{"title":"shared post"}`))
		privatePost := createdID(t, e.api(at, http.MethodPost, "/api/v1/posts", `{"title":"private post"}`))
		bobsPhoto := e.uploadPhoto(bt, "bob's", photo, 0)

		plain, _, err := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		download, _, _ := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_download": yes, "show_metadata": no}})
		full, _, _ := e.svc.CreateToken(ctx, alice.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_download": yes, "show_metadata": yes}})
		for _, tok := range []*acl.GuestToken{plain, download, full} {
			for _, it := range []int64{album, sharedPost} {
				if err := e.svc.Grant(ctx, alice.ID, it, tok.ID, false); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.svc.Grant(ctx, alice.ID, deniedInAlbum, tok.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		// Bob shares his photo with a token of his own; it must not open Alice's.
		bobTok, _, _ := e.svc.CreateToken(ctx, bob.ID, acl.TokenInput{})
		e.svc.Grant(ctx, bob.ID, bobsPhoto, bobTok.ID, false)

		guest := func(tok *acl.GuestToken) *client {
			cl := e.client()
			cl.cookies[e.guestCookieName()] = &http.Cookie{Name: e.guestCookieName(), Value: e.svc.SealGuest(acl.GuestSession{}.With(tok))}
			return cl
		}
		status := func(cl *client, path string) (int, string) {
			resp := cl.get(path)
			return resp.StatusCode, readBody(t, resp)
		}
		item := func(id int64) string { return fmt.Sprintf("/items/%d", id) }
		media := func(id int64, v string) string { return fmt.Sprintf("/media/%d/%s", id, v) }

		for _, tok := range []*acl.GuestToken{plain, download, full, bobTok} {
			cl := guest(tok)
			mine := tok != bobTok
			want := func(path string, ok bool) {
				t.Helper()
				code, _ := status(cl, path)
				if ok && code != http.StatusOK || !ok && code != http.StatusNotFound {
					t.Errorf("token %q: GET %s = %d, want reachable=%v", tok.Name, path, code, ok)
				}
			}
			want(item(album), mine)
			want(item(inAlbum), mine)
			want(item(sharedPost), mine)
			for _, v := range []string{"thumb", "large"} {
				want(media(inAlbum, v), mine)
			}
			want(media(inAlbum, "original"), mine && tok != plain)
			for _, id := range []int64{deniedInAlbum, loose, privatePost} {
				want(item(id), false)
				for _, v := range []string{"thumb", "large", "original", "clean", "nonsense"} {
					want(media(id, v), false)
				}
			}
			want(media(sharedPost, "thumb"), false) // a post has no media
			want(item(album)+"/download", mine && tok != plain)
			want(item(sharedPost)+"/download", false) // nor an album to download
			want(item(loose)+"/download", false)
			want(item(bobsPhoto), tok == bobTok)
			if mine {
				_, page := status(cl, item(album))
				if !strings.Contains(page, media(inAlbum, "thumb")) || strings.Contains(page, fmt.Sprintf("/items/%d\"", deniedInAlbum)) {
					t.Errorf("token %q: the album page must list the shared photo and not the denied one", tok.Name)
				}
			}
		}

		// Originals: metadata only with show_metadata, neutral file names.
		for _, c := range []struct {
			tok      *acl.GuestToken
			wantMeta bool
		}{{download, false}, {full, true}} {
			resp := guest(c.tok).get(media(inAlbum, "original"))
			b := readBody(t, resp)
			if got := strings.Contains(b, secretMeta); got != c.wantMeta {
				t.Errorf("token %q: original carries the metadata: %v, want %v", c.tok.Name, got, c.wantMeta)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != fmt.Sprintf(`attachment; filename="photo-%d.jpg"`, inAlbum) {
				t.Errorf("download name: %q", cd)
			}
		}
		for _, v := range []string{"thumb", "large"} {
			if b := readBody(t, guest(full).get(media(inAlbum, v))); strings.Contains(b, secretMeta) {
				t.Errorf("the %s variant carries the metadata", v)
			}
		}

		// The API: a guest token is no API credential, and every route with
		// an id answers 404 for another member's item, token or group.
		if resp := e.api(e.svcSecret(plain), http.MethodGet, "/api/v1/items", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a guest token on the API: %d", resp.StatusCode)
		}
		group := createdID(t, e.api(at, http.MethodPost, "/api/v1/groups", `{"name":"Family"}`))
		for _, r := range []struct{ method, path, body string }{
			{"GET", item(loose), ""}, {"PATCH", item(loose), `{"title":"x"}`}, {"DELETE", item(loose), ""},
			{"GET", item(loose) + "/acl", ""}, {"PUT", item(loose) + "/acl", `{"public":true}`},
			{"POST", item(loose) + "/share", `{}`}, {"GET", item(loose) + "/access", ""},
			{"GET", fmt.Sprintf("/tokens/%d", plain.ID), ""}, {"PATCH", fmt.Sprintf("/tokens/%d", plain.ID), `{"name":"x"}`},
			{"DELETE", fmt.Sprintf("/tokens/%d", plain.ID), ""}, {"GET", fmt.Sprintf("/tokens/%d/link", plain.ID), ""},
			{"POST", fmt.Sprintf("/tokens/%d/rotate", plain.ID), ""},
			{"GET", fmt.Sprintf("/groups/%d", group), ""}, {"PATCH", fmt.Sprintf("/groups/%d", group), `{"name":"x"}`},
			{"DELETE", fmt.Sprintf("/groups/%d", group), ""}, {"PUT", fmt.Sprintf("/groups/%d/members", group), `{"members":[]}`},
		} {
			resp := e.api(bt, r.method, "/api/v1"+r.path, r.body)
			if b := readBody(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(b, `"code":"not_found"`) {
				t.Errorf("bob %s %s = %d %s, want 404", r.method, r.path, resp.StatusCode, b)
			}
		}
		// Nothing of Alice's changed through those calls.
		if a, err := e.svc.ItemACL(ctx, alice.ID, loose); err != nil || a.Public {
			t.Errorf("alice's photo ACL changed: %+v %v", a, err)
		}
	})
}
