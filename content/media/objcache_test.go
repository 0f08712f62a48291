package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
)

// A small object is read from the store once and then served from memory,
// as the same bytes, seekable, and unchanged by what a reader does; a large
// one is read from the store every time; a forgotten one is read again, and
// a deleted one is gone.
func TestObjectCacheKeepsSmallObjects(t *testing.T) {
	ctx := context.Background()
	st, _ := newTestStore(t)
	small := bytes.Repeat([]byte("thumb "), 100)
	large := bytes.Repeat([]byte("large "), 1000)
	putObject(t, st, "ab/abcdef/thumb", small)
	putObject(t, st, "ab/abcdef/large", large)
	c := NewObjectCache(1<<20, 1024)

	read := func(key string) ([]byte, bool) {
		t.Helper()
		obj, kept, err := c.Open(ctx, st, key)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Size() != int64(len(b)) {
			t.Errorf("%s: size %d, read %d bytes", key, obj.Size(), len(b))
		}
		return b, kept
	}
	for i, wantKept := range []bool{false, true, true} {
		b, kept := read("ab/abcdef/thumb")
		if !bytes.Equal(b, small) || kept != wantKept {
			t.Fatalf("thumb, open %d: %d bytes, kept %v; want %d bytes, kept %v", i+1, len(b), kept, len(small), wantKept)
		}
		b[0] = 'X' // a reader's copy is its own
	}
	obj, _, err := c.Open(ctx, st, "ab/abcdef/thumb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(obj); !bytes.Equal(b, small[6:]) {
		t.Errorf("kept object after a seek: %q…", b[:12])
	}
	for range 2 {
		if b, kept := read("ab/abcdef/large"); !bytes.Equal(b, large) || kept {
			t.Fatalf("large object: %d bytes, kept %v; want it read from the store", len(b), kept)
		}
	}

	c.Forget("ab/abcdef/thumb")
	if _, kept := read("ab/abcdef/thumb"); kept {
		t.Error("a forgotten object came from memory")
	}
	c.ForgetPhoto("ab/abcdef")
	if err := st.Delete(ctx, "ab/abcdef/thumb"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Open(ctx, st, "ab/abcdef/thumb"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a deleted and forgotten object: %v, want it missing", err)
	}
}
