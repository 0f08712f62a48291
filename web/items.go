package web

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// itemPage shows a post, photo or album to whoever may open it: its owner
// (item.html), or anyone else — a member its ACL names, a guest session, a
// visitor of a public item — on the guest pages (guest_*.html).
func (s *Server) itemPage(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	v := viewer(c)
	acc, err := s.Content.View(c.UserContext(), id, v)
	if app.IsNotFound(err) {
		return s.guestMiss(c, &id)
	}
	if err != nil {
		return err
	}
	s.recordView(c, acc, acl.EventView)
	if acc.Owner {
		return s.ownerItemPage(c, acc, fiber.StatusOK, fiber.Map{})
	}
	return s.guestItemPage(c, acc, v, fiber.StatusOK, commentInput{})
}

// guestItemPage renders an item for a viewer who is not its owner, from view
// types only, with the status; in is a refused comment (its text and reason) to show again.
func (s *Server) guestItemPage(c *fiber.Ctx, acc *content.Access, v content.Viewer, status int, in commentInput) error {
	ctx := c.UserContext()
	it, links := acc.Item, guestLinksOf(c)
	// A post page without comments is made from the view and the variant
	// alone, so it is kept with the view and ends with it.
	variant := ""
	if it.Kind == content.KindPost && status == fiber.StatusOK && in == (commentInput{}) && previewOf(c) == nil &&
		(acc.TokenID == 0 || !acc.Comment) {
		variant = postVariant(acc, v, s.Clock.Now())
		if page, ok := acc.Page(variant); ok {
			c.Status(status)
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.Send(page)
		}
	}
	gi := guestItem{ID: it.ID, Title: it.Title, DocTitle: it.Title, Kind: it.Kind, SharedBy: acc.SharedBy}
	if gi.DocTitle == "" {
		gi.DocTitle = kindLabel(it.Kind)
		if it.Kind == content.KindPost {
			gi.DocTitle = guestLabel(it)
		}
	}
	if acc.TokenID != 0 {
		gi.Note = acc.TokenNote
		if acc.TokenExpires != nil {
			gi.Until = newGuestTime(*acc.TokenExpires, s.Clock.Now())
		}
	}
	if len(v.Guest.Tokens) > 0 {
		gi.Back, gi.BackLabel = links.shared(), "Shared with you"
	}
	comments, err := s.guestComments(c, acc, in)
	if err != nil {
		return err
	}
	gi.Comments = comments
	data := s.guestData(c, fiber.Map{"Title": gi.DocTitle, "Member": v.Member})
	c.Status(status)
	switch it.Kind {
	case content.KindAlbum:
		view, err := s.guestAlbum(ctx, gi, acc, v, links)
		if err != nil {
			return err
		}
		data["Album"] = view
		return c.Render("guest_album", data, "layouts/guest")
	case content.KindPhoto:
		view, err := s.guestPhoto(ctx, gi, acc, v, links)
		if err != nil {
			return err
		}
		data["Photo"] = view
		return c.Render("guest_photo", data, "layouts/guest")
	}
	data["Post"] = guestPostView{guestItem: gi, Body: it.Body, Posted: it.CreatedAt.UTC().Format("2 January 2006")}
	if variant == "" {
		return c.Render("guest_post", data, "layouts/guest")
	}
	var page bytes.Buffer
	if err := c.App().Config().Views.Render(&page, "guest_post", data, "layouts/guest"); err != nil {
		return err
	}
	acc.KeepPage(variant, page.Bytes())
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(page.Bytes())
}

// postVariant names what a guest post page without comments shows beyond
// the view: the link's expiry in words as of now, the back link (a guest
// session's) and the member's home link. Two requests with the same view
// and variant get the same bytes.
func postVariant(acc *content.Access, v content.Viewer, now time.Time) string {
	var b strings.Builder
	if acc.TokenID != 0 && acc.TokenExpires != nil {
		u := newGuestTime(*acc.TokenExpires, now)
		b.WriteString(u.Relative)
	}
	if len(v.Guest.Tokens) > 0 {
		b.WriteString("|back")
	}
	if v.Member != nil {
		b.WriteString("|member")
	}
	return b.String()
}

func (s *Server) guestAlbum(ctx context.Context, gi guestItem, acc *content.Access, v content.Viewer, links guestLinks) (*guestAlbumView, error) {
	photos, err := s.Content.AlbumPhotos(ctx, acc, v)
	if err != nil {
		return nil, err
	}
	view := &guestAlbumView{guestItem: gi, Description: acc.Item.Body, Count: photoCount(len(photos)),
		Photos: make([]guestPhoto, len(photos))}
	for i := range photos {
		view.Photos[i] = links.photo(&photos[i], i+1, len(photos))
	}
	// Download all: offered when the album's own access allows downloads
	// (the ZIP then checks each photo as its own page would).
	if acc.Download && len(photos) > 0 {
		view.Download = links.item(acc.Item.ID) + "/download"
	}
	return view, nil
}

func (s *Server) guestPhoto(ctx context.Context, gi guestItem, acc *content.Access, v content.Viewer, links guestLinks) (*guestPhotoView, error) {
	it := acc.Item
	view := &guestPhotoView{guestItem: gi, Photo: links.photo(it, 1, 1), Caption: it.Body}
	if it.Title == "" {
		// Untitled: the visible caption says what it is, else its place.
		view.Photo.Alt = ""
		if it.Body == "" {
			view.Photo.Alt = "Photo"
		}
	}
	if acc.Metadata {
		view.Meta = newGuestMeta(it)
	}
	if _, ok := content.Variant(acc, "original"); ok {
		view.Original = links.media(it.ID, "original")
	}
	if it.AlbumID == nil {
		return view, nil
	}
	// Seen in its album when the viewer may open the album: previous and
	// next among the album's photos the viewer may see.
	album, err := s.Content.View(ctx, *it.AlbumID, v)
	if app.IsNotFound(err) {
		return view, nil
	}
	if err != nil {
		return nil, err
	}
	photos, err := s.Content.AlbumPhotos(ctx, album, v)
	if err != nil {
		return nil, err
	}
	for i := range photos {
		if photos[i].ID != it.ID {
			continue
		}
		view.Position = fmt.Sprintf("Photo %d of %d", i+1, len(photos))
		if i > 0 {
			p := links.photo(&photos[i-1], i, len(photos))
			view.Prev = &p
		}
		if i+1 < len(photos) {
			p := links.photo(&photos[i+1], i+2, len(photos))
			view.Next = &p
		}
		if it.Title == "" && it.Body == "" {
			view.Photo.Alt = view.Position
		}
		view.AlbumTitle = album.Item.Title
		view.Back, view.BackLabel = links.item(album.Item.ID), album.Item.Title
		break
	}
	return view, nil
}
