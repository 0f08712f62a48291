package acl_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"
	"pgregory.net/rapid"

	"hubshare/acl"
	"hubshare/app/database/dbtest"
)

// visItem is one item of a generated world, as the Go decision sees it.
type visItem struct {
	id    int64
	kind  string
	owner int64
	album int64 // 0 when not in an album
	acl   acl.ACL
}

// visIdentity is a member, or a guest token with its issuer.
type visIdentity struct {
	label      string
	self       int64
	tokenOwner int64
}

// visWorlds is how many random worlds each database gets. Every world
// writes a few dozen rows, so the property runs on fewer cases than rapid's
// default; a failing case and its shrinking always run in full.
const visWorlds = 25

// VisibleSQL, the database form of the visibility rule, gives the same answer
// as MayView for every identity and item of small random worlds written
// through the services.
func TestVisibleSQLMatchesMayView(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := tkNewWorld(t, db)
		all := []int64{w.member("vis1").ID, w.member("vis2").ID, w.member("vis3").ID}
		var round atomic.Int64
		var failing atomic.Bool
		rapid.Check(t, func(rt *rapid.T) {
			if !failing.Load() && round.Load() >= visWorlds {
				return
			}
			round.Add(1)
			defer func() {
				if rt.Failed() {
					failing.Store(true)
				}
			}()
			// A fresh world each case: the members stay, everything else goes.
			for _, q := range []string{"DELETE FROM items", "DELETE FROM principals WHERE kind IN ('group', 'token')"} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					rt.Fatal(err)
				}
			}
			members := all[:rapid.IntRange(2, 3).Draw(rt, "members")]
			owner, other := members[0], members[1]

			var groups, tokens []int64
			for i := range rapid.IntRange(0, 3).Draw(rt, "groups") {
				g, err := w.s.CreateGroup(ctx, owner, fmt.Sprintf("g%d-%d", round.Load(), i))
				if err != nil {
					rt.Fatal(err)
				}
				groups = append(groups, g.ID)
			}
			for range rapid.IntRange(1, 3).Draw(rt, "tokens") {
				tk, _, err := w.s.CreateToken(ctx, owner, acl.TokenInput{})
				if err != nil {
					rt.Fatal(err)
				}
				tokens = append(tokens, tk.ID)
			}
			stranger, _, err := w.s.CreateToken(ctx, other, acl.TokenInput{})
			if err != nil {
				rt.Fatal(err)
			}

			// Group memberships: members of the hub and the owner's tokens.
			inGroups := map[int64][]int64{}
			for i, g := range groups {
				var ms []int64
				for _, p := range append(slices.Clone(members), tokens...) {
					if rapid.Bool().Draw(rt, fmt.Sprintf("group %d holds %d", i, p)) {
						ms = append(ms, p)
						inGroups[p] = append(inGroups[p], g)
					}
				}
				if _, err := w.s.SetGroupMembers(ctx, owner, g, ms); err != nil {
					rt.Fatal(err)
				}
			}

			// Items: the owner's posts, albums and photos (in an album of the
			// same owner or loose), and a post of another member.
			var items []*visItem
			add := func(it *visItem) { items = append(items, it) }
			for range rapid.IntRange(0, 3).Draw(rt, "posts") {
				it, err := w.cs.CreatePost(ctx, owner, "post", "")
				if err != nil {
					rt.Fatal(err)
				}
				add(&visItem{id: it.ID, kind: "post", owner: owner})
			}
			var albums []int64
			for range rapid.IntRange(0, 2).Draw(rt, "albums") {
				it, err := w.cs.CreateAlbum(ctx, owner, "album")
				if err != nil {
					rt.Fatal(err)
				}
				albums = append(albums, it.ID)
				add(&visItem{id: it.ID, kind: "album", owner: owner})
			}
			for i := range rapid.IntRange(0, 3).Draw(rt, "photos") {
				var album int64
				if len(albums) > 0 {
					if k := rapid.IntRange(-1, len(albums)-1).Draw(rt, fmt.Sprintf("album of photo %d", i)); k >= 0 {
						album = albums[k]
					}
				}
				add(&visItem{id: w.photo(owner, album, "photo"), kind: "photo", owner: owner, album: album})
			}
			theirs, err := w.cs.CreatePost(ctx, other, "their post", "")
			if err != nil {
				rt.Fatal(err)
			}
			add(&visItem{id: theirs.ID, kind: "post", owner: other})

			// Random ACLs over the principals each owner may name.
			ownPool := append(append(slices.Clone(members), groups...), tokens...)
			for _, it := range items {
				pool := ownPool
				if it.owner != owner {
					pool = members
				}
				it.acl = acl.ACL{Public: rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("item %d public", it.id)) == 0}
				for _, p := range pool {
					switch rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("item %d principal %d", it.id, p)) {
					case 2:
						it.acl.Allow = append(it.acl.Allow, p)
					case 3:
						it.acl.Deny = append(it.acl.Deny, p)
					}
				}
				if _, err := w.s.PutACL(ctx, it.owner, it.id, it.acl); err != nil {
					rt.Fatal(err)
				}
			}

			// Then edits that move the tokens' kept reach, sent at the same
			// time as an owner's several tabs would: memberships, grants and
			// removals, public flags, photos moving between albums; then
			// deletions of a group and an item. The world is read back from
			// the database afterwards, whatever order the edits took.
			type edit func() error
			var edits []edit
			for e := range rapid.IntRange(0, 6).Draw(rt, "edits") {
				switch rapid.IntRange(0, 6).Draw(rt, fmt.Sprintf("edit %d", e)) {
				case 5:
					// The job that counts the tokens whose groups changed,
					// running among the edits.
					edits = append(edits, func() error { _, err := w.s.CatchUpReach(ctx); return err })
				case 0:
					if len(groups) == 0 {
						continue
					}
					g := groups[rapid.IntRange(0, len(groups)-1).Draw(rt, fmt.Sprintf("edit %d group", e))]
					var ms []int64
					for _, p := range append(slices.Clone(members), tokens...) {
						if rapid.Bool().Draw(rt, fmt.Sprintf("edit %d holds %d", e, p)) {
							ms = append(ms, p)
						}
					}
					edits = append(edits, func() error { _, err := w.s.SetGroupMembers(ctx, owner, g, ms); return err })
				case 1, 2:
					it := items[rapid.IntRange(0, len(items)-1).Draw(rt, fmt.Sprintf("edit %d item", e))]
					if it.owner != owner {
						continue
					}
					p := ownPool[rapid.IntRange(0, len(ownPool)-1).Draw(rt, fmt.Sprintf("edit %d principal", e))]
					switch rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("edit %d how", e)) {
					case 0:
						edits = append(edits, func() error { return w.s.Grant(ctx, owner, it.id, p, false) })
					case 1:
						edits = append(edits, func() error { return w.s.Grant(ctx, owner, it.id, p, true) })
					default:
						edits = append(edits, func() error { return w.s.Ungrant(ctx, owner, it.id, p) })
					}
				case 6:
					// A whole new list, mostly with the flag it had (a
					// write of the entries only, which recounts only the
					// tokens of the entries that change).
					it := items[rapid.IntRange(0, len(items)-1).Draw(rt, fmt.Sprintf("edit %d list item", e))]
					if it.owner != owner {
						continue
					}
					a := acl.ACL{Public: it.acl.Public != (rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("edit %d flips public", e)) == 0)}
					for _, p := range ownPool {
						switch rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("edit %d principal %d", e, p)) {
						case 2:
							a.Allow = append(a.Allow, p)
						case 3:
							a.Deny = append(a.Deny, p)
						}
					}
					edits = append(edits, func() error { _, err := w.s.PutACL(ctx, owner, it.id, a); return err })
				case 3:
					it := items[rapid.IntRange(0, len(items)-1).Draw(rt, fmt.Sprintf("edit %d public item", e))]
					if it.owner != owner {
						continue
					}
					public := rapid.Bool().Draw(rt, fmt.Sprintf("edit %d public", e))
					edits = append(edits, func() error { return w.s.SetPublic(ctx, owner, it.id, public) })
				case 4:
					var photos []*visItem
					for _, it := range items {
						if it.kind == "photo" && it.owner == owner {
							photos = append(photos, it)
						}
					}
					if len(photos) == 0 {
						continue
					}
					ph := photos[rapid.IntRange(0, len(photos)-1).Draw(rt, fmt.Sprintf("edit %d photo", e))]
					var to *int64
					if k := rapid.IntRange(-1, len(albums)-1).Draw(rt, fmt.Sprintf("edit %d album", e)); k >= 0 {
						to = &albums[k]
					}
					edits = append(edits, func() error { return w.cs.MoveToAlbum(ctx, owner, ph.id, to) })
				}
			}
			errs := make(chan error, len(edits))
			for _, ed := range edits {
				go func() { errs <- ed() }()
			}
			for range edits {
				if err := <-errs; err != nil {
					rt.Fatalf("a concurrent edit: %v", err)
				}
			}
			if len(groups) > 0 && rapid.IntRange(0, 3).Draw(rt, "delete a group") == 0 {
				if err := w.s.DeleteGroup(ctx, owner, groups[0]); err != nil {
					rt.Fatal(err)
				}
				groups = groups[1:]
			}
			if rapid.IntRange(0, 3).Draw(rt, "delete an item") == 0 {
				k := rapid.IntRange(0, len(items)-1).Draw(rt, "deleted item")
				if err := w.cs.DeleteItem(ctx, items[k].owner, items[k].id); err != nil {
					rt.Fatal(err)
				}
				items = slices.Delete(items, k, k+1)
			}
			inGroups = map[int64][]int64{}
			for _, g := range groups {
				grp, err := w.s.Group(ctx, owner, g)
				if err != nil {
					rt.Fatal(err)
				}
				for _, m := range grp.Members {
					inGroups[m] = append(inGroups[m], g)
				}
			}
			for _, it := range items {
				a, err := w.s.ItemACL(ctx, it.owner, it.id)
				if err != nil {
					rt.Fatal(err)
				}
				it.acl = *a
				stored, err := w.cs.Item(ctx, it.owner, it.id)
				if err != nil {
					rt.Fatal(err)
				}
				it.album = 0
				if stored.AlbumID != nil {
					it.album = *stored.AlbumID
				}
			}

			// The same world for the Go decision.
			model := map[int64]*acl.ItemACL{}
			for _, it := range items {
				var es []acl.Entry
				for _, p := range it.acl.Allow {
					es = append(es, acl.Entry{Principal: p})
				}
				for _, p := range it.acl.Deny {
					es = append(es, acl.Entry{Principal: p, Deny: true})
				}
				acl.SortEntries(es)
				model[it.id] = &acl.ItemACL{Owner: it.owner, Public: it.acl.Public, Entries: es}
			}
			for _, it := range items {
				if it.album != 0 {
					model[it.id].Album = model[it.album]
				}
			}

			var ids []visIdentity
			for _, m := range members {
				ids = append(ids, visIdentity{fmt.Sprintf("member %d", m), m, 0})
			}
			for _, tk := range tokens {
				ids = append(ids, visIdentity{fmt.Sprintf("token %d", tk), tk, owner})
			}
			ids = append(ids, visIdentity{fmt.Sprintf("stranger token %d", stranger.ID), stranger.ID, other})

			// After the catch-up job (or without it: a listing counts the
			// tokens it left), every token has its kept counts.
			caughtUp := rapid.Bool().Draw(rt, "catch up before listing")
			if caughtUp {
				if _, err := w.s.CatchUpReach(ctx); err != nil {
					rt.Fatal(err)
				}
			}
			kept := map[int64][2]int{}
			if caughtUp {
				var err error
				if kept, err = tkKeptStats(ctx, db, tokens); err != nil {
					rt.Fatal(err)
				}
				if len(kept) != len(tokens) {
					rt.Fatalf("after the catch-up %d of %d tokens have kept counts", len(kept), len(tokens))
				}
			}

			// ListTokens counts, set-wise, what is shared with each live
			// token (visible to it, not public): the same answer as the
			// decision item by item.
			listed, err := tkListTokens(w.s, ctx, owner)
			if err != nil {
				rt.Fatal(err)
			}
			for _, lt := range listed {
				ident := acl.NewIdentity(lt.ID, owner, inGroups[lt.ID])
				want := 0
				for _, it := range items {
					if acl.Shares(model[it.id], &ident) {
						want++
					}
				}
				if lt.Items != want {
					rt.Fatalf("ListTokens says token %d (groups %v) opens %d items, the decision says %d", lt.ID, inGroups[lt.ID], lt.Items, want)
				}
				// The entries naming it, directly or through its groups.
				entries := 0
				for _, it := range items {
					if it.owner != owner {
						continue
					}
					for _, p := range append(slices.Clone(it.acl.Allow), it.acl.Deny...) {
						if p == lt.ID || slices.Contains(inGroups[lt.ID], p) {
							entries++
						}
					}
				}
				if lt.Entries != entries {
					rt.Fatalf("ListTokens says token %d (groups %v) is named by %d entries, the ACLs say %d", lt.ID, inGroups[lt.ID], lt.Entries, entries)
				}
				if k, ok := kept[lt.ID]; caughtUp && (!ok || k != [2]int{want, entries}) {
					rt.Fatalf("the catch-up kept %v for token %d (groups %v), the decision says %d items and %d entries", k, lt.ID, inGroups[lt.ID], want, entries)
				}
			}

			// PublicSQL is the decision for a viewer with no account and no token.
			for _, it := range items {
				var n int
				if err := db.NewRaw("SELECT count(*) FROM items AS i WHERE i.id = ? AND "+acl.PublicSQL("i"), it.id).Scan(ctx, &n); err != nil {
					rt.Fatal(err)
				}
				if want := acl.IsPublic(model[it.id]); (n == 1) != want {
					rt.Fatalf("%s %d (album %d, acl %+v): PublicSQL says %v, IsPublic says %v", it.kind, it.id, it.album, it.acl, n == 1, want)
				}
			}

			// The share panel's "who can open this" is the decision for
			// every token of the owner.
			for _, it := range items {
				if it.owner != owner {
					continue
				}
				openers, err := w.s.WhoCanOpen(ctx, owner, it.id)
				if err != nil {
					rt.Fatal(err)
				}
				var got, want []int64
				for _, o := range openers {
					got = append(got, o.Token.ID)
				}
				for _, tk := range tokens {
					ident := acl.NewIdentity(tk, owner, inGroups[tk])
					if acl.MayView(model[it.id], &ident) {
						want = append(want, tk)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					rt.Fatalf("WhoCanOpen(%s %d) = %v, the decision says %v", it.kind, it.id, got, want)
				}
			}

			for _, id := range ids {
				ident := acl.NewIdentity(id.self, id.tokenOwner, inGroups[id.self])
				for _, it := range items {
					var q string
					if id.tokenOwner == 0 {
						q = "SELECT count(*) FROM items AS i WHERE i.id = ?0 AND (i.owner_id = ?1 OR " + acl.VisibleSQL("i", "?1") + ")"
					} else {
						q = "SELECT count(*) FROM items AS i WHERE i.id = ?0 AND i.owner_id = ?2 AND " + acl.VisibleSQL("i", "?1")
					}
					var n int
					if err := db.NewRaw(q, it.id, id.self, id.tokenOwner).Scan(ctx, &n); err != nil {
						rt.Fatal(err)
					}
					want := acl.MayView(model[it.id], &ident)
					if (n == 1) != want {
						rt.Fatalf("%s (groups %v) on %s %d of %d (album %d, acl %+v; album acl %+v): SQL says %v, MayView says %v (%+v)",
							id.label, inGroups[id.self], it.kind, it.id, it.owner, it.album, it.acl, albumACL(items, it.album),
							n == 1, want, acl.Decide(model[it.id], &ident))
					}
				}
			}
		})
	})
}

func albumACL(items []*visItem, album int64) *acl.ACL {
	for _, it := range items {
		if it.id == album {
			return &it.acl
		}
	}
	return nil
}
