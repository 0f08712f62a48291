package web

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// rawFields decodes a JSON object body into its fields, so that an absent
// field, null and a value can be told apart (PATCH semantics).
func rawFields(c *fiber.Ctx) (map[string]json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	if err := decodeJSON(c, &fields); err != nil {
		return nil, err
	}
	return fields, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func fieldString(fields map[string]json.RawMessage, name string) (*string, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, app.Errorf(app.EInvalid, "%s must be a string.", name)
	}
	return &s, nil
}

func fieldBool(fields map[string]json.RawMessage, name string) (*bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, app.Errorf(app.EInvalid, "%s must be true or false.", name)
	}
	return &b, nil
}

// tokenInput reads guest-token fields; in an edit, null clears expires_at,
// max_uses and password.
func tokenInput(fields map[string]json.RawMessage) (acl.TokenInput, error) {
	var in acl.TokenInput
	var err error
	if in.Name, err = fieldString(fields, "name"); err != nil {
		return in, err
	}
	if raw, ok := fields["expires_at"]; ok {
		if isNull(raw) {
			in.ClearExpiry = true
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return in, app.Errorf(app.EInvalid, "expires_at must be an RFC 3339 date and time, such as 2026-12-31T18:00:00Z.")
			}
			if in.ExpiresAt, err = parseInstant("expires_at", s); err != nil {
				return in, err
			}
			if in.ExpiresAt == nil {
				in.ClearExpiry = true
			}
		}
	}
	if raw, ok := fields["max_uses"]; ok {
		if isNull(raw) {
			in.ClearMaxUses = true
		} else {
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
				return in, app.Errorf(app.EInvalid, "max_uses must be a whole number or null.")
			}
			n := int(f)
			in.MaxUses = &n
		}
	}
	if raw, ok := fields["password"]; ok {
		if isNull(raw) {
			empty := ""
			in.Password = &empty
		} else if in.Password, err = fieldString(fields, "password"); err != nil {
			return in, err
		}
	}
	in.Permissions = acl.PermissionsEdit{}
	for _, name := range acl.PermissionNames {
		on, err := fieldBool(fields, name)
		if err != nil {
			return in, err
		}
		if on != nil {
			_ = in.Permissions.Set(name, *on)
		}
	}
	if in.Note, err = fieldString(fields, "note"); err != nil {
		return in, err
	}
	if raw, ok := fields["valid_from"]; ok {
		if isNull(raw) {
			in.ClearValidFrom = true
		} else {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return in, app.Errorf(app.EInvalid, "valid_from must be an RFC 3339 date and time, such as 2026-12-24T18:00:00Z, or null.")
			}
			if in.ValidFrom, err = parseInstant("valid_from", s); err != nil {
				return in, err
			}
			in.ClearValidFrom = in.ValidFrom == nil
		}
	}
	if raw, ok := fields["expires_after_first_use"]; ok {
		if isNull(raw) {
			in.ClearWindow = true
		} else {
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1e12 {
				return in, app.Errorf(app.EInvalid, "expires_after_first_use must be a whole number of seconds or null.")
			}
			n := int64(f)
			in.ExpiresAfterFirstUse = &n
		}
	}
	return in, nil
}

// pageQuery reads a list's ?limit= (default 50, at most 200) and ?cursor=.
func pageQuery(c *fiber.Ctx) (app.Page, error) {
	p := app.Page{Limit: app.DefaultPageSize, Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > app.MaxPageSize {
			return p, app.Errorf(app.EInvalid, "limit must be a whole number from 1 to %d.", app.MaxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// nextCursor is a list's "next_cursor": null after the last page.
func nextCursor(c string) *string {
	if c == "" {
		return nil
	}
	return &c
}
