package media

import (
	"context"
	"io"
	"sort"
	"testing"

	"github.com/minio/minio-go/v7"

	"hubshare/content/media/s3test"
)

// storeKinds are the stores the store-facing tests run against, as the
// database tests run against both databases.
var storeKinds = []string{"file", "s3"}

// eachStore runs fn as a subtest against a fresh store of every kind: the
// local disk, and an S3 bucket on a versitygw started for the test.
func eachStore(t *testing.T, fn func(t *testing.T, st Store)) {
	t.Helper()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, newKindStore(t, kind))
		})
	}
}

func newKindStore(tb testing.TB, kind string) Store {
	tb.Helper()
	if kind == "file" {
		st, _ := newTestStore(tb)
		return st
	}
	return newTestS3Store(tb)
}

func newTestS3Store(tb testing.TB) *S3Store {
	tb.Helper()
	srv := s3test.StartServer(tb)
	st, err := OpenStore(context.Background(), srv.URL, srv.Getenv)
	if err != nil {
		tb.Fatal(err)
	}
	return st.(*S3Store)
}

// leftovers lists everything a store holds, temporary files and unfinished
// uploads included: what a refused upload must not leave behind.
func leftovers(tb testing.TB, st Store) []string {
	tb.Helper()
	switch st := st.(type) {
	case *FSStore:
		return storeFiles(tb, st.root)
	case *S3Store:
		ctx := context.Background()
		var names []string
		for o := range st.client.ListObjects(ctx, st.bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				tb.Fatal(o.Err)
			}
			names = append(names, o.Key)
		}
		res, err := st.core.ListMultipartUploads(ctx, st.bucket, "", "", "", "", 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, u := range res.Uploads {
			names = append(names, "upload:"+u.Key)
		}
		sort.Strings(names)
		return names
	}
	tb.Fatalf("unknown store %T", st)
	return nil
}

// readObject reads a whole stored object.
func readObject(tb testing.TB, st Store, key string) []byte {
	tb.Helper()
	o, err := st.Open(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// objectKeys lists the keys Walk reports.
func objectKeys(tb testing.TB, st Store) []string {
	tb.Helper()
	var keys []string
	if err := st.(Inventory).Walk(context.Background(), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}
