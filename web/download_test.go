package web_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func zipEntries(t *testing.T, what string, resp *http.Response) map[string][]byte {
	t.Helper()
	body := gtStatus(t, what, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="album-`) {
		t.Errorf("%s: Content-Disposition %q", what, cd)
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatalf("%s: not a ZIP: %v", what, err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

func names(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// "Download all" (GET /items/{id}/download): a ZIP of the album's photos the
// viewer may download — originals without their metadata unless the token
// may show it, a photo denied to the token left out — under neutral names;
// not found when the viewer may download none.
func TestAlbumDownloadIsAZipOfWhatTheViewerMayDownload(t *testing.T) {
	t.Parallel()
	eachStoreEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		const marker = "taken at home, 12 Rose Lane"
		album := alice.createAlbum("Holiday")
		p1 := e.uploadPhoto(alice.key, "IMG_0001", jpegWithComment(t, marker), album)
		p2 := e.uploadPhoto(alice.key, "IMG_0002", jpegWithComment(t, marker), album)
		p3 := e.uploadPhoto(alice.key, "IMG_0003", jpegWithComment(t, marker), album)
		post := alice.post("Text", "x")
		path := fmt.Sprintf("/items/%d/download", album)

		dl := alice.share(album, `{"can_download":true}`)
		alice.putACL(p3, false, nil, []int64{dl.ID})
		cl := e.client()
		gtOpenLink(t, cl, dl.Link)
		files := zipEntries(t, "download with can_download", gtGet(t, cl, path))
		want := []string{fmt.Sprintf("photo-%d.jpg", p1), fmt.Sprintf("photo-%d.jpg", p2)}
		if got := names(files); !slices.Equal(got, want) {
			t.Errorf("the ZIP holds %v, want %v (the photo denied to the token left out)", got, want)
		}
		for name, b := range files {
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s in the ZIP keeps its metadata", name)
			}
			if !bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
				t.Errorf("%s in the ZIP is not a JPEG", name)
			}
		}

		meta := alice.share(album, `{"can_download":true,"show_metadata":true}`)
		mc := e.client()
		gtOpenLink(t, mc, meta.Link)
		files = zipEntries(t, "download with show_metadata", gtGet(t, mc, path))
		if len(files) != 3 {
			t.Errorf("with show_metadata the ZIP holds %v, want all three photos", names(files))
		}
		for name, b := range files {
			if !bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s: the original with show_metadata lost its metadata", name)
			}
		}

		view := alice.share(album, "")
		vc := e.client()
		gtOpenLink(t, vc, view.Link)
		gtStatus(t, "download without can_download", gtGet(t, vc, path), http.StatusNotFound)
		gtStatus(t, "download with a token's link on the URL", gtGet(t, e.client(), path+"?zat="+dl.Token), http.StatusSeeOther)
		gtStatus(t, "download without a session", gtGet(t, e.client(), path), http.StatusNotFound)
		gtStatus(t, "download of a post", gtGet(t, cl, fmt.Sprintf("/items/%d/download", post)), http.StatusNotFound)

		owner := e.client()
		owner.login("alice")
		if files := zipEntries(t, "the owner's download", owner.get(path)); len(files) != 3 {
			t.Errorf("the owner's ZIP holds %v, want three photos", names(files))
		}
	})
}
