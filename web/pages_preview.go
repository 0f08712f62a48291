package web

import (
	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/content"
)

// The owner's "view as this token": /shared and each item exactly as the
// token's guest would see them, through the guest handlers and templates,
// with the token as the only identity (never the owner's). The preview
// opens no session (no cookie is set), spends no use, records no view or
// download and leaves the token's last use alone: the guest view is a read,
// and recordView skips a preview.

// preview is the token a preview request shows, and where its links go.
type preview struct {
	Token *acl.GuestToken
	// Shared is the preview's "Shared with you"; TokenPage the token's page.
	Shared, TokenPage string
}

const previewKey = "preview"

// previewOf is the preview this request shows, or nil.
func previewOf(c *fiber.Ctx) *preview {
	p, _ := c.Locals(previewKey).(*preview)
	return p
}

// guestLinksOf are the guest pages' links for this request.
func guestLinksOf(c *fiber.Ctx) guestLinks {
	if p := previewOf(c); p != nil {
		return guestLinks{prefix: p.Shared}
	}
	return guestLinks{}
}

// guestData adds what the guest layout needs to a guest page's data.
func (s *Server) guestData(c *fiber.Ctx, data fiber.Map) fiber.Map {
	if p := previewOf(c); p != nil {
		data["Preview"] = p
	}
	return data
}

func previewPath(token int64) string { return tokenPath(token) + "/preview" }

// previewGate runs after the owner chain on the preview routes: the token
// must be the member's, and the viewer becomes that token's guest alone.
func (s *Server) previewGate(c *fiber.Ctx) error {
	id, err := paramID(c, "token")
	if err != nil {
		return err
	}
	t, err := s.ACL.Token(c.UserContext(), member(c).ID, id)
	if err != nil {
		return err
	}
	guestHeaders(c)
	c.Locals("viewer", content.Viewer{Guest: acl.GuestSession{}.With(t)})
	c.Locals(previewKey, &preview{Token: t, Shared: previewPath(t.ID), TokenPage: tokenPath(t.ID)})
	return c.Next()
}
