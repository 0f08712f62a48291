package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/content"
)

// Home.

// itemTile is an item on the home page.
type itemTile struct {
	ID     int64
	Kind   string
	Label  string
	Public bool
}

func itemLabel(it *content.Item) string {
	if it.Title != "" {
		return it.Title
	}
	if it.Kind == content.KindPost && it.Body != "" {
		line, _, _ := strings.Cut(strings.TrimSpace(it.Body), "\n")
		if r := []rune(line); len(r) > 60 {
			line = string(r[:60]) + "…"
		}
		return line
	}
	return kindName(it.Kind)
}

func (s *Server) home(c *fiber.Ctx) error {
	return s.renderHome(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderHome(c *fiber.Ctx, status int, data fiber.Map) error {
	items, err := s.Content.Items(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	tiles := make([]itemTile, 0, len(items))
	var albums []itemTile
	for i := range items {
		t := itemTile{ID: items[i].ID, Kind: items[i].Kind, Label: itemLabel(&items[i]), Public: items[i].Public}
		tiles = append(tiles, t)
		if t.Kind == content.KindAlbum {
			albums = append(albums, t)
		}
	}
	data["Items"], data["Albums"] = tiles, albums
	c.Status(status)
	return s.page(c, "home", "Home", data)
}

func (s *Server) createPostForm(c *fiber.Ctx) error {
	title, body := formText(c, "title"), formText(c, "body")
	if _, err := s.Content.CreatePost(c.UserContext(), member(c).ID, title, body); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderHome(c, status, fiber.Map{"PostError": msg, "PostTitle": title, "PostBody": body})
		})
	}
	return seeOther(c, "/?done=saved")
}

func (s *Server) createAlbumForm(c *fiber.Ctx) error {
	title := formText(c, "title")
	if _, err := s.Content.CreateAlbum(c.UserContext(), member(c).ID, title); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderHome(c, status, fiber.Map{"AlbumError": msg, "AlbumTitle": title})
		})
	}
	return seeOther(c, "/?done=saved")
}
