package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The bytes of a photo are served through the store's reader on both
// stores, whole or by one byte range, and only after the ACL check of the
// request itself.
func TestMediaRangeRequests(t *testing.T) {
	eachStoreEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		tok := e.apiToken(alice, "write")
		photo := testJPEG(t, 64, 48)
		id := e.uploadPhoto(tok, "p", photo, 0)
		owner := e.client()
		owner.login("alice")
		get := func(rng string, headers ...string) (*http.Response, []byte) {
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/media/%d/original", id), nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp := owner.do(req)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, b
		}
		size := len(photo)
		resp, b := get("")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, photo) || resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("whole original: %d, %d bytes of %d, Accept-Ranges %q", resp.StatusCode, len(b), size, resp.Header.Get("Accept-Ranges"))
		}
		for _, c := range []struct {
			rng        string
			start, end int
		}{
			{"bytes=0-9", 0, 9},
			{"bytes=100-", 100, size - 1},
			{"bytes=-50", size - 50, size - 1},
			{"bytes=10-99999999", 10, size - 1},
			{fmt.Sprintf("bytes=-%d", size+10), 0, size - 1},
		} {
			resp, b := get(c.rng)
			want := fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, size)
			if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want || !bytes.Equal(b, photo[c.start:c.end+1]) {
				t.Errorf("%s: %d %q (want %q), %d bytes", c.rng, resp.StatusCode, resp.Header.Get("Content-Range"), want, len(b))
			}
		}
		resp, _ = get(fmt.Sprintf("bytes=%d-", size))
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("range past the end: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
		}
		// Served whole: several ranges, another unit, nonsense, If-Range.
		for _, rng := range []string{"bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=9-3"} {
			if resp, b := get(rng); resp.StatusCode != http.StatusOK || !bytes.Equal(b, photo) {
				t.Errorf("%s: %d, %d bytes", rng, resp.StatusCode, len(b))
			}
		}
		if resp, b := get("bytes=0-9", "If-Range", `"x"`); resp.StatusCode != http.StatusOK || len(b) != size {
			t.Errorf("with If-Range: %d, %d bytes", resp.StatusCode, len(b))
		}
		// A range is no way around the ACL.
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/media/%d/original", id), nil)
		req.Header.Set("Range", "bytes=0-9")
		resp, err := e.test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("range without a viewer: %d, want 404", resp.StatusCode)
		}
	})
}

// On S3, /healthz writes a probe object: it answers 200 while the bucket
// can be written and 503, with the reason, once the server is gone.
func TestHealthzOnS3(t *testing.T) {
	e := newS3Env(t, "sqlite")
	health := func() (int, string) {
		resp, err := e.test(httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	if code, body := health(); code != http.StatusOK || body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if files := e.mediaFiles(); len(files) != 0 {
		t.Errorf("the probe left %v", files)
	}
	e.s3.Stop()
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"the media store cannot be written"`) {
		t.Fatalf("healthz with the S3 server down: %d %s", code, body)
	}
}

// A connection cut in the middle of a large upload to S3, after parts have
// gone up: the multipart upload is aborted, and no object and no row remain.
func TestInterruptedS3UploadLeavesNothing(t *testing.T) {
	e := newS3Env(t, "sqlite")
	tok := e.apiToken(e.member("alice"), "write")
	addr := strings.TrimPrefix(e.serve(), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	multipartBody(&head, "bnd", "cut.jpg", bytes.NewReader(testJPEG(t, 32, 32)), nil)
	// The photo's header, then zeros: the store gets them as the original.
	prefix := head.Bytes()[:bytes.Index(head.Bytes(), []byte("\r\n--bnd--"))]
	fmt.Fprintf(conn, "POST /api/v1/photos HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=bnd\r\nContent-Length: %d\r\n\r\n",
		addr, tok, 40<<20)
	conn.Write(prefix)
	zeros := make([]byte, 1<<20)
	for range 20 {
		if _, err := conn.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	// Parts are on the S3 server when the connection drops.
	deadline := time.Now().Add(20 * time.Second)
	for len(e.mediaFiles()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(e.mediaFiles()) == 0 {
		t.Fatal("no part of the upload reached the S3 server")
	}
	conn.Close()
	deadline = time.Now().Add(20 * time.Second)
	for len(e.mediaFiles()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if files := e.mediaFiles(); len(files) != 0 {
		t.Fatalf("left on the S3 server: %v", files)
	}
	if n := e.countItems(); n != 0 {
		t.Fatalf("%d items after an interrupted upload", n)
	}
}

// A thumbnail kept in memory after its first request is still served only
// through the ACL of each request: a guest whose link is revoked, or who asks
// after the photo is deleted, gets nothing, on both stores.
func TestKeptThumbnailFollowsTheACL(t *testing.T) {
	eachStoreEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		id := e.uploadPhoto(alice.key, "p", testJPEG(t, 640, 480), 0)
		kept, gone := alice.share(id, "{}"), alice.share(id, "{}")
		guest, other := e.client(), e.client()
		gtOpenLink(t, guest, kept.Link)
		gtOpenLink(t, other, gone.Link)
		path := fmt.Sprintf("/media/%d/thumb", id)
		var first []byte
		for i := range 3 {
			for _, cl := range []*client{guest, other} {
				resp := cl.get(path)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" || len(b) == 0 {
					t.Fatalf("thumb, request %d: %d %q, %d bytes", i+1, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
				}
				if first == nil {
					first = b
				} else if !bytes.Equal(b, first) {
					t.Fatalf("thumb, request %d: other bytes than the first time", i+1)
				}
			}
		}
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", gone.ID), "", http.StatusNoContent)
		if resp := other.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("thumb after the link was revoked: %d, want 404", resp.StatusCode)
		}
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/items/%d", id), "", http.StatusNoContent)
		if resp := guest.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("thumb after the photo was deleted: %d, want 404", resp.StatusCode)
		}
	})
}
