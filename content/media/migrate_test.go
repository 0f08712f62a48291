package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func putObject(tb testing.TB, st Store, key string, data []byte) {
	tb.Helper()
	p, err := st.Create(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := p.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// From S3 to the disk: every object is copied once, a second run copies
// nothing.
func TestMigrateFromS3(t *testing.T) {
	ctx := context.Background()
	src := newTestS3Store(t)
	dst, _ := newTestStore(t)
	big := make([]byte, S3PartSize+100)
	rand.Read(big)
	objects := map[string][]byte{"ab/one/original": big, "ab/one/thumb": []byte("thumb"), "cd/two/large": {}}
	for k, v := range objects {
		putObject(t, src, k, v)
	}
	res, err := Migrate(ctx, src, dst, nil)
	if err != nil || res.Copied != 3 || res.Present != 0 || res.Bytes != int64(len(big)+5) {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	for k, v := range objects {
		if got := readObject(t, dst, k); !bytes.Equal(got, v) {
			t.Errorf("%s: %d bytes, want %d", k, len(got), len(v))
		}
	}
	if res, err := Migrate(ctx, src, dst, nil); err != nil || res.Copied != 0 || res.Present != 3 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
}

// A copy that does not read back as the source is reported and removed.
func TestMigrateRefusesABadCopy(t *testing.T) {
	ctx := context.Background()
	src, _ := newTestStore(t)
	dst := newTestS3Store(t)
	putObject(t, src, "ab/one/original", []byte("the original bytes"))
	_, err := Migrate(ctx, src, flippingStore{dst}, nil)
	if err == nil || !strings.Contains(err.Error(), "differs from the source") {
		t.Fatalf("bad copy: %v", err)
	}
	if _, err := dst.Open(ctx, "ab/one/original"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the bad copy was kept: %v", err)
	}
}

// flippingStore damages what is written to it.
type flippingStore struct{ Store }

func (f flippingStore) Create(ctx context.Context, key string) (Pending, error) {
	p, err := f.Store.Create(ctx, key)
	return flippingPending{p}, err
}

type flippingPending struct{ Pending }

func (f flippingPending) Write(b []byte) (int, error) {
	c := bytes.Clone(b)
	for i := range c {
		c[i] ^= 1
	}
	return f.Pending.Write(c)
}
