package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/app"
	"hubshare/content/media"
)

var statusOf = map[app.Code]int{
	app.EMalformed:    fiber.StatusBadRequest,
	app.EUnauthorized: fiber.StatusUnauthorized,
	app.EForbidden:    fiber.StatusForbidden,
	app.ENotFound:     fiber.StatusNotFound,
	app.EConflict:     fiber.StatusConflict,
	app.ETooLarge:     fiber.StatusRequestEntityTooLarge,
	app.EUnsupported:  fiber.StatusUnsupportedMediaType,
	app.EInvalid:      fiber.StatusUnprocessableEntity,
	app.EThrottled:    fiber.StatusTooManyRequests,
	app.EInternal:     fiber.StatusInternalServerError,
	app.EUnavailable:  fiber.StatusServiceUnavailable,
	app.ENoSpace:      fiber.StatusInsufficientStorage,
}

var codeOfStatus = map[int]app.Code{}

func init() {
	for code, status := range statusOf {
		codeOfStatus[status] = code
	}
	codeOfStatus[fiber.StatusMethodNotAllowed] = "method_not_allowed"
	codeOfStatus[fiber.StatusRequestTimeout] = "timeout"
}

// notFound is the one "not found" every missing or unreachable thing gives,
// so that a bad token and a missing item look the same.
var notFound = app.Errorf(app.ENotFound, "Not found.")

// handleError is the only place that turns errors into responses: it maps
// codes to statuses, answers JSON under /api/ and a page elsewhere, logs only
// internal errors and never shows raw error text.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, code, msg := fiber.StatusInternalServerError, app.EInternal, app.ErrorMessage(err)
	var fe *fiber.Error
	var ae *app.Error
	if !errors.As(err, &ae) && media.IsNoSpace(err) {
		err = app.Wrap(err, app.ENoSpace, app.NoSpaceMessage)
	}
	switch {
	case errors.As(err, &ae):
		code = ae.Code
		status = statusOf[code]
		if ae.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(ae.RetryAfter.Seconds())))
		}
	case errors.As(err, &fe):
		status = fe.Code
		code = codeOfStatus[status]
		if code == "" {
			code = app.EMalformed
		}
		switch status {
		case fiber.StatusNotFound:
			msg = notFound.Message
		case fiber.StatusRequestEntityTooLarge:
			msg = "The request body is too large."
		case fiber.StatusMethodNotAllowed:
			msg = "That method is not allowed here."
		default:
			if status < 500 {
				msg = "The request could not be understood."
			}
		}
	}
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	switch {
	case code == app.ENoSpace:
		// Whatever write found the disk full, deletions now need the room
		// the reserve keeps; the message says what is wrong.
		s.Content.Space.Release()
		s.Logger.Error("out of storage space", "err", err, "request_id", requestID(c), "method", c.Method(), "path", c.Path())
	case code == app.EUnavailable:
		// A busy server says so, and the message tells the client to retry.
		s.Logger.Warn("busy", "err", err, "request_id", requestID(c), "method", c.Method(), "path", c.Path())
	case status >= 500:
		s.Logger.Error("internal error", "err", err, "request_id", requestID(c), "method", c.Method(), "path", c.Path())
		msg = app.ErrorMessage(nil)
	}
	c.Status(status)
	// No error is to be indexed: an unknown route is as unlisted as an
	// unknown item (whose guest route sets the same header).
	c.Set("X-Robots-Tag", "noindex, nofollow")
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.JSON(fiber.Map{"error": fiber.Map{"code": string(code), "message": msg}})
	}
	// Error pages render no name or token, so a failed link looks exactly
	// like a missing item; their way on depends only on the browser's
	// sessions (errorPage).
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Render("error", s.errorPage(c, status, msg), "layouts/bare")
}

func titleOf(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "Not found"
	case fiber.StatusTooManyRequests:
		return "Slow down"
	case fiber.StatusForbidden:
		return "Not allowed"
	case fiber.StatusInsufficientStorage:
		return "Out of storage space"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return "That did not work"
}
