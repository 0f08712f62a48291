package content_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app/database/dbtest"
	"hubshare/content"
	"hubshare/content/media"
)

// An album's cover, as each viewer sees it: the chosen cover when the
// viewer may see it, else the first photo the viewer may see; nothing for
// an album with no photo the viewer may see.
func TestAlbumCoverForEachViewer(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		alice := w.member("alice")
		album, err := w.cs.CreateAlbum(ctx, alice.ID, "Summer")
		if err != nil {
			t.Fatal(err)
		}
		photo := func(title string, albumID *int64) int64 {
			t.Helper()
			it, err := w.cs.SavePhoto(ctx, alice.ID, &media.Photo{Key: "k-" + title, ContentType: "image/jpeg", Width: 4, Height: 3}, title, albumID)
			if err != nil {
				t.Fatal(err)
			}
			return it.ID
		}
		elsewhere := photo("not in the album", nil)
		first := photo("first", &album.ID)
		second := photo("second", &album.ID)
		third := photo("third", &album.ID)

		grandma, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptr("Grandma")})
		if err != nil {
			t.Fatal(err)
		}
		cousin, _, err := w.s.CreateToken(ctx, alice.ID, acl.TokenInput{Name: ptr("Cousin")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.PutACL(ctx, alice.ID, album.ID, acl.ACL{Allow: []int64{grandma.ID, cousin.ID}}); err != nil {
			t.Fatal(err)
		}
		// The cousin may not see the first photo.
		if _, err := w.s.PutACL(ctx, alice.ID, first, acl.ACL{Deny: []int64{cousin.ID}}); err != nil {
			t.Fatal(err)
		}
		guest := func(tk *acl.GuestToken) content.Viewer {
			return content.Viewer{Guest: acl.GuestSession{}.With(tk)}
		}
		cover := func(what string, v content.Viewer) (int64, bool) {
			t.Helper()
			acc, err := w.cs.View(ctx, album.ID, v)
			if err != nil {
				t.Fatalf("%s: view the album: %v", what, err)
			}
			id, ok, err := w.cs.Cover(ctx, acc, v)
			if err != nil {
				t.Fatalf("%s: cover: %v", what, err)
			}
			return id, ok
		}
		want := func(what string, v content.Viewer, photo int64) {
			t.Helper()
			if got, ok := cover(what, v); !ok || got != photo {
				t.Errorf("%s: cover %d (%v), want %d", what, got, ok, photo)
			}
		}
		owner := content.Viewer{Member: alice}

		want("owner, no chosen cover", owner, first)
		want("grandma, no chosen cover", guest(grandma), first)
		want("cousin, first photo denied", guest(cousin), second)

		if _, err := w.cs.EditItem(ctx, alice.ID, album.ID, content.ItemEdit{SetCover: true, CoverID: &third}); err != nil {
			t.Fatal(err)
		}
		want("owner, chosen cover", owner, third)
		want("grandma, chosen cover", guest(grandma), third)
		want("cousin, chosen cover", guest(cousin), third)

		// A chosen cover the viewer may not see gives way to the first photo
		// the viewer may see.
		if _, err := w.cs.EditItem(ctx, alice.ID, album.ID, content.ItemEdit{SetCover: true, CoverID: &first}); err != nil {
			t.Fatal(err)
		}
		want("grandma, chosen cover first", guest(grandma), first)
		want("cousin, chosen cover denied to them", guest(cousin), second)

		// Nothing the viewer may see: no cover.
		if _, err := w.s.PutACL(ctx, alice.ID, second, acl.ACL{Deny: []int64{cousin.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.s.PutACL(ctx, alice.ID, third, acl.ACL{Deny: []int64{cousin.ID}}); err != nil {
			t.Fatal(err)
		}
		if got, ok := cover("cousin, every photo denied", guest(cousin)); ok {
			t.Errorf("cousin, every photo denied: cover %d", got)
		}
		empty, err := w.cs.CreateAlbum(ctx, alice.ID, "Empty")
		if err != nil {
			t.Fatal(err)
		}
		acc, err := w.cs.View(ctx, empty.ID, owner)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := w.cs.Cover(ctx, acc, owner); ok || err != nil {
			t.Errorf("an empty album: cover %d (%v), %v", got, ok, err)
		}
		if got, _ := cover("owner, after all", owner); got == elsewhere {
			t.Errorf("the cover is a photo outside the album")
		}
	})
}

func ptr[T any](v T) *T { return &v }
