package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// apiTokenView is what pages and the API show of an API token: never its hash.
type apiTokenView struct {
	ID          int64      `json:"id"`
	Description string     `json:"description"`
	Scopes      []string   `json:"scopes"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

func (s *Server) apiTokenViews(ts []acl.APIToken) []apiTokenView {
	now := s.Clock.Now()
	out := make([]apiTokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, apiTokenView{ID: t.ID, Description: t.Description, Scopes: strings.Fields(t.Scopes),
			Status: t.Status(now), CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt})
	}
	return out
}

func (s *Server) apiTokensPage(c *fiber.Ctx) error {
	return s.renderAPITokens(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderAPITokens(c *fiber.Ctx, status int, data fiber.Map) error {
	ts, err := s.ACL.ListAPITokens(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	data["Tokens"] = s.apiTokenViews(ts)
	c.Status(status)
	return s.page(c, "apitokens", "API tokens", data)
}

func (s *Server) createAPITokenForm(c *fiber.Ctx) error {
	exp, err := parseInstant("The expiry", c.FormValue("expires_at"))
	if err == nil {
		var secret string
		_, secret, err = s.ACL.CreateAPIToken(c.UserContext(), member(c).ID, c.FormValue("description"), c.FormValue("scope"), exp)
		if err == nil {
			// Shown once, on this response only; it is not stored in clear anywhere.
			return s.renderAPITokens(c, fiber.StatusCreated, fiber.Map{"NewSecret": secret})
		}
	}
	if app.ErrorCode(err) == app.EInvalid {
		return s.renderAPITokens(c, fiber.StatusUnprocessableEntity, fiber.Map{"Error": app.ErrorMessage(err)})
	}
	return err
}

func (s *Server) revokeAPITokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.RevokeAPIToken(c.UserContext(), member(c).ID, id); err != nil {
		return err
	}
	return c.Redirect("/settings/apitokens?done=revoked", fiber.StatusSeeOther)
}

func (s *Server) apiListAPITokens(c *fiber.Ctx) error {
	ts, err := s.ACL.ListAPITokens(c.UserContext(), apiMember(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"apitokens": s.apiTokenViews(ts)})
}

func (s *Server) apiRevokeAPIToken(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.RevokeAPIToken(c.UserContext(), apiMember(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
