package acl

import (
	"cmp"
	"slices"
)

// Entry names one principal on an item's ACL. A deny entry is kept next to
// the allow entries rather than in a separate list so that a single merge
// over the sorted entries answers both questions at once.
type Entry struct {
	Principal int64
	Deny      bool
}

// ItemACL is everything the decision needs to know about one item.
//
// Entries must be sorted by Principal (see SortEntries): the decision is a
// merge join against the viewer's sorted principals and never sorts on the
// hot path. Album is the ACL of the album a photo belongs to, so that whoever
// may see the album may see its photos; it is nil for anything else.
type ItemACL struct {
	Owner   int64
	Public  bool
	Entries []Entry
	Album   *ItemACL
}

// Identity is one identity under which a viewer asks: either a member
// (Self is the member id, TokenOwner is 0) or a guest token (Self is the
// token id, TokenOwner the member who issued it). Principals holds Self and
// every group the identity belongs to, transitively, sorted ascending;
// NewIdentity builds it that way.
type Identity struct {
	Self       int64
	TokenOwner int64
	Principals []int64
}

// NewIdentity returns an identity whose Principals are Self plus groups,
// sorted and without duplicates, as the decision requires. It copies groups
// so the caller's slice may be reused.
func NewIdentity(self, tokenOwner int64, groups []int64) Identity {
	p := make([]int64, 0, len(groups)+1)
	p = append(p, self)
	p = append(p, groups...)
	slices.Sort(p)
	return Identity{Self: self, TokenOwner: tokenOwner, Principals: slices.Compact(p)}
}

// Anonymous is a viewer with no account and no token.
var Anonymous = Identity{}

// IsPublic reports whether anyone at all may see the item: it is public, or
// a photo of a public album. Public means everyone: such an item is visible
// signed in or not, with or without a token.
func IsPublic(a *ItemACL) bool { return Decide(a, &Anonymous).Allowed }

// Shares reports whether the item is shared with the identity: visible to it
// and not to everyone. What a token's "Shared with you" lists and its item
// count counts.
func Shares(a *ItemACL, id *Identity) bool { return MayView(a, id) && !IsPublic(a) }

// IsToken reports whether the identity is a guest token, which confines it
// to the items of the member who issued it.
func (id *Identity) IsToken() bool { return id.TokenOwner != 0 }

// SortEntries puts entries into the order ItemACL requires. Ties on the
// principal put the deny first so that an audit shows the entry that won.
func SortEntries(entries []Entry) {
	slices.SortFunc(entries, compareEntries)
}

func compareEntries(a, b Entry) int {
	if c := cmp.Compare(a.Principal, b.Principal); c != 0 {
		return c
	}
	switch {
	case a.Deny == b.Deny:
		return 0
	case a.Deny:
		return -1
	}
	return 1
}

// Reasons a Decision can give. They are strings rather than an enum so that
// audit logs stay readable without a lookup table.
const (
	// ReasonOwner: a member always sees what they own, whatever the entries say.
	ReasonOwner = "owner"
	// ReasonToken: a guest token asked for an item of another member.
	ReasonToken = "token"
	// ReasonDeny: a deny entry matched; deny beats public and every allow.
	ReasonDeny = "deny"
	// ReasonPublic: the item is public and nothing denied the viewer.
	ReasonPublic = "public"
	// ReasonAllow: an allow entry matched and nothing denied the viewer.
	ReasonAllow = "allow"
	// ReasonAlbum: the item itself did not grant, but its album did.
	ReasonAlbum = "album"
	// ReasonDefault: nothing granted, so nothing is shown.
	ReasonDefault = "default"
)

// maxAlbumDepth bounds the walk up the Album chain so that a malformed,
// cyclic chain ends in a refusal instead of a hang.
const maxAlbumDepth = 16

// Decision is the outcome of Decide together with what caused it, so that
// an audit log can say why someone saw, or did not see, an item.
type Decision struct {
	Allowed bool
	// Reason is one of the Reason constants.
	Reason string
	// Principal is the principal of the deciding entry for ReasonDeny and
	// ReasonAllow, and for ReasonAlbum when an album entry granted; else 0.
	Principal int64
	// Level is 0 when the item itself decided, 1 when its album did.
	Level int
}

// MayView reports whether the identity may see the item. It is the hot path
// of every listing, so it does not allocate.
func MayView(a *ItemACL, id *Identity) bool {
	return Decide(a, id).Allowed
}

// Decide is MayView with the reason attached. The rules, in order, at the
// item and then at its album:
//
//   - a member who owns it sees it;
//   - a guest token sees nothing of a member other than its issuer;
//   - a matching deny entry (direct or through a group) refuses;
//   - public, or a matching allow entry, grants;
//   - otherwise the album decides, and without an album nothing is shown.
//
// Because the item's deny is checked before its album is consulted, a photo
// can be hidden from someone who may see the rest of the album.
func Decide(a *ItemACL, id *Identity) Decision {
	if a == nil || id == nil {
		return Decision{Reason: ReasonDefault}
	}
	level := 0
	for ; a != nil && level < maxAlbumDepth; a, level = a.Album, level+1 {
		if id.TokenOwner == 0 {
			if a.Owner == id.Self {
				return granted(ReasonOwner, 0, level)
			}
		} else if a.Owner != id.TokenOwner {
			return Decision{Reason: ReasonToken, Level: level}
		}
		allowAt, denyAt := matchEntries(a.Entries, id.Principals)
		if denyAt >= 0 {
			return Decision{Reason: ReasonDeny, Principal: a.Entries[denyAt].Principal, Level: level}
		}
		if a.Public {
			return granted(ReasonPublic, 0, level)
		}
		if allowAt >= 0 {
			return granted(ReasonAllow, a.Entries[allowAt].Principal, level)
		}
	}
	return Decision{Reason: ReasonDefault, Level: max(level-1, 0)}
}

func granted(reason string, principal int64, level int) Decision {
	if level > 0 {
		reason = ReasonAlbum
	}
	return Decision{Allowed: true, Reason: reason, Principal: principal, Level: level}
}

// matchEntries joins the sorted entries with the sorted principals and
// returns the index of the first matching allow and of the first matching
// deny (-1 when there is none). It stops at the first deny, since nothing
// can overturn it. The entries side advances by binary search because ACLs
// are usually much longer than a viewer's list of groups, which keeps one
// decision well under the cost of a linear scan.
func matchEntries(entries []Entry, principals []int64) (allowAt, denyAt int) {
	allowAt, denyAt = -1, -1
	i, n := 0, len(entries)
	for _, p := range principals {
		lo, hi := i, n
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if entries[m].Principal < p {
				lo = m + 1
			} else {
				hi = m
			}
		}
		for i = lo; i < n && entries[i].Principal == p; i++ {
			if entries[i].Deny {
				return allowAt, i
			}
			if allowAt < 0 {
				allowAt = i
			}
		}
		if i == n {
			break
		}
	}
	return allowAt, denyAt
}
