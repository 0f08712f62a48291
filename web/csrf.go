package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/app"
)

// CSRF tokens are bound to the browser's session: the token is an HMAC,
// under a server key, of the cookie that identifies the session (the
// member's session, else the pending link, else the guest session, else a
// random pre-session cookie set when a form is first shown). A token taken
// from one browser is useless in another, and nothing is stored per token.

const csrfField = "_csrf"

// csrfBinding returns the cookie value CSRF tokens of this browser are bound to.
func (s *Server) csrfBinding(c *fiber.Ctx) string {
	for _, name := range []string{s.cookies.session, s.cookies.pending, s.cookies.guest, s.cookies.pre} {
		if v := c.Cookies(name); v != "" {
			return name + "=" + v
		}
	}
	if v, ok := c.Locals("csrf_pre").(string); ok { // set earlier in this request
		return s.cookies.pre + "=" + v
	}
	return ""
}

// csrfToken returns the token to embed in this page's forms, setting a
// pre-session cookie first when the browser has no session of any kind.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	b := s.csrfBinding(c)
	if b == "" {
		v := randomToken()
		c.Locals("csrf_pre", v)
		s.setCookie(c, s.cookies.pre, v, 0)
		b = s.cookies.pre + "=" + v
	}
	return s.csrfFor(b)
}

func (s *Server) csrfFor(binding string) string {
	m := hmac.New(sha256.New, s.Keys.CSRF)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errCSRF = app.Errorf(app.EForbidden, "This form has expired or did not come from this site. Reload the page and try again.")

// checkCSRF guards every unsafe method outside the API: it needs a token bound
// to this browser's session and, when the browser sends Origin, this site's origin.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		return c.Next()
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !s.sameOrigin(origin) {
		return errCSRF
	}
	binding := s.csrfBinding(c)
	if binding == "" {
		return errCSRF
	}
	got := c.Get("X-CSRF-Token")
	if got == "" && strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		// Uploads carry the token in the URL of the form's action: reading
		// it from the body would buffer the whole upload before the check.
		got = c.Query(csrfField)
	} else if got == "" {
		got = c.FormValue(csrfField)
	}
	if got == "" || !hmac.Equal([]byte(got), []byte(s.csrfFor(binding))) {
		return errCSRF
	}
	return c.Next()
}

// sameOrigin compares an Origin header with the public base URL.
func (s *Server) sameOrigin(origin string) bool {
	u, err := url.Parse(s.Config.BaseURL)
	if err != nil {
		return false
	}
	return strings.EqualFold(origin, u.Scheme+"://"+u.Host)
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
