package web

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

type postInput struct {
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *Server) apiCreatePost(c *fiber.Ctx) error {
	var in postInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	it, err := s.Content.CreatePost(c.UserContext(), apiMember(c).ID, deref(in.Title), deref(in.Body))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newItemView(it))
}

func (s *Server) apiCreateAlbum(c *fiber.Ctx) error {
	var in postInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	it, err := s.Content.CreateAlbum(c.UserContext(), apiMember(c).ID, deref(in.Title))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newItemView(it))
}

func (s *Server) apiListItems(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	items, next, err := s.Content.ItemsPage(c.UserContext(), apiMember(c).ID, p)
	if err != nil {
		return err
	}
	out := make([]itemView, 0, len(items))
	for i := range items {
		out = append(out, newItemView(&items[i]))
	}
	return c.JSON(fiber.Map{"items": out, "next_cursor": nextCursor(next)})
}

func (s *Server) apiGetItem(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	it, err := s.Content.Item(c.UserContext(), apiMember(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(newItemView(it))
}

func (s *Server) apiUpdateItem(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	e, err := itemEdit(fields)
	if err != nil {
		return err
	}
	it, err := s.Content.EditItem(c.UserContext(), apiMember(c).ID, id, e)
	if err != nil {
		return err
	}
	return c.JSON(newItemView(it))
}

// itemEdit reads the fields of PATCH /items/{id}; for album_id and cover_id
// null clears.
func itemEdit(fields map[string]json.RawMessage) (content.ItemEdit, error) {
	var e content.ItemEdit
	var err error
	if e.Title, err = fieldString(fields, "title"); err != nil {
		return e, err
	}
	if e.Body, err = fieldString(fields, "body"); err != nil {
		return e, err
	}
	caption, err := fieldString(fields, "caption")
	if err != nil {
		return e, err
	}
	if caption != nil {
		if e.Body != nil && *e.Body != *caption {
			return e, app.Errorf(app.EInvalid, "body and caption are the same field: send one of them.")
		}
		e.Body = caption
	}
	if e.SetAlbum, e.AlbumID, err = fieldID(fields, "album_id"); err != nil {
		return e, err
	}
	if e.SetCover, e.CoverID, err = fieldID(fields, "cover_id"); err != nil {
		return e, err
	}
	return e, nil
}

// fieldID reads an optional id that null clears: set tells whether the
// field was sent at all.
func fieldID(fields map[string]json.RawMessage, name string) (set bool, id *int64, err error) {
	raw, ok := fields[name]
	if !ok {
		return false, nil, nil
	}
	if isNull(raw) {
		return true, nil, nil
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil || v <= 0 {
		return false, nil, app.Errorf(app.EInvalid, "%s must be an id or null.", name)
	}
	return true, &v, nil
}

func (s *Server) apiDeleteItem(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.Content.DeleteItem(c.UserContext(), apiMember(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiGetACL(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	a, err := s.ACL.ItemACL(c.UserContext(), apiMember(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) apiPutACL(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	in, err := parseACL(c.Body())
	if err != nil {
		return err
	}
	a, err := s.ACL.PutACL(c.UserContext(), apiMember(c).ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) apiItemAccess(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	entries, next, err := s.ACL.ItemAccessPage(c.UserContext(), apiMember(c).ID, id, p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entries": entries, "next_cursor": nextCursor(next)})
}

// parseACL reads the body of PUT /items/{id}/acl.
func parseACL(body []byte) (acl.ACL, error) {
	var in struct {
		Public *bool   `json:"public"`
		Allow  []int64 `json:"allow"`
		Deny   []int64 `json:"deny"`
	}
	if err := decodeJSONBytes(body, &in); err != nil {
		return acl.ACL{}, err
	}
	if in.Public == nil {
		return acl.ACL{}, app.Errorf(app.EInvalid, "public is required (true or false).")
	}
	for _, id := range append(in.Allow, in.Deny...) {
		if id <= 0 {
			return acl.ACL{}, app.Errorf(app.EInvalid, "Principal ids are positive integers; %d is not one.", id)
		}
	}
	if len(in.Allow)+len(in.Deny) > 10_000 {
		return acl.ACL{}, app.Errorf(app.EInvalid, "An ACL holds at most 10000 entries.")
	}
	return acl.ACL{Public: *in.Public, Allow: in.Allow, Deny: in.Deny}, nil
}
