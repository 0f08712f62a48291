package app

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Page asks for one page of a list, in the list's order: at most Limit
// entries, after the entry Cursor names (the first page when it is empty).
// Lists are paged by key (keyset), never by offset, so a page costs the same
// however deep it is and entries added meanwhile do not shift it.
type Page struct {
	Limit  int
	Cursor string
}

// Page sizes of the API's lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// EncodeCursor makes an opaque cursor of the sort key of a list's last entry.
func EncodeCursor(key ...int64) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = strconv.FormatInt(k, 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ".")))
}

// DecodeCursor reads a cursor of n keys; anything else is EInvalid.
func DecodeCursor(c string, n int) ([]int64, error) {
	bad := Errorf(EInvalid, "cursor is not one this list gave; start again without it.")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != n {
		return nil, bad
	}
	out := make([]int64, n)
	for i, p := range parts {
		if out[i], err = strconv.ParseInt(p, 10, 64); err != nil {
			return nil, bad
		}
	}
	return out, nil
}
