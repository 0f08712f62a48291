package web

import (
	"github.com/gofiber/fiber/v2"
)

// Groups.

// groupRow is one group with who is in it and who could be added.
type groupRow struct {
	ID         int64
	Name       string
	Members    []principalView
	Candidates []principalView
}

func (s *Server) groupsPage(c *fiber.Ctx) error {
	return s.renderGroups(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderGroups(c *fiber.Ctx, status int, data fiber.Map) error {
	dir, err := s.loadDirectory(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	active := dir.activeTokens()
	rows := make([]groupRow, 0, len(dir.raw))
	for _, g := range dir.raw {
		r := groupRow{ID: g.ID, Name: g.Name}
		in := map[int64]bool{}
		for _, m := range g.Members {
			in[m] = true
			r.Members = append(r.Members, dir.principal(m))
		}
		for _, group := range [][]principalView{dir.members, active} {
			for _, p := range group {
				if !in[p.ID] {
					r.Candidates = append(r.Candidates, p)
				}
			}
		}
		rows = append(rows, r)
	}
	data["Groups"] = rows
	c.Status(status)
	return s.page(c, "groups", "Groups", data)
}

func (s *Server) groupError(c *fiber.Ctx, err error, extra fiber.Map) error {
	return formError(err, func(status int, msg string) error {
		if extra == nil {
			extra = fiber.Map{}
		}
		extra["Error"] = msg
		return s.renderGroups(c, status, extra)
	})
}

func (s *Server) createGroupForm(c *fiber.Ctx) error {
	name := formText(c, "name")
	if _, err := s.ACL.CreateGroup(c.UserContext(), member(c).ID, name); err != nil {
		return s.groupError(c, err, fiber.Map{"NewName": name})
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) renameGroupForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ACL.RenameGroup(c.UserContext(), member(c).ID, id, formText(c, "name")); err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) deleteGroupForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.DeleteGroup(c.UserContext(), member(c).ID, id); err != nil {
		return err
	}
	return seeOther(c, "/settings/groups?done=deleted")
}

func (s *Server) addGroupMemberForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Pick a member or guest link to add.")
	if err == nil {
		err = s.ACL.AddGroupMember(c.UserContext(), member(c).ID, id, principal)
	}
	if err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) removeGroupMemberForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Nothing to remove.")
	if err == nil {
		err = s.ACL.RemoveGroupMember(c.UserContext(), member(c).ID, id, principal)
	}
	if err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}
