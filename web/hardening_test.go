package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app"
)

// formPart is one part of a multipart body, in the order written.
type formPart struct {
	name, filename string
	data           []byte
}

// orderedMultipart encodes the parts in order and returns the body and its
// content type.
func orderedMultipart(t *testing.T, parts ...formPart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		var err error
		if p.filename != "" {
			var fw io.Writer
			if fw, err = w.CreateFormFile(p.name, p.filename); err == nil {
				_, err = fw.Write(p.data)
			}
		} else {
			err = w.WriteField(p.name, string(p.data))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

func uploadRequest(path string, body []byte, contentType string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return req
}

// The web upload form: the token travels in a part before the file (or in
// the header); a token after the file, or only in the URL, is refused with
// 403 and nothing is stored.
func TestUploadFormTokenComesBeforeTheFile(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		token := cl.csrf("/")
		photo := testJPEG(t, 40, 30)
		file := formPart{"file", "a.jpg", photo}
		tok := formPart{"_csrf", "", []byte(token)}
		title := formPart{"title", "", []byte("Lake")}

		refused := []struct {
			what string
			req  func() *http.Request
		}{
			{"the token after the file", func() *http.Request {
				b, ct := orderedMultipart(t, title, file, tok)
				return uploadRequest("/upload", b, ct)
			}},
			{"the token only in the URL", func() *http.Request {
				b, ct := orderedMultipart(t, title, file)
				return uploadRequest("/upload?_csrf="+url.QueryEscape(token), b, ct)
			}},
			{"no token at all", func() *http.Request {
				b, ct := orderedMultipart(t, title)
				return uploadRequest("/upload", b, ct)
			}},
			{"a wrong token before the file", func() *http.Request {
				b, ct := orderedMultipart(t, formPart{"_csrf", "", []byte(strings.Repeat("A", len(token)))}, file)
				return uploadRequest("/upload", b, ct)
			}},
		}
		for _, r := range refused {
			resp := cl.do(r.req())
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
				t.Errorf("upload with %s: status %d\n%s", r.what, resp.StatusCode, body)
			}
		}
		if n := e.countItems(); n != 0 {
			t.Fatalf("%d items after refused uploads", n)
		}
		if files := e.mediaFiles(); len(files) != 0 {
			t.Fatalf("files left behind by refused uploads: %v", files)
		}

		// As the form on the home page sends it: the token first.
		b, ct := orderedMultipart(t, tok, file, title)
		resp := cl.do(uploadRequest("/upload", b, ct))
		if body := readBody(t, resp); resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/share") {
			t.Fatalf("upload with the token before the file: status %d location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		// A script may send it in the header instead.
		b, ct = orderedMultipart(t, file)
		req := uploadRequest("/upload", b, ct)
		req.Header.Set("X-CSRF-Token", token)
		resp = cl.do(req)
		if body := readBody(t, resp); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("upload with the token in the header: status %d\n%s", resp.StatusCode, body)
		}
		if n := e.countItems(); n != 2 {
			t.Fatalf("%d items after two uploads, want 2", n)
		}
	})
}

// A multipart body that ends before its closing boundary is the client's
// fault: 400 malformed, with no row and no file left, wherever it is cut.
func TestCutOffMultipartIs400(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		secret := e.apiToken(alice, "write")
		cl := e.client()
		cl.login("alice")
		token := cl.csrf("/")
		photo := testJPEG(t, 300, 200)

		full, ct := orderedMultipart(t, formPart{"_csrf", "", []byte(token)}, formPart{"title", "", []byte("Cut")}, formPart{"file", "a.jpg", photo})
		fileStart := bytes.Index(full, photo)
		fileEnd := fileStart + len(photo)
		cuts := map[string]int{
			"in the file's first bytes":             fileStart + 40,
			"in the middle of the file":             fileStart + len(photo)/2,
			"after the file, before its boundary":   fileEnd,
			"in the closing boundary":               fileEnd + 5,
			"in the headers of the file's part":     fileStart - 20,
			"one byte short of the closing newline": len(full) - 3,
		}
		for what, n := range cuts {
			body := full[:n]
			resp := cl.do(uploadRequest("/upload", body, ct))
			got := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "cut off") {
				t.Errorf("form upload cut %s: status %d\n%s", what, resp.StatusCode, got)
			}

			req := uploadRequest("/api/v1/photos", body, ct)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := e.test(req)
			if err != nil {
				t.Fatal(err)
			}
			got = readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, `"code":"malformed"`) || !strings.Contains(got, "cut off") {
				t.Errorf("API upload cut %s: status %d %s", what, resp.StatusCode, got)
			}
		}
		if n := e.countItems(); n != 0 {
			t.Fatalf("%d items after cut-off uploads", n)
		}
		if files := e.mediaFiles(); len(files) != 0 {
			t.Fatalf("files left behind by cut-off uploads: %v", files)
		}
		// The whole body goes through.
		resp := cl.do(uploadRequest("/upload", full, ct))
		if got := readBody(t, resp); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the whole upload: status %d\n%s", resp.StatusCode, got)
		}
	})
}

// A browser whose session expired signs in at the first attempt: the form it
// is shown is bound to what it holds after that response, not to the
// session cookie the response clears.
func TestFirstSignInAfterSessionExpiry(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		for _, start := range []string{"/", "/login", "/settings/tokens"} {
			cl := e.client()
			cl.login("alice")
			e.clock.Advance(app.SessionIdleTimeout + time.Minute)

			// The browser opens a page with its expired cookie and follows
			// the redirects to the sign-in form.
			path := start
			var page string
			for hops := 0; ; hops++ {
				resp := cl.get(path)
				if resp.StatusCode == http.StatusSeeOther && hops < 3 {
					readBody(t, resp)
					path = resp.Header.Get("Location")
					continue
				}
				page = readBody(t, resp)
				if resp.StatusCode != http.StatusOK || path != "/login" {
					t.Fatalf("from %s with an expired session: status %d at %s", start, resp.StatusCode, path)
				}
				break
			}
			m := csrfRE.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("from %s: the sign-in page has no CSRF token", start)
			}
			// It submits the form with the cookies the responses left it.
			resp := cl.postForm("/login", url.Values{"_csrf": {m[1]}, "handle": {"alice"}, "password": {"password-alice"}}, "")
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Fatalf("first sign-in after expiry (from %s): status %d location %q\n%s", start, resp.StatusCode, resp.Header.Get("Location"), body)
			}
			wantStatus(t, "home after signing in again", cl.get("/"), http.StatusOK)
		}
	})
}

// An unknown route is not to be indexed, like every other page.
func TestUnknownRouteIsNotIndexed(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/no-such-page", "/items/1/nothing", "/api/v1/nothing", "/static/missing.css"} {
			var resp *http.Response
			if strings.HasPrefix(path, "/api/") {
				resp = e.apiUndocumented("", http.MethodGet, path)
			} else {
				resp = e.client().get(path)
			}
			readBody(t, resp)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
			}
			if got := resp.Header.Get("X-Robots-Tag"); got != "noindex, nofollow" {
				t.Errorf("%s: X-Robots-Tag %q, want noindex, nofollow", path, got)
			}
		}
	})
}

// PUT /groups/{id}/members and PUT /items/{id}/acl answer a foreign group or
// token exactly as an id that names nothing (the id itself aside).
func TestForeignPrincipalsAnswerAsUnknown(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.member("alice"), e.member("bob")
		as, bs := e.apiToken(alice, "write"), e.apiToken(bob, "write")
		call := func(secret, method, path, body string, status int) string {
			t.Helper()
			resp := e.api(secret, method, path, body)
			got := readBody(t, resp)
			if resp.StatusCode != status {
				t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, status, got)
			}
			return got
		}
		idOf := func(body string) int64 {
			t.Helper()
			var id int64
			if _, err := fmt.Sscanf(body, `{"id":%d`, &id); err != nil {
				t.Fatalf("no id in %s", body)
			}
			return id
		}
		group := idOf(call(as, http.MethodPost, "/api/v1/groups", `{"name":"Family"}`, http.StatusCreated))
		item := idOf(call(as, http.MethodPost, "/api/v1/posts", `{"title":"Plans"}`, http.StatusCreated))
		bobsGroup := idOf(call(bs, http.MethodPost, "/api/v1/groups", `{"name":"Friends"}`, http.StatusCreated))
		bobsToken, _, err := e.svc.CreateToken(t.Context(), bob.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		const unknown = 987654321

		type answer struct {
			status int
			body   string
		}
		ask := func(method, path, bodyFmt string, id int64) answer {
			resp := e.api(as, method, path, fmt.Sprintf(bodyFmt, id))
			body := strings.ReplaceAll(readBody(t, resp), strconv.FormatInt(id, 10), "ID")
			return answer{resp.StatusCode, body}
		}
		for _, r := range []struct{ method, path, body string }{
			{http.MethodPut, fmt.Sprintf("/api/v1/groups/%d/members", group), `{"members":[%d]}`},
			{http.MethodPut, fmt.Sprintf("/api/v1/items/%d/acl", item), `{"allow":[%d]}`},
			{http.MethodPut, fmt.Sprintf("/api/v1/items/%d/acl", item), `{"deny":[%d]}`},
		} {
			want := ask(r.method, r.path, r.body, unknown)
			if want.status != http.StatusUnprocessableEntity {
				t.Errorf("%s %s with an unknown id: %+v", r.method, r.path, want)
			}
			for what, id := range map[string]int64{"bob's group": bobsGroup, "bob's token": bobsToken.ID} {
				if got := ask(r.method, r.path, r.body, id); got != want {
					t.Errorf("%s %s with %s: %+v, want the unknown id's %+v", r.method, r.path, what, got, want)
				}
			}
		}
	})
}
