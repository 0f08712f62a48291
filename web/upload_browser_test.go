package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubshare/content"
)

// obUpload picks files in the home page's upload form and sends them with
// its button (the page's script: one request a file, with progress), then
// waits until every file has its result.
func obUpload(t *testing.T, ctx context.Context, files []string) {
	t.Helper()
	err := steps(t, ctx, "upload "+strings.Join(files, " "),
		chromedp.SetUploadFiles(css(`#upload-files`), files),
		chromedp.Click(css(`form[data-upload] button[type=submit]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('.upload-list li.is-done, .upload-list li.is-refused').length === %d`, len(files))),
	)
	if err != nil {
		t.Fatal(err)
	}
}

// obNoSideScroll fails when the page is wider than the phone.
func obNoSideScroll(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if w > 390 {
		t.Errorf("%s scrolls sideways on a phone: %d px wide", what, w)
	}
}

func obWriteJPEG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, testJPEG(t, w, h), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrowserOwnerManagesItems walks the owner's part in a real browser at
// 1280×800 and 390×844: upload three files at once (one of them text) with
// a progress bar and a result each; edit a photo's title and caption, move
// it into an album, set the album's cover; delete a post after the
// confirmation; on the phone the items come before the create forms and no
// page scrolls sideways.
func TestBrowserOwnerManagesItems(t *testing.T) {
	exe := chromiumPath(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newEnv(t, "sqlite", withBaseURL(base))
	e.clock.Set(time.Now())
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	olivia := e.member("olivia")
	bg := context.Background()
	album, err := e.cs.CreateAlbum(bg, olivia.ID, "Marseille 2026")
	if err != nil {
		t.Fatal(err)
	}
	post, _ := e.cs.CreatePost(bg, olivia.ID, "Packing list", "Sun cream, hats.")
	post2, _ := e.cs.CreatePost(bg, olivia.ID, "Old draft", "To delete.")
	// A long name without spaces, in the grid and in every album picker.
	if _, err := e.cs.CreateAlbum(bg, olivia.ID, strings.Repeat("Longnamewithoutanyspaces", 4)+"1234"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := filepath.Join(dir, "IMG_1.txt")
	os.WriteFile(text, []byte("these are notes, not a picture\n"), 0o644)
	files := []string{obWriteJPEG(t, dir, "IMG_2041.jpg", 1200, 900), text, obWriteJPEG(t, dir, "IMG_2042.jpg", 900, 1200)}

	ctx, cancel := context.WithTimeout(bg, 3*time.Minute)
	defer cancel()
	b := browser(t, ctx, exe)
	err = steps(t, b, "sign in",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name=handle]`), "olivia"),
		chromedp.SendKeys(css(`input[name=password]`), "password-olivia"),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`form[data-upload]`)),
	)
	if err != nil {
		t.Fatal(err)
	}

	// Desktop: three files at once, one of them text.
	obUpload(t, b, files)
	rows, err := chromedp.Run(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.upload-list li')).map(li => li.className + ' | ' + li.innerText.replace(/\s+/g, ' ').trim() + ' | ' + (li.querySelector('progress') ? li.querySelector('progress').value : ''))`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upload results: %q", rows)
	if len(rows) != 4 || !strings.Contains(rows[0], "is-done") || !strings.Contains(rows[0], "Saved as IMG_2041") || !strings.HasSuffix(rows[0], "| 100") ||
		!strings.Contains(rows[1], "is-refused") || !strings.Contains(rows[1], "IMG_1.txt") || !strings.Contains(rows[1], "not a JPEG, PNG, GIF or WebP") ||
		!strings.Contains(rows[2], "Saved as IMG_2042") || !strings.Contains(rows[3], "2 saved, 1 not saved") {
		t.Fatalf("per-file results: %q", rows)
	}
	items, _ := e.cs.Items(bg, olivia.ID)
	var photos []content.Item
	for _, it := range items {
		if it.Kind == content.KindPhoto {
			photos = append(photos, it)
		}
	}
	if len(photos) != 2 || photos[0].Title != "IMG_2042" || photos[1].Title != "IMG_2041" {
		t.Fatalf("saved photos: %+v", photos)
	}
	photo, other := photos[1], photos[0]
	photoPage, albumPage := fmt.Sprintf("%s/items/%d", base, photo.ID), fmt.Sprintf("%s/items/%d", base, album.ID)

	// Edit the title and caption, then move it into the album.
	err = steps(t, b, "edit the photo",
		chromedp.Navigate(photoPage),
		chromedp.SetValue(css(`#edit-title`), "Vieux-Port at dusk"),
		chromedp.SetValue(css(`#edit-body`), "From the ferry."),
		chromedp.Click(css(`form[action$="/edit"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
		chromedp.Navigate(photoPage),
		chromedp.SetValue(css(`#move-album`), fmt.Sprint(album.ID)),
		chromedp.Click(css(`form[action$="/album"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	head, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector('h1').innerText + ' | ' + document.querySelector('.caption').innerText + ' | ' + document.querySelector('.crumbs').innerText`))
	if err != nil || head != "Vieux-Port at dusk | From the ferry. | ← Marseille 2026" {
		t.Fatalf("photo page after the edits: %q %v", head, err)
	}
	screenshot(t, b, "owner-item-photo-desktop")

	// The other photo into the album too, then make it the cover.
	err = steps(t, b, "set the cover",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", base, other.ID)),
		chromedp.SetValue(css(`#move-album`), fmt.Sprint(album.ID)),
		chromedp.Click(css(`form[action$="/album"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
		chromedp.Navigate(albumPage),
		chromedp.SetValue(css(`#cover-photo`), fmt.Sprint(other.ID)),
		chromedp.Click(css(`form[action$="/cover"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`.gallery a.is-cover[href="/items/%d"]`, other.ID))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if it, _ := e.cs.Item(bg, olivia.ID, album.ID); it.CoverID == nil || *it.CoverID != other.ID {
		t.Fatalf("album cover: %v", it.CoverID)
	}

	// Delete with the dialog (accepted, as a person would).
	err = steps(t, b, "delete with the dialog",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", base, post2.ID)),
		chromedp.Click(css(`form[action$="/delete"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if loc := location(t, b); loc != base+"/?done=deleted" {
		t.Fatalf("after the dialog the owner is at %s", loc)
	}
	if _, err := e.cs.Item(bg, olivia.ID, post2.ID); err == nil {
		t.Fatal("the post deleted through the dialog is still there")
	}

	// The home page: album with its cover, forms visible on the desktop.
	err = steps(t, b, "home on the desktop",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(css(fmt.Sprintf(`a[href="/items/%d"] .tile-cover img[src="/media/%d/thumb"]`, album.ID, other.ID))),
		chromedp.WaitVisible(css(`form[action="/posts"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, b, "owner-home-desktop")

	// The phone.
	if err := chromedp.Do(b, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`.create-bar`))); err != nil {
		t.Fatal(err)
	}
	order, err := chromedp.Run(b, chromedp.Evaluate[string](`(() => {
		const items = document.querySelector('.home-items').getBoundingClientRect().top;
		const forms = Array.from(document.querySelectorAll('.create-panel')).filter(f => f.offsetParent !== null);
		return forms.length ? 'forms shown: ' + forms.map(f => f.id + '@' + f.getBoundingClientRect().top + ' items@' + items).join(', ') : 'tucked';
	})()`))
	if err != nil || order != "tucked" {
		t.Fatalf("phone home: the create forms are not tucked away: %q %v", order, err)
	}
	obNoSideScroll(t, b, "home")
	screenshot(t, b, "owner-home-phone")

	// Upload from the phone: the button reveals the form (no script needed).
	err = steps(t, b, "open the upload form on the phone",
		chromedp.Click(css(`.create-bar a[href="#upload"]`)),
		chromedp.WaitVisible(css(`#upload-files`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	obUpload(t, b, []string{obWriteJPEG(t, dir, "IMG_3001.jpg", 640, 480), text, obWriteJPEG(t, dir, "IMG_3002.jpg", 480, 640)})
	n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll('.upload-list li.is-done').length * 10 + document.querySelectorAll('.upload-list li.is-refused').length`))
	if err != nil || n != 21 {
		t.Fatalf("phone upload: %d saved×10+refused, %v", n, err)
	}
	obNoSideScroll(t, b, "upload results")
	// The full-page screenshot starts at the top (the sticky bar stays there).
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, b, "owner-upload-result-phone")

	if err := chromedp.Do(b, chromedp.Navigate(albumPage), chromedp.WaitVisible(css(`.gallery .is-cover`))); err != nil {
		t.Fatal(err)
	}
	obNoSideScroll(t, b, "album page")
	screenshot(t, b, "owner-item-album-phone")
	if err := chromedp.Do(b, chromedp.Navigate(photoPage), chromedp.WaitVisible(css(`#edit-title`))); err != nil {
		t.Fatal(err)
	}
	obNoSideScroll(t, b, "photo page")

	// Delete a post through the confirmation page (what works without script).
	err = steps(t, b, "delete after the confirmation page",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d/delete", base, post.ID)),
		chromedp.WaitVisible(css(`.confirm-delete button[type=submit]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	obNoSideScroll(t, b, "delete confirmation")
	screenshot(t, b, "owner-delete-confirm-phone")
	err = steps(t, b, "confirm the delete",
		chromedp.Click(css(`.confirm-delete button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.Item(bg, olivia.ID, post.ID); err == nil {
		t.Fatal("the confirmed delete left the post")
	}
}
