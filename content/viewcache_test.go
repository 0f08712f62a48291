package content_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/content"
)

// A kept guest view is served only while nothing it was made of has changed:
// each change below, made through the services (or, for what they have no
// call for, straight in the database), ends a view that was kept a moment
// before, on the next request. The view must have been kept first, so each
// case checks that too.
func TestKeptViewEndsWithEveryChange(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := ctNewWorld(t, db)
		type scene struct {
			owner                    *acl.Member
			tk, tk2                  *acl.GuestToken
			group                    *acl.Group
			post, album, photo, open *content.Item
			session                  acl.GuestSession
		}
		n := 0
		setup := func() *scene {
			t.Helper()
			n++
			sc := &scene{owner: w.member(fmt.Sprintf("owner%d", n))}
			var err error
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			sc.tk, _, err = w.s.CreateToken(ctx, sc.owner.ID, acl.TokenInput{})
			must(err)
			sc.tk2, _, err = w.s.CreateToken(ctx, sc.owner.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_download": true}})
			must(err)
			sc.group, err = w.s.CreateGroup(ctx, sc.owner.ID, "Family")
			must(err)
			must(w.s.AddGroupMember(ctx, sc.owner.ID, sc.group.ID, sc.tk.ID))
			// The post reaches tk through its group only; tk2 is in no ACL.
			sc.post = w.post(sc.owner.ID, "Post", "Body.")
			_, err = w.s.PutACL(ctx, sc.owner.ID, sc.post.ID, acl.ACL{Allow: []int64{sc.group.ID}})
			must(err)
			// The photo reaches tk through its album only.
			sc.album, err = w.cs.CreateAlbum(ctx, sc.owner.ID, "Album")
			must(err)
			_, err = w.s.PutACL(ctx, sc.owner.ID, sc.album.ID, acl.ACL{Allow: []int64{sc.tk.ID}})
			must(err)
			now := w.clock.Now()
			sc.photo = &content.Item{OwnerID: sc.owner.ID, Kind: content.KindPhoto, AlbumID: &sc.album.ID, CreatedAt: now, UpdatedAt: now}
			_, err = db.NewInsert().Model(sc.photo).Exec(ctx)
			must(err)
			// Anyone may see this one.
			sc.open = w.post(sc.owner.ID, "Open", "For all.")
			must(w.s.SetPublic(ctx, sc.owner.ID, sc.open.ID, true))
			sc.session = acl.GuestSession{}.With(sc.tk).With(sc.tk2)
			return sc
		}
		gone := func(a *content.Access, err error) string {
			if app.ErrorCode(err) != app.ENotFound {
				return fmt.Sprintf("got %+v, %v; want not found", a, err)
			}
			return ""
		}
		str := func(s string) *string { return &s }
		cases := []struct {
			name    string
			item    func(sc *scene) int64
			anon    bool
			prepare func(sc *scene) error
			change  func(sc *scene) error
			want    func(a *content.Access, err error) string
		}{
			{name: "token revoked", change: func(sc *scene) error { return w.s.RevokeToken(ctx, sc.owner.ID, sc.tk.ID) }, want: gone},
			{name: "entry removed", change: func(sc *scene) error {
				_, err := w.s.PutACL(ctx, sc.owner.ID, sc.post.ID, acl.ACL{})
				return err
			}, want: gone},
			{name: "token denied", change: func(sc *scene) error { return w.s.Grant(ctx, sc.owner.ID, sc.post.ID, sc.tk.ID, true) }, want: gone},
			{name: "left the group", change: func(sc *scene) error {
				return w.s.RemoveGroupMember(ctx, sc.owner.ID, sc.group.ID, sc.tk.ID)
			}, want: gone},
			{name: "group deleted", change: func(sc *scene) error { return w.s.DeleteGroup(ctx, sc.owner.ID, sc.group.ID) }, want: gone},
			{name: "token rotated", change: func(sc *scene) error {
				_, _, err := w.s.RotateToken(ctx, sc.owner.ID, sc.tk.ID)
				return err
			}, want: gone},
			{name: "token deleted", change: func(sc *scene) error {
				_, err := db.NewRaw("DELETE FROM principals WHERE id = ?", sc.tk.ID).Exec(ctx)
				return err
			}, want: gone},
			{name: "item deleted", change: func(sc *scene) error { return w.cs.DeleteItem(ctx, sc.owner.ID, sc.post.ID) }, want: gone},
			{name: "expired by the clock", prepare: func(sc *scene) error {
				at := w.clock.Now().Add(time.Hour)
				_, err := w.s.UpdateToken(ctx, sc.owner.ID, sc.tk.ID, acl.TokenInput{ExpiresAt: &at})
				return err
			}, change: func(sc *scene) error { w.clock.Advance(2 * time.Hour); return nil }, want: gone},
			{name: "title edited", change: func(sc *scene) error {
				_, err := w.cs.UpdateItem(ctx, sc.owner.ID, sc.post.ID, str("New title"), nil)
				return err
			}, want: func(a *content.Access, err error) string {
				if err != nil || a.Item.Title != "New title" {
					return fmt.Sprintf("got %+v, %v; want the new title", a, err)
				}
				return ""
			}},
			{name: "download granted", change: func(sc *scene) error {
				_, err := w.s.UpdateToken(ctx, sc.owner.ID, sc.tk.ID, acl.TokenInput{Permissions: acl.PermissionsEdit{"can_download": true}})
				return err
			}, want: func(a *content.Access, err error) string {
				if err != nil || !a.Download {
					return fmt.Sprintf("got %+v, %v; want downloads", a, err)
				}
				return ""
			}},
			{name: "second token shared", change: func(sc *scene) error { return w.s.Grant(ctx, sc.owner.ID, sc.post.ID, sc.tk2.ID, false) },
				want: func(a *content.Access, err error) string {
					if err != nil || !a.Download {
						return fmt.Sprintf("got %+v, %v; want the union with the second token's downloads", a, err)
					}
					return ""
				}},
			{name: "note changed", change: func(sc *scene) error {
				_, err := w.s.UpdateToken(ctx, sc.owner.ID, sc.tk.ID, acl.TokenInput{Note: str("Hello there")})
				return err
			}, want: func(a *content.Access, err error) string {
				if err != nil || a.TokenNote != "Hello there" {
					return fmt.Sprintf("got %+v, %v; want the new note", a, err)
				}
				return ""
			}},
			{name: "owner renamed", change: func(sc *scene) error {
				_, err := db.NewRaw("UPDATE members SET display_name = 'Renamed' WHERE id = ?", sc.owner.ID).Exec(ctx)
				return err
			}, want: func(a *content.Access, err error) string {
				if err != nil || a.SharedBy != "Renamed" {
					return fmt.Sprintf("got %+v, %v; want the new name", a, err)
				}
				return ""
			}},
			{name: "photo left its album", item: func(sc *scene) int64 { return sc.photo.ID }, change: func(sc *scene) error {
				_, err := w.cs.EditItem(ctx, sc.owner.ID, sc.photo.ID, content.ItemEdit{SetAlbum: true})
				return err
			}, want: gone},
			{name: "album denies", item: func(sc *scene) int64 { return sc.photo.ID }, change: func(sc *scene) error {
				return w.s.Grant(ctx, sc.owner.ID, sc.album.ID, sc.tk.ID, true)
			}, want: gone},
			{name: "photo denies", item: func(sc *scene) int64 { return sc.photo.ID }, change: func(sc *scene) error {
				return w.s.Grant(ctx, sc.owner.ID, sc.photo.ID, sc.group.ID, true)
			}, want: gone},
			{name: "allow turned deny", change: func(sc *scene) error {
				// The post's one entry, changed in place.
				return w.s.Grant(ctx, sc.owner.ID, sc.post.ID, sc.group.ID, true)
			}, want: gone},
			{name: "album deleted", item: func(sc *scene) int64 { return sc.photo.ID }, change: func(sc *scene) error {
				return w.cs.DeleteItem(ctx, sc.owner.ID, sc.album.ID)
			}, want: gone},
			{name: "no longer public", anon: true, item: func(sc *scene) int64 { return sc.open.ID }, change: func(sc *scene) error {
				return w.s.SetPublic(ctx, sc.owner.ID, sc.open.ID, false)
			}, want: gone},
		}
		for _, c := range cases {
			sc := setup()
			if c.prepare != nil {
				if err := c.prepare(sc); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
			}
			id := sc.post.ID
			if c.item != nil {
				id = c.item(sc)
			}
			v := content.Viewer{Guest: sc.session}
			if c.anon {
				v = content.Viewer{}
			}
			if _, err := w.cs.View(ctx, id, v); err != nil {
				t.Fatalf("%s: first view: %v", c.name, err)
			}
			if !content.Kept(w.cs, id, v.Guest) {
				t.Fatalf("%s: the view was not kept", c.name)
			}
			if err := c.change(sc); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if msg := c.want(w.cs.View(ctx, id, v)); msg != "" {
				t.Errorf("%s: %s", c.name, msg)
			}
		}
	})
}

// The trigger that moves the epoch when a token changes names every column
// of guest_tokens but the three an opening writes, so that a column added
// later cannot change what guests see without ending the kept views.
func TestTokenEpochTriggerNamesEveryColumn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		var cols []string
		var def string
		var err error
		if db.Dialect().Name().String() == "sqlite" {
			err = db.NewRaw("SELECT name FROM pragma_table_info('guest_tokens')").Scan(ctx, &cols)
			if err == nil {
				err = db.NewRaw("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'guest_tokens_epoch_update'").Scan(ctx, &def)
			}
		} else {
			err = db.NewRaw("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'guest_tokens'").Scan(ctx, &cols)
			if err == nil {
				err = db.NewRaw("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'guest_tokens_epoch_update'").Scan(ctx, &def)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(cols) < 10 {
			t.Fatalf("guest_tokens has %d columns: %v", len(cols), cols)
		}
		written := map[string]bool{"uses": true, "last_used_at": true, "first_used_at": true}
		for _, c := range cols {
			named := strings.Contains(def, "OLD."+c+" ") || strings.Contains(def, "old."+c+" ")
			if written[c] && named {
				t.Errorf("the trigger names %s, which every opening writes", c)
			}
			if !written[c] && !named {
				t.Errorf("the trigger does not name guest_tokens.%s: a change to it would not end kept views", c)
			}
		}
	})
}
