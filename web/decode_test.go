package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hubshare/content/media"
)

// TestUploadWhileDecodingMemoryIsHeld holds the whole decoding budget, as
// uploads being processed would, and checks that both upload routes answer
// 503 with Retry-After after their brief wait and leave nothing behind;
// once the memory is given back the same upload succeeds.
func TestUploadWhileDecodingMemoryIsHeld(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		m := e.member("alice")
		tok := e.apiToken(m, "write")
		budget := media.NewBudget(64 << 20)
		e.cs.Limits = media.Limits{Memory: budget, MemoryWait: 10 * time.Millisecond}
		release, err := budget.Acquire(context.Background(), budget.Size(), -1)
		if err != nil {
			t.Fatal(err)
		}
		photo := testJPEG(t, 64, 48)

		apiUpload := func() *http.Response {
			var body bytes.Buffer
			if err := multipartBody(&body, "bnd", "holiday.jpg", bytes.NewReader(photo), map[string]string{"title": "Beach"}); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/api/v1/photos", &body)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=bnd")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := e.test(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := apiUpload()
		got := readBody(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(got, `"code":"unavailable"`) || !strings.Contains(got, "busy") {
			t.Fatalf("API upload with the budget held: %d %s", resp.StatusCode, got)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "5" {
			t.Errorf("Retry-After %q, want 5", ra)
		}

		cl := e.client()
		cl.login("alice")
		var body bytes.Buffer
		multipartBody(&body, "bnd", "holiday.jpg", bytes.NewReader(photo), nil)
		req := httptest.NewRequest(http.MethodPost, "/upload", &body)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=bnd")
		req.Header.Set("X-CSRF-Token", cl.csrf("/"))
		// Through App.Test, which streams the body as a connection does.
		for _, c := range cl.cookies {
			req.AddCookie(c)
		}
		resp, err = e.test(req)
		if err != nil {
			t.Fatal(err)
		}
		got = readBody(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" || !strings.Contains(got, "busy") {
			t.Fatalf("form upload with the budget held: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), got)
		}

		if n := e.countItems(); n != 0 {
			t.Errorf("%d items after refused uploads", n)
		}
		if files := e.mediaFiles(); len(files) != 0 {
			t.Errorf("files left behind: %v", files)
		}

		release()
		if resp := apiUpload(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload once the memory is free: %d %s", resp.StatusCode, readBody(t, resp))
		}
	})
}
