package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/content/media"
	"hubshare/content/media/s3test"
)

// childEnv makes the test binary run as the hubshare command (see
// TestMain), so that a test can kill a real serve process with SIGKILL.
const childEnv = "HUBSHARE_TEST_RUN_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is a serve process.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  []string
	done bool // the log has ended
	addr string
}

// startChild runs `hubshare serve` in its own process and waits until it
// listens and its start-up media sweep has run; it returns the sweep's line.
func startChild(t *testing.T, env []string, args ...string) (*child, string) {
	t.Helper()
	c := spawnChild(t, env, args...)
	return c, c.waitFor(`msg="media sweep"`)
}

// spawnChild runs `hubshare serve` in its own process and waits until it
// listens.
func spawnChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd}
	t.Cleanup(c.kill)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.log = append(c.log, sc.Text())
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.done = true
		c.mu.Unlock()
	}()
	serving := c.waitFor("hubshare is serving")
	m := regexp.MustCompile(`address=(\S+)`).FindStringSubmatch(serving)
	if m == nil {
		t.Fatalf("no address in %q", serving)
	}
	c.addr = m[1]
	return c
}

// waitFor returns the first log line containing s, waiting for it. The
// deadline only ends a test whose child hangs.
func (c *child) waitFor(s string) string {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		lines, done := c.log, c.done
		c.mu.Unlock()
		for _, line := range lines {
			if strings.Contains(line, s) {
				return line
			}
		}
		if done {
			c.t.Fatalf("serve exited before logging %q:\n%s", s, c.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("serve did not log %q:\n%s", s, c.logText())
	return ""
}

func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, "\n")
}

// kill ends the process with SIGKILL: no deferred function, no clean-up.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// bigJPEG is a 24-megapixel photo: decoding and scaling it takes long enough
// for a kill to land in the middle.
func bigJPEG(t *testing.T) []byte {
	t.Helper()
	const w, h = 6000, 4000
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Y[y*img.YStride+x] = uint8(x/24 + y/16 + (x*y)%7)
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i), uint8(i/3)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func uploadBody(t *testing.T, photo []byte) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("title", "crash test")
	fw, err := mw.CreateFormFile("file", "big.jpg")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(photo)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// upload sends body with the token, reading from r (which may stall); it
// returns the status, or an error when the server went away.
func upload(addr, token, contentType string, r io.Reader, size int) (int, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/photos", r)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(size)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// waitForFile returns once match finds a file under root. Like waitFor, its
// deadline only ends a hung test.
func waitForFile(t *testing.T, root string, match func(rel string, size int64) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		found := false
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			if info, err := d.Info(); err == nil && match(filepath.ToSlash(rel), info.Size()) {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		if found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	var all []string
	filepath.WalkDir(filepath.Dir(root), func(p string, d fs.DirEntry, err error) error {
		all = append(all, p)
		return nil
	})
	t.Fatalf("no matching file appeared under %s: %q", root, all)
}

// mediaState is what the media store holds (every file, temporary ones
// included) and the photo rows' base keys.
type mediaState struct {
	files []string
	rows  []string
}

// readState reads the files under root, the store's folder: for S3, the
// bucket's folder on the server, where the objects sit under objects/ and
// anything else (an unfinished upload's parts) is listed by its own path.
func readState(t *testing.T, dbURL, dataDir, root, objects string) mediaState {
	t.Helper()
	var st mediaState
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if objects != "" {
				rel = strings.TrimPrefix(rel, objects+"/")
			}
			st.files = append(st.files, rel)
		}
		return nil
	})
	sort.Strings(st.files)
	ctx := context.Background()
	db, err := database.Open(ctx, dbURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(db)
	if err := db.NewSelect().Table("items").Column("media_key").Where("media_key IS NOT NULL").Order("media_key").Scan(ctx, &st.rows); err != nil {
		t.Fatal(err)
	}
	return st
}

// exact reports how the files and rows differ from "every row has its four
// files, and there is no other file".
func (st mediaState) exact() error {
	want := []string{}
	for _, base := range st.rows {
		for _, v := range []string{media.VariantClean, media.VariantLarge, media.VariantOriginal, media.VariantThumb} {
			want = append(want, media.VariantKey(base, v))
		}
	}
	sort.Strings(want)
	if strings.Join(want, "\n") != strings.Join(st.files, "\n") {
		return fmt.Errorf("files do not match the rows:\nrows:  %q\nfiles: %q", st.rows, st.files)
	}
	return nil
}

var sweepLineRE = regexp.MustCompile(`temp_files=(\d+) orphan_files=(\d+) freed_bytes=(\d+)`)

// SECURITY.md §28: a process killed at any point of an upload leaves, after
// the next sweep, exactly one set of files per photo row and nothing else.
// On S3, the same holds of the objects, and no unfinished multipart upload
// is left.
func TestKilledUploadLeavesNothingAfterSweep(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) { testKilledUpload(t, dialect, "file") })
	}
	t.Run("sqlite/s3", func(t *testing.T) { testKilledUpload(t, "sqlite", "s3") })
}

func testKilledUpload(t *testing.T, dialect, store string) {
	dir := t.TempDir()
	dbURL := ""
	if dialect == "postgres" {
		dbURL = dbtest.URL(t, dialect)
	}
	getenv := env("HUBSHARE_DATABASE_URL", dbURL, "HUBSHARE_DATA_DIR", dir)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out)
	childEnv := []string{"HUBSHARE_DATABASE_URL=" + dbURL, "HUBSHARE_DATA_DIR=" + dir, "HUBSHARE_TEST_MEDIA_SWEEP_AGE=1ms"}
	photo := bigJPEG(t)
	body, ct := uploadBody(t, photo)
	root, objects := filepath.Join(dir, "media"), ""
	// streaming tells the file of an upload whose body is still arriving.
	streaming := func(rel string, size int64) bool { return strings.HasPrefix(rel, "tmp/upload-") && size > 0 }
	streamBody, streamCT := body, ct
	if store == "s3" {
		s3 := s3test.StartServer(t)
		childEnv = append(childEnv, s3.Env...)
		root, objects = filepath.Join(s3.Root, s3test.Bucket), "media"
		// Nothing reaches S3 before a part is full: the body streaming when
		// the kill comes is long enough for parts to be up.
		streamBody, streamCT = uploadBody(t, append(append([]byte{}, photo...), make([]byte, 3*media.S3PartSize)...))
		streaming = func(rel string, size int64) bool { return !strings.HasPrefix(rel, objects+"/") && size > 0 }
	}
	state := func() mediaState { return readState(t, dbURL, dir, root, objects) }

	srv, _ := startChild(t, childEnv)
	// restart starts serve again after a kill, checks the state once its
	// start-up sweep has run, and returns the sweep's counts.
	restart := func(what string) (temp, orphans string) {
		t.Helper()
		var line string
		srv, line = startChild(t, childEnv)
		if err := state().exact(); err != nil {
			t.Errorf("after a kill %s and the sweep: %v", what, err)
		}
		m := sweepLineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("sweep line %q", line)
		}
		t.Logf("kill %s: %s", what, line)
		return m[1], m[2]
	}

	// 1. While the body is streaming: half of it is sent, then the client
	// stalls, and the kill comes once the server is writing the original.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(streamBody[:len(streamBody)/2])
	go upload(srv.addr, token, streamCT, pr, len(streamBody))
	waitForFile(t, root, streaming)
	srv.kill()
	if st := state(); st.exact() == nil {
		t.Fatalf("the kill while streaming left no temporary file to sweep: %q", st.files)
	}
	if temp, _ := restart("while the body streams"); temp != "1" {
		t.Errorf("the sweep removed %s temporary files, want 1", temp)
	}

	// 2. During variant processing: the whole body is sent; the original is
	// committed and the 24-megapixel decode is under way when the kill comes.
	go upload(srv.addr, token, ct, bytes.NewReader(body), len(body))
	waitForFile(t, root, func(rel string, size int64) bool { return strings.HasSuffix(rel, "/"+media.VariantOriginal) })
	srv.kill()
	if st := state(); len(st.rows) != 0 || len(st.files) == 0 {
		t.Fatalf("the kill during processing came too late: rows %q, files %q", st.rows, st.files)
	}
	if _, orphans := restart("during variant processing"); orphans == "0" {
		t.Errorf("the sweep removed no orphan file")
	}

	// 3. Later in processing, once the large variant is committed: the kill
	// may come before or after the row, and either way the sweep must leave
	// files and rows matching.
	go upload(srv.addr, token, ct, bytes.NewReader(body), len(body))
	waitForFile(t, root, func(rel string, size int64) bool { return strings.HasSuffix(rel, "/"+media.VariantLarge) })
	srv.kill()
	restart("after the large variant")

	// 4. Right after the response: the photo is saved and must survive, even
	// a sweep whose minimum age is a millisecond.
	status, err := upload(srv.addr, token, ct, bytes.NewReader(body), len(body))
	if err != nil || status != http.StatusCreated {
		t.Fatalf("upload: %d %v\n%s", status, err, srv.logText())
	}
	srv.kill()
	restart("right after the response")
	if st := state(); len(st.rows) == 0 || len(st.files) != 4*len(st.rows) {
		t.Errorf("the saved photo did not survive: rows %q, files %q", st.rows, st.files)
	}
	srv.kill()
}
