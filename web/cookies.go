package web

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// cookieNames carries the __Host- prefix when the public URL is https: such
// cookies are Secure, host-only and Path=/ by the browser's own rules.
type cookieNames struct {
	secure  bool
	session string // a member's session id
	guest   string // sealed guest session: the tokens this browser opened
	pending string // sealed mark of a link whose token needs an explicit open
	pre     string // random binding for CSRF tokens of forms shown before any session
}

func newCookieNames(secure bool) cookieNames {
	p := ""
	if secure {
		p = "__Host-"
	}
	return cookieNames{secure: secure, session: p + "hs_session", guest: p + "hs_guest", pending: p + "hs_pending", pre: p + "hs_pre"}
}

// setCookie sets an HttpOnly, SameSite=Lax, Path=/ cookie; maxAge 0 makes it
// a browser-session cookie.
func (s *Server) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode, Secure: s.cookies.secure}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = s.Clock.Now().Add(maxAge)
	}
	c.Cookie(ck)
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: s.cookies.secure, MaxAge: -1, Expires: time.Unix(0, 0)})
}
