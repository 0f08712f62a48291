package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Notifications: the owner's page, newest first in keyed pages, with mark
// one and mark all read. The bell in the header (page in auth.go) shows
// the unread count.

// notificationRow is one notification as the page shows it.
type notificationRow struct {
	ID      int64
	At      time.Time
	Kind    string
	Text    string
	TokenID int64
	ItemID  int64
	Read    bool
}

func notificationLabel(kind string) string {
	switch kind {
	case acl.NotifyFirstOpen:
		return "First opening"
	case acl.NotifyNewNetwork:
		return "New network"
	case acl.NotifyPasswordFailures:
		return "Wrong passwords"
	case acl.NotifyExpiring:
		return "Expiring soon"
	case acl.NotifyComment:
		return "New comment"
	}
	return label(kind)
}

func init() { templateFuncs["notifylabel"] = notificationLabel }

func (s *Server) notificationsPage(c *fiber.Ctx) error {
	cursor := strings.Clone(c.Query("cursor"))
	ns, next, err := s.ACL.Notifications(c.UserContext(), member(c).ID, app.Page{Limit: app.DefaultPageSize, Cursor: cursor})
	if err != nil {
		return err
	}
	rows := make([]notificationRow, len(ns))
	for i := range ns {
		n := &ns[i]
		r := notificationRow{ID: n.ID, At: n.At, Kind: n.Kind, Text: n.Text, Read: n.Read()}
		if n.TokenID != nil {
			r.TokenID = *n.TokenID
		}
		if n.ItemID != nil {
			r.ItemID = *n.ItemID
		}
		rows[i] = r
	}
	return s.page(c, "notifications", "Notifications", fiber.Map{"Notifications": rows, "Next": next, "Paged": cursor != ""})
}

// markNotificationsReadForm marks one notification read (field id) or all
// of them (field all), then goes back to the page it came from.
func (s *Server) markNotificationsReadForm(c *fiber.Ctx) error {
	all := formChecked(c, "all")
	var ids []int64
	if !all {
		id, err := formID(c, "id", "Choose a notification to mark read.")
		if err != nil {
			return err
		}
		ids = []int64{id}
	}
	if _, err := s.ACL.MarkNotificationsRead(c.UserContext(), member(c).ID, ids, all); err != nil {
		return err
	}
	back := "/notifications?done=read"
	// Only a cursor this list gave comes back into the URL.
	if cur := formText(c, "cursor"); cur != "" {
		if _, err := app.DecodeCursor(cur, 1); err == nil {
			back += "&cursor=" + cur
		}
	}
	return seeOther(c, back)
}

// unreadCount is the bell's number; one indexed count.
func (s *Server) unreadCount(c *fiber.Ctx, m *acl.Member) (string, error) {
	if m == nil {
		return "", nil
	}
	n, err := s.ACL.UnreadNotifications(c.UserContext(), m.ID)
	if err != nil || n == 0 {
		return "", err
	}
	if n > 99 {
		return "99+", nil
	}
	return strconv.Itoa(n), nil
}
