package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"hubshare/acl"
)

// gpAlbum is an album of three photos of alice's, the first with GPS and a
// camera in its EXIF.
type gpAlbum struct {
	alice  *gtOwner
	album  int64
	photos []int64
}

func gpNewAlbum(t *testing.T, e *env) gpAlbum {
	t.Helper()
	gps, err := os.ReadFile(gpsJPEG(t))
	if err != nil {
		t.Fatal(err)
	}
	a := gpAlbum{alice: gtNewOwner(t, e, "alice")}
	a.album = a.alice.createAlbum("Marseille 2026")
	a.photos = []int64{
		e.uploadPhoto(a.alice.key, "Vieux-Port", gps, a.album),
		e.uploadPhoto(a.alice.key, "", testJPEG(t, 64, 48), a.album),
		e.uploadPhoto(a.alice.key, "Le Panier", testJPEG(t, 48, 64), a.album),
	}
	// An upload without a title is named after its file; the owner may
	// clear it, and guests then see no title at all.
	a.alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", a.photos[1]), `{"title":""}`, http.StatusOK)
	return a
}

var gpTileRE = regexp.MustCompile(`<a class="g-tile" href="/items/(\d+)"`)

// The album a recipient opens is a gallery: every photo a tile linking to
// its page, the count, the sharer by display name, the token's note and
// expiry, and "Download all" only for a token that may download. Nothing of
// the photos' EXIF reaches the page.
func TestGuestAlbumPageIsAGallery(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		a := gpNewAlbum(t, e)
		until := e.clock.Now().Add(3 * 24 * 60 * 60 * 1e9).UTC()
		dl := a.alice.share(a.album, `{"name":"Grandma","can_download":true,"note":"With love from Alice","expires_at":"`+until.Format("2006-01-02T15:04:05Z")+`"}`)
		look := a.alice.share(a.album, `{"name":"Cousin"}`)
		albumPath := fmt.Sprintf("/items/%d", a.album)
		download := fmt.Sprintf(`href="/items/%d/download"`, a.album)

		cl := e.client()
		_, page := gtOpenLink(t, cl, dl.Link)
		body := gtStatus(t, "the album", page, http.StatusOK)
		var tiles []string
		for _, m := range gpTileRE.FindAllStringSubmatch(body, -1) {
			tiles = append(tiles, m[1])
		}
		want := []string{strconv.FormatInt(a.photos[0], 10), strconv.FormatInt(a.photos[1], 10), strconv.FormatInt(a.photos[2], 10)}
		if strings.Join(tiles, ",") != strings.Join(want, ",") {
			t.Errorf("the gallery's tiles link to %v, want %v", tiles, want)
		}
		for _, s := range []string{"3 photos", "Shared by <strong>Alice</strong>", "With love from Alice", "Available until", "(in 3 days)",
			download, "Download all", `<dialog class="lb" id="viewer"`, `data-large="/media/` + want[0] + `/large"`,
			`alt="Vieux-Port"`, `alt="Photo 2 of 3"`, `<script src="/static/gallery.js" defer></script>`} {
			if !strings.Contains(body, s) {
				t.Errorf("the album page lacks %q", s)
			}
		}
		for _, leak := range []string{"43.29", "Canon", "EOS", "2026:07:14", "hsg_", "IMG_2041"} {
			if strings.Contains(body, leak) {
				t.Errorf("the album page shows %q", leak)
			}
		}
		photo := gtStatus(t, "the photo with GPS", gtGet(t, cl, fmt.Sprintf("/items/%d", a.photos[0])), http.StatusOK)
		for _, leak := range []string{"43.29", "Canon", "EOS", "Location", "hsg_"} {
			if strings.Contains(photo, leak) {
				t.Errorf("the photo page shows %q to a token without show_metadata", leak)
			}
		}
		if !strings.Contains(photo, fmt.Sprintf(`href="/media/%d/original" download`, a.photos[0])) {
			t.Errorf("the photo page has no download of the original for a token that may download")
		}

		other := e.client()
		_, page = gtOpenLink(t, other, look.Link)
		body = gtStatus(t, "the album without downloads", page, http.StatusOK)
		if strings.Contains(body, download) || strings.Contains(body, "Download all") {
			t.Errorf("a token that may not download is offered Download all")
		}
		if !strings.Contains(body, "3 photos") || strings.Contains(body, "Available until") {
			t.Errorf("the album for a token without expiry:\n%s", gtShort(body))
		}
		photo = gtStatus(t, "a photo without downloads", gtGet(t, other, fmt.Sprintf("/items/%d", a.photos[0])), http.StatusOK)
		if strings.Contains(photo, "/original") {
			t.Errorf("a token that may not download is offered the original")
		}

		// A member the ACL names sees the guest page too; the owner keeps hers.
		bob := e.member("bob")
		a.alice.putACL(a.album, false, []int64{bob.ID, dl.ID, look.ID}, nil)
		bc := e.client()
		bc.login("bob")
		body = gtStatus(t, "the album for a member", bc.get(albumPath), http.StatusOK)
		if !strings.Contains(body, `class="g-grid gallery"`) || !strings.Contains(body, "Shared by <strong>Alice</strong>") || strings.Contains(body, "/share\"") {
			t.Errorf("a member named in the ACL does not get the guest gallery:\n%s", gtShort(body))
		}
		ac := e.client()
		ac.login("alice")
		body = gtStatus(t, "the album for its owner", ac.get(albumPath), http.StatusOK)
		if strings.Contains(body, "g-grid") || !strings.Contains(body, fmt.Sprintf(`href="/items/%d/share"`, a.album)) {
			t.Errorf("the owner does not get her own item page:\n%s", gtShort(body))
		}

		// Everyone may open a public album: the visitor gets the gallery.
		a.alice.putACL(a.album, true, nil, nil)
		body = gtStatus(t, "a public album for a visitor", gtGet(t, e.client(), albumPath), http.StatusOK)
		if len(gpTileRE.FindAllString(body, -1)) != 3 || strings.Contains(body, "Download all") {
			t.Errorf("a visitor's public album:\n%s", gtShort(body))
		}
	})
}

// A photo's page has previous and next links among the album's photos the
// viewer may see, so that the gallery works without JavaScript.
func TestGuestPhotoPagePreviousAndNext(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		a := gpNewAlbum(t, e)
		extra := e.uploadPhoto(a.alice.key, "Calanques", testJPEG(t, 40, 40), a.album)
		tk := a.alice.share(a.album, "")
		// The untitled second photo is denied to the token.
		a.alice.putACL(a.photos[1], false, nil, []int64{tk.ID})
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		link := func(rel string, id int64) string { return fmt.Sprintf(`rel="%s" href="/items/%d"`, rel, id) }

		first := gtStatus(t, "the first photo", gtGet(t, cl, fmt.Sprintf("/items/%d", a.photos[0])), http.StatusOK)
		if strings.Contains(first, `rel="prev"`) || !strings.Contains(first, link("next", a.photos[2])) || !strings.Contains(first, "Photo 1 of 3") {
			t.Errorf("the first photo's pager:\n%s", gtShort(first))
		}
		mid := gtStatus(t, "the middle photo", gtGet(t, cl, fmt.Sprintf("/items/%d", a.photos[2])), http.StatusOK)
		if !strings.Contains(mid, link("prev", a.photos[0])) || !strings.Contains(mid, link("next", extra)) || !strings.Contains(mid, "Photo 2 of 3") {
			t.Errorf("the middle photo's pager:\n%s", gtShort(mid))
		}
		if !strings.Contains(mid, fmt.Sprintf(`href="/items/%d"`, a.album)) || !strings.Contains(mid, "Marseille 2026") {
			t.Errorf("the photo page does not lead back to its album")
		}
		last := gtStatus(t, "the last photo", gtGet(t, cl, fmt.Sprintf("/items/%d", extra)), http.StatusOK)
		if strings.Contains(last, `rel="next"`) || !strings.Contains(last, link("prev", a.photos[2])) {
			t.Errorf("the last photo's pager:\n%s", gtShort(last))
		}
		album := gtStatus(t, "the album", gtGet(t, cl, fmt.Sprintf("/items/%d", a.album)), http.StatusOK)
		if strings.Contains(album, fmt.Sprintf(`/items/%d"`, a.photos[1])) || !strings.Contains(album, "3 photos") {
			t.Errorf("the album shows the denied photo or a wrong count")
		}

		// A photo shared on its own, outside any album the viewer may open,
		// has no pager.
		alone := a.alice.share(a.photos[1], "")
		lc := e.client()
		_, page := gtOpenLink(t, lc, alone.Link)
		body := gtStatus(t, "a photo shared alone", page, http.StatusOK)
		if strings.Contains(body, `rel="next"`) || strings.Contains(body, `rel="prev"`) || strings.Contains(body, "Marseille 2026") {
			t.Errorf("a photo shared alone shows its album:\n%s", gtShort(body))
		}
		if !strings.Contains(body, `alt="Photo"`) {
			t.Errorf("an untitled photo without caption has no alt text")
		}
	})
}

// "Shared with you" shows an album by its cover — the chosen one when the
// token may see it, else the first photo it may see — and lists the album's
// photos inside the album rather than beside it.
func TestSharedShowsAlbumCovers(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		a := gpNewAlbum(t, e)
		post := a.alice.post("Holiday plans", "We leave on Friday.")
		tk := a.alice.newToken(`{"name":"Grandma"}`)
		other := a.alice.newToken(`{"name":"Cousin"}`)
		a.alice.putACL(a.album, false, []int64{tk.ID, other.ID}, nil)
		a.alice.putACL(post, false, []int64{tk.ID}, nil)
		cover := func(cl *client) string {
			t.Helper()
			body := gtStatus(t, "/shared", gtGet(t, cl, "/shared"), http.StatusOK)
			m := regexp.MustCompile(fmt.Sprintf(`href="/items/%d">\s*(?:<img src="([^"]*)")?`, a.album)).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("/shared has no tile for the album:\n%s", gtShort(body))
			}
			for _, p := range a.photos {
				if strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, p)) {
					t.Errorf("/shared lists photo %d beside its album", p)
				}
			}
			return m[1]
		}
		thumb := func(id int64) string { return fmt.Sprintf("/media/%d/thumb", id) }
		grandma, cousin := e.client(), e.client()
		gtOpenLink(t, grandma, tk.Link)
		gtOpenLink(t, cousin, other.Link)

		if got := cover(grandma); got != thumb(a.photos[0]) {
			t.Errorf("without a chosen cover the album shows %q, want its first photo", got)
		}
		a.alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", a.album), fmt.Sprintf(`{"cover_id":%d}`, a.photos[2]), http.StatusOK)
		if got := cover(grandma); got != thumb(a.photos[2]) {
			t.Errorf("with a chosen cover the album shows %q, want %q", got, thumb(a.photos[2]))
		}
		// The chosen cover is denied to the cousin, and so is the first photo.
		a.alice.putACL(a.photos[2], false, nil, []int64{other.ID})
		a.alice.putACL(a.photos[0], false, nil, []int64{other.ID})
		if got := cover(cousin); got != thumb(a.photos[1]) {
			t.Errorf("the cousin's album shows %q, want the first photo the cousin may see, %q", got, thumb(a.photos[1]))
		}
		if got := cover(grandma); got != thumb(a.photos[2]) {
			t.Errorf("grandma's album shows %q after the cousin's denies", got)
		}
		body := gtStatus(t, "/shared", gtGet(t, grandma, "/shared"), http.StatusOK)
		if !strings.Contains(body, fmt.Sprintf(`href="/items/%d"`, post)) || !strings.Contains(body, "Holiday plans") {
			t.Errorf("/shared lacks the post")
		}
	})
}

// "Shared with you" in a browser that holds no link, or whose links have all
// ended, is a friendly page (200), not "not found".
func TestSharedWithoutALinkIsFriendly(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		const empty = "Nothing is shared with you in this browser yet."
		check := func(what string, cl *client) {
			t.Helper()
			resp := gtGet(t, cl, "/shared")
			body := gtStatus(t, what, resp, http.StatusOK)
			if !strings.Contains(body, empty) || !strings.Contains(body, "Open the link you were sent.") {
				t.Errorf("%s: not the empty page:\n%s", what, gtShort(body))
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "private, no-store" {
				t.Errorf("%s: Cache-Control %q", what, cc)
			}
			if strings.Contains(body, `class="btn btn-primary" href="/login"`) {
				t.Errorf("%s: the main action is the members' sign-in", what)
			}
		}
		check("a fresh browser", e.client())
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Soon gone", "x")
		tk := alice.share(p, "")
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
		check("a browser whose link was revoked", cl)
		m := e.client()
		e.member("bob")
		m.login("bob")
		check("a member without links", m)
	})
}

// Error pages offer the way on that fits the browser: a member goes back to
// their items, a browser holding a guest session to "Shared with you", and
// anyone else gets no button to the members' sign-in (only a small link).
// The page depends on the cookies only, never on a token's state: a revoked
// link and a missing item give the same browser the same page.
func TestErrorPagesFitTheViewer(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Private", "x")
		tk := alice.share(p, "")
		gone := alice.share(p, `{"name":"gone"}`)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", gone.ID), "", http.StatusNoContent)

		stranger := e.client()
		guest := e.client()
		gtOpenLink(t, guest, tk.Link)
		member := e.client()
		member.login("alice")

		signInButton := regexp.MustCompile(`class="btn[^"]*" href="/login"`)
		want := func(what string, cl *client, path string, status int, action string) string {
			t.Helper()
			body := gtStatus(t, what, gtGet(t, cl, path), status)
			if signInButton.MatchString(body) {
				t.Errorf("%s: a button to the members' sign-in", what)
			}
			has := regexp.MustCompile(`class="btn btn-primary" href="([^"]*)"`).FindStringSubmatch(body)
			switch {
			case action == "" && has != nil:
				t.Errorf("%s: a main button to %s, want none", what, has[1])
			case action != "" && (has == nil || has[1] != action):
				t.Errorf("%s: main button %v, want one to %s\n%s", what, has, action, gtShort(body))
			}
			return body
		}
		body := want("a stranger's missing item", stranger, "/items/999999", http.StatusNotFound, "")
		if !strings.Contains(body, `Members: <a href="/login">sign in</a>`) || !strings.Contains(body, "ask them for a new link") {
			t.Errorf("a stranger's 404:\n%s", gtShort(body))
		}
		want("a stranger's unknown page", stranger, "/no/such/page", http.StatusNotFound, "")
		want("a guest's missing item", guest, "/items/999999", http.StatusNotFound, "/shared")
		want("a guest's unknown page", guest, "/no/such/page", http.StatusNotFound, "/shared")
		want("a member's missing item", member, "/items/999999", http.StatusNotFound, "/")
		body = want("a member's unknown page", member, "/no/such/page", http.StatusNotFound, "/")
		if !strings.Contains(body, "Back to your items") {
			t.Errorf("a member's 404 does not offer their items")
		}

		// The same browser: a revoked link's item and a missing item.
		snap := func(cl *client, path string) gtSnap { return gtSnapshot(t, gtGet(t, cl, path)) }
		gtSameResponse(t, "a revoked link, then the item, in a guest's browser",
			snap(guest, fmt.Sprintf("/items/%d?zat=%s", p, gone.Token)), snap(guest, "/items/999999"))

		// 413 for a member's oversized form, with the way back.
		req := httptest.NewRequest(http.MethodPost, "/posts", strings.NewReader(url.Values{"title": {"x"}, "body": {strings.Repeat("b", 2<<20)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := member.do(req)
		body = gtStatus(t, "an oversized post", resp, http.StatusRequestEntityTooLarge)
		if !strings.Contains(body, "Too large") || !strings.Contains(body, `class="btn btn-primary" href="/"`) {
			t.Errorf("the 413 page:\n%s", gtShort(body))
		}

		// 429 after too many bad links from one network: a friendly page.
		const net = "203.0.113.77:1"
		cl := gtClientAt(e, net)
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			readBody(t, gtGet(t, cl, fmt.Sprintf("/items/%d?zat=hsg_bad%d", p, i)))
		}
		body = gtStatus(t, "a throttled network", gtGet(t, cl, gtLinkPath(t, tk.Link)), http.StatusTooManyRequests)
		if !strings.Contains(body, "Slow down") || signInButton.MatchString(body) {
			t.Errorf("the 429 page:\n%s", gtShort(body))
		}
	})
}

// Guest pages opt out of the back/forward cache: no-store, and the script
// that reloads a page the browser restored from it.
func TestGuestPagesAreNotRestoredFromTheBackForwardCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	alice := gtNewOwner(t, e, "alice")
	p := alice.post("Family news", "x")
	tk := alice.share(p, "")
	cl := e.client()
	_, page := gtOpenLink(t, cl, tk.Link)
	body := gtStatus(t, "the post", page, http.StatusOK)
	if cc := page.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("a guest page's Cache-Control is %q", cc)
	}
	if !strings.Contains(body, `<script src="/static/gallery.js" defer></script>`) {
		t.Fatalf("the guest page does not load gallery.js")
	}
	js := gtStatus(t, "gallery.js", gtGet(t, cl, "/static/gallery.js"), http.StatusOK)
	if !regexp.MustCompile(`(?s)addEventListener\('pageshow'.*persisted.*location\.reload\(\)`).MatchString(js) {
		t.Errorf("gallery.js has no pageshow handler that reloads a restored page")
	}
}

// The sharer's name and the link's note come with the item in the guest
// view's one statement: an edit of the note shows on the very next page.
func TestGuestPageShowsTheNoteAsEdited(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Trip", "We leave on Friday.")
		tk := alice.share(p, `{"note":"See you soon"}`)
		cl := e.client()
		_, page := gtOpenLink(t, cl, tk.Link)
		if body := gtStatus(t, "the post", page, http.StatusOK); !strings.Contains(body, "See you soon") || !strings.Contains(body, "Alice") {
			t.Fatalf("the guest page lacks the note or the sharer:\n%s", gtShort(body))
		}
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), `{"note":"Bring a coat"}`, http.StatusOK)
		body := gtStatus(t, "the post after the edit", gtGet(t, cl, fmt.Sprintf("/items/%d", p)), http.StatusOK)
		if !strings.Contains(body, "Bring a coat") || strings.Contains(body, "See you soon") {
			t.Errorf("the guest page after the note's edit:\n%s", gtShort(body))
		}
	})
}
