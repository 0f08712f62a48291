package web

import (
	"time"

	"hubshare/acl"
	"hubshare/content"
)

// The JSON shapes of the API. Models never reach a client directly: these
// views choose what is shown (never a secret hash or a password hash).

type itemView struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	AlbumID     *int64    `json:"album_id"`
	CoverID     *int64    `json:"cover_id"`
	Public      bool      `json:"public"`
	ContentType *string   `json:"content_type,omitempty"`
	Width       *int      `json:"width,omitempty"`
	Height      *int      `json:"height,omitempty"`
	Size        *int64    `json:"size,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newItemView(it *content.Item) itemView {
	return itemView{ID: it.ID, Kind: it.Kind, Title: it.Title, Body: it.Body, AlbumID: it.AlbumID, CoverID: it.CoverID, Public: it.Public,
		ContentType: it.ContentType, Width: it.Width, Height: it.Height, Size: it.SizeBytes, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

type tokenView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"`
	Link       string     `json:"link,omitempty"`
	Status     string     `json:"status"`
	Uses       int        `json:"uses"`
	MaxUses    *int       `json:"max_uses"`
	ExpiresAt  *time.Time `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// The permissions, one JSON field each (acl.Permissions' names).
	acl.Permissions
	HasPassword bool       `json:"has_password"`
	Note        string     `json:"note"`
	ValidFrom   *time.Time `json:"valid_from"`
	// ExpiresAfterFirstUse is in seconds; FirstUsedAt is when its clock started.
	ExpiresAfterFirstUse *int64       `json:"expires_after_first_use"`
	FirstUsedAt          *time.Time   `json:"first_used_at"`
	Items                *int         `json:"items,omitempty"`
	InACLs               *int         `json:"acl_entries,omitempty"`
	Grants               *[]grantView `json:"grants,omitempty"`
	// GrantsNext is, with grants only, the cursor of the grants after the
	// first page: a string, or null when they all fit.
	GrantsNext any  `json:"grants_next_cursor,omitempty"`
	Views      *int `json:"views,omitempty"`
}

func (s *Server) newTokenView(t *acl.GuestToken) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Status: t.Status(s.Clock.Now()), Uses: t.Uses, MaxUses: t.MaxUses,
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt,
		Permissions: t.Permissions, HasPassword: t.HasPassword(), Note: t.Note,
		ValidFrom: t.ValidFrom, ExpiresAfterFirstUse: t.ExpiresAfterFirstUse, FirstUsedAt: t.FirstUsedAt}
}

type grantView struct {
	ItemID    int64   `json:"item_id"`
	ItemTitle string  `json:"item_title"`
	ItemKind  string  `json:"item_kind"`
	Effect    string  `json:"effect"`
	Via       *int64  `json:"via"`
	ViaName   *string `json:"via_name"`
	Active    bool    `json:"active"`
	Views     int     `json:"views"`
	// ItemExcerpt labels an untitled post on the token page; not in the API.
	ItemExcerpt string `json:"-"`
}

func newGrantViews(gs []acl.Grant, active bool) []grantView {
	out := make([]grantView, 0, len(gs))
	for _, g := range gs {
		effect := "allow"
		if g.Deny {
			effect = "deny"
		}
		out = append(out, grantView{ItemID: g.ItemID, ItemTitle: g.ItemTitle, ItemKind: g.ItemKind, Effect: effect,
			Via: g.Via, ViaName: g.ViaName, Active: active, Views: g.Views, ItemExcerpt: g.ItemExcerpt})
	}
	return out
}

type groupView struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Members   []int64   `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

func newGroupView(g *acl.Group) groupView {
	return groupView{ID: g.ID, Name: g.Name, Members: g.Members, CreatedAt: g.CreatedAt}
}

// link is the full URL a recipient opens.
func (s *Server) link(secret string, item int64) string {
	if item != 0 {
		return s.Config.BaseURL + "/items/" + itoa(item) + "?zat=" + secret
	}
	return s.Config.BaseURL + "/shared?zat=" + secret
}
