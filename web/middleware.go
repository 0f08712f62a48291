package web

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"hubshare/app"
)

// recoverPanics turns a panic into an internal error, logged with its stack.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.Logger.Error("panic", "panic", fmt.Sprint(r), "request_id", requestID(c), "stack", string(debug.Stack()))
			err = app.Errorf(app.EInternal, "panic")
		}
	}()
	return c.Next()
}

var requestIDs = requestid.New(requestid.Config{Header: fiber.HeaderXRequestID, ContextKey: "requestid",
	// A client-chosen id would let anyone write into our logs: always make our own.
	Generator: func() string { return app.RandomID() }})

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

// accessLog logs each request with its path only: query strings (where a zat
// may travel) and headers (cookies, bearer tokens) are never written.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler has not run yet; report the status it will give.
		if e, ok := err.(*fiber.Error); ok {
			status = e.Code
		} else if code := app.ErrorCode(err); statusOf[code] != 0 {
			status = statusOf[code]
		}
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.Logger.Log(c.UserContext(), level, "request", "method", c.Method(), "path", safePath(c.Path()), "status", status,
		"duration_ms", time.Since(start).Milliseconds(), "request_id", requestID(c))
	return err
}

// safePath keeps tokens that a client put into the path itself out of logs.
func safePath(p string) string {
	if strings.Contains(p, "hsg_") || strings.Contains(p, "hsp_") {
		return "[redacted]"
	}
	if len(p) > 200 {
		return p[:200] + "…"
	}
	return p
}

// Content-Security-Policy of every page: nothing from another origin.
const csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. Referrer-Policy
// is same-origin (a same-origin Referer lets the CSRF check work on HTTPS);
// the zat exchange overrides it with no-referrer.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set(fiber.HeaderContentSecurityPolicy, csp)
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	h.Set(fiber.HeaderReferrerPolicy, "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set(fiber.HeaderPermissionsPolicy, "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	if s.cookies.secure {
		h.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	}
	return c.Next()
}

// noStore marks responses that must not be cached or indexed: every page of
// a member or a guest.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	return c.Next()
}

// closeStreamedBodies closes the connection after any request whose body
// was streamed (over the small limit, or chunked): a handler that refuses it
// early leaves bytes on the connection, which must never be read as the
// next request.
func closeStreamedBodies(c *fiber.Ctx) error {
	err := c.Next()
	if n := c.Request().Header.ContentLength(); n > smallBodyLimit || n == -1 {
		c.Context().SetConnectionClose()
	}
	return err
}

// limitSmallBody answers 413 for a body over the small limit before anything
// parses it; with streaming on, fasthttp no longer does. Upload routes carry
// their own limit and skip this.
func limitSmallBody(c *fiber.Ctx) error {
	n := c.Request().Header.ContentLength()
	if n > smallBodyLimit {
		return app.Errorf(app.ETooLarge, "The request body is too large.")
	}
	if n == -1 { // chunked: read at most the limit
		body, err := readLimited(c, smallBodyLimit)
		if err != nil {
			return err
		}
		c.Request().SetBodyRaw(body)
	}
	return c.Next()
}
