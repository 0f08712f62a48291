package media

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFSStoreCommitOpenDelete(t *testing.T) {
	ctx := context.Background()
	st, root := newTestStore(t)
	if info, err := os.Stat(root); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("root: %v %v", info.Mode(), err)
	}
	const key = "ab/abcdef/thumb"
	p, err := st.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p, "hello ")
	io.WriteString(p, "world")
	if _, err := st.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("visible before commit: %v", err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatalf("abort after commit: %v", err)
	}
	if _, err := p.Write([]byte("x")); err == nil {
		t.Fatal("write after commit succeeded")
	}
	if err := p.Commit(); err == nil {
		t.Fatal("second commit succeeded")
	}

	obj, err := st.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj)
	if string(b) != "hello world" || obj.Size() != 11 || time.Since(obj.ModTime()) > time.Minute {
		t.Fatalf("object %q size %d mod %v", b, obj.Size(), obj.ModTime())
	}
	if _, err := obj.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(obj)
	if string(b) != "world" {
		t.Fatalf("after seek: %q", b)
	}
	obj.Close()

	path, ok := st.Path(key)
	if !ok || path != filepath.Join(root, "ab", "abcdef", "thumb") {
		t.Fatalf("Path = %q, %v", path, ok)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", info.Mode(), err)
	}
	// A photo's directory is not an object.
	if _, err := st.Open(ctx, "ab/abcdef"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open directory: %v", err)
	}

	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, key); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	if _, err := st.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ab")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty directories left behind: %v", err)
	}
}

func TestFSStoreAbortLeavesNothing(t *testing.T) {
	ctx := context.Background()
	st, root := newTestStore(t)
	p, err := st.Create(ctx, "cd/photo1/original")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(p, strings.Repeat("x", 100000)); err != nil {
		t.Fatal(err)
	}
	if files := storeFiles(t, root); len(files) != 1 || !strings.HasPrefix(files[0], "tmp"+string(filepath.Separator)) {
		t.Fatalf("while writing: %v", files)
	}
	if err := p.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := p.Abort(); err != nil {
		t.Fatalf("second abort: %v", err)
	}
	if err := p.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
	if files := storeFiles(t, root); len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
}

var badKeys = []string{
	"", "ab", "ab/", "/ab/cd", "ab//cd", "ab/cd/", "../etc/passwd", "ab/..",
	"ab/../../etc", "ab/./cd", "ab/.hidden", "ab/cd/..", "AB/cd", "ab/Cd",
	"a/bc", "abc/de", "tmp/x", "ab/cd/ef/gh", `ab\cd`, "ab/c d", "ab/cd\x00",
	"ab/" + strings.Repeat("x", 200), "ab/é", "ab/-cd", "ab/cd/" + strings.Repeat("y", 129),
}

// validKey is the byte loop that replaced this expression; they must agree.
var keyPattern = regexp.MustCompile(`^[a-z0-9]{2}(/[a-z0-9][a-z0-9_.-]{0,127}){1,2}$`)

func TestValidKeyMatchesPattern(t *testing.T) {
	for _, k := range append(badKeys, "ab/cd", "00/x.jpg", "ab/cd_e-f.g/thumb", "ab/"+strings.Repeat("x", 128), "ab/c/"+strings.Repeat("x", 128)) {
		if validKey(k) != keyPattern.MatchString(k) {
			t.Errorf("validKey(%q) = %v, pattern says %v", k, validKey(k), !validKey(k))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "az09_.-/A\\x00"
	for range 200000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if k := string(b); validKey(k) != keyPattern.MatchString(k) {
			t.Fatalf("validKey(%q) = %v, pattern says %v", k, validKey(k), !validKey(k))
		}
	}
}

func TestFSStoreRefusesBadKeys(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	for _, key := range badKeys {
		if _, err := st.Create(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Create(%q): %v", key, err)
		}
		if _, err := st.Open(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q): %v", key, err)
		}
		if err := st.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q): %v", key, err)
		}
		if _, ok := st.Path(key); ok {
			t.Errorf("Path(%q) ok", key)
		}
	}
	for _, key := range []string{"ab/cd", "00/x.jpg", "ab/cd_e-f.g/thumb", VariantKey("zz/zzzz", VariantClean)} {
		if _, ok := st.Path(key); !ok {
			t.Errorf("Path(%q) refused", key)
		}
	}
}

func TestFSStoreSweepsStaleTemporaryFiles(t *testing.T) {
	_, root := newTestStore(t)
	old := filepath.Join(root, "tmp", "upload-crashed")
	fresh := filepath.Join(root, "tmp", "upload-running")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, past, past)
	if _, err := NewFSStore(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func TestFSStoreHonoursCancelledContext(t *testing.T) {
	st, _ := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Create(ctx, "ab/cd"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create: %v", err)
	}
}
