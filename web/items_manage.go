package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// The owner's item page and the forms that manage an item from it: edit its
// texts, move a photo into or out of an album, choose an album's cover, and
// delete it after a confirmation (a page of its own, so that it works
// without JavaScript; manage.js asks with a dialog instead). Every success
// answers 303 to the page that shows the result; a refusal re-renders the
// item page with 422 and the message, having changed nothing.

// photoTile is a photo of an album on its owner's page.
type photoTile struct {
	ID    int64
	Label string
	Cover bool
}

// albumOption is one of the owner's albums in a picker.
type albumOption struct {
	ID       int64
	Label    string
	Selected bool
}

func itemURL(id int64) string { return "/items/" + strconv.FormatInt(id, 10) }

// ownerAccess is how the owner opens one of their items.
func ownerAccess(it *content.Item) *content.Access {
	return &content.Access{Item: it, Owner: true, Permissions: acl.Permissions{Download: true, Metadata: true}}
}

// ownedItem loads the item of the route, which must be the member's.
func (s *Server) ownedItem(c *fiber.Ctx) (*content.Item, error) {
	id, err := paramID(c, "id")
	if err != nil {
		return nil, err
	}
	it, err := s.Content.Item(c.UserContext(), member(c).ID, id)
	if app.IsNotFound(err) {
		return nil, notFound
	}
	return it, err
}

// ownerItemPage renders the item page of its owner, with the forms that
// manage it; data carries a refused form's message and input.
func (s *Server) ownerItemPage(c *fiber.Ctx, acc *content.Access, status int, data fiber.Map) error {
	ctx, it, owner := c.UserContext(), acc.Item, member(c).ID
	data["Item"], data["Access"], data["Label"], data["Nav"] = it, acc, itemLabel(it), "home"
	if _, ok := data["EditTitle"]; !ok {
		data["EditTitle"], data["EditBody"] = it.Title, it.Body
	}
	switch it.Kind {
	case content.KindPhoto:
		data["Meta"] = content.PhotoMeta(it)
		albums, err := s.Content.Albums(ctx, owner)
		if err != nil {
			return err
		}
		opts := make([]albumOption, 0, len(albums))
		for i := range albums {
			o := albumOption{ID: albums[i].ID, Label: itemLabel(&albums[i])}
			if it.AlbumID != nil && *it.AlbumID == o.ID {
				o.Selected = true
				data["AlbumLabel"] = o.Label
				data["IsCover"] = albums[i].CoverID != nil && *albums[i].CoverID == it.ID
			}
			opts = append(opts, o)
		}
		data["Albums"] = opts
	case content.KindAlbum:
		photos, err := s.Content.AlbumPhotos(ctx, acc, viewer(c))
		if err != nil {
			return err
		}
		cover := content.Cover(it, photos)
		tiles := make([]photoTile, 0, len(photos))
		for i := range photos {
			tiles = append(tiles, photoTile{ID: photos[i].ID, Label: itemLabel(&photos[i]), Cover: photos[i].ID == cover})
		}
		data["Photos"], data["CoverID"], data["CoverChosen"] = tiles, cover, it.CoverID != nil
	}
	if err := s.ownerComments(c, it, data); err != nil {
		return err
	}
	c.Status(status)
	return s.page(c, "item", itemLabel(it), data)
}

// editItemForm changes the title and the text: a post's text, a photo's
// caption or an album's description.
func (s *Server) editItemForm(c *fiber.Ctx) error {
	it, err := s.ownedItem(c)
	if err != nil {
		return err
	}
	title, body := formText(c, "title"), formText(c, "body")
	if _, err := s.Content.EditItem(c.UserContext(), member(c).ID, it.ID, content.ItemEdit{Title: &title, Body: &body}); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.ownerItemPage(c, ownerAccess(it), status, fiber.Map{"EditError": msg, "EditTitle": title, "EditBody": body})
		})
	}
	return seeOther(c, itemURL(it.ID)+"?done=saved")
}

// moveItemForm puts a photo into one of the owner's albums, or out of its
// album when album_id is empty.
func (s *Server) moveItemForm(c *fiber.Ctx) error {
	it, err := s.ownedItem(c)
	if err != nil {
		return err
	}
	album, err := optionalID(c, "album_id", "Choose one of your albums.")
	if err == nil {
		_, err = s.Content.EditItem(c.UserContext(), member(c).ID, it.ID, content.ItemEdit{SetAlbum: true, AlbumID: album})
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.ownerItemPage(c, ownerAccess(it), status, fiber.Map{"AlbumError": msg})
		})
	}
	return seeOther(c, itemURL(it.ID)+"?done=saved")
}

// coverForm makes one of an album's photos its cover, or goes back to the
// first photo when cover_id is empty; it answers with the album's page.
func (s *Server) coverForm(c *fiber.Ctx) error {
	it, err := s.ownedItem(c)
	if err != nil {
		return err
	}
	cover, err := optionalID(c, "cover_id", "Choose one of the album's photos.")
	if err == nil {
		_, err = s.Content.EditItem(c.UserContext(), member(c).ID, it.ID, content.ItemEdit{SetCover: true, CoverID: cover})
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.ownerItemPage(c, ownerAccess(it), status, fiber.Map{"CoverError": msg})
		})
	}
	return seeOther(c, itemURL(it.ID)+"?done=saved")
}

// deleteConfirmPage asks before an item is deleted.
func (s *Server) deleteConfirmPage(c *fiber.Ctx) error {
	it, err := s.ownedItem(c)
	if err != nil {
		return err
	}
	return s.renderDeleteConfirm(c, it)
}

func (s *Server) renderDeleteConfirm(c *fiber.Ctx, it *content.Item) error {
	data := fiber.Map{"Item": it, "Label": itemLabel(it), "Nav": "home"}
	if it.Kind == content.KindAlbum {
		photos, err := s.Content.AlbumPhotos(c.UserContext(), ownerAccess(it), viewer(c))
		if err != nil {
			return err
		}
		data["PhotoCount"] = len(photos)
	}
	return s.page(c, "item_delete", "Delete "+itemLabel(it), data)
}

// deleteItemForm deletes an item (a photo with its files) once confirmed;
// without confirm=yes it shows the confirmation instead. A photo of an
// album lands on the album, anything else on the home page.
func (s *Server) deleteItemForm(c *fiber.Ctx) error {
	it, err := s.ownedItem(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		return s.renderDeleteConfirm(c, it)
	}
	if err := s.Content.DeleteItem(c.UserContext(), member(c).ID, it.ID); err != nil {
		return err
	}
	if it.Kind == content.KindPhoto && it.AlbumID != nil {
		return seeOther(c, itemURL(*it.AlbumID)+"?done=deleted")
	}
	return seeOther(c, "/?done=deleted")
}

// optionalID reads an id picked in a form; empty means none.
func optionalID(c *fiber.Ctx, name, missing string) (*int64, error) {
	if strings.TrimSpace(c.FormValue(name)) == "" {
		return nil, nil
	}
	id, err := formID(c, name, missing)
	if err != nil {
		return nil, err
	}
	return &id, nil
}
