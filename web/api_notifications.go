package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// notificationView is a notification as the API shows it.
type notificationView struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	TokenID *int64    `json:"token_id"`
	ItemID  *int64    `json:"item_id"`
	Text    string    `json:"text"`
	Read    bool      `json:"read"`
}

func notificationViews(ns []acl.Notification) []notificationView {
	out := make([]notificationView, len(ns))
	for i := range ns {
		n := &ns[i]
		out[i] = notificationView{ID: n.ID, At: n.At.UTC(), Kind: n.Kind, TokenID: n.TokenID, ItemID: n.ItemID, Text: n.Text, Read: n.Read()}
	}
	return out
}

func (s *Server) apiNotifications(c *fiber.Ctx) error {
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	ns, next, err := s.ACL.Notifications(c.UserContext(), apiMember(c).ID, p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"notifications": notificationViews(ns), "next_cursor": nextCursor(next)})
}

// apiMarkNotificationsRead takes {"ids": [...]} or {"all": true} and
// answers with how many were marked and how many stay unread.
func (s *Server) apiMarkNotificationsRead(c *fiber.Ctx) error {
	var in struct {
		IDs []int64 `json:"ids"`
		All bool    `json:"all"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.All && len(in.IDs) > 0 {
		return app.Errorf(app.EInvalid, `Give either "ids" or "all": true, not both.`)
	}
	ctx, owner := c.UserContext(), apiMember(c).ID
	n, err := s.ACL.MarkNotificationsRead(ctx, owner, in.IDs, in.All)
	if err != nil {
		return err
	}
	unread, err := s.ACL.UnreadNotifications(ctx, owner)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"marked": n, "unread": unread})
}
