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

// A new API token's secret is shown once, on the page the create redirects
// to, and stored nowhere in clear: the create puts it, sealed under the
// server key for this member, in a short-lived cookie; the next GET of the
// page opens it, shows it and clears the cookie. So the page that shows it
// comes from a GET (a reload creates nothing), a reload shows it no more,
// and any instance sharing the key can show it.
const apiSecretCookieTTL = 2 * time.Minute

func (s *Server) apiSecretCookie() string {
	if s.cookies.secure {
		return "__Host-hs_apisecret"
	}
	return "hs_apisecret"
}

func apiSecretPurpose(member int64) string { return "new api token secret for member " + itoa(member) }

func (s *Server) apiTokensPage(c *fiber.Ctx) error {
	data := fiber.Map{}
	name := s.apiSecretCookie()
	if sealed := c.Cookies(name); sealed != "" {
		s.clearCookie(c, name)
		if secret, err := acl.UnsealString(s.Keys.Seal, apiSecretPurpose(member(c).ID), sealed); err == nil {
			data["NewSecret"] = string(secret)
		}
	}
	return s.renderAPITokens(c, fiber.StatusOK, data)
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
	exp, err := formInstant(c, "expires_at", "The expiry")
	if err == nil {
		var secret string
		_, secret, err = s.ACL.CreateAPIToken(c.UserContext(), member(c).ID, c.FormValue("description"), c.FormValue("scope"), exp)
		if err == nil {
			s.setCookie(c, s.apiSecretCookie(), acl.SealString(s.Keys.Seal, apiSecretPurpose(member(c).ID), []byte(secret)), apiSecretCookieTTL)
			return seeOther(c, "/settings/apitokens?done=created")
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
	return seeOther(c, "/settings/apitokens?done=revoked")
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
