package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"hubshare/app"
	"hubshare/app/database/dbtest"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, for tests that
// need a real full (or read-only) filesystem; it skips the test when this
// process may not mount.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a real full filesystem needs a tmpfs mount, which is not permitted here (run as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a file in dir until the filesystem is full, then gives back
// leave bytes, and returns the file.
func fill(t *testing.T, dir, name string, leave int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	buf := bytes.Repeat([]byte{0xA5}, 64<<10)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(n-leave, 0)); err != nil {
		t.Fatal(err)
	}
	return f
}

// noisyJPEG is a photo of about w*h*0.6 bytes that does not compress.
func noisyJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	x := uint32(12345)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = byte(x)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) do(method, path, contentType string, body []byte) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, out
}

func (c apiClient) upload(photo []byte) (int, map[string]any) {
	c.t.Helper()
	body, ct := uploadBody(c.t, photo)
	return c.do(http.MethodPost, "/api/v1/photos", ct, body)
}

// wantNoSpace checks the 507 answer of the contract.
func wantNoSpace(t *testing.T, what string, status int, out map[string]any) {
	t.Helper()
	e, _ := out["error"].(map[string]any)
	if status != http.StatusInsufficientStorage || e["code"] != "insufficient_storage" || e["message"] != app.NoSpaceMessage {
		t.Errorf("%s: %d %v, want 507 insufficient_storage %q", what, status, out, app.NoSpaceMessage)
	}
}

// On a really full filesystem holding the data directory (SQLite database
// and media store): an upload that runs out of space, an upload and a post
// on the full disk answer 507 with the out-of-space message; /healthz
// answers 503 with the reason; deleting a photo still works and frees its
// space, after which uploads work and /healthz is 200 again.
// With PostgreSQL only the media store is on the full disk, and posts work.
func TestFullDisk(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) { testFullDisk(t, dialect) })
	}
}

func testFullDisk(t *testing.T, dialect string) {
	dir := mountTmpfs(t, "24m")
	dbURL := ""
	if dialect == "postgres" {
		dbURL = dbtest.URL(t, dialect)
	}
	getenv := env("HUBSHARE_DATA_DIR", dir, "HUBSHARE_DATABASE_URL", dbURL, "HUBSHARE_TEST_STORAGE_RESERVE", "1MiB")
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startServe(t, getenv)
	api := apiClient{t: t, base: "http://" + addr, token: strings.TrimSpace(out)}
	health := func() (int, map[string]any) {
		return apiClient{t: t, base: api.base}.do(http.MethodGet, "/healthz", "", nil)
	}
	mediaTmp := filepath.Join(dir, "media", "tmp")

	photo := noisyJPEG(t, 2000, 1500) // about 2 MB, twice over (original and clean)
	status, item := api.upload(photo)
	if status != http.StatusCreated {
		t.Fatalf("first upload: %d %v", status, item)
	}
	if s, h := health(); s != http.StatusOK || h["status"] != "ok" {
		t.Errorf("/healthz with room: %d %v", s, h)
	}

	// Room for less than the photo: the write of the original fails. Then
	// that space comes back.
	filler := fill(t, dir, "filler", int64(len(photo))/2)
	status, out2 := api.upload(photo)
	wantNoSpace(t, "upload that runs out of space", status, out2)
	if ents, _ := os.ReadDir(mediaTmp); len(ents) != 0 {
		t.Errorf("the failed upload left temporary files: %v", ents)
	}
	filler.Close()
	if err := os.Remove(filler.Name()); err != nil {
		t.Fatal(err)
	}
	if s, h := health(); s != http.StatusOK {
		t.Errorf("/healthz once space is back: %d %v", s, h)
	}

	// No room at all.
	fill(t, dir, "filler", 0)
	status, out2 = api.upload(photo)
	wantNoSpace(t, "upload on a full disk", status, out2)
	status, out2 = api.do(http.MethodPost, "/api/v1/posts", "application/json", []byte(`{"title":"hello","body":"world"}`))
	if dialect == "sqlite" {
		wantNoSpace(t, "post on a full disk", status, out2)
	} else if status != http.StatusCreated {
		t.Errorf("post with PostgreSQL while the media disk is full: %d %v", status, out2)
	}
	if s, h := health(); s != http.StatusServiceUnavailable || h["status"] != "unavailable" || !strings.Contains(h["reason"].(string), "out of space") {
		t.Errorf("/healthz on a full disk: %d %v, want 503 with the reason", s, h)
	}

	// The owner frees space through the app.
	before := freeBytes(t, dir)
	id := int64(item["id"].(float64))
	if status, out2 := api.do(http.MethodDelete, "/api/v1/items/"+strconv.FormatInt(id, 10), "", nil); status != http.StatusNoContent {
		t.Fatalf("delete on a full disk: %d %v", status, out2)
	}
	if freed := freeBytes(t, dir) - before; freed < 2*int64(len(photo)) {
		t.Errorf("the delete freed %d bytes, want at least the photo's %d twice", freed, len(photo))
	}
	if status, out2 := api.upload(noisyJPEG(t, 400, 300)); status != http.StatusCreated {
		t.Errorf("upload after freeing space: %d %v", status, out2)
	}
	if s, h := health(); s != http.StatusOK || h["status"] != "ok" {
		t.Errorf("/healthz after freeing space: %d %v", s, h)
	}

	// A media store that cannot be written at all is reported too: a
	// read-only filesystem over its temporary directory, where every write
	// starts.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mediaTmp).CombinedOutput(); err != nil {
		t.Fatalf("mount read-only: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mediaTmp).Run() })
	if s, h := health(); s != http.StatusServiceUnavailable || h["reason"] != "the media store cannot be written" {
		t.Errorf("/healthz on a read-only store: %d %v, want 503 with the reason", s, h)
	}
}
