package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hubshare/app/database/dbtest"
	"hubshare/content/media/s3test"
)

// stop ends the serve process with SIGTERM, as an operator does, and waits
// for it to exit.
func (c *child) stop() {
	c.t.Helper()
	if c.cmd.ProcessState != nil {
		return
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	// The log is read to its end before Wait closes the pipe.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		done := c.done
		c.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			c.t.Errorf("serve exited with %v after SIGTERM\n%s", err, c.logText())
		}
	case <-time.After(time.Minute):
		c.t.Fatalf("serve did not exit after SIGTERM\n%s", c.logText())
	}
}

// guestClient is a browser of one guest: it opens the shared link once and
// keeps the cookie it gets.
type guestClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newGuest(t *testing.T, base string) *guestClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &guestClient{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// get fetches path (or a full URL) and returns the status and the body.
func (g *guestClient) get(path string) (int, []byte, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = g.base + path
	}
	resp, err := g.http.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// treeHashes is the sha256 of every file under root but temporary ones.
func treeHashes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = sha(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type sharedPhoto struct {
	id   int64
	link string
}

// servedHashes opens every link as a fresh guest and returns the sha256 of
// each served variant, keyed by photo and variant.
func servedHashes(t *testing.T, base string, photos []sharedPhoto) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range photos {
		g := newGuest(t, base)
		status, page, err := g.get(p.link)
		if err != nil || status != http.StatusOK {
			t.Fatalf("guest link %s: %d %v\n%.300s", p.link, status, err, page)
		}
		for _, v := range []string{"thumb", "large", "original"} {
			status, b, err := g.get(fmt.Sprintf("/media/%d/%s", p.id, v))
			if err != nil || status != http.StatusOK || len(b) == 0 {
				t.Fatalf("photo %d %s: %d %v", p.id, v, status, err)
			}
			out[fmt.Sprintf("%d/%s", p.id, v)] = sha(b)
		}
	}
	return out
}

// A backup taken while guests are viewing, restored into a wiped data
// directory: every guest link opens again and every photo variant is the
// same, served and on disk; the server key is the same file.
func TestBackupWhileServingRestoresEveryLinkAndPhoto(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	getenv := env("HUBSHARE_DATA_DIR", dir)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startChild(t, []string{"HUBSHARE_DATA_DIR=" + dir})
	base := "http://" + srv.addr
	api := apiClient{t: t, base: base, token: strings.TrimSpace(out)}
	var photos []sharedPhoto
	for i := range 4 {
		status, res := api.upload(noisyJPEG(t, 640+40*i, 480))
		if status != http.StatusCreated {
			t.Fatalf("upload: %d %v", status, res)
		}
		id := int64(res["id"].(float64))
		body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("guest %d", i), "can_download": true})
		status, tok := api.do(http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", id), "application/json", body)
		if status != http.StatusCreated {
			t.Fatalf("share: %d %v", status, tok)
		}
		// The link's host is the base URL's, here the listen address with
		// port 0: guests open its path and query on the server's address.
		link, err := url.Parse(tok["link"].(string))
		if err != nil {
			t.Fatal(err)
		}
		photos = append(photos, sharedPhoto{id: id, link: link.RequestURI()})
	}
	before := servedHashes(t, base, photos)

	// Guests view in a loop until the backup is done (bounded in time).
	stopViews := make(chan struct{})
	var views, failures atomic.Int64
	var wg sync.WaitGroup
	for _, p := range photos[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGuest(t, base)
			if status, _, err := g.get(p.link); err != nil || status != http.StatusOK {
				failures.Add(1)
				return
			}
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) {
				select {
				case <-stopViews:
					return
				default:
				}
				for _, path := range []string{fmt.Sprintf("/items/%d", p.id), fmt.Sprintf("/media/%d/large", p.id)} {
					status, _, err := g.get(path)
					if err != nil || status != http.StatusOK {
						failures.Add(1)
					} else {
						views.Add(1)
					}
				}
			}
		}()
	}
	for views.Load() < 20 && failures.Load() == 0 { // the viewing is under way
		time.Sleep(5 * time.Millisecond)
	}
	archive := filepath.Join(t.TempDir(), "hubshare-backup.tar.gz")
	msg, err := run(t, getenv, "", "backup", "--out", archive)
	during := views.Load()
	close(stopViews)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %s(%d guest requests before it ended, %d in all)", msg, during, views.Load())
	if failures.Load() != 0 {
		t.Fatalf("%d guest requests failed while the backup ran", failures.Load())
	}
	if !strings.Contains(msg, ": 18 files (4 photos), sqlite database") {
		t.Errorf("backup printed %q", msg)
	}
	if info, err := os.Stat(archive); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("archive: %v %v, want an owner-only file", info, err)
	}
	if _, err := run(t, getenv, "", "backup", "--out", archive); err == nil {
		t.Errorf("a backup overwrote an existing archive")
	}
	srv.stop()
	mediaBefore := treeHashes(t, filepath.Join(dir, "media"))
	keyBefore, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mediaBefore) != 16 {
		t.Fatalf("%d media files before the wipe, want 16: %v", len(mediaBefore), mediaBefore)
	}

	// Wiped to an empty directory (as a mount point would be): restore
	// fills it in place.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Media restored into the data directory while --media-url names
	// another store would be lost to serve: refused, nothing written.
	elsewhere := env("HUBSHARE_DATA_DIR", dir, "HUBSHARE_MEDIA_URL", "file://"+filepath.Join(t.TempDir(), "media"))
	if _, err := run(t, elsewhere, "", "restore", archive); err == nil || !strings.Contains(err.Error(), "media migrate") {
		t.Errorf("restore with a --media-url elsewhere: %v, want a refusal naming media migrate", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the refused restore left %v (%v) in the data directory", entries, err)
	}
	msg, err = run(t, getenv, "", "restore", archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore: %s", msg)
	if got := treeHashes(t, filepath.Join(dir, "media")); fmt.Sprint(got) != fmt.Sprint(mediaBefore) {
		t.Errorf("media after restore differ:\nbefore %v\nafter  %v", mediaBefore, got)
	}
	if keyAfter, err := os.ReadFile(filepath.Join(dir, "secret.key")); err != nil || !bytes.Equal(keyAfter, keyBefore) {
		t.Errorf("the server key was not restored as it was (%v)", err)
	}
	srv, _ = startChild(t, []string{"HUBSHARE_DATA_DIR=" + dir})
	after := servedHashes(t, "http://"+srv.addr, photos)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("served photos differ after restore:\nbefore %v\nafter  %v", before, after)
	}
	srv.stop()

	if _, err := run(t, getenv, "", "restore", archive); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty data directory: %v", err)
	}
	testCorruptArchivesRefused(t, archive)
}

// testCorruptArchivesRefused restores damaged copies of a good archive:
// each is refused with a clear error and leaves nothing behind.
func testCorruptArchivesRefused(t *testing.T, good string) {
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"a flipped byte", "corrupted|damaged", flipped},
		{"cut in half", "damaged", raw[:len(raw)/2]},
		{"a media file altered, manifest kept", "does not match its checksum", repack(t, raw, func(name string, b []byte) []byte {
			if strings.HasSuffix(name, "/large") {
				b = bytes.Clone(b)
				b[len(b)-3] ^= 1
			}
			return b
		})},
		{"a file added", "does not list", repack(t, raw, func(name string, b []byte) []byte { return b }, "media/zz/9/thumb")},
		{"not an archive", "not a hubshare backup", []byte("hello, this is not a backup archive at all")},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			archive := filepath.Join(t.TempDir(), "bad.tar.gz")
			if err := os.WriteFile(archive, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(parent, "data")
			empty := i%2 == 1 // an existing empty data directory stays empty
			if empty {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			_, err := run(t, env("HUBSHARE_DATA_DIR", dir), "", "restore", archive)
			if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) || !strings.Contains(err.Error(), "nothing was written") {
				t.Errorf("restore: %v, want an error saying %q", err, c.want)
			}
			left := parent
			if empty {
				left = dir
			}
			if entries, _ := os.ReadDir(left); len(entries) != 0 {
				t.Errorf("the refused restore left %v", entries)
			}
		})
	}
}

// repack rewrites a gzip'd tar archive with edit applied to each entry's
// bytes (the manifest too) and extra entries added before the manifest.
func repack(t *testing.T, raw []byte, edit func(name string, b []byte) []byte, extra ...string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	write := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == archiveManifest {
			for _, e := range extra {
				write(e, []byte("extra"))
			}
		}
		write(h.Name, edit(h.Name, b))
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

// archiveNames lists the entries of a backup archive.
func archiveNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// On PostgreSQL the archive holds the media and the key, not the database,
// and says so; restore puts them back (the key where the configuration
// names it, outside the data directory) and reminds of the database.
func TestBackupOnPostgresHoldsMediaAndKey(t *testing.T) {
	if !strings.Contains(strings.Join(dbtest.Dialects(), " "), "postgres") {
		t.Skip(dbtest.EnvPostgres + " is not set")
	}
	root := t.TempDir()
	dir, keyFile := filepath.Join(root, "data"), filepath.Join(root, "keys", "hubshare.key")
	getenv := env("HUBSHARE_DATABASE_URL", dbtest.URL(t, "postgres"), "HUBSHARE_DATA_DIR", dir, "HUBSHARE_SECRET_KEY_FILE", keyFile)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, getenv)
	api := apiClient{t: t, base: "http://" + addr, token: strings.TrimSpace(out)}
	if status, res := api.upload(noisyJPEG(t, 320, 240)); status != http.StatusCreated {
		t.Fatalf("upload: %d %v", status, res)
	}
	archive := filepath.Join(root, "backup.tar.gz")
	msg, err := run(t, getenv, "", "backup", "--out", archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "postgres database") || !strings.Contains(msg, "pg_dump") {
		t.Errorf("backup on PostgreSQL printed %q", msg)
	}
	names := archiveNames(t, archive)
	media := 0
	for _, n := range names {
		if strings.HasPrefix(n, "media/") {
			media++
		}
	}
	if media != 4 || names[len(names)-2] != "secret.key" || names[len(names)-1] != "manifest.json" || slices.Contains(names, "database/hubshare.db") {
		t.Errorf("archive entries %q: want 4 media files, the key and the manifest, no database", names)
	}
	mediaBefore := treeHashes(t, filepath.Join(dir, "media"))
	keyBefore, _ := os.ReadFile(keyFile)

	if _, err := run(t, env("HUBSHARE_DATA_DIR", filepath.Join(root, "elsewhere")), "", "restore", archive); err == nil || !strings.Contains(err.Error(), "PostgreSQL deployment") {
		t.Errorf("restoring a PostgreSQL archive with an SQLite configuration: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Dir(keyFile)); err != nil {
		t.Fatal(err)
	}
	msg, err = run(t, getenv, "", "restore", archive)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "pg_dump") {
		t.Errorf("restore printed %q, want the reminder to restore the database", msg)
	}
	if got := treeHashes(t, filepath.Join(dir, "media")); fmt.Sprint(got) != fmt.Sprint(mediaBefore) {
		t.Errorf("media after restore differ:\nbefore %v\nafter  %v", mediaBefore, got)
	}
	if keyAfter, err := os.ReadFile(keyFile); err != nil || !bytes.Equal(keyAfter, keyBefore) {
		t.Errorf("the key outside the data directory was not restored (%v)", err)
	}
}

// A photo row whose files are missing from the store (a damaged store) makes
// the backup fail with a clear error after its retries, and write nothing.
func TestBackupRefusesMissingPhotoFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	getenv := env("HUBSHARE_DATA_DIR", dir)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, getenv)
	api := apiClient{t: t, base: "http://" + addr, token: strings.TrimSpace(out)}
	if status, res := api.upload(noisyJPEG(t, 320, 240)); status != http.StatusCreated {
		t.Fatalf("upload: %d %v", status, res)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	thumbs, _ := filepath.Glob(filepath.Join(dir, "media", "*", "*", "thumb"))
	if len(thumbs) != 1 {
		t.Fatalf("thumbs %q", thumbs)
	}
	if err := os.Remove(thumbs[0]); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	_, err = run(t, getenv, "", "backup", "--out", filepath.Join(outDir, "b.tar.gz"))
	if err == nil || !strings.Contains(err.Error(), "lacks files") || !strings.Contains(err.Error(), "/thumb") {
		t.Errorf("backup with a missing photo file: %v", err)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("the failed backup left %v", entries)
	}
}

// Missing or stray arguments are usage errors (exit status 2) that say what
// is wanted; a data directory without a database is refused by backup.
func TestBackupRestoreArguments(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup"}, "--out is required"},
		{[]string{"restore"}, "no archive given"},
		{[]string{"restore", "a.tar.gz", "b.tar.gz"}, `unexpected argument "b.tar.gz"`},
	} {
		_, err := run(t, env("HUBSHARE_DATA_DIR", dir), "", c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("hubshare %s: %v, want a usage error saying %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	if _, err := run(t, env("HUBSHARE_DATA_DIR", dir), "", "backup", "--out", filepath.Join(t.TempDir(), "b.tar.gz")); err == nil || !strings.Contains(err.Error(), "no server key at") {
		t.Errorf("backup of a missing data directory: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("backup created the data directory it was pointed at")
	}
}

// With the media in an object store, the archive holds the database and the
// key, and backup says the bucket is backed up where it lives.
func TestBackupWithAnObjectStoreLeavesTheMediaThere(t *testing.T) {
	mediaURL, _ := s3test.Start(t)
	root := t.TempDir()
	getenv := env("HUBSHARE_DATA_DIR", filepath.Join(root, "data"), "HUBSHARE_MEDIA_URL", mediaURL)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(root, "backup.tar.gz")
	msg, err := run(t, getenv, "", "backup", "--out", archive)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "object store "+mediaURL) || !strings.Contains(msg, "back the bucket up there") {
		t.Errorf("backup printed %q, want the object store named", msg)
	}
	names := archiveNames(t, archive)
	if !slices.Equal(names, []string{"database/hubshare.db", "secret.key", "manifest.json"}) {
		t.Errorf("archive entries %q: want the database, the key and the manifest only", names)
	}
}
