package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"hubshare/content"
)

// The view types of the pages a recipient sees (an item opened by anyone but
// its owner, "Shared with you", the landing page). Templates get only these:
// never a content.Item, whose Meta holds the photo's EXIF (GPS included).

// guestItem is what every guest page of an item shows about it.
type guestItem struct {
	ID int64
	// Title is the owner's title, or empty: a guest sees the title or nothing.
	Title string
	// DocTitle is the page's <title>.
	DocTitle string
	Kind     string
	// SharedBy is the owner's display name.
	SharedBy string
	// Note and Until come from the token the page was opened through.
	Note  string
	Until *guestTime
	// Back is where the page's back link goes ("" for none), with its label.
	Back, BackLabel string
}

// guestTime is an instant shown in words (UTC on the server; the page's
// script rewrites it in the reader's own time zone) and as ISO 8601.
type guestTime struct {
	Text     string
	ISO      string
	Relative string
}

func newGuestTime(t time.Time, now time.Time) *guestTime {
	return &guestTime{Text: t.UTC().Format("Mon 2 January 2006, 15:04 UTC"), ISO: t.UTC().Format(time.RFC3339), Relative: relativeTime(t, now)}
}

// relativeTime says how far t is from now, in the largest whole unit.
func relativeTime(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	// Each unit is rounded to the nearest whole one.
	round := func(unit time.Duration) int { return int((d + unit/2) / unit) }
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = plural(round(time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(round(time.Hour), "hour")
	case d < 60*24*time.Hour:
		s = plural(round(24*time.Hour), "day")
	case d < 2*365*24*time.Hour:
		s = plural(round(30*24*time.Hour), "month")
	default:
		s = plural(round(365*24*time.Hour), "year")
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// guestPhoto is one photo of a gallery.
type guestPhoto struct {
	ID            int64
	Title         string
	Alt           string
	Width, Height int
	Page          string
	Thumb, Large  string
}

func newGuestPhoto(it *content.Item, pos, total int) guestPhoto {
	p := guestPhoto{ID: it.ID, Title: it.Title, Alt: it.Title, Page: itemPath(it.ID),
		Thumb: mediaPath(it.ID, "thumb"), Large: mediaPath(it.ID, "large")}
	if p.Alt == "" {
		p.Alt = fmt.Sprintf("Photo %d of %d", pos, total)
	}
	if it.Width != nil && it.Height != nil {
		p.Width, p.Height = *it.Width, *it.Height
	}
	return p
}

func itemPath(id int64) string            { return "/items/" + strconv.FormatInt(id, 10) }
func mediaPath(id int64, v string) string { return "/media/" + strconv.FormatInt(id, 10) + "/" + v }

// guestAlbumView is an album's gallery.
type guestAlbumView struct {
	guestItem
	Description string
	Photos      []guestPhoto
	Count       string
	// Download is the ZIP of the photos the viewer may download, if any.
	Download string
}

// guestPhotoView is one photo's page.
type guestPhotoView struct {
	guestItem
	Photo   guestPhoto
	Caption string
	// Album is the album the photo is seen in, when the viewer may open it.
	AlbumTitle string
	Prev, Next *guestPhoto
	Position   string
	Meta       *guestMeta
	// Original is the download link of the original, when the viewer may have it.
	Original string
}

// guestMeta is the metadata a token with show_metadata may see.
type guestMeta struct {
	Taken, Camera, Location string
}

func newGuestMeta(it *content.Item) *guestMeta {
	m := content.PhotoMeta(it)
	if m == nil {
		return nil
	}
	out := &guestMeta{Camera: m.Camera}
	if m.Lens != "" {
		out.Camera = strings.TrimPrefix(out.Camera+" · "+m.Lens, " · ")
	}
	if m.TakenAt != nil {
		out.Taken = m.TakenAt.Format("2 January 2006, 15:04")
	}
	if m.Latitude != nil && m.Longitude != nil {
		out.Location = fmt.Sprintf("%.5f, %.5f", *m.Latitude, *m.Longitude)
	}
	return out
}

// guestPostView is a post's page.
type guestPostView struct {
	guestItem
	Body   string
	Posted string
}

// sharedTile is an item in "Shared with you".
type sharedTile struct {
	ID        int64
	Kind      string
	KindLabel string
	Label     string
	// Alt names the tile for a screen reader when it has no label.
	Alt string
	// Image is the tile's picture: a photo's thumbnail or an album's cover.
	Image   string
	Excerpt string
}

// sharedNote is a token's note and expiry on "Shared with you".
type sharedNote struct {
	From  string
	Note  string
	Until *guestTime
}

// guestLabel is what a guest sees as an item's name: its title, or the
// first line of a post, or nothing.
func guestLabel(it *content.Item) string {
	if it.Title != "" || it.Kind != content.KindPost {
		return it.Title
	}
	line, _, _ := strings.Cut(strings.TrimSpace(it.Body), "\n")
	if r := []rune(line); len(r) > 80 {
		line = string(r[:80]) + "…"
	}
	return line
}

func kindLabel(kind string) string {
	switch kind {
	case content.KindPhoto:
		return "Photo"
	case content.KindAlbum:
		return "Album"
	}
	return "Post"
}

func photoCount(n int) string {
	switch n {
	case 0:
		return "No photos"
	case 1:
		return "1 photo"
	}
	return strconv.Itoa(n) + " photos"
}

// errorView is the error page: the same for a missing item and a failed
// link; its way on depends only on who the browser is (a member's session,
// a guest session cookie), never on a token's state.
type errorView struct {
	Title   string
	Status  int
	Message string
	// Action is the page's main button ("" for none).
	Action, ActionLabel string
	// SignIn offers the members' sign-in page as a small link.
	SignIn bool
}

// sharingCache keeps, for a minute, what a guest page says about who shared
// an item and through which link (the owner's display name, the token's
// note and expiry), so that a guest's view of an item stays one database
// round trip: access itself is decided afresh on every request, only these
// words may be a minute old.
type sharingCache struct {
	mu      sync.Mutex
	names   map[int64]cachedName
	tokens  map[int64]cachedToken
	entries int
}

const (
	sharingTTL     = time.Minute
	sharingEntries = 10_000
)

type cachedName struct {
	name string
	at   time.Time
}

type cachedToken struct {
	note    string
	expires *time.Time
	at      time.Time
}

func (c *sharingCache) name(owner int64, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.names[owner]
	return e.name, ok && now.Sub(e.at) < sharingTTL
}

func (c *sharingCache) token(id int64, now time.Time) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tokens[id]
	return e, ok && now.Sub(e.at) < sharingTTL
}

// room makes the maps, and empties them when full; c.mu is held.
func (c *sharingCache) room() {
	if c.names == nil || c.entries >= sharingEntries {
		c.names, c.tokens, c.entries = map[int64]cachedName{}, map[int64]cachedToken{}, 0
	}
	c.entries++
}

func (c *sharingCache) putName(owner int64, name string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.room()
	c.names[owner] = cachedName{name, now}
}

func (c *sharingCache) putToken(id int64, t cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.room()
	c.tokens[id] = t
}

// sharerName is the display name of an item's owner ("" if unknown).
func (s *Server) sharerName(ctx context.Context, owner int64) string {
	now := time.Now()
	if name, ok := s.sharing.name(owner, now); ok {
		return name
	}
	name := ""
	if m, err := s.ACL.MemberByID(ctx, owner); err == nil {
		name = m.DisplayName
	}
	s.sharing.putName(owner, name, now)
	return name
}

// sharingToken is the note and expiry of the token a guest page was opened
// through.
func (s *Server) sharingToken(ctx context.Context, owner, id int64) (note string, expires *time.Time) {
	now := time.Now()
	if t, ok := s.sharing.token(id, now); ok {
		return t.note, t.expires
	}
	t, err := s.ACL.Token(ctx, owner, id)
	if err != nil {
		return "", nil
	}
	s.sharing.putToken(id, cachedToken{note: t.Note, expires: t.ExpiresAt, at: now})
	return t.Note, t.ExpiresAt
}
