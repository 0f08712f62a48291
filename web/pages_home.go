package web

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/app"
	"hubshare/content"
	"hubshare/content/media"
)

// Home.

// itemTile is an item on the home page; Cover is an album's cover photo.
type itemTile struct {
	ID     int64
	Kind   string
	Label  string
	Public bool
	Cover  int64
}

// itemLabel is the one name of an item on every owner page: its title, a
// post's first line, else its kind. An uploaded photo is titled after its
// file when no title is given, so photos have names of their own.
func itemLabel(it *content.Item) string { return labelOf(it.Title, it.Kind, it.Body) }

// labelOf is the one label of an item on every owner page: its title, else
// the first line of a post's text, else its kind.
func labelOf(title, kind, body string) string {
	if title != "" {
		return title
	}
	if kind == content.KindPost && body != "" {
		line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
		if r := []rune(line); len(r) > 60 {
			line = string(r[:60]) + "…"
		}
		return line
	}
	return kindLabel(kind)
}

func (s *Server) home(c *fiber.Ctx) error {
	return s.renderHome(c, fiber.StatusOK, fiber.Map{"Upload": uploadSummary(c)})
}

func (s *Server) renderHome(c *fiber.Ctx, status int, data fiber.Map) error {
	ctx, owner := c.UserContext(), member(c).ID
	items, err := s.Content.Items(ctx, owner)
	if err != nil {
		return err
	}
	covers, err := s.Content.Covers(ctx, owner)
	if err != nil {
		return err
	}
	tiles := make([]itemTile, 0, len(items))
	var albums []itemTile
	for i := range items {
		t := itemTile{ID: items[i].ID, Kind: items[i].Kind, Label: itemLabel(&items[i]), Public: items[i].Public, Cover: covers[items[i].ID]}
		tiles = append(tiles, t)
		if t.Kind == content.KindAlbum {
			albums = append(albums, t)
		}
	}
	data["Items"], data["Albums"], data["MaxUploadMiB"] = tiles, albums, s.Config.MaxUpload>>20
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

// Uploads.

// uploadRefusal is a file of an upload that was not saved, as pages show it.
type uploadRefusal struct {
	Name, Reason string
}

// uploadResult is what the home page says after an upload.
type uploadResult struct {
	Saved   int
	Refused []uploadRefusal
}

// Short reasons for refused files; only these codes travel in a redirect,
// never free text.
var refusalReasons = map[string]string{
	"toolarge":    "larger than the size limit",
	"unsupported": "not a supported image (JPEG, PNG, GIF or WebP)",
	"damaged":     "the image is damaged or cannot be read",
	"pixels":      "the image has too many pixels",
}

func refusalCode(err error) string {
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return "toolarge"
	case errors.Is(err, media.ErrCorrupt):
		return "damaged"
	case errors.Is(err, media.ErrTooManyPixels):
		return "pixels"
	}
	return "unsupported"
}

// maxRefusalsShown bounds the refused files named in a redirect.
const maxRefusalsShown = 20

// uploadSummary reads the result of an upload from the redirect that
// followed it: how many photos were saved, and each refused file's name
// with the code of its reason.
func uploadSummary(c *fiber.Ctx) *uploadResult {
	saved, _ := strconv.Atoi(c.Query("saved"))
	var refused []uploadRefusal
	for _, v := range c.Context().QueryArgs().PeekMulti("refused") {
		i := strings.LastIndexByte(string(v), ':')
		if i < 0 {
			continue
		}
		if reason, ok := refusalReasons[string(v[i+1:])]; ok && len(refused) < maxRefusalsShown {
			refused = append(refused, uploadRefusal{Name: clip(string(v[:i]), maxNameShown), Reason: reason})
		}
	}
	if saved <= 0 && len(refused) == 0 {
		return nil
	}
	return &uploadResult{Saved: max(saved, 0), Refused: refused}
}

// maxNameShown bounds a file name in the upload result.
const maxNameShown = 120

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// wantsJSON tells the upload page's script (one request per file, with
// progress) from the plain form.
func wantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON)
}

// uploadForm saves the photos of the home page's upload form. The good
// files are kept when others are refused: with at least one saved it
// answers 303 to the home page, which names each refused file with its
// reason; with none saved it re-renders the home page with the reasons and
// the status of the refusal (413 for a file over the limit, as the API).
// The page's script sends one file a request and gets JSON.
func (s *Server) uploadForm(c *fiber.Ctx) error {
	up, err := s.readUpload(c, maxFilesPerUpload)
	var items []*content.Item
	if err == nil {
		items, err = s.save(c, member(c).ID, up)
	}
	if wantsJSON(c) {
		return s.uploadJSON(c, up, items, err)
	}
	if err != nil {
		if fileRefusal(err) {
			return s.renderHome(c, statusOf[app.ErrorCode(err)], fiber.Map{"UploadError": app.ErrorMessage(err)})
		}
		return err
	}
	if len(items) == 0 {
		status, lines := 0, make([]uploadRefusal, 0, len(up.refused))
		for _, r := range up.refused {
			st := statusOf[app.ErrorCode(r.Err)]
			if status != 0 && st != status {
				st = fiber.StatusUnprocessableEntity
			}
			status = st
			lines = append(lines, uploadRefusal{Name: r.Name, Reason: app.ErrorMessage(r.Err)})
		}
		return s.renderHome(c, status, fiber.Map{"UploadError": "Nothing was saved.", "UploadRefused": lines})
	}
	if len(up.refused) > 0 {
		q := "/?done=saved&saved=" + strconv.Itoa(len(items))
		for i, r := range up.refused {
			if i == maxRefusalsShown {
				break
			}
			q += "&refused=" + url.QueryEscape(clip(r.Name, maxNameShown)+":"+refusalCode(r.Err))
		}
		return seeOther(c, q)
	}
	if len(items) == 1 {
		return seeOther(c, "/items/"+strconv.FormatInt(items[0].ID, 10)+"/share")
	}
	if items[0].AlbumID != nil {
		return seeOther(c, "/items/"+strconv.FormatInt(*items[0].AlbumID, 10)+"?done=saved")
	}
	return seeOther(c, "/?done=saved&saved="+strconv.Itoa(len(items)))
}

// uploadFile is one file's result for the upload script.
type uploadFile struct {
	Name    string `json:"name"`
	ID      int64  `json:"id,omitempty"`
	Title   string `json:"title,omitempty"`
	URL     string `json:"url,omitempty"`
	Message string `json:"message,omitempty"`
}

// uploadJSON answers the upload script: 201 with the saved photos (and any
// refused file) or, when nothing was saved, the refusal's status and message.
func (s *Server) uploadJSON(c *fiber.Ctx, up *upload, items []*content.Item, err error) error {
	if err != nil {
		return c.Status(statusOf[app.ErrorCode(err)]).JSON(fiber.Map{"error": fiber.Map{"code": string(app.ErrorCode(err)), "message": app.ErrorMessage(err)}})
	}
	var saved, refused []uploadFile
	for i, it := range items {
		saved = append(saved, uploadFile{Name: up.names[i], ID: it.ID, Title: it.Title, URL: itemURL(it.ID)})
	}
	for _, r := range up.refused {
		refused = append(refused, uploadFile{Name: r.Name, Message: app.ErrorMessage(r.Err)})
	}
	if len(saved) == 0 {
		r := up.refused[0]
		return c.Status(statusOf[app.ErrorCode(r.Err)]).JSON(fiber.Map{
			"error":   fiber.Map{"code": string(app.ErrorCode(r.Err)), "message": app.ErrorMessage(r.Err)},
			"refused": refused})
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"saved": saved, "refused": refused})
}
