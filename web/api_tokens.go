package web

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (s *Server) apiCreateToken(c *fiber.Ctx) error {
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	in, err := tokenInput(fields)
	if err != nil {
		return err
	}
	t, secret, err := s.ACL.CreateToken(c.UserContext(), apiMember(c).ID, in)
	if err != nil {
		return err
	}
	v := s.newTokenView(t)
	v.Token, v.Link = secret, s.link(secret, 0)
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) apiShareItem(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	in, err := tokenInput(fields)
	if err != nil {
		return err
	}
	t, secret, err := s.ACL.ShareItem(c.UserContext(), apiMember(c).ID, id, in)
	if err != nil {
		return err
	}
	v := s.newTokenView(t)
	v.Token, v.Link = secret, s.link(secret, id)
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) apiListTokens(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	ts, next, err := s.ACL.ListTokensPage(c.UserContext(), apiMember(c).ID,
		acl.TokenQuery{Q: c.Query("q"), Status: c.Query("status"), Flag: c.Query("flag"), Page: p})
	if err != nil {
		return err
	}
	out := make([]tokenView, 0, len(ts))
	for i := range ts {
		v := s.newTokenView(&ts[i].GuestToken)
		v.Items, v.InACLs = &ts[i].Items, &ts[i].Entries
		out = append(out, v)
	}
	return c.JSON(fiber.Map{"tokens": out, "next_cursor": nextCursor(next)})
}

// tokenGrantsInline is how many grants GET /tokens/{id} holds; the rest
// come page by page from GET /tokens/{id}/grants.
const tokenGrantsInline = 100

func (s *Server) apiTokenGrants(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	owner := apiMember(c).ID
	t, err := s.ACL.Token(c.UserContext(), owner, id)
	if err != nil {
		return err
	}
	grants, next, err := s.ACL.TokenGrantsPage(c.UserContext(), owner, id, p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"grants": newGrantViews(grants, s.newTokenView(t).Status == acl.StatusActive), "next_cursor": nextCursor(next)})
}

func (s *Server) apiGetToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	owner := apiMember(c).ID
	t, err := s.ACL.Token(c.UserContext(), owner, id)
	if err != nil {
		return err
	}
	grants, next, err := s.ACL.TokenGrantsPage(c.UserContext(), owner, id, app.Page{Limit: tokenGrantsInline})
	if err != nil {
		return err
	}
	views, err := s.ACL.TokenViews(c.UserContext(), id)
	if err != nil {
		return err
	}
	v := s.newTokenView(t)
	gv := newGrantViews(grants, v.Status == acl.StatusActive)
	v.Grants = &gv
	v.GrantsNext = json.RawMessage("null")
	if next != "" {
		v.GrantsNext = next
	}
	v.Views = &views
	return c.JSON(v)
}

func (s *Server) apiTokenLink(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	secret, err := s.ACL.TokenSecret(c.UserContext(), apiMember(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"token": secret, "link": s.link(secret, 0)})
}

func (s *Server) apiUpdateToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	in, err := tokenInput(fields)
	if err != nil {
		return err
	}
	t, err := s.ACL.UpdateToken(c.UserContext(), apiMember(c).ID, id, in)
	if err != nil {
		return err
	}
	return c.JSON(s.newTokenView(t))
}

func (s *Server) apiRotateToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	t, secret, err := s.ACL.RotateToken(c.UserContext(), apiMember(c).ID, id)
	if err != nil {
		return err
	}
	v := s.newTokenView(t)
	v.Token, v.Link = secret, s.link(secret, 0)
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) apiRevokeToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.RevokeToken(c.UserContext(), apiMember(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Groups.

type groupInput struct {
	Name    *string  `json:"name"`
	Members *[]int64 `json:"members"`
}

func (s *Server) apiCreateGroup(c *fiber.Ctx) error {
	var in groupInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return app.Errorf(app.EInvalid, "name is required.")
	}
	g, err := s.ACL.CreateGroup(c.UserContext(), apiMember(c).ID, *in.Name)
	if err != nil {
		return err
	}
	if in.Members != nil {
		if g, err = s.ACL.SetGroupMembers(c.UserContext(), apiMember(c).ID, g.ID, *in.Members); err != nil {
			return err
		}
	}
	return c.Status(fiber.StatusCreated).JSON(newGroupView(g))
}

func (s *Server) apiListGroups(c *fiber.Ctx) error {
	gs, err := s.ACL.Groups(c.UserContext(), apiMember(c).ID)
	if err != nil {
		return err
	}
	out := make([]groupView, 0, len(gs))
	for i := range gs {
		out = append(out, newGroupView(&gs[i]))
	}
	return c.JSON(fiber.Map{"groups": out})
}

func (s *Server) apiGetGroup(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	g, err := s.ACL.Group(c.UserContext(), apiMember(c).ID, id)
	if err != nil {
		return err
	}
	return c.JSON(newGroupView(g))
}

func (s *Server) apiRenameGroup(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	var in groupInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return app.Errorf(app.EInvalid, "name is required.")
	}
	g, err := s.ACL.RenameGroup(c.UserContext(), apiMember(c).ID, id, *in.Name)
	if err != nil {
		return err
	}
	return c.JSON(newGroupView(g))
}

func (s *Server) apiDeleteGroup(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.DeleteGroup(c.UserContext(), apiMember(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiSetGroupMembers(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	var in groupInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Members == nil {
		return app.Errorf(app.EInvalid, "members is required (a list of member and guest-token ids).")
	}
	g, err := s.ACL.SetGroupMembers(c.UserContext(), apiMember(c).ID, id, *in.Members)
	if err != nil {
		return err
	}
	return c.JSON(newGroupView(g))
}

func (s *Server) apiListMembers(c *fiber.Ctx) error {
	ms, err := s.ACL.ListMembers(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]memberView, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberView{ID: m.ID, Handle: m.Handle, DisplayName: m.DisplayName})
	}
	return c.JSON(fiber.Map{"members": out})
}
