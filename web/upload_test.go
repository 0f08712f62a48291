package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hubshare/content/media/s3test"
)

// testJPEG encodes a small real photo.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// multipartBody writes a multipart upload with one file to w.
func multipartBody(w io.Writer, boundary, filename string, file io.Reader, fields map[string]string) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return err
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return err
	}
	if _, err := io.Copy(fw, file); err != nil {
		return err
	}
	return mw.Close()
}

// serve runs the server on a loopback port for tests that need real
// streaming (chunked bodies, interrupted uploads).
func (e *env) serve() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go e.srv.Serve(ln)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

func (e *env) countItems() int {
	e.t.Helper()
	var n int
	if err := e.db.NewRaw("SELECT count(*) FROM items").Scan(context.Background(), &n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// mediaFiles lists every file under the media store, temporary ones
// included; for S3, every file of the server's own storage, so unfinished
// multipart uploads count too.
func (e *env) mediaFiles() []string {
	e.t.Helper()
	root := filepath.Join(e.cfg.DataDir, "media")
	if e.s3 != nil {
		root = filepath.Join(e.s3.Root, s3test.Bucket)
	}
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func TestUploadPhotoAPI(t *testing.T) {
	eachStoreEnv(t, func(t *testing.T, e *env) {
		m := e.member("alice")
		tok := e.apiToken(m, "write")
		base := e.serve()
		var body bytes.Buffer
		if err := multipartBody(&body, "bnd", "holiday.jpg", bytes.NewReader(testJPEG(t, 64, 48)), map[string]string{"title": "Beach"}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/photos", &body)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=bnd")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		oaCheck(t, req, nil, resp)
		got := readBody(t, resp)
		if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(got, `{"id":`) || !strings.Contains(got, `"kind":"photo"`) ||
			!strings.Contains(got, `"title":"Beach"`) || !strings.Contains(got, `"width":64`) {
			t.Fatalf("upload: %d %s", resp.StatusCode, got)
		}
		if n := len(e.mediaFiles()); n != 4 {
			t.Fatalf("want 4 stored variants, have %d: %v", n, e.mediaFiles())
		}
	})
}

func TestUploadRefusesTextNamedJPEG(t *testing.T) {
	eachStoreEnv(t, func(t *testing.T, e *env) {
		tok := e.apiToken(e.member("alice"), "write")
		var body bytes.Buffer
		multipartBody(&body, "bnd", "photo.jpg", strings.NewReader("just some text, not a picture\n"), nil)
		req, _ := http.NewRequest(http.MethodPost, "/api/v1/photos", &body)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=bnd")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.test(req)
		if err != nil {
			t.Fatal(err)
		}
		got := readBody(t, resp)
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(got, `"code":"unsupported"`) {
			t.Fatalf("text upload: %d %s", resp.StatusCode, got)
		}
		if n := e.countItems(); n != 0 {
			t.Fatalf("%d items after a refused upload", n)
		}
		if files := e.mediaFiles(); len(files) != 0 {
			t.Fatalf("files left behind: %v", files)
		}
	})
}

// TestUploadOverLimitIsStreamed sends 100 MiB, chunked (no Content-Length,
// so the server cannot refuse it up front), behind a valid JPEG header: the
// upload is refused with 413 while streaming, the heap never holds it, and
// nothing is left behind.
func TestUploadOverLimitIsStreamed(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := e.apiToken(e.member("alice"), "write")
	base := e.serve()

	const total = 100 << 20
	pr, pw := io.Pipe()
	go func() {
		head := testJPEG(t, 32, 32)
		junk := io.LimitReader(zeroReader{}, total-int64(len(head)))
		pw.CloseWithError(multipartBody(pw, "bnd", "huge.jpg", io.MultiReader(bytes.NewReader(head), junk), nil))
	}()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/photos", pr)
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "multipart/form-data; boundary=bnd")
	req.Header.Set("Authorization", "Bearer "+tok)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	resp, err := http.DefaultClient.Do(req)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	oaCheck(t, req, nil, resp)
	got := readBody(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(got, `"code":"too_large"`) {
		t.Fatalf("100 MiB upload: %d %s", resp.StatusCode, got)
	}
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %.1f MiB during a 100 MiB upload", float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d MiB during the upload: it is being buffered", growth>>20)
	}
	if n := e.countItems(); n != 0 {
		t.Fatalf("%d items after a refused upload", n)
	}
	if files := e.mediaFiles(); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}

// TestInterruptedUploadLeavesNothing cuts the connection in the middle of a
// photo: no row and no file remain.
func TestInterruptedUploadLeavesNothing(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := e.apiToken(e.member("alice"), "write")
	base := e.serve()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	photo := testJPEG(t, 200, 200)
	var body bytes.Buffer
	multipartBody(&body, "bnd", "cut.jpg", bytes.NewReader(photo), nil)
	fmt.Fprintf(conn, "POST /api/v1/photos HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=bnd\r\nContent-Length: %d\r\n\r\n",
		addr, tok, body.Len()+(4<<20))
	conn.Write(body.Bytes()[:body.Len()/2])
	conn.Write(make([]byte, 2<<20)) // past the part the server reads before handing over the stream
	// The photo is being written when the connection drops.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.mediaFiles()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(e.mediaFiles()) == 0 {
		t.Fatal("the server never started writing the upload")
	}
	conn.Close()
	// The server notices the cut when it reads; wait for it to clean up.
	deadline = time.Now().Add(10 * time.Second)
	for len(e.mediaFiles()) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if files := e.mediaFiles(); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
	if n := e.countItems(); n != 0 {
		t.Fatalf("%d items after an interrupted upload", n)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
