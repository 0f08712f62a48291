package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"hubshare/app"
)

// CSRF tokens are bound to the browser's session: the token is an HMAC,
// under a server key, of the cookie that identifies the session (the
// member's session, else the pending link, else the guest session, else a
// random pre-session cookie set when a form is first shown). A token taken
// from one browser is useless in another, and nothing is stored per token.

const csrfField = "_csrf"

// csrfBinding returns the cookie value CSRF tokens of this browser are bound
// to, as the browser will hold it after this response: a cookie that this
// response clears (an expired session, say) binds nothing, and one that it
// sets binds with its new value.
func (s *Server) csrfBinding(c *fiber.Ctx) string {
	for _, name := range []string{s.cookies.session, s.cookies.pending, s.cookies.guest, s.cookies.pre} {
		v, set := responseCookie(c, name)
		if !set {
			v = c.Cookies(name)
		}
		if v != "" {
			return name + "=" + v
		}
	}
	return ""
}

// responseCookie reports whether this response sets the cookie, and to what
// (empty when it clears it).
func responseCookie(c *fiber.Ctx, name string) (value string, set bool) {
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(name)
	if !c.Response().Header.Cookie(ck) {
		return "", false
	}
	return string(ck.Value()), true // clearCookie sets an empty value
}

// csrfToken returns the token to embed in this page's forms, setting a
// pre-session cookie first when the browser will hold no session of any kind.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	b := s.csrfBinding(c)
	if b == "" {
		v := randomToken()
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
// to this browser's session and, when the browser sends Origin, this site's
// origin. The token comes from the X-CSRF-Token header or the form body, never
// from the URL: a URL leaks into logs, history and Referer headers.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	if safeMethod(c) {
		return c.Next()
	}
	want, err := s.expectedCSRF(c)
	if err != nil {
		return err
	}
	got := c.Get(csrfHeader)
	if got == "" {
		got = formToken(c)
	}
	if !csrfEqual(got, want) {
		return errCSRF
	}
	return c.Next()
}

// checkStreamedCSRF guards a streamed upload, whose body must not be read
// here: a token in the header is checked at once; otherwise the multipart
// parser checks the token field, which must come before any file part
// (readUpload), and nothing else is accepted.
func (s *Server) checkStreamedCSRF(c *fiber.Ctx) error {
	if safeMethod(c) {
		return c.Next()
	}
	want, err := s.expectedCSRF(c)
	if err != nil {
		return err
	}
	if got := c.Get(csrfHeader); got != "" {
		if !csrfEqual(got, want) {
			return errCSRF
		}
		return c.Next()
	}
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		return errCSRF
	}
	c.Locals(csrfPendingKey, want)
	return c.Next()
}

const (
	csrfHeader = "X-CSRF-Token"
	// csrfPendingKey holds the token a streamed upload must carry in a part
	// before its files.
	csrfPendingKey = "csrf_pending"
)

func safeMethod(c *fiber.Ctx) bool {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		return true
	}
	return false
}

// expectedCSRF checks the Origin and returns the token this browser's forms carry.
func (s *Server) expectedCSRF(c *fiber.Ctx) (string, error) {
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && !s.sameOrigin(origin) {
		return "", errCSRF
	}
	binding := s.csrfBinding(c)
	if binding == "" {
		return "", errCSRF
	}
	return s.csrfFor(binding), nil
}

// formToken reads the token from the form body only: url-encoded, or a
// (small) multipart form. Unlike FormValue it never looks at the query string.
func formToken(c *fiber.Ctx) string {
	ct := c.Get(fiber.HeaderContentType)
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		return string(c.Request().PostArgs().Peek(csrfField))
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		f, err := c.MultipartForm()
		if err != nil || len(f.Value[csrfField]) == 0 {
			return ""
		}
		return f.Value[csrfField][0]
	}
	return ""
}

func csrfEqual(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
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
