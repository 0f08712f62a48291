package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hubshare/content"
)

func imItem(t *testing.T, e *env, owner, id int64) *content.Item {
	t.Helper()
	it, err := e.cs.Item(context.Background(), owner, id)
	if err != nil {
		t.Fatalf("item %d: %v", id, err)
	}
	return it
}

// The owner edits a photo's title and caption, a post's text and an
// album's description from the item page; a refused edit changes nothing.
func TestOwnerEditsItemsFromTheItemPage(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		photo := pagesPhoto(t, e, alice.ID, "IMG_2041", nil)
		post := pagesPost0(t, e, alice.ID, "Diary")
		page := fmt.Sprintf("/items/%d", photo.ID)

		body := pagesOK(t, cl, page)
		pagesContains(t, "photo page", body, fmt.Sprintf(`action="/items/%d/edit"`, photo.ID), `<label for="edit-title">`, `<label for="edit-body">Caption</label>`,
			fmt.Sprintf(`action="/items/%d/album"`, photo.ID), fmt.Sprintf(`action="/items/%d/delete"`, photo.ID))
		pagesSaved(t, cl, page, page+"/edit", url.Values{"title": {"Sunset at the lake"}, "body": {"From the pier."}}, page+"?done=saved")
		pagesContains(t, "edited photo", pagesOK(t, cl, page+"?done=saved"), "Saved.", "<h1>Sunset at the lake</h1>", "From the pier.")
		if it := imItem(t, e, alice.ID, photo.ID); it.Title != "Sunset at the lake" || it.Body != "From the pier." {
			t.Fatalf("photo after the edit: %q %q", it.Title, it.Body)
		}

		// Refused: the page again with the message and the input, nothing changed.
		_, body = pagesPost(t, cl, page, page+"/edit", url.Values{"title": {strings.Repeat("x", 201)}, "body": {"New caption"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused edit", body, "The title is too long", "New caption")
		if it := imItem(t, e, alice.ID, photo.ID); it.Title != "Sunset at the lake" || it.Body != "From the pier." {
			t.Fatalf("a refused edit changed the photo: %q %q", it.Title, it.Body)
		}

		postPage := fmt.Sprintf("/items/%d", post.ID)
		pagesContains(t, "post page", pagesOK(t, cl, postPage), `<label for="edit-body">Text</label>`)
		pagesSaved(t, cl, postPage, postPage+"/edit", url.Values{"title": {""}, "body": {"Only text now."}}, postPage+"?done=saved")
		pagesContains(t, "edited post", pagesOK(t, cl, postPage), "<h1>Only text now.</h1>")
		_, body = pagesPost(t, cl, postPage, postPage+"/edit", url.Values{"title": {""}, "body": {" "}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused post edit", body, "A post needs a title or a body.")

		// Someone else's item: not found, unchanged.
		bob := e.member("bob")
		bobs := pagesPost0(t, e, bob.ID, "Bob's")
		resp := cl.postForm(fmt.Sprintf("/items/%d/edit", bobs.ID), url.Values{"title": {"Mine now"}, "body": {""}}, "/")
		gtStatus(t, "edit of another member's item", resp, http.StatusNotFound)
		if it := imItem(t, e, bob.ID, bobs.ID); it.Title != "Bob's" {
			t.Fatalf("another member's item was edited: %q", it.Title)
		}
	})
}

// A photo moves into one of the owner's albums and out again; the album's
// cover is chosen among its photos.
func TestOwnerMovesPhotosAndSetsTheCover(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		cl := e.client()
		cl.login("alice")
		album, _ := e.cs.CreateAlbum(ctx, alice.ID, "Holidays")
		bobsAlbum, _ := e.cs.CreateAlbum(ctx, bob.ID, "Bob's album")
		first := pagesPhoto(t, e, alice.ID, "First", &album.ID)
		photo := pagesPhoto(t, e, alice.ID, "Lake", nil)
		page, albumPage := fmt.Sprintf("/items/%d", photo.ID), fmt.Sprintf("/items/%d", album.ID)

		pagesContains(t, "photo page", pagesOK(t, cl, page), `<label for="move-album">`, fmt.Sprintf(`<option value="%d">Holidays</option>`, album.ID))
		pagesSaved(t, cl, page, page+"/album", url.Values{"album_id": {fmt.Sprint(album.ID)}}, page+"?done=saved")
		pagesContains(t, "moved photo", pagesOK(t, cl, page), fmt.Sprintf(`<option value="%d" selected>Holidays</option>`, album.ID), "← Holidays")
		pagesContains(t, "album", pagesOK(t, cl, albumPage), "2 photos", fmt.Sprintf(`href="/items/%d"`, photo.ID))

		// Refused: another member's album, a post; nothing moves.
		for _, bad := range []string{fmt.Sprint(bobsAlbum.ID), fmt.Sprint(first.ID), "abc"} {
			_, body := pagesPost(t, cl, page, page+"/album", url.Values{"album_id": {bad}}, http.StatusUnprocessableEntity)
			if !strings.Contains(body, "is not one of your albums") && !strings.Contains(body, "Choose one of your albums.") {
				t.Errorf("move into %s: no message", bad)
			}
		}
		if it := imItem(t, e, alice.ID, photo.ID); it.AlbumID == nil || *it.AlbumID != album.ID {
			t.Fatalf("a refused move moved the photo: %v", it.AlbumID)
		}

		// The cover: the first photo until one is chosen.
		body := pagesOK(t, cl, albumPage)
		pagesContains(t, "album page", body, fmt.Sprintf(`action="/items/%d/cover"`, album.ID), `<label for="cover-photo">`, `<option value="" selected>The first photo</option>`)
		pagesSaved(t, cl, albumPage, albumPage+"/cover", url.Values{"cover_id": {fmt.Sprint(photo.ID)}}, albumPage+"?done=saved")
		body = pagesOK(t, cl, albumPage)
		pagesContains(t, "album with a cover", body, fmt.Sprintf(`<option value="%d" selected>Lake</option>`, photo.ID), `class="tile is-cover" href="`+page+`"`)
		pagesContains(t, "home", pagesOK(t, cl, "/"), fmt.Sprintf(`<span class="tile-cover"><img src="/media/%d/thumb"`, photo.ID))
		_, body = pagesPost(t, cl, albumPage, albumPage+"/cover", url.Values{"cover_id": {fmt.Sprint(album.ID)}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused cover", body, "is not in this album")
		if it := imItem(t, e, alice.ID, album.ID); it.CoverID == nil || *it.CoverID != photo.ID {
			t.Fatalf("a refused cover changed it: %v", it.CoverID)
		}

		// From the photo's own page.
		firstPage := fmt.Sprintf("/items/%d", first.ID)
		pagesContains(t, "photo in an album", pagesOK(t, cl, firstPage), fmt.Sprintf(`action="/items/%d/cover"`, album.ID), "Use as album cover")
		pagesLacks(t, "the cover's page", pagesOK(t, cl, page), "Use as album cover")
		pagesSaved(t, cl, firstPage, albumPage+"/cover", url.Values{"cover_id": {fmt.Sprint(first.ID)}}, albumPage+"?done=saved")
		pagesSaved(t, cl, page, albumPage+"/cover", url.Values{"cover_id": {fmt.Sprint(photo.ID)}}, albumPage+"?done=saved")

		// Out of the album: no longer its cover either.
		pagesSaved(t, cl, page, page+"/album", url.Values{"album_id": {""}}, page+"?done=saved")
		if it := imItem(t, e, alice.ID, photo.ID); it.AlbumID != nil {
			t.Fatalf("photo still in album %d", *it.AlbumID)
		}
		if it := imItem(t, e, alice.ID, album.ID); it.CoverID != nil {
			t.Fatalf("the photo that left is still the cover")
		}
		pagesContains(t, "album", pagesOK(t, cl, albumPage), "1 photo")
	})
}

// Delete asks first (a page of its own without script), then removes the
// item and a photo's files.
func TestOwnerDeletesAfterConfirmation(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		photo := pagesPhoto(t, e, alice.ID, "Lake", nil)
		post := pagesPost0(t, e, alice.ID, "Diary")
		page := fmt.Sprintf("/items/%d", photo.ID)
		files := len(e.mediaFiles())

		// Without the confirmation the answer is the confirmation.
		_, body := pagesPost(t, cl, page, page+"/delete", url.Values{}, http.StatusOK)
		pagesContains(t, "confirmation", body, "Delete “Lake”?", "files are removed for good", `name="confirm" value="yes"`, `href="`+page+`">Cancel`)
		pagesContains(t, "confirmation page", pagesOK(t, cl, page+"/delete"), "Delete “Lake”?")
		imItem(t, e, alice.ID, photo.ID)

		pagesSaved(t, cl, page+"/delete", page+"/delete", url.Values{"confirm": {"yes"}}, "/?done=deleted")
		if _, err := e.cs.Item(context.Background(), alice.ID, photo.ID); err == nil {
			t.Fatal("the photo is still there")
		}
		if n := len(e.mediaFiles()); n != files-4 {
			t.Fatalf("media files: %d before, %d after", files, n)
		}
		body = pagesOK(t, cl, "/?done=deleted")
		pagesContains(t, "home", body, "Deleted.", "Diary")
		pagesLacks(t, "home", body, "Lake")
		gtStatus(t, "deleted photo", cl.get(page), http.StatusNotFound)

		// Another member cannot delete it.
		other := e.client()
		e.member("bob")
		other.login("bob")
		resp := other.postForm(fmt.Sprintf("/items/%d/delete", post.ID), url.Values{"confirm": {"yes"}}, "/")
		gtStatus(t, "delete by another member", resp, http.StatusNotFound)
		imItem(t, e, alice.ID, post.ID)
	})
}
