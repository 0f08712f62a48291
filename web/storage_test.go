package web_test

import (
	"bytes"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hubshare/app"
)

// storageTmpfs mounts a small tmpfs as the data directory, so that the media
// store really fills up; it skips when this process may not mount.
func storageTmpfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a real full filesystem needs a tmpfs mount, which is not permitted here (run as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillUp writes a file in dir until the filesystem is full.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{1}, 64<<10)
	for {
		if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
			return path
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// With the media store on a full filesystem, the upload form and the API
// answer 507 with the out-of-space message (a page for the form, JSON for
// the API) and /healthz answers 503 with the reason; on a read-only one
// /healthz says the store cannot be written.
func TestFullMediaStore(t *testing.T) {
	dir := storageTmpfs(t)
	e := newEnv(t, "sqlite", func(c *app.Config) { c.DataDir = dir })
	alice := e.member("alice")
	token := e.apiToken(alice, "write")
	cl := e.client()
	cl.login("alice")
	// The CSRF token goes both in a part before the file and in the URL, so
	// that the form is accepted wherever the server reads it from.
	csrf := cl.csrf("/")
	photo := testJPEG(t, 300, 200)
	multipartReq := func(target string) *http.Request {
		var b bytes.Buffer
		if err := multipartBody(&b, "BOUNDARY", "p.jpg", bytes.NewReader(photo), map[string]string{"title": "x", "_csrf": csrf}); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, target, &b)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=BOUNDARY")
		return req
	}
	health := func() (int, map[string]string) {
		resp := e.api("", http.MethodGet, "/healthz", "")
		var out map[string]string
		decodeJSONBody(t, resp, &out)
		return resp.StatusCode, out
	}
	if s, h := health(); s != http.StatusOK || h["status"] != "ok" {
		t.Fatalf("/healthz with room: %d %v", s, h)
	}

	filler := fillUp(t, dir)
	req := multipartReq("/upload?_csrf=" + url.QueryEscape(csrf))
	for _, c := range cl.cookies {
		req.AddCookie(c)
	}
	resp, err := e.test(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(html.UnescapeString(body), app.NoSpaceMessage) || !strings.Contains(body, "Out of storage space") {
		t.Errorf("form upload on a full disk: %d, want 507 with %q:\n%s", resp.StatusCode, app.NoSpaceMessage, body)
	}
	req = multipartReq("/api/v1/photos")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = e.test(req)
	if err != nil {
		t.Fatal(err)
	}
	if ae := wantAPIError(t, "API upload on a full disk", resp, http.StatusInsufficientStorage, "insufficient_storage"); ae.Message != app.NoSpaceMessage {
		t.Errorf("API upload on a full disk: message %q", ae.Message)
	}
	if s, h := health(); s != http.StatusServiceUnavailable || h["status"] != "unavailable" || h["reason"] != "the media store is out of storage space" {
		t.Errorf("/healthz on a full disk: %d %v", s, h)
	}
	if n := len(e.mediaFiles()); n != 0 || e.countItems() != 0 {
		t.Errorf("the refused uploads left %d files and %d rows", n, e.countItems())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if s, h := health(); s != http.StatusOK {
		t.Errorf("/healthz once space is back: %d %v", s, h)
	}
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	if s, h := health(); s != http.StatusServiceUnavailable || h["reason"] != "the media store cannot be written" {
		t.Errorf("/healthz on a read-only disk: %d %v", s, h)
	}
}
