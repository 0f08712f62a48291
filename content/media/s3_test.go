package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestStoreCommitOpenDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
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
		if b, _ = io.ReadAll(obj); string(b) != "world" {
			t.Fatalf("after seek: %q", b)
		}
		obj.Close()
		if _, err := st.Open(ctx, "ab/abcdef"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("open of a photo's prefix: %v", err)
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
		if left := leftovers(t, st); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	})
}

// An object larger than a part goes up as a multipart upload: it is
// invisible until Commit, read back whole and by range, and an aborted one
// leaves neither an object nor an unfinished upload.
func TestStoreLargeObject(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		data := make([]byte, 2*S3PartSize+12345)
		rand.Read(data)
		const key = "cd/large1/original"
		p, err := st.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		// Odd-sized writes cross the part boundaries.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1<<20+7)
			if _, err := p.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if keys := objectKeys(t, st); len(keys) != 0 {
			t.Fatalf("visible before commit: %v", keys)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := readObject(t, st, key); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, differ from the %d written", len(got), len(data))
		}
		obj, err := st.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(S3PartSize - 10)
		if _, err := obj.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 20)
		if _, err := io.ReadFull(obj, buf); err != nil || !bytes.Equal(buf, data[off:off+20]) {
			t.Fatalf("range across parts: %v", err)
		}
		obj.Close()

		p, err = st.Create(ctx, "cd/large2/original")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write(data); err != nil {
			t.Fatal(err)
		}
		if left := leftovers(t, st); len(left) < 2 {
			t.Fatalf("nothing under way while writing: %v", left)
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
		if err := st.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if left := leftovers(t, st); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	})
}

// A cancelled request ends the upload and its clean-up still runs.
func TestStoreCancelledWriteLeavesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx, cancel := context.WithCancel(context.Background())
		p, err := st.Create(ctx, "ef/cut/original")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write(make([]byte, S3PartSize+1)); err != nil {
			t.Fatal(err)
		}
		cancel()
		_, werr := p.Write(make([]byte, S3PartSize))
		cerr := p.Commit()
		if werr == nil && cerr == nil {
			t.Fatal("write and commit after cancel both succeeded")
		}
		p.Abort()
		if left := leftovers(t, st); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
		if _, err := st.Create(ctx, "ab/cd"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Create on a cancelled context: %v", err)
		}
	})
}

func TestStoreRefusesBadKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
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
		}
	})
}

// Walk lists committed objects only: not the probe objects, nor anything in
// the bucket outside the keys the store makes.
func TestStoreWalkAndSweepTemp(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		for _, k := range []string{"ab/one/thumb", "ab/one/large", "cd/two/original"} {
			p, _ := st.Create(ctx, k)
			io.WriteString(p, k)
			if err := p.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		running, _ := st.Create(ctx, "ef/running/original")
		running.Write(make([]byte, S3PartSize+1))
		defer running.Abort()
		if err := st.(interface{ Probe() error }).Probe(); err != nil {
			t.Fatal(err)
		}
		if keys := objectKeys(t, st); strings.Join(keys, " ") != "ab/one/large ab/one/thumb cd/two/original" {
			t.Fatalf("Walk: %v", keys)
		}
		inv := st.(Inventory)
		// Nothing under way is older than an hour.
		if n, _, err := inv.SweepTemp(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("SweepTemp of fresh files: %d, %v", n, err)
		}
		before := len(leftovers(t, st))
		// With a cut-off in the future, what is under way counts as stale.
		n, _, err := inv.SweepTemp(ctx, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		left := leftovers(t, st)
		if len(left) != 3 || n != before-3 {
			t.Fatalf("after the sweep (%d removed of %d): %v", n, before, left)
		}
	})
}

func TestOpenStoreURLs(t *testing.T) {
	ctx := context.Background()
	env := func(string) string { return "x" }
	dir := t.TempDir()
	st, err := OpenStore(ctx, "file://"+dir+"/media", env)
	if err != nil {
		t.Fatal(err)
	}
	if fs, ok := st.(*FSStore); !ok || fs.root != dir+"/media" {
		t.Fatalf("file store: %#v", st)
	}
	for _, tc := range []struct{ url, want string }{
		{"ftp://x", "scheme"},
		{"file://", "needs a path"},
		{"s3:///prefix", "needs a bucket"},
		{"s3://b/p?endpoint=ftp://x", "endpoint"},
		{"s3://b/p?endpoint=http://127.0.0.1:1/path", "endpoint"},
		{"s3://b/p?path_style=maybe", "path_style"},
		{"s3://b/p?bucket=z", "unknown parameter"},
		{"s3://key:secret@b/p", "AWS_ACCESS_KEY_ID"},
	} {
		if _, err := OpenStore(ctx, tc.url, env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenStore(%q) = %v, want an error about %s", tc.url, err, tc.want)
		}
	}
	if _, err := OpenStore(ctx, "s3://b/p?endpoint=http://127.0.0.1:1", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("without credentials: %v", err)
	}
}

func TestS3StoreRefusesMissingBucket(t *testing.T) {
	st := newTestS3Store(t)
	_, err := NewS3Store(context.Background(), st.client, "no-such-bucket", "")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing bucket: %v", err)
	}
}
