package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"hubshare/content"
)

// View as this token: the owner sees /shared and each item as the token's
// guest would, and the preview leaves no trace: no cookie, no use, no
// access-log entry, no last-used time.
func TestTokenPreview(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := gtNewOwner(t, e, "alice")
		e.member("bob")
		const secretMeta = "serial-4711-camera-owner-only"
		album := alice.createAlbum("Trip")
		inAlbum := e.uploadPhoto(alice.key, "Beach", jpegWithComment(t, secretMeta), album)
		denied := e.uploadPhoto(alice.key, "Denied one", jpegWithComment(t, secretMeta), album)
		post := alice.post("Dinner plans", "Sunday at eight.")
		private := alice.post("Not for guests", "")

		viewer := alice.newToken(`{"name":"Viewer","max_uses":3}`)
		full := alice.newToken(`{"name":"Full","can_download":true,"can_comment":true}`)
		alice.putACL(album, false, []int64{viewer.ID, full.ID}, nil)
		alice.putACL(denied, false, nil, []int64{viewer.ID, full.ID})
		alice.putACL(post, false, []int64{full.ID}, nil)

		// A guest of Full comments, and the owner hides a second comment.
		fullAcc, err := e.cs.View(ctx, post, content.Viewer{Guest: cmGuestSession(t, e, full.ID)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cs.AddComment(ctx, fullAcc, "192.0.2.1", "Ann", "Shown comment"); err != nil {
			t.Fatal(err)
		}
		hidden, err := e.cs.AddComment(ctx, fullAcc, "192.0.2.1", "Ann", "Hidden comment")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cs.SetCommentHidden(ctx, alice.m.ID, hidden.ID, true); err != nil {
			t.Fatal(err)
		}

		gtFlush(t, e)
		before := func() (uses map[int64]int, last map[int64]string, log int) {
			uses, last = map[int64]int{}, map[int64]string{}
			for _, id := range []int64{viewer.ID, full.ID} {
				tk, err := e.svc.Token(ctx, alice.m.ID, id)
				if err != nil {
					t.Fatal(err)
				}
				uses[id] = tk.Uses
				last[id] = fmt.Sprint(tk.LastUsedAt)
			}
			n, err := e.db.NewSelect().Table("access_log").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return uses, last, n
		}
		uses0, last0, log0 := before()

		owner := e.client()
		owner.login("alice")
		get := func(path string, want int) string {
			t.Helper()
			resp := owner.get(path)
			if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("GET %s set cookies %v", path, sc)
			}
			return gtStatus(t, "GET "+path, resp, want)
		}
		pv := func(tk gtToken) string { return fmt.Sprintf("/settings/tokens/%d/preview", tk.ID) }

		// Viewer: the album (not the denied photo, not the post), no download, no comments.
		body := get(pv(viewer), http.StatusOK)
		pagesContains(t, "Viewer's /shared", body, "Shared with you", `Preview: this is what guests of “Viewer” see.`,
			fmt.Sprintf(`href="%s/items/%d"`, pv(viewer), album), fmt.Sprintf(`href="/settings/tokens/%d"`, viewer.ID))
		pagesLacks(t, "Viewer's /shared", body, "Dinner plans", "Not for guests", "Denied one")
		body = get(fmt.Sprintf("%s/items/%d", pv(viewer), album), http.StatusOK)
		pagesContains(t, "Viewer's album", body, "Trip", fmt.Sprintf(`src="%s/media/%d/thumb"`, pv(viewer), inAlbum))
		pagesLacks(t, "Viewer's album", body, fmt.Sprintf("/media/%d/thumb", denied)+`"`, "Download all", "comments")
		body = get(fmt.Sprintf("%s/items/%d", pv(viewer), inAlbum), http.StatusOK)
		pagesLacks(t, "Viewer's photo", body, "Download original", `name="body"`)
		get(fmt.Sprintf("%s/media/%d/large", pv(viewer), inAlbum), http.StatusOK)
		get(fmt.Sprintf("%s/media/%d/original", pv(viewer), inAlbum), http.StatusNotFound)
		get(fmt.Sprintf("%s/items/%d/download", pv(viewer), album), http.StatusNotFound)
		get(fmt.Sprintf("%s/items/%d", pv(viewer), post), http.StatusNotFound)
		get(fmt.Sprintf("%s/items/%d", pv(viewer), denied), http.StatusNotFound)
		get(fmt.Sprintf("%s/items/%d", pv(viewer), private), http.StatusNotFound)

		// Full: downloads the clean original (no metadata), sees the shown comment only.
		body = get(fmt.Sprintf("%s/items/%d", pv(full), inAlbum), http.StatusOK)
		pagesContains(t, "Full's photo", body, fmt.Sprintf(`href="%s/media/%d/original"`, pv(full), inAlbum))
		pagesLacks(t, "Full's photo", body, "Canon", "Location")
		orig := get(fmt.Sprintf("%s/media/%d/original", pv(full), inAlbum), http.StatusOK)
		if strings.Contains(orig, secretMeta) {
			t.Error("the preview's original carries metadata the guest would not get")
		}
		if mine := readBody(t, owner.get(fmt.Sprintf("/media/%d/original", inAlbum))); !strings.Contains(mine, secretMeta) {
			t.Error("the test photo has no metadata to strip")
		}
		get(fmt.Sprintf("%s/items/%d/download", pv(full), album), http.StatusOK)
		body = get(fmt.Sprintf("%s/items/%d", pv(full), post), http.StatusOK)
		pagesContains(t, "Full's post", body, "Dinner plans", "Ann (via Full)", "Shown comment", "Guests of this link see a form here")
		pagesLacks(t, "Full's post", body, "Hidden comment", `name="body"`, `name="_csrf"`)

		// No trace of any of it.
		gtFlush(t, e)
		uses1, last1, log1 := before()
		for _, id := range []int64{viewer.ID, full.ID} {
			if uses1[id] != uses0[id] || last1[id] != last0[id] {
				t.Errorf("token %d: uses %d→%d, last used %s→%s", id, uses0[id], uses1[id], last0[id], last1[id])
			}
		}
		if log1 != log0 {
			t.Errorf("the preview wrote %d access-log rows", log1-log0)
		}
		if rows := sessionRows(t, e); rows != 1 {
			t.Errorf("%d sessions, want the owner's alone", rows)
		}
		if _, ok := owner.cookies[e.guestCookieName()]; ok {
			t.Error("the owner's browser holds a guest session")
		}

		// Bob previews none of Alice's tokens; a revoked token previews nothing.
		bobWeb := e.client()
		bobWeb.login("bob")
		gtStatus(t, "Bob previews Alice's token", bobWeb.get(pv(full)), http.StatusNotFound)
		gtStatus(t, "Bob previews Alice's item", bobWeb.get(fmt.Sprintf("%s/items/%d", pv(full), post)), http.StatusNotFound)
		if err := e.svc.RevokeToken(ctx, alice.m.ID, full.ID); err != nil {
			t.Fatal(err)
		}
		get(fmt.Sprintf("%s/items/%d", pv(full), post), http.StatusNotFound)
		pagesContains(t, "a revoked token's /shared", get(pv(full), http.StatusOK), "Nothing is shared with you")
		// Signed out, the preview is the sign-in.
		gtStatus(t, "signed out", e.client().get(pv(viewer)), http.StatusSeeOther)
	})
}
