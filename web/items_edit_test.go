package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

type editedItem struct {
	ID      int64  `json:"id"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	AlbumID *int64 `json:"album_id"`
	CoverID *int64 `json:"cover_id"`
}

// PATCH /items/{id} edits the title, a post's text or a photo's caption,
// moves a photo into or out of an album and sets an album's cover; a refused
// edit changes nothing (PRODUCT, contract additions).
func TestPatchItemEditsTextAlbumAndCover(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		summer, winter := alice.createAlbum("Summer"), alice.createAlbum("Winter")
		p1 := e.uploadPhoto(alice.key, "One", testJPEG(t, 32, 24), summer)
		p2 := e.uploadPhoto(alice.key, "Two", testJPEG(t, 32, 24), summer)
		post := alice.post("Note", "Some text.")
		bobs := bob.createAlbum("Bob's")
		get := func(id int64) editedItem {
			t.Helper()
			var it editedItem
			alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d", id), "", http.StatusOK, &it)
			return it
		}
		patch := func(id int64, body string, want int) editedItem {
			t.Helper()
			var it editedItem
			if want == http.StatusOK {
				alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", id), body, want, &it)
			} else {
				alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", id), body, want)
			}
			return it
		}

		if it := patch(p1, `{"title":"Sunset","caption":"From the pier."}`, http.StatusOK); it.Title != "Sunset" || it.Body != "From the pier." {
			t.Errorf("title and caption: %+v", it)
		}
		if it := patch(post, `{"body":"New text."}`, http.StatusOK); it.Body != "New text." || it.Title != "Note" {
			t.Errorf("post text: %+v", it)
		}
		if it := patch(p1, fmt.Sprintf(`{"album_id":%d}`, winter), http.StatusOK); it.AlbumID == nil || *it.AlbumID != winter {
			t.Errorf("move to another album: %+v", it)
		}
		if it := patch(summer, fmt.Sprintf(`{"cover_id":%d}`, p2), http.StatusOK); it.CoverID == nil || *it.CoverID != p2 {
			t.Errorf("set the cover: %+v", it)
		}

		// Refused edits, each leaving everything as it was.
		body := alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", summer), fmt.Sprintf(`{"cover_id":%d}`, p1), http.StatusUnprocessableEntity)
		if !strings.Contains(body, "is not in this album") {
			t.Errorf("a cover from another album: %s", body)
		}
		patch(p2, fmt.Sprintf(`{"title":"%s","album_id":%d}`, strings.Repeat("x", 201), winter), http.StatusUnprocessableEntity)
		if it := get(p2); it.Title != "Two" || it.AlbumID == nil || *it.AlbumID != summer {
			t.Errorf("a refused edit changed the photo: %+v", it)
		}
		patch(p2, fmt.Sprintf(`{"album_id":%d}`, bobs), http.StatusUnprocessableEntity)
		patch(p2, fmt.Sprintf(`{"album_id":%d}`, post), http.StatusUnprocessableEntity)
		patch(post, fmt.Sprintf(`{"album_id":%d}`, summer), http.StatusUnprocessableEntity)
		patch(post, `{"cover_id":null}`, http.StatusUnprocessableEntity)
		patch(p2, `{"album_id":"summer"}`, http.StatusUnprocessableEntity)
		patch(p2, `{"body":"a","caption":"b"}`, http.StatusUnprocessableEntity)
		patch(post, `{"title":"","body":""}`, http.StatusUnprocessableEntity)
		bob.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", p2), `{"title":"mine now"}`, http.StatusNotFound)
		if it := get(summer); it.CoverID == nil || *it.CoverID != p2 {
			t.Errorf("refused edits changed the album: %+v", it)
		}

		// A photo that leaves its album is no longer its cover.
		if it := patch(p2, `{"album_id":null}`, http.StatusOK); it.AlbumID != nil {
			t.Errorf("out of the album: %+v", it)
		}
		if it := get(summer); it.CoverID != nil {
			t.Errorf("the album keeps a cover that left it: %+v", it)
		}
	})
}
