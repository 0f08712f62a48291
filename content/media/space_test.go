package media

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func TestFSStoreSweepTempCountsWhatItRemoves(t *testing.T) {
	st, root := newTestStore(t)
	now := time.Now()
	files := map[string]time.Time{
		"upload-old":   now.Add(-2 * time.Hour),
		"probe-old":    now.Add(-2 * time.Hour),
		"upload-young": now.Add(-time.Minute),
		"other-old":    now.Add(-2 * time.Hour), // not ours: kept
	}
	for name, mod := range files {
		p := filepath.Join(root, "tmp", name)
		if err := os.WriteFile(p, make([]byte, 300), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mod, mod)
	}
	n, b, err := st.SweepTemp(context.Background(), now.Add(-time.Hour))
	if err != nil || n != 2 || b != 600 {
		t.Errorf("SweepTemp: %d files, %d bytes, %v; want 2, 600", n, b, err)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(root, "tmp", name))
		if gone := errors.Is(err, fs.ErrNotExist); gone != (name == "upload-old" || name == "probe-old") {
			t.Errorf("%s: removed = %v", name, gone)
		}
	}
}

func TestFSStoreWalkListsObjectsOnly(t *testing.T) {
	st, root := newTestStore(t)
	ctx := context.Background()
	for _, key := range []string{"ab/abcd/original", "ab/abcd/thumb", "zz/zzzz/large"} {
		putObject(t, st, key, []byte(key))
	}
	// A pending object and a stray file outside the key pattern are not listed.
	p, err := st.Create(ctx, "cd/cdef/original")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	p.Write([]byte("half"))
	if err := os.WriteFile(filepath.Join(root, "README"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = st.Walk(ctx, func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		if o.Size != int64(len(o.Key)) || time.Since(o.ModTime) > time.Hour {
			t.Errorf("%s: size %d, modified %v", o.Key, o.Size, o.ModTime)
		}
		return nil
	})
	sort.Strings(keys)
	if err != nil || len(keys) != 3 || keys[0] != "ab/abcd/original" || keys[1] != "ab/abcd/thumb" || keys[2] != "zz/zzzz/large" {
		t.Errorf("Walk: %q, %v", keys, err)
	}
	if err := st.Probe(); err != nil {
		t.Errorf("Probe on a writable store: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 1 {
		t.Errorf("Probe left files: %v", ents)
	}
}

// The reserve is let go when free space falls under its size, new content
// is refused until twice its size is free, and then it is written again.
func TestReserveReleasesAndRefills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "space.reserve")
	const size = 1 << 16
	r, err := NewReserve(path, size)
	if err != nil {
		t.Fatal(err)
	}
	var free uint64 = 10 * size
	r.free = func(string) (uint64, error) { return free, nil }
	held := func() bool {
		info, err := os.Stat(path)
		return err == nil && info.Size() == size
	}
	if !held() || !r.Held() || r.Admit() != nil {
		t.Fatalf("a new reserve is not in place or refuses with %d bytes free", free)
	}
	free = size - 1
	if err := r.Admit(); !errors.Is(err, ErrNoSpace) || held() || r.Held() {
		t.Errorf("below the reserve: Admit %v, file held %v", err, held())
	}
	free = 2*size - 1 // the reserve's own bytes are free again, but no more
	if err := r.Admit(); !errors.Is(err, ErrNoSpace) || held() {
		t.Errorf("space not back: Admit %v, file held %v", err, held())
	}
	free = 2 * size
	if err := r.Admit(); err != nil || !held() || !r.Held() {
		t.Errorf("space back: Admit %v, file held %v", err, held())
	}
	if !r.Release() || held() || r.Release() {
		t.Errorf("Release did not remove the reserve once")
	}
	// A reserve found in place at start is kept as it is.
	free = 10 * size
	r.Admit()
	r2, err := NewReserve(path, size)
	if err != nil || !r2.Held() {
		t.Errorf("reopened reserve: held %v, %v", r2.Held(), err)
	}
	var none *Reserve
	if none.Admit() != nil || none.Release() || !none.Held() {
		t.Errorf("a nil reserve must admit everything")
	}
}
