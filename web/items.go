package web

import (
	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// itemPage shows a post, photo or album to whoever may open it: its owner,
// a member its ACL names, or a guest session.
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
	data := fiber.Map{"Title": acc.Item.Title, "Item": acc.Item, "Access": acc, "Member": v.Member}
	if acc.Item.Title == "" {
		data["Title"] = kindName(acc.Item.Kind)
	}
	if acc.Item.Kind == content.KindPhoto && acc.ShowMetadata {
		data["Meta"] = content.PhotoMeta(acc.Item)
	}
	if acc.Item.Kind == content.KindAlbum {
		photos, err := s.Content.AlbumPhotos(c.UserContext(), acc, v)
		if err != nil {
			return err
		}
		data["Photos"] = photos
	}
	layout := "layouts/guest"
	if acc.Owner {
		// Only the owner's layout has a form (sign out).
		layout = "layouts/main"
		data["Nav"] = "home"
		data["CSRF"] = s.csrfToken(c)
	}
	return c.Render("item", data, layout)
}

func kindName(kind string) string {
	switch kind {
	case content.KindPhoto:
		return "Photo"
	case content.KindAlbum:
		return "Album"
	}
	return "Post"
}
