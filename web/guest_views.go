package web

import (
	"fmt"
	"strconv"
	"strings"
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
	// Comments are the item's comments as this viewer sees them, and the
	// form when the viewer may comment; nil shows nothing.
	Comments *guestComments
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

// guestLinks makes the links of the guest pages: to the guest routes, or
// under a token's preview (prefix), so that the owner's preview serves what
// the token's guest would get.
type guestLinks struct{ prefix string }

func (l guestLinks) item(id int64) string            { return l.prefix + itemPath(id) }
func (l guestLinks) media(id int64, v string) string { return l.prefix + mediaPath(id, v) }

// shared is "Shared with you".
func (l guestLinks) shared() string {
	if l.prefix != "" {
		return l.prefix
	}
	return "/shared"
}

func (l guestLinks) photo(it *content.Item, pos, total int) guestPhoto {
	p := guestPhoto{ID: it.ID, Title: it.Title, Alt: it.Title, Page: l.item(it.ID),
		Thumb: l.media(it.ID, "thumb"), Large: l.media(it.ID, "large")}
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
	Page      string
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
