package web

import (
	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
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
	items, err := s.Content.Items(c.UserContext(), apiMember(c).ID)
	if err != nil {
		return err
	}
	out := make([]itemView, 0, len(items))
	for i := range items {
		out = append(out, newItemView(&items[i]))
	}
	return c.JSON(fiber.Map{"items": out})
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
	var in postInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	it, err := s.Content.UpdateItem(c.UserContext(), apiMember(c).ID, id, in.Title, in.Body)
	if err != nil {
		return err
	}
	return c.JSON(newItemView(it))
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
	entries, err := s.ACL.ItemAccess(c.UserContext(), apiMember(c).ID, id, 1000)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entries": entries})
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
