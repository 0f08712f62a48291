package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// galleryWorld is a served hub with an album of six photos (the first with
// GPS) shared with two tokens: Grandma may download and has a note and an
// expiry, the cousin may only look.
type galleryWorld struct {
	e       *env
	base    string
	o       *gtOwner
	album   int64
	photos  []int64
	grandma gtToken
	cousin  gtToken
}

func newGalleryWorld(t *testing.T) *galleryWorld {
	t.Helper()
	gps, err := os.ReadFile(gpsJPEG(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newEnv(t, "sqlite", withBaseURL(base))
	e.clock.Set(time.Now()) // the browser's cookies expire by the real clock
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	w := &galleryWorld{e: e, base: base, o: gtNewOwner(t, e, "olivia")}
	w.album = w.o.createAlbum("Marseille 2026")
	w.o.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", w.album), `{"body":"A week by the sea, with the whole family."}`, http.StatusOK)
	w.photos = append(w.photos, e.uploadPhoto(w.o.key, "Vieux-Port at sunset", gps, w.album))
	for i, title := range []string{"", "Calanque de Sugiton", "Notre-Dame de la Garde", "", "Le Panier"} {
		w.photos = append(w.photos, e.uploadPhoto(w.o.key, title, testJPEG(t, 480-i*40, 320+i*30), w.album))
	}
	until := e.clock.Now().Add(14 * 24 * time.Hour).UTC().Format(time.RFC3339)
	w.grandma = w.o.share(w.album, `{"name":"Grandma","can_download":true,"note":"For Grandma, with love. Print the ones you like!","expires_at":"`+until+`"}`)
	w.cousin = w.o.share(w.album, `{"name":"Cousin"}`)
	return w
}

// tabs is one headless Chromium whose tabs are fresh profiles (each its own
// browser context: no cookie is shared).
func tabs(t *testing.T) func() context.Context {
	t.Helper()
	exe := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	b := browser(t, ctx, exe)
	if err := chromedp.Do(b); err != nil {
		t.Fatal(err)
	}
	return func() context.Context {
		tab, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(tab); err != nil {
			t.Fatal(err)
		}
		return tab
	}
}

// emulate sizes the tab as atViewport does (browser_harness_test.go), as an
// action to chain.
func (vp viewport) emulate() chromedp.Action[chromedp.Void] {
	if vp.w < 600 {
		return chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(vp.w, vp.h)
}

type requests struct {
	mu   sync.Mutex
	urls []string
}

func recordRequests(t *testing.T, tab context.Context) *requests {
	t.Helper()
	r := &requests{}
	err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			r.mu.Lock()
			r.urls = append(r.urls, e.Request.URL)
			r.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *requests) saw(suffix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.urls {
		if strings.HasSuffix(u, suffix) {
			return true
		}
	}
	return false
}

// eval runs a JavaScript expression in the tab and fails the test on error.
func eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitTrue waits until the expression is true in the tab; it asks again
// across navigations (whose documents come and go under the check).
func waitTrue(t *testing.T, tab context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	screenshot(t, tab, "failed-"+strings.ReplaceAll(what, " ", "-"))
	t.Fatalf("%s: %s never held (last error %v)", what, js, last)
}

func do(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := steps(t, tab, what, actions...); err != nil {
		t.Fatal(err)
	}
}

// noSideScroll fails when the page is wider than the window.
func noSideScroll(t *testing.T, tab context.Context, what string) {
	t.Helper()
	if !eval[bool](t, tab, `document.documentElement.scrollWidth <= window.innerWidth`) {
		w := eval[int](t, tab, `document.documentElement.scrollWidth`)
		t.Errorf("%s: the page scrolls sideways (%d px wide)", what, w)
	}
}

const shownSrc = `(document.querySelector('#viewer .lb-stage img') || {}).getAttribute ? document.querySelector('#viewer .lb-stage img').getAttribute('src') : ''`

// The recipient's album at both viewports: a grid of several columns with
// the count, the sharer, the note and the expiry; the viewer over it moves
// with the arrow keys (and a swipe on the phone), preloads the next photo's
// large variant, keeps the focus inside and closes with Escape, giving the
// focus back; "Download all" is there for a token that may download, and
// its ZIP holds the album's photos without GPS; a token that may not
// download has no such button.
func TestBrowserGuestAlbum(t *testing.T) {
	w := newGalleryWorld(t)
	newTab := tabs(t)
	large := func(i int) string { return fmt.Sprintf("/media/%d/large", w.photos[i]) }
	for _, vp := range viewports {
		tab := newTab()
		reqs := recordRequests(t, tab)
		do(t, tab, "open the album link on the "+vp.name, vp.emulate(), chromedp.Navigate(w.grandma.Link), chromedp.WaitVisible(css(`.g-grid .g-tile img`)))
		if got := location(t, tab); got != fmt.Sprintf("%s/items/%d", w.base, w.album) {
			t.Fatalf("%s: the link landed on %s", vp.name, got)
		}
		waitTrue(t, tab, "thumbnails loaded", `Array.from(document.querySelectorAll('.g-tile img')).every(i => i.complete && i.naturalWidth > 0)`)
		cols := eval[int](t, tab, `getComputedStyle(document.querySelector('.g-grid')).gridTemplateColumns.split(' ').length`)
		switch {
		case vp.w < 600 && cols < 2:
			t.Errorf("phone: the grid has %d column(s), want at least 2", cols)
		case vp.w >= 600 && cols < 4:
			t.Errorf("desktop: the grid has %d columns, want at least 4", cols)
		}
		if tiles := eval[int](t, tab, `document.querySelectorAll('.g-grid .g-tile').length`); tiles != len(w.photos) {
			t.Errorf("%s: %d tiles, want %d", vp.name, tiles, len(w.photos))
		}
		head := eval[string](t, tab, `document.querySelector('.g-head').innerText`)
		for _, want := range []string{"Marseille 2026", "6 photos", "Shared by Olivia", "For Grandma, with love.", "Available until", "in 14 days", "A week by the sea"} {
			if !strings.Contains(head, want) {
				t.Errorf("%s: the album's head lacks %q:\n%s", vp.name, want, head)
			}
		}
		if n := eval[int](t, tab, fmt.Sprintf(`document.querySelectorAll('a[href="/items/%d/download"]').length`, w.album)); n != 1 {
			t.Errorf("%s: %d Download all buttons for a token that may download, want 1", vp.name, n)
		}
		noSideScroll(t, tab, vp.name+" album")
		screenshot(t, tab, "guest-album-"+vp.name)

		// The viewer.
		do(t, tab, "open the viewer", chromedp.Click(css(`.g-tile[data-index="0"]`)), chromedp.WaitVisible(css(`#viewer[open] .lb-stage img`)))
		if got := eval[string](t, tab, shownSrc); got != large(0) {
			t.Fatalf("%s: the viewer shows %q, want %q", vp.name, got, large(0))
		}
		// The next photo's large variant is asked for before anyone moves.
		waitTrue(t, tab, "the shown photo loaded", `document.querySelector('#viewer .lb-stage img').complete`)
		deadline := time.Now().Add(15 * time.Second)
		for !reqs.saw(large(1)) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !reqs.saw(large(1)) {
			t.Errorf("%s: the next photo's large variant %s was never requested while the first was shown", vp.name, large(1))
		}
		if c := eval[string](t, tab, `document.querySelector('#viewer .lb-count').textContent`); c != "Photo 1 of 6" {
			t.Errorf("%s: the viewer's count says %q", vp.name, c)
		}
		noSideScroll(t, tab, vp.name+" viewer")
		screenshot(t, tab, "guest-viewer-"+vp.name)

		do(t, tab, "arrow right", chromedp.KeyEvent(kb.ArrowRight))
		if got := eval[string](t, tab, shownSrc); got != large(1) {
			t.Errorf("%s: after → the viewer shows %q, want %q", vp.name, got, large(1))
		}
		do(t, tab, "arrow right again", chromedp.KeyEvent(kb.ArrowRight))
		if got := eval[string](t, tab, shownSrc); got != large(2) {
			t.Errorf("%s: after → → the viewer shows %q, want %q", vp.name, got, large(2))
		}
		do(t, tab, "arrow left", chromedp.KeyEvent(kb.ArrowLeft), chromedp.KeyEvent(kb.ArrowLeft))
		if got := eval[string](t, tab, shownSrc); got != large(0) {
			t.Errorf("%s: after ← ← the viewer shows %q, want %q", vp.name, got, large(0))
		}
		// At the first photo, ← stays there.
		do(t, tab, "arrow left at the start", chromedp.KeyEvent(kb.ArrowLeft))
		if got := eval[string](t, tab, shownSrc); got != large(0) {
			t.Errorf("%s: ← on the first photo shows %q", vp.name, got)
		}
		// The focus stays in the viewer, forwards and backwards.
		for i := 0; i < 6; i++ {
			do(t, tab, "tab", chromedp.KeyEvent(kb.Tab))
			if !eval[bool](t, tab, `document.getElementById('viewer').contains(document.activeElement)`) {
				t.Fatalf("%s: after %d Tab the focus left the viewer for %s", vp.name, i+1, eval[string](t, tab, `document.activeElement.outerHTML.slice(0, 80)`))
			}
		}
		for i := 0; i < 6; i++ {
			do(t, tab, "shift tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
			if !eval[bool](t, tab, `document.getElementById('viewer').contains(document.activeElement)`) {
				t.Fatalf("%s: after %d Shift+Tab the focus left the viewer", vp.name, i+1)
			}
		}
		if vp.w < 600 {
			// A swipe to the left shows the next photo, to the right the previous.
			swipe := func(fromX, toX float64) {
				t.Helper()
				y := float64(vp.h) / 2
				for _, p := range []input.DispatchTouchEventParams{
					{Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{{X: fromX, Y: y}}},
					{Type: input.DispatchTouchEventTypeTouchMove, TouchPoints: []*input.TouchPoint{{X: (fromX + toX) / 2, Y: y}}},
					{Type: input.DispatchTouchEventTypeTouchMove, TouchPoints: []*input.TouchPoint{{X: toX, Y: y}}},
					{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}},
				} {
					if _, err := chromedp.Call(tab, input.DispatchTouchEvent, p); err != nil {
						t.Fatalf("touch: %v", err)
					}
				}
			}
			swipe(320, 60)
			if got := eval[string](t, tab, shownSrc); got != large(1) {
				t.Errorf("phone: after a swipe to the left the viewer shows %q, want %q", got, large(1))
			}
			swipe(60, 320)
			if got := eval[string](t, tab, shownSrc); got != large(0) {
				t.Errorf("phone: after a swipe to the right the viewer shows %q, want %q", got, large(0))
			}
		}
		do(t, tab, "escape", chromedp.KeyEvent(kb.Escape))
		if eval[bool](t, tab, `document.getElementById('viewer').open`) {
			t.Errorf("%s: Escape did not close the viewer", vp.name)
		}
		if !eval[bool](t, tab, `document.activeElement === document.querySelector('.g-tile[data-index="0"]')`) {
			t.Errorf("%s: after Escape the focus is on %s, not the photo the viewer was opened from", vp.name, eval[string](t, tab, `document.activeElement.outerHTML.slice(0, 80)`))
		}

		if vp.w < 600 {
			continue
		}
		// Download all: the album's photos, none with GPS.
		href := eval[string](t, tab, `document.querySelector('a[href$="/download"]').getAttribute('href')`)
		cookies, err := getCookies(tab)
		if err != nil {
			t.Fatal(err)
		}
		// The page weight of the album as served: HTML, CSS and JS.
		weight := 0
		for _, path := range []string{fmt.Sprintf("/items/%d", w.album), "/static/style.css", "/static/gallery.js"} {
			n := len(fetchWithCookies(t, w.base+path, cookies))
			t.Logf("page weight: %s %d bytes", path, n)
			weight += n
		}
		t.Logf("page weight of the guest album (HTML + CSS + JS): %d bytes", weight)
		archive := fetchWithCookies(t, w.base+href, cookies)
		zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatalf("Download all is not a ZIP: %v", err)
		}
		if len(zr.File) != len(w.photos) {
			t.Errorf("the ZIP holds %d files, want the album's %d photos", len(zr.File), len(w.photos))
		}
		dir := t.TempDir()
		for i, f := range zr.File {
			want := fmt.Sprintf("photo-%d.jpg", w.photos[i])
			if f.Name != want {
				t.Errorf("ZIP entry %d is %q, want %q", i, f.Name, want)
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			path := filepath.Join(dir, filepath.Base(f.Name))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if hasGPS(t, path) {
				t.Errorf("%s in the ZIP carries GPS tags", f.Name)
			}
		}
	}

	// A token that may not download: no Download all.
	tab := newTab()
	do(t, tab, "the cousin opens the album", viewports[1].emulate(), chromedp.Navigate(w.cousin.Link), chromedp.WaitVisible(css(`.g-grid`)))
	if n := eval[int](t, tab, `document.querySelectorAll('a[href$="/download"]').length`); n != 0 {
		t.Errorf("a token that may not download sees %d download buttons", n)
	}
}

// The other pages a recipient sees, on the phone: a photo page (with
// previous and next, and the arrow keys), a post, "Shared with you" with the
// album's chosen cover, the landing page of a password link, the empty
// "Shared with you" of a browser without a link, and "not found".
func TestBrowserGuestPages(t *testing.T) {
	w := newGalleryWorld(t)
	newTab := tabs(t)
	phone := viewports[1]
	post := w.o.post("Holiday plans", "We leave on Friday at dawn.\n\nBring a hat, the sun is strong in July, and the boat to the calanques leaves at nine sharp.")
	w.o.putACL(post, false, []int64{w.grandma.ID}, nil)
	w.o.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", w.album), fmt.Sprintf(`{"cover_id":%d}`, w.photos[3]), http.StatusOK)

	tab := newTab()
	do(t, tab, "open the link", phone.emulate(), chromedp.Navigate(w.grandma.Link), chromedp.WaitVisible(css(`.g-grid`)))

	// A photo's page.
	photoPath := fmt.Sprintf("/items/%d", w.photos[2])
	do(t, tab, "a photo page", chromedp.Navigate(w.base+photoPath), chromedp.WaitVisible(css(`img.photo-large`)))
	waitTrue(t, tab, "the photo loaded", `document.querySelector('img.photo-large').complete`)
	for rel, i := range map[string]int{"prev": 1, "next": 3} {
		sel := fmt.Sprintf(`a[rel=%s][href="/items/%d"]`, rel, w.photos[i])
		if n := eval[int](t, tab, fmt.Sprintf(`document.querySelectorAll('%s').length`, sel)); n != 1 {
			t.Errorf("the photo page has no %s link to photo %d", rel, w.photos[i])
		}
	}
	if text := eval[string](t, tab, `document.querySelector('main').innerText`); !strings.Contains(text, "Photo 3 of 6") || !strings.Contains(text, "Marseille 2026") {
		t.Errorf("the photo page does not place the photo in its album:\n%s", text)
	}
	noSideScroll(t, tab, "photo page")
	screenshot(t, tab, "guest-photo-phone")
	do(t, tab, "arrow right on a photo page", chromedp.KeyEvent(kb.ArrowRight))
	waitTrue(t, tab, "the next photo page", fmt.Sprintf(`location.pathname === '/items/%d'`, w.photos[3]))

	// A post.
	do(t, tab, "a post", chromedp.Navigate(fmt.Sprintf("%s/items/%d", w.base, post)), chromedp.WaitVisible(css(`.g-post`)))
	if text := eval[string](t, tab, `document.querySelector('.g-post').innerText`); !strings.Contains(text, "Holiday plans") || !strings.Contains(text, "Shared by Olivia") {
		t.Errorf("the post page:\n%s", text)
	}
	noSideScroll(t, tab, "post page")
	screenshot(t, tab, "guest-post-phone")

	// Shared with you: the album shows its chosen cover.
	do(t, tab, "shared with you", chromedp.Navigate(w.base+"/shared"), chromedp.WaitVisible(css(`.g-shared`)))
	cover := eval[string](t, tab, fmt.Sprintf(`(document.querySelector('a[href="/items/%d"] img') || {src: ''}).getAttribute ? document.querySelector('a[href="/items/%d"] img').getAttribute('src') : ''`, w.album, w.album))
	if want := fmt.Sprintf("/media/%d/thumb", w.photos[3]); cover != want {
		t.Errorf("the album's tile in Shared with you shows %q, want its cover %q", cover, want)
	}
	waitTrue(t, tab, "the cover loaded", `Array.from(document.querySelectorAll('.g-shared img')).every(i => i.complete && i.naturalWidth > 0)`)
	noSideScroll(t, tab, "shared with you")
	screenshot(t, tab, "guest-shared-phone")

	// A link with a password: its landing page, then the album.
	pw := w.o.share(w.album, `{"name":"Neighbour","password":"open sesame 42","note":"The photos from the street party."}`)
	lt := newTab()
	do(t, lt, "a password link", phone.emulate(), chromedp.Navigate(pw.Link), chromedp.WaitVisible(css(`#open-password`)))
	if n := eval[int](t, lt, `document.querySelectorAll('label[for="open-password"]').length`); n != 1 {
		t.Errorf("the password field has no label")
	}
	noSideScroll(t, lt, "landing")
	screenshot(t, lt, "guest-landing-phone")
	do(t, lt, "enter the password", chromedp.SendKeys(css(`#open-password`), "open sesame 42"), chromedp.Submit(css(`#open-password`)), chromedp.WaitVisible(css(`.g-grid`)))

	// A browser that holds no link.
	et := newTab()
	do(t, et, "shared with you, no link", phone.emulate(), chromedp.Navigate(w.base+"/shared"), chromedp.WaitVisible(css(`.g-empty`)))
	if text := eval[string](t, et, `document.querySelector('main').innerText`); !strings.Contains(text, "Nothing is shared with you in this browser yet.") || !strings.Contains(text, "Open the link you were sent.") {
		t.Errorf("the empty Shared with you:\n%s", text)
	}
	screenshot(t, et, "guest-shared-empty-phone")

	// Not found: no main button to the members' sign-in for a stranger; the
	// guest is offered Shared with you.
	do(t, et, "not found", chromedp.Navigate(w.base+"/items/999999"), chromedp.WaitVisible(css(`h1`)))
	if h := eval[string](t, et, `document.querySelector('h1').textContent`); h != "Not found" {
		t.Errorf("a missing item's page says %q", h)
	}
	if n := eval[int](t, et, `document.querySelectorAll('.btn[href="/login"], .btn-primary[href="/login"]').length`); n != 0 {
		t.Errorf("a stranger's 404 has a button to the sign-in page")
	}
	noSideScroll(t, et, "404")
	screenshot(t, et, "error-404-phone")
	do(t, tab, "not found as a guest", chromedp.Navigate(w.base+"/items/999999"), chromedp.WaitVisible(css(`h1`)))
	if n := eval[int](t, tab, `document.querySelectorAll('.btn-primary[href="/shared"]').length`); n != 1 {
		t.Errorf("a guest's 404 does not offer Shared with you")
	}
}

// After a revoke the guest's Back button shows nothing of the item: the
// photo page is not restored from the back/forward cache.
func TestBrowserBackAfterRevokeShowsNothing(t *testing.T) {
	w := newGalleryWorld(t)
	newTab := tabs(t)
	photo := w.photos[2]
	tk := w.o.share(photo, `{"name":"Neighbour"}`)
	tab := newTab()
	photoPath := fmt.Sprintf("/items/%d", photo)
	do(t, tab, "open the photo link", viewports[1].emulate(), chromedp.Navigate(tk.Link), chromedp.WaitVisible(css(`img.photo-large`)))
	waitTrue(t, tab, "the photo loaded", `document.querySelector('img.photo-large').complete`)
	if got := location(t, tab); got != w.base+photoPath {
		t.Fatalf("the link landed on %s", got)
	}
	do(t, tab, "go to Shared with you", chromedp.Navigate(w.base+"/shared"), chromedp.WaitVisible(css(`h1`)))
	if _, err := chromedp.Run(tab, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	w.o.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
	// Back, as the browser's button does (without waiting for a load event:
	// a page restored from the back/forward cache fires none).
	eval[bool](t, tab, `history.back(), true`)
	waitTrue(t, tab, "the page after Back", `location.pathname === '`+photoPath+`' && document.readyState === 'complete' && !!document.querySelector('h1') && document.querySelector('h1').textContent === 'Not found'`)
	if n := eval[int](t, tab, fmt.Sprintf(`document.querySelectorAll('img[src*="/media/%d/"]').length`, photo)); n != 0 {
		t.Errorf("after Back the page still holds %d image(s) of the photo", n)
	}
	screenshot(t, tab, "guest-back-after-revoke-phone")
}
