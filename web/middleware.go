package web

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberlog "github.com/gofiber/fiber/v2/log"
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
// may travel) and headers (cookies, bearer tokens) are never written. It
// puts the request id into the request's context, so that every line
// logged with that context carries it, and times the request for the
// metrics by the route pattern that answered it.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	c.SetUserContext(app.WithRequestID(c.UserContext(), requestID(c)))
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
	took := time.Since(start)
	s.Logger.Log(c.UserContext(), level, "request", "method", c.Method(), "path", safePath(c.Path()), "status", status,
		"duration_ms", took.Milliseconds(), "request_id", requestID(c))
	s.Metrics.ObserveRequest(routePattern(c), methodLabel(c.Method()), status, took)
	return err
}

// routePattern is the pattern of the route that answered (e.g.
// "/items/:id"), never the raw path, so that the metrics' labels stay few.
func routePattern(c *fiber.Ctx) string {
	if r, ok := c.Locals(routeLocal).(string); ok {
		return r
	}
	return c.Route().Path
}

// methodLabel is the method as a constant string: the metrics keep their
// label values, and Fiber's strings live only as long as the request.
func methodLabel(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions} {
		if m == known {
			return known
		}
	}
	return "other"
}

// routeLocal overrides the route pattern of a request (see unmatched).
const routeLocal = "route_pattern"

// unmatched answers every path that no route takes: "not found", under one
// pattern of its own in the metrics.
func unmatched(c *fiber.Ctx) error {
	c.Locals(routeLocal, "unmatched")
	return notFound
}

// RouteFiberLogs sends what Fiber prints on its own to log. Fiber's logger
// is process-wide, so the last call wins.
func RouteFiberLogs(log *slog.Logger) {
	app.SetLibraryLogger(log)
	fiberlog.SetOutput(fiberLogWriter{})
}

// fiberLogWriter turns each line of Fiber's logger ("2006/01/02 15:04:05
// [Warn] message") into a record of the library logger at its level.
type fiberLogWriter struct{}

func (fiberLogWriter) Write(p []byte) (int, error) {
	line := string(p)
	level := slog.LevelWarn
	if i := strings.Index(line, "["); i >= 0 {
		if j := strings.Index(line[i:], "] "); j > 0 {
			switch line[i+1 : i+j] {
			case "Trace", "Debug":
				level = slog.LevelDebug
			case "Info":
				level = slog.LevelInfo
			case "Error", "Fatal", "Panic":
				level = slog.LevelError
			}
			line = line[i+j+2:]
		}
	}
	app.LibraryPrintf(context.Background(), level, "fiber", "%s", line)
	return len(p), nil
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
