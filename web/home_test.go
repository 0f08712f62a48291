package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hubshare/app"
	"hubshare/content"
)

// homeUpload posts the home page's upload form (the CSRF field first, as
// the page has it) with the files and fields given.
func homeUpload(t *testing.T, cl *client, fields map[string]string, files ...formPart) *http.Response {
	t.Helper()
	parts := []formPart{{"_csrf", "", []byte(cl.csrf("/"))}}
	for k, v := range fields {
		parts = append(parts, formPart{k, "", []byte(v)})
	}
	parts = append(parts, files...)
	body, ct := orderedMultipart(t, parts...)
	return cl.do(uploadRequest("/upload", body, ct))
}

func homeTitles(t *testing.T, e *env, owner int64) []string {
	t.Helper()
	items, err := e.cs.Items(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Title)
	}
	return out
}

// Creating a post answers 303 to the home page, which shows it: reloading
// that page (a GET) creates nothing more.
func TestHomeFormsRedirectAfterPost(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		resp, _ := pagesPost(t, cl, "/", "/posts", url.Values{"title": {"Beach day"}, "body": {"Sand."}}, http.StatusSeeOther)
		loc := resp.Header.Get("Location")
		for range 2 { // the page and its reload
			pagesContains(t, "home after a post", pagesOK(t, cl, loc), "Saved.", "Beach day")
		}
		if got := homeTitles(t, e, alice.ID); len(got) != 1 {
			t.Fatalf("items after a post and a reload: %q", got)
		}
		// The upload form too: 303, never a page answering the POST.
		resp = homeUpload(t, cl, nil, formPart{"file", "IMG_1.jpg", testJPEG(t, 40, 30)}, formPart{"file", "IMG_2.jpg", testJPEG(t, 40, 30)})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?done=saved&saved=2" {
			t.Fatalf("upload: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		pagesContains(t, "home after an upload", pagesOK(t, cl, "/?done=saved&saved=2"), "2 photos saved.", "IMG_1", "IMG_2")
		if got := homeTitles(t, e, alice.ID); len(got) != 3 {
			t.Fatalf("items after the upload and a reload: %q", got)
		}
	})
}

// A file over the limit is refused as too large whatever it holds, with
// the same status and message from the web form and the API.
func TestUploadOverTheLimitIs413OnBothRoutes(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		text := []byte(strings.Repeat("not a picture, only words\n", (3<<20)/26))
		want := fmt.Sprintf("The photo is larger than the limit of %d MiB.", e.cfg.MaxUpload>>20)

		resp := homeUpload(t, cl, nil, formPart{"file", "notes.txt", text})
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("web form: status %d, want 413\n%s", resp.StatusCode, gtShort(body))
		}
		pagesContains(t, "refused upload", body, "notes.txt", want, `action="/upload"`)

		tok := e.apiToken(alice, "write")
		apiBody, ct := orderedMultipart(t, formPart{"file", "notes.txt", text})
		req := uploadRequest("/api/v1/photos", apiBody, ct)
		req.Header.Set("Authorization", "Bearer "+tok)
		aresp, err := e.test(req)
		if err != nil {
			t.Fatal(err)
		}
		got := readBody(t, aresp)
		if aresp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, want) {
			t.Fatalf("API: %d %s, want 413 %q", aresp.StatusCode, got, want)
		}
		// Chunked, the API cannot refuse it up front: the same answer while streaming.
		req = uploadRequest("/api/v1/photos", apiBody, ct)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.ContentLength = -1
		req.Header.Del("Content-Length")
		req.TransferEncoding = []string{"chunked"}
		aresp, err = e.test(req)
		if err != nil {
			t.Fatal(err)
		}
		got = readBody(t, aresp)
		if aresp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, want) {
			t.Fatalf("API, chunked: %d %s, want 413 %q", aresp.StatusCode, got, want)
		}
		if n := e.countItems(); n != 0 || len(e.mediaFiles()) != 0 {
			t.Fatalf("a refused upload left %d items and files %v", n, e.mediaFiles())
		}
	}, func(c *app.Config) { c.MaxUpload = 1 << 20 })
}

// One bad file among good ones: the good ones are saved (titled after their
// files), the page they land on names the bad one with its reason.
func TestUploadKeepsTheGoodFiles(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		resp := homeUpload(t, cl, nil,
			formPart{"file", "IMG_2041.jpg", testJPEG(t, 40, 30)},
			formPart{"file", "IMG_1.txt", []byte("only text\n")},
			formPart{"file", "IMG_2042.JPG", testJPEG(t, 30, 40)})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("upload with one bad file: %d\n%s", resp.StatusCode, gtShort(readBody(t, resp)))
		}
		loc := resp.Header.Get("Location")
		body := pagesOK(t, cl, loc)
		pagesContains(t, "home after the upload", body, "2 photos saved.", "Not saved:", `<span class="fname">IMG_1.txt</span>: not a supported image`,
			"IMG_2041", "IMG_2042")
		if got := strings.Join(homeTitles(t, e, alice.ID), ","); got != "IMG_2042,IMG_2041" {
			t.Fatalf("saved photos: %q", got)
		}
		// Only fixed reasons travel in the URL.
		pagesLacks(t, "forged summary", pagesOK(t, cl, "/?done=saved&saved=1&refused="+url.QueryEscape("x.jpg:Your account is locked")), "account is locked")

		// Every file bad: nothing saved, the form again with each reason.
		resp = homeUpload(t, cl, nil, formPart{"file", "a.txt", []byte("text")}, formPart{"file", "b.txt", []byte("text")})
		body = readBody(t, resp)
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("all bad: %d", resp.StatusCode)
		}
		pagesContains(t, "refused upload", body, "Nothing was saved.", "a.txt", "b.txt", "The file is not a JPEG, PNG, GIF or WebP image.", `action="/upload"`)
		if got := homeTitles(t, e, alice.ID); len(got) != 2 {
			t.Fatalf("items after a refused upload: %q", got)
		}

		// The page's script: one file a request, a JSON result for each.
		for _, c := range []struct {
			name   string
			data   []byte
			status int
			want   string
		}{
			{"IMG_3000.jpeg", testJPEG(t, 20, 20), http.StatusCreated, `"title":"IMG_3000"`},
			{"IMG_1.txt", []byte("text"), http.StatusUnsupportedMediaType, `"message":"The file is not a JPEG, PNG, GIF or WebP image."`},
		} {
			body, ct := orderedMultipart(t, formPart{"title", "", nil}, formPart{"file", c.name, c.data})
			req := uploadRequest("/upload", body, ct)
			req.Header.Set("X-CSRF-Token", cl.csrf("/"))
			req.Header.Set("Accept", "application/json")
			resp := cl.do(req)
			if got := readBody(t, resp); resp.StatusCode != c.status || !strings.Contains(got, c.want) {
				t.Errorf("script upload of %s: %d %s", c.name, resp.StatusCode, got)
			}
		}
	})
}

// An untitled upload is named after its file, on the web form and the API;
// a title given wins.
func TestUploadedPhotoIsTitledAfterItsFile(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		tok := e.apiToken(alice, "write")
		for _, c := range []struct{ file, title, want string }{
			{"IMG_2041.jpg", "", "IMG_2041"},
			{"holiday.2026.png.jpg", "  ", "holiday.2026.png"},
			{"beach.jpg", "Beach", "Beach"},
		} {
			body, ct := orderedMultipart(t, formPart{"title", "", []byte(c.title)}, formPart{"file", c.file, testJPEG(t, 20, 20)})
			req := uploadRequest("/api/v1/photos", body, ct)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := e.test(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readBody(t, resp); resp.StatusCode != http.StatusCreated || !strings.Contains(got, `"title":"`+c.want+`"`) {
				t.Errorf("API upload of %q titled %q: %d %s, want title %q", c.file, c.title, resp.StatusCode, got, c.want)
			}
		}
		cl := e.client()
		cl.login("alice")
		resp := homeUpload(t, cl, nil, formPart{"file", "IMG_0007.webp.jpg", testJPEG(t, 20, 20)})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("web upload: %d", resp.StatusCode)
		}
		items, _ := e.cs.Items(context.Background(), alice.ID)
		if items[0].Title != "IMG_0007.webp" {
			t.Fatalf("web upload titled %q", items[0].Title)
		}
		// The one label: the grid and the item page say the same.
		pagesContains(t, "home", pagesOK(t, cl, "/"), `<span class="tile-title">IMG_0007.webp</span>`)
		pagesContains(t, "item page", pagesOK(t, cl, fmt.Sprintf("/items/%d", items[0].ID)), "<h1>IMG_0007.webp</h1>")
	})
}

// An album on the home page shows its cover: the chosen photo, else its first.
func TestHomeShowsAlbumCovers(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		album, err := e.cs.CreateAlbum(ctx, alice.ID, "Holidays")
		if err != nil {
			t.Fatal(err)
		}
		empty, _ := e.cs.CreateAlbum(ctx, alice.ID, "Empty")
		first := pagesPhoto(t, e, alice.ID, "First", &album.ID)
		second := pagesPhoto(t, e, alice.ID, "Second", &album.ID)
		tile := func(body string, id int64) string {
			i := strings.Index(body, fmt.Sprintf(`<a class="tile-main" href="/items/%d">`, id))
			if i < 0 {
				t.Fatalf("no tile for %d", id)
			}
			return body[i : i+strings.Index(body[i:], "</a>")]
		}
		body := pagesOK(t, cl, "/")
		pagesContains(t, "album tile", tile(body, album.ID), fmt.Sprintf(`src="/media/%d/thumb"`, first.ID))
		pagesContains(t, "empty album tile", tile(body, empty.ID), "tile-icon-album")
		if _, err := e.cs.EditItem(ctx, alice.ID, album.ID, content.ItemEdit{SetCover: true, CoverID: &second.ID}); err != nil {
			t.Fatal(err)
		}
		pagesContains(t, "album tile with a cover", tile(pagesOK(t, cl, "/"), album.ID), fmt.Sprintf(`src="/media/%d/thumb"`, second.ID))
	})
}

// Refused files do not end a form's upload, so a body without a length is
// bounded as a whole: past the limit of the upload it is refused with 413
// and nothing is kept.
func TestUploadFormBoundsTheWholeBody(t *testing.T) {
	e := newEnv(t, "sqlite", func(c *app.Config) { c.MaxUpload = 64 << 10 })
	e.member("alice")
	cl := e.client()
	cl.login("alice")
	parts := []formPart{{"_csrf", "", []byte(cl.csrf("/"))}, {"file", "IMG_1.jpg", testJPEG(t, 20, 20)}}
	big := []byte(strings.Repeat("x", 100<<10))
	for i := range 45 { // 45 × 100 KiB, over 50 × 64 KiB + 1 MiB
		parts = append(parts, formPart{"file", fmt.Sprintf("notes-%d.txt", i), big})
	}
	body, ct := orderedMultipart(t, parts...)
	req := uploadRequest("/upload", body, ct)
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	resp := cl.do(req)
	got := readBody(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, "The upload is larger than the limit") {
		t.Fatalf("an endless form upload: %d\n%s", resp.StatusCode, gtShort(got))
	}
	if n := e.countItems(); n != 0 || len(e.mediaFiles()) != 0 {
		t.Fatalf("an upload over the limit left %d items and files %v", n, e.mediaFiles())
	}
}
