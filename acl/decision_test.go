package acl

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Ids used by the table tests: members, groups and tokens share one space.
const (
	alice   int64 = 1 // owner of most items
	bob     int64 = 2
	carol   int64 = 3
	friends int64 = 10 // group: bob, carol
	family  int64 = 11 // group: carol
	tokA    int64 = 20 // guest token issued by alice
	tokB    int64 = 21 // guest token issued by bob
)

func acl(owner int64, public bool, entries ...Entry) *ItemACL {
	e := slices.Clone(entries)
	SortEntries(e)
	return &ItemACL{Owner: owner, Public: public, Entries: e}
}

func inAlbum(photo, album *ItemACL) *ItemACL {
	photo.Album = album
	return photo
}

func allow(p int64) Entry { return Entry{Principal: p} }
func deny(p int64) Entry  { return Entry{Principal: p, Deny: true} }

func member(self int64, groups ...int64) *Identity {
	id := NewIdentity(self, 0, groups)
	return &id
}

func token(self, owner int64, groups ...int64) *Identity {
	id := NewIdentity(self, owner, groups)
	return &id
}

func TestDecideTable(t *testing.T) {
	tests := []struct {
		name      string
		item      *ItemACL
		id        *Identity
		allowed   bool
		reason    string
		principal int64
		level     int
	}{
		{"owner sees own private item", acl(alice, false), member(alice), true, ReasonOwner, 0, 0},
		{"owner is not affected by a deny on themselves", acl(alice, false, deny(alice)), member(alice), true, ReasonOwner, 0, 0},
		{"owner is not affected by a deny on their group", acl(alice, false, deny(friends)), member(alice, friends), true, ReasonOwner, 0, 0},
		{"default deny", acl(alice, false), member(bob), false, ReasonDefault, 0, 0},
		{"default deny with unrelated entries", acl(alice, false, allow(carol), deny(family)), member(bob, friends), false, ReasonDefault, 0, 0},
		{"public", acl(alice, true), member(bob), true, ReasonPublic, 0, 0},
		{"public but denied directly", acl(alice, true, deny(bob)), member(bob), false, ReasonDeny, bob, 0},
		{"public but denied through group", acl(alice, true, deny(friends)), member(bob, friends), false, ReasonDeny, friends, 0},
		{"allow directly", acl(alice, false, allow(bob)), member(bob), true, ReasonAllow, bob, 0},
		{"allow through group", acl(alice, false, allow(friends)), member(carol, friends, family), true, ReasonAllow, friends, 0},
		{"group deny beats direct allow", acl(alice, false, allow(carol), deny(family)), member(carol, friends, family), false, ReasonDeny, family, 0},
		{"direct deny beats group allow", acl(alice, false, allow(friends), deny(carol)), member(carol, friends), false, ReasonDeny, carol, 0},
		{"allow and deny on the same principal", acl(alice, false, allow(bob), deny(bob)), member(bob), false, ReasonDeny, bob, 0},
		{"allow to group the viewer is not in", acl(alice, false, allow(family)), member(bob, friends), false, ReasonDefault, 0, 0},
		{"token of owner with no grant", acl(alice, false), token(tokA, alice), false, ReasonDefault, 0, 0},
		{"token of owner allowed directly", acl(alice, false, allow(tokA)), token(tokA, alice), true, ReasonAllow, tokA, 0},
		{"token of owner on public item", acl(alice, true), token(tokA, alice), true, ReasonPublic, 0, 0},
		{"token of owner denied", acl(alice, true, deny(tokA)), token(tokA, alice), false, ReasonDeny, tokA, 0},
		{"token of owner allowed through group", acl(alice, false, allow(friends)), token(tokA, alice, friends), true, ReasonAllow, friends, 0},
		{"token of another member on public item", acl(alice, true), token(tokB, bob), false, ReasonToken, 0, 0},
		{"token of another member even if allowed", acl(alice, false, allow(tokB)), token(tokB, bob), false, ReasonToken, 0, 0},
		{"token is not the owner even with the owner's id in its principals", acl(alice, false), token(tokA, alice, alice), false, ReasonDefault, 0, 0},
		{"album grants the photo", inAlbum(acl(alice, false), acl(alice, false, allow(bob))), member(bob), true, ReasonAlbum, bob, 1},
		{"public album grants the photo", inAlbum(acl(alice, false), acl(alice, true)), member(bob), true, ReasonAlbum, 0, 1},
		{"album grants through group", inAlbum(acl(alice, false), acl(alice, false, allow(friends))), member(carol, friends), true, ReasonAlbum, friends, 1},
		{"photo deny beats album allow", inAlbum(acl(alice, false, deny(bob)), acl(alice, false, allow(bob))), member(bob), false, ReasonDeny, bob, 0},
		{"photo group deny beats public album", inAlbum(acl(alice, false, deny(friends)), acl(alice, true)), member(bob, friends), false, ReasonDeny, friends, 0},
		{"photo allow beats album deny", inAlbum(acl(alice, false, allow(bob)), acl(alice, false, deny(bob))), member(bob), true, ReasonAllow, bob, 0},
		{"album deny with no photo grant", inAlbum(acl(alice, false), acl(alice, true, deny(bob))), member(bob), false, ReasonDeny, bob, 1},
		{"album without grant", inAlbum(acl(alice, false), acl(alice, false)), member(bob), false, ReasonDefault, 0, 1},
		{"album owner sees photos of others in it", inAlbum(acl(bob, false), acl(alice, false)), member(alice), true, ReasonAlbum, 0, 1},
		{"album owner is still refused by the photo's deny", inAlbum(acl(bob, false, deny(alice)), acl(alice, false)), member(alice), false, ReasonDeny, alice, 0},
		{"token of album owner for a photo of another member", inAlbum(acl(bob, false), acl(alice, true)), token(tokA, alice), false, ReasonToken, 0, 0},
		{"token of photo owner in an album of another member", inAlbum(acl(alice, false), acl(bob, true)), token(tokA, alice), false, ReasonToken, 0, 1},
		{"token of owner through album", inAlbum(acl(alice, false), acl(alice, false, allow(tokA))), token(tokA, alice), true, ReasonAlbum, tokA, 1},
		{"nil item", nil, member(alice), false, ReasonDefault, 0, 0},
		{"nil identity", acl(alice, true), nil, false, ReasonDefault, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.item, tt.id)
			want := Decision{Allowed: tt.allowed, Reason: tt.reason, Principal: tt.principal, Level: tt.level}
			if d != want {
				t.Errorf("Decide = %+v, want %+v", d, want)
			}
			if got := MayView(tt.item, tt.id); got != tt.allowed {
				t.Errorf("MayView = %v, want %v", got, tt.allowed)
			}
		})
	}
}

func TestAlbumCycleIsRefused(t *testing.T) {
	a := acl(alice, false)
	b := acl(alice, false)
	a.Album, b.Album = b, a
	if MayView(a, member(bob)) {
		t.Fatal("cyclic album chain granted access")
	}
	if !MayView(a, member(alice)) {
		t.Fatal("owner refused on cyclic album chain")
	}
}

func TestNewIdentity(t *testing.T) {
	groups := []int64{12, 10, 12, 11}
	id := NewIdentity(5, 0, groups)
	if want := []int64{5, 10, 11, 12}; !slices.Equal(id.Principals, want) {
		t.Fatalf("Principals = %v, want %v", id.Principals, want)
	}
	if !slices.Equal(groups, []int64{12, 10, 12, 11}) {
		t.Fatal("NewIdentity modified the caller's groups")
	}
	if id.IsToken() {
		t.Fatal("member identity reported as token")
	}
	if tok := NewIdentity(20, 1, nil); !tok.IsToken() || !slices.Equal(tok.Principals, []int64{20}) {
		t.Fatalf("token identity = %+v", tok)
	}
}

func TestSortEntriesPutsDenyFirstOnTies(t *testing.T) {
	e := []Entry{allow(3), deny(2), allow(2), deny(1)}
	SortEntries(e)
	want := []Entry{deny(1), deny(2), allow(2), allow(3)}
	if !slices.Equal(e, want) {
		t.Fatalf("SortEntries = %v, want %v", e, want)
	}
}

// benchFixture is one decision of the size the latency target is set for:
// 100 entries and a viewer in four groups, whose only grant sits near the
// end of the list so that the whole list has to be considered for denies.
func benchFixture() (*ItemACL, *Identity) {
	entries := make([]Entry, 100)
	for i := range entries {
		entries[i] = Entry{Principal: 1000 + 7*int64(i), Deny: i%3 == 0}
	}
	entries[97].Deny = false
	a := &ItemACL{Owner: 1, Entries: entries}
	id := NewIdentity(5, 0, []int64{1001, 1300, 1500, entries[97].Principal})
	return a, &id
}

func TestMayViewDoesNotAllocate(t *testing.T) {
	a, id := benchFixture()
	photo := &ItemACL{Owner: 1, Entries: []Entry{{Principal: 3}}, Album: a}
	if !MayView(a, id) || !MayView(photo, id) {
		t.Fatal("fixture should be allowed")
	}
	for name, item := range map[string]*ItemACL{"item": a, "photo": photo} {
		var sink bool
		if n := testing.AllocsPerRun(200, func() { sink = MayView(item, id) }); n != 0 {
			t.Errorf("MayView(%s) allocates %v times per call", name, n)
		}
		if n := testing.AllocsPerRun(200, func() { sink = Decide(item, id).Allowed }); n != 0 {
			t.Errorf("Decide(%s) allocates %v times per call", name, n)
		}
		_ = sink
	}
}

var benchSink bool

func BenchmarkMayView(b *testing.B) {
	a, id := benchFixture()
	b.ReportAllocs()
	for b.Loop() {
		benchSink = MayView(a, id)
	}
}

func BenchmarkMayViewDenied(b *testing.B) {
	a, id := benchFixture()
	a.Entries[97].Deny = true
	b.ReportAllocs()
	for b.Loop() {
		benchSink = MayView(a, id)
	}
}

// The reference model below is a direct transcription of the rules over
// maps and unsorted slices, against which the merge join is checked.

var (
	modelMembers = []int64{1, 2, 3, 4}
	modelGroups  = []int64{10, 11, 12, 13}
	modelTokens  = []int64{20, 21, 22}
	modelAll     = slices.Concat(modelMembers, modelGroups, modelTokens)
)

type viewer struct {
	self       int64
	tokenOwner int64
	groups     map[int64]bool
}

func (v viewer) identity() *Identity {
	var g []int64
	for p := range v.groups {
		g = append(g, p)
	}
	id := NewIdentity(v.self, v.tokenOwner, g)
	return &id
}

func (v viewer) matches(p int64) bool { return p == v.self || v.groups[p] }

func refMayView(a *ItemACL, v viewer) bool {
	if v.tokenOwner == 0 && a.Owner == v.self {
		return true
	}
	if v.tokenOwner != 0 && a.Owner != v.tokenOwner {
		return false
	}
	for _, e := range a.Entries {
		if e.Deny && v.matches(e.Principal) {
			return false
		}
	}
	if a.Public {
		return true
	}
	for _, e := range a.Entries {
		if !e.Deny && v.matches(e.Principal) {
			return true
		}
	}
	if a.Album != nil {
		return refMayView(a.Album, v)
	}
	return false
}

var genEntry = rapid.Custom(func(t *rapid.T) Entry {
	return Entry{
		Principal: rapid.SampledFrom(modelAll).Draw(t, "principal"),
		Deny:      rapid.Float64Range(0, 1).Draw(t, "p") < 0.3,
	}
})

func genOneACL(t *rapid.T, label string, owner int64) *ItemACL {
	return &ItemACL{
		Owner:   owner,
		Public:  rapid.Bool().Draw(t, label+".public"),
		Entries: rapid.SliceOfN(genEntry, 0, 8).Draw(t, label+".entries"),
	}
}

// genItem returns an item whose entries are NOT sorted yet; prepare sorts
// a copy for MayView, while the reference reads them in any order.
func genItem(t *rapid.T) *ItemACL {
	owner := rapid.SampledFrom(modelMembers).Draw(t, "owner")
	a := genOneACL(t, "item", owner)
	if rapid.Bool().Draw(t, "inAlbum") {
		albumOwner := owner
		if rapid.Float64Range(0, 1).Draw(t, "foreignAlbum") < 0.25 {
			albumOwner = rapid.SampledFrom(modelMembers).Draw(t, "albumOwner")
		}
		a.Album = genOneACL(t, "album", albumOwner)
	}
	return a
}

func genViewer(t *rapid.T) viewer {
	v := viewer{groups: map[int64]bool{}}
	if rapid.Bool().Draw(t, "isToken") {
		v.self = rapid.SampledFrom(modelTokens).Draw(t, "token")
		v.tokenOwner = rapid.SampledFrom(modelMembers).Draw(t, "tokenOwner")
	} else {
		v.self = rapid.SampledFrom(modelMembers).Draw(t, "member")
	}
	for _, g := range rapid.SliceOfNDistinct(rapid.SampledFrom(modelGroups), 0, len(modelGroups), rapid.ID[int64]).Draw(t, "groups") {
		v.groups[g] = true
	}
	return v
}

// prepare returns a deep copy with every level's entries sorted.
func prepare(a *ItemACL) *ItemACL {
	if a == nil {
		return nil
	}
	c := *a
	c.Entries = slices.Clone(a.Entries)
	SortEntries(c.Entries)
	c.Album = prepare(a.Album)
	return &c
}

func TestMayViewMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, v := genItem(t), genViewer(t)
		got, want := MayView(prepare(a), v.identity()), refMayView(a, v)
		if got != want {
			t.Fatalf("MayView = %v, reference = %v", got, want)
		}
		if d := Decide(prepare(a), v.identity()); d.Allowed != got {
			t.Fatalf("Decide = %+v disagrees with MayView = %v", d, got)
		}
	})
}

func TestDefaultDeny(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genViewer(t)
		owner := rapid.SampledFrom(modelMembers).Filter(func(o int64) bool {
			return v.tokenOwner != 0 || o != v.self
		}).Draw(t, "owner")
		a := &ItemACL{Owner: owner}
		if d := Decide(a, v.identity()); d.Allowed {
			t.Fatalf("empty private ACL granted: %+v", d)
		}
	})
}

func TestAddingDenyNeverGrants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, v := genItem(t), genViewer(t)
		before := MayView(prepare(a), v.identity())

		target := a
		if a.Album != nil && rapid.Bool().Draw(t, "onAlbum") {
			target = a.Album
		}
		target.Entries = append(target.Entries, Entry{
			Principal: rapid.SampledFrom(modelAll).Draw(t, "denied"),
			Deny:      true,
		})
		after := MayView(prepare(a), v.identity())
		if after && !before {
			t.Fatal("adding a deny entry granted access")
		}
	})
}

func TestEntryOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, v := genItem(t), genViewer(t)
		want := MayView(prepare(a), v.identity())
		shuffled := *a
		shuffled.Entries = rapid.Permutation(a.Entries).Draw(t, "shuffled")
		if a.Album != nil {
			album := *a.Album
			album.Entries = rapid.Permutation(a.Album.Entries).Draw(t, "albumShuffled")
			shuffled.Album = &album
		}
		if got := MayView(prepare(&shuffled), v.identity()); got != want {
			t.Fatalf("shuffled entries gave %v, original order %v", got, want)
		}
	})
}

func TestGroupAllowGrantsUnlessDenied(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genViewer(t)
		group := rapid.SampledFrom(modelGroups).Draw(t, "group")
		v.groups[group] = true

		owner := rapid.SampledFrom(modelMembers).Filter(func(o int64) bool { return o != v.self }).Draw(t, "owner")
		if v.tokenOwner != 0 {
			owner = v.tokenOwner
		}
		// Noise: entries on principals the viewer does not match.
		noise := rapid.SliceOfN(genEntry.Filter(func(e Entry) bool { return !v.matches(e.Principal) }), 0, 8).Draw(t, "noise")
		a := &ItemACL{Owner: owner, Entries: append(noise, Entry{Principal: group})}
		d := Decide(prepare(a), v.identity())
		if !d.Allowed || d.Reason != ReasonAllow || d.Principal != group {
			t.Fatalf("allow to a group containing the viewer gave %+v", d)
		}

		denied := rapid.SampledFrom(append([]int64{v.self}, v.identity().Principals...)).Draw(t, "denied")
		a.Entries = append(a.Entries, Entry{Principal: denied, Deny: true})
		if d := Decide(prepare(a), v.identity()); d.Allowed || d.Reason != ReasonDeny {
			t.Fatalf("deny on %d (a principal of the viewer) gave %+v", denied, d)
		}
	})
}
