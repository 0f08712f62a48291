package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
)

// audienceView is one token in GET /items/{id}/audience.
type audienceView struct {
	TokenID   int64  `json:"token_id"`
	TokenName string `json:"token_name"`
	// Via is direct, group, album or public; GroupID names the group.
	Via           string     `json:"via"`
	GroupID       *int64     `json:"group_id"`
	Status        string     `json:"status"`
	FirstOpenedAt *time.Time `json:"first_opened_at"`
	LastSeenAt    *time.Time `json:"last_seen_at"`
	Views         int        `json:"views"`
	Networks      int        `json:"networks"`
}

func newAudienceViews(vs []acl.Viewer) []audienceView {
	out := make([]audienceView, 0, len(vs))
	for _, v := range vs {
		a := audienceView{TokenID: v.Token.ID, TokenName: v.Token.Name, Via: v.Via, Status: v.Status,
			FirstOpenedAt: v.FirstOpenedAt, LastSeenAt: v.LastSeenAt, Views: v.Views, Networks: v.Networks}
		if v.Group != 0 {
			g := v.Group
			a.GroupID = &g
		}
		out = append(out, a)
	}
	return out
}

// apiItemAudience is GET /items/{id}/audience: every token that reaches one
// of the caller's items, with its read receipts, and those that have not
// opened it yet. Another member's item is "not found".
func (s *Server) apiItemAudience(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	ctx, owner := c.UserContext(), apiMember(c).ID
	if _, err := s.Content.Item(ctx, owner, id); err != nil {
		return err
	}
	vs, notOpened, err := s.ACL.Audience(ctx, owner, id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"audience": newAudienceViews(vs), "not_opened": notOpened})
}
