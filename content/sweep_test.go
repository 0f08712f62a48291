package content_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/content"
	"hubshare/content/media"
)

func sweepJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// storeFiles lists every file under root, relative, temporary ones included.
func storeFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func setAge(t testing.TB, path string, mod time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// The sweep removes temporary files and stored files without a row once
// they are older than the minimum age, and nothing else: not a photo with a
// row however old, not an orphan or temporary file still young (it may be an
// upload in progress).
func TestSweepMediaRemovesOnlyOldLeftovers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		root := filepath.Join(t.TempDir(), "media")
		st, err := media.NewFSStore(root)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().Add(time.Hour).UTC() // later than any real mtime made below
		clock := app.NewFakeClock(now)
		a := acl.NewService(db, clock, ctKeys)
		cs := content.NewService(db, clock, a, st, 10<<20)
		owner, err := a.CreateMember(ctx, "olive", "Olive", "password-olive")
		if err != nil {
			t.Fatal(err)
		}
		ingest := func() *media.Photo {
			p, err := cs.IngestPhoto(ctx, bytes.NewReader(sweepJPEG(t, 64, 48)))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		kept := ingest()
		if _, err := cs.SavePhoto(ctx, owner.ID, kept, "kept", nil); err != nil {
			t.Fatal(err)
		}
		oldOrphan, youngOrphan := ingest(), ingest()
		tmp := func(name string) string {
			p := filepath.Join(root, "tmp", name)
			if err := os.WriteFile(p, make([]byte, 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		oldTemp, youngTemp, oldProbe := tmp("upload-crashed"), tmp("upload-running"), tmp("probe-crashed")

		old, young := now.Add(-2*time.Hour), now.Add(-10*time.Minute)
		var orphanBytes int64
		for _, v := range []string{media.VariantOriginal, media.VariantClean, media.VariantLarge, media.VariantThumb} {
			p, _ := st.Path(media.VariantKey(kept.Key, v))
			setAge(t, p, old.Add(-24*time.Hour))
			p, _ = st.Path(media.VariantKey(oldOrphan.Key, v))
			setAge(t, p, old)
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			orphanBytes += info.Size()
			p, _ = st.Path(media.VariantKey(youngOrphan.Key, v))
			setAge(t, p, young)
		}
		setAge(t, oldTemp, old)
		setAge(t, oldProbe, old)
		setAge(t, youngTemp, young)

		before := storeFiles(t, root)
		res, err := cs.SweepMedia(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := content.SweepResult{TempFiles: 2, OrphanFiles: 4, Bytes: 2000 + orphanBytes}
		if res != want {
			t.Errorf("sweep: %+v, want %+v", res, want)
		}
		after := map[string]bool{}
		for _, f := range storeFiles(t, root) {
			after[f] = true
		}
		for _, f := range before {
			gone := filepath.Base(f) == "upload-crashed" || filepath.Base(f) == "probe-crashed" ||
				filepath.Dir(f) == oldOrphan.Key
			if after[f] == gone {
				t.Errorf("%s: present after the sweep = %v, want %v", f, after[f], !gone)
			}
		}
		// The same sweep with a longer minimum age removes nothing more.
		clock.Set(now)
		if res, err := cs.SweepMedia(ctx, 3*time.Hour); err != nil || res != (content.SweepResult{}) {
			t.Errorf("second sweep: %+v, %v", res, err)
		}
	})
}

// enospcStore fails every write once limit bytes have been written to it,
// as a full filesystem does, so that each stage of an upload meets it.
type enospcStore struct {
	media.Store
	limit   int64
	written *int64
}

func (s enospcStore) Create(ctx context.Context, key string) (media.Pending, error) {
	p, err := s.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return enospcPending{Pending: p, s: s}, nil
}

type enospcPending struct {
	media.Pending
	s enospcStore
}

func (p enospcPending) Write(b []byte) (int, error) {
	left := p.s.limit - *p.s.written
	if int64(len(b)) > left {
		n, _ := p.Pending.Write(b[:max(left, 0)])
		*p.s.written += int64(n)
		return n, &fs.PathError{Op: "write", Path: "upload", Err: syscall.ENOSPC}
	}
	n, err := p.Pending.Write(b)
	*p.s.written += int64(n)
	return n, err
}

// An upload that meets a full disk at any stage (the original, the large,
// thumb or clean variants) is ENoSpace with the out-of-space message, and
// leaves no file behind.
func TestIngestPhotoOnFullDiskIsNoSpace(t *testing.T) {
	photo := sweepJPEG(t, 900, 700)
	root := filepath.Join(t.TempDir(), "media")
	st, err := media.NewFSStore(root)
	if err != nil {
		t.Fatal(err)
	}
	// Measure what a whole upload writes, then fail at points through it.
	var total int64
	cs := content.NewService(nil, app.SystemClock{}, nil, enospcStore{st, 1 << 40, &total}, 10<<20)
	p, err := cs.IngestPhoto(context.Background(), bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.DiscardPhoto(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{0, 100, int64(len(photo)) / 2, int64(len(photo)) + 10, total - int64(len(photo)) - 10, total - 10} {
		var written int64
		cs := content.NewService(nil, app.SystemClock{}, nil, enospcStore{st, limit, &written}, 10<<20)
		_, err := cs.IngestPhoto(context.Background(), io.MultiReader(bytes.NewReader(photo)))
		if app.ErrorCode(err) != app.ENoSpace || app.ErrorMessage(err) != app.NoSpaceMessage {
			t.Errorf("full after %d of %d bytes: %q %q (%v)", limit, total, app.ErrorCode(err), app.ErrorMessage(err), err)
		}
		if files := storeFiles(t, root); len(files) != 0 {
			t.Errorf("full after %d bytes: left %v", limit, files)
		}
	}
}

// Photos are looked up in batches; orphans and saved photos spread over
// several batches are told apart all the same.
func TestSweepMediaInBatches(t *testing.T) {
	t.Cleanup(content.SetSweepBatch(2))
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		root := filepath.Join(t.TempDir(), "media")
		st, err := media.NewFSStore(root)
		if err != nil {
			t.Fatal(err)
		}
		clock := app.NewFakeClock(time.Now().Add(2 * time.Hour))
		a := acl.NewService(db, clock, ctKeys)
		cs := content.NewService(db, clock, a, st, 10<<20)
		owner, err := a.CreateMember(ctx, "olive", "Olive", "password-olive")
		if err != nil {
			t.Fatal(err)
		}
		saved := map[string]bool{}
		for i := 0; i < 9; i++ {
			p, err := cs.IngestPhoto(ctx, bytes.NewReader(sweepJPEG(t, 16, 16)))
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 {
				if _, err := cs.SavePhoto(ctx, owner.ID, p, "", nil); err != nil {
					t.Fatal(err)
				}
				saved[p.Key] = true
			}
		}
		res, err := cs.SweepMedia(ctx, time.Hour)
		if err != nil || res.OrphanFiles != 6*4 {
			t.Errorf("sweep: %+v, %v; want 24 orphan files", res, err)
		}
		left := map[string]bool{}
		for _, f := range storeFiles(t, root) {
			left[filepath.ToSlash(filepath.Dir(f))] = true
		}
		if len(left) != len(saved) {
			t.Errorf("left %v, want the saved photos %v", left, saved)
		}
		for k := range saved {
			if !left[k] {
				t.Errorf("saved photo %s was swept", k)
			}
		}
	})
}

// BenchmarkSweepMedia measures the hourly sweep in its usual state: a store
// of 2000 photos (8000 files), all with rows, nothing to remove.
func BenchmarkSweepMedia(b *testing.B) {
	for _, dialect := range dbtest.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := dbtest.Open(b, dialect)
			st, err := media.NewFSStore(filepath.Join(b.TempDir(), "media"))
			if err != nil {
				b.Fatal(err)
			}
			clock := app.NewFakeClock(time.Now().Add(2 * time.Hour))
			a := acl.NewService(db, clock, ctKeys)
			cs := content.NewService(db, clock, a, st, 10<<20)
			owner, err := a.CreateMember(ctx, "olive", "Olive", "password-olive")
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 2000; i++ {
				base := fmt.Sprintf("%02x/p%06d", i%256, i)
				for _, v := range []string{media.VariantOriginal, media.VariantClean, media.VariantLarge, media.VariantThumb} {
					p, err := st.Create(ctx, media.VariantKey(base, v))
					if err != nil {
						b.Fatal(err)
					}
					p.Write([]byte("x"))
					if err := p.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := cs.SavePhoto(ctx, owner.ID, &media.Photo{Key: base, ContentType: "image/jpeg", Width: 1, Height: 1, Size: 1}, "", nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := cs.SweepMedia(ctx, time.Hour)
				if err != nil || res != (content.SweepResult{}) {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}

// The sweep's question, which of a batch of stored keys a photo still
// refers to, is answered by index, not by a scan of every item.
func TestSweepLooksUpKeysByIndex(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite")
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN SELECT media_key FROM items WHERE media_key IN ('a', 'b')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING COVERING INDEX items_media_key_idx") {
		t.Errorf("plan %q: want the items_media_key_idx index", got)
	}
}
