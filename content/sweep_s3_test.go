package content_test

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/content"
	"hubshare/content/media"
	"hubshare/content/media/s3test"
)

func s3Keys(t *testing.T, st media.Store) []string {
	t.Helper()
	var keys []string
	if err := st.(media.Inventory).Walk(context.Background(), func(o media.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// On S3 the sweep goes by the objects' LastModified and the uploads'
// start: it leaves everything younger than the minimum age, then removes
// the orphan photo's objects and aborts the unfinished upload, and never
// touches a photo with a row.
func TestSweepMediaOnS3(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		srv := s3test.StartServer(t)
		st, err := media.OpenStore(ctx, srv.URL, srv.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now().UTC()
		clock := app.NewFakeClock(start)
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
		orphan := ingest()
		unfinished, err := st.Create(ctx, "zz/unfinished/original")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unfinished.Write(make([]byte, media.S3PartSize+1)); err != nil {
			t.Fatal(err)
		}
		all := s3Keys(t, st)
		if len(all) != 8 {
			t.Fatalf("stored: %v", all)
		}

		clock.Set(start.Add(30 * time.Minute))
		if res, err := cs.SweepMedia(ctx, time.Hour); err != nil || res != (content.SweepResult{}) {
			t.Fatalf("sweep of young leftovers: %+v, %v", res, err)
		}
		if got := s3Keys(t, st); len(got) != 8 {
			t.Fatalf("young objects removed: %v", got)
		}

		clock.Set(start.Add(2 * time.Hour))
		res, err := cs.SweepMedia(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if res.TempFiles != 1 || res.OrphanFiles != 4 || res.Bytes <= 0 {
			t.Errorf("sweep: %+v, want 1 unfinished upload and 4 orphan objects", res)
		}
		got := s3Keys(t, st)
		for _, k := range got {
			if !strings.HasPrefix(k, kept.Key+"/") {
				t.Errorf("left after the sweep: %s", k)
			}
		}
		if len(got) != 4 {
			t.Errorf("after the sweep: %v, want the kept photo's 4 objects", got)
		}
		for _, v := range []string{media.VariantOriginal, media.VariantThumb} {
			if o, err := st.Open(ctx, media.VariantKey(orphan.Key, v)); err == nil {
				o.Close()
				t.Errorf("orphan %s kept", v)
			}
		}
		// The aborted upload cannot be completed any more.
		if err := unfinished.Commit(); err == nil {
			t.Error("an upload aborted by the sweep could still be committed")
		}
	})
}
