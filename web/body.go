package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/app"
)

// readLimited reads at most limit bytes of the body, failing with ETooLarge
// past it, without ever holding more than limit+1 bytes.
func readLimited(c *fiber.Ctx, limit int64) ([]byte, error) {
	r := c.Context().RequestBodyStream()
	if r == nil {
		b := c.Body()
		if int64(len(b)) > limit {
			return nil, app.Errorf(app.ETooLarge, "The request body is too large.")
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, app.Wrap(err, app.EMalformed, "The request body could not be read.")
	}
	if int64(len(b)) > limit {
		return nil, app.Errorf(app.ETooLarge, "The request body is too large.")
	}
	return b, nil
}

// decodeJSON parses a JSON body into v. An empty body leaves v as it is.
func decodeJSON(c *fiber.Ctx, v any) error { return decodeJSONBytes(c.Body(), v) }

// decodeJSONBytes parses a JSON body into v. An empty body leaves v as it is.
func decodeJSONBytes(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			// Well-formed JSON whose value breaks the expected shape.
			return app.Errorf(app.EInvalid, "The field %q has the wrong type (expected %s).", typeErr.Field, typeErr.Type)
		}
		return app.Errorf(app.EMalformed, "The body is not valid JSON: %s.", jsonErrorText(err))
	}
	if dec.More() {
		return app.Errorf(app.EMalformed, "The body holds more than one JSON value.")
	}
	return nil
}

func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends too early"
	}
	return "it does not match the expected shape"
}

// paramID parses a numeric id from the route; anything else is not found.
func paramID(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}

// parseInstant parses an expiry given as RFC 3339 (any instant) or, from
// HTML forms, as a datetime-local value in UTC.
func parseInstant(field, s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, app.Errorf(app.EInvalid, "%s must be a date and time such as 2026-12-31T18:00:00Z.", field)
}
