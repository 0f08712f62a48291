package web

import (
	_ "embed"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

//go:embed openapi.json
var openAPISpec []byte

func apiToken(c *fiber.Ctx) *acl.APIToken {
	t, _ := c.Locals("apitoken").(*acl.APIToken)
	return t
}

func apiMember(c *fiber.Ctx) *acl.Member { return apiToken(c).Member }

// apiAuth accepts a personal API token from Authorization: Bearer only (a
// cookie alone gives 401) and checks its scope: reads need read, anything
// else needs write.
func (s *Server) apiAuth(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	h := c.Get(fiber.HeaderAuthorization)
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hubshare"`)
		return acl.ErrBadAPIToken
	}
	t, err := s.ACL.AuthenticateAPIToken(c.UserContext(), strings.TrimSpace(secret))
	if err != nil {
		if app.ErrorCode(err) == app.EUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hubshare", error="invalid_token"`)
		}
		return err
	}
	need := acl.ScopeWrite
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		need = acl.ScopeRead
	}
	if !t.Allows(need) {
		return app.Errorf(app.EForbidden, "This API token lacks the %q scope.", need)
	}
	c.Locals("apitoken", t)
	return c.Next()
}

type memberView struct {
	ID          int64     `json:"id"`
	Handle      string    `json:"handle"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

func (s *Server) apiMe(c *fiber.Ctx) error { return s.meJSON(c, apiMember(c)) }

func (s *Server) meJSON(c *fiber.Ctx, m *acl.Member) error {
	t := apiToken(c)
	return c.JSON(fiber.Map{"id": m.ID, "handle": m.Handle, "display_name": m.DisplayName, "created_at": m.CreatedAt,
		"email": m.Email, "notify_email": m.NotifyEmail,
		"token": fiber.Map{"id": t.ID, "scopes": strings.Fields(t.Scopes), "expires_at": t.ExpiresAt}})
}

// apiUpdateMe changes the caller's e-mail settings: "email" (null or ""
// removes the address) and "notify_email".
func (s *Server) apiUpdateMe(c *fiber.Ctx) error {
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	for name := range fields {
		if name != "email" && name != "notify_email" {
			return app.Errorf(app.EInvalid, "The field %q cannot be changed here; only email and notify_email can.", name)
		}
	}
	email, err := fieldString(fields, "email")
	if err != nil {
		return err
	}
	if raw, ok := fields["email"]; ok && isNull(raw) {
		email = new(string)
	}
	notify, err := fieldBool(fields, "notify_email")
	if err != nil {
		return err
	}
	m, err := s.ACL.SetMemberMail(c.UserContext(), apiMember(c).ID, email, notify)
	if err != nil {
		return err
	}
	return s.meJSON(c, m)
}

func (s *Server) apiOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(openAPISpec)
}

// healthz answers 200 {"status":"ok"} when the service can do its work,
// and 503 with the reason when the database is unreachable or the database
// or the media store cannot be written.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := s.DB.PingContext(c.UserContext()); err != nil {
		s.Logger.ErrorContext(c.UserContext(), "health check: database", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": "the database is unreachable"})
	}
	if reason := s.Content.StorageProblem(); reason != "" {
		s.Logger.WarnContext(c.UserContext(), "health check: storage", "reason", reason)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": reason})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
