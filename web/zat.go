package web

import (
	"net/url"
	"strings"
)

// zatParam finds the first zat parameter of a raw query string: the key is
// matched in any case and percent-encoded form, as links from other hubs
// and mail clients vary.
func zatParam(rawQuery string) (string, bool) {
	for _, part := range strings.Split(rawQuery, "&") {
		key, value, _ := strings.Cut(part, "=")
		if isZatKey(key) {
			v, err := url.QueryUnescape(value)
			if err != nil {
				v = value
			}
			return v, true
		}
	}
	return "", false
}

func isZatKey(rawKey string) bool {
	k, err := url.QueryUnescape(rawKey)
	if err != nil {
		k = rawKey
	}
	return strings.EqualFold(strings.TrimSpace(k), "zat")
}

// cleanLocation is where the zat exchange redirects: the same path and
// query without any zat parameter (any case, any position, encoded key,
// repeated), other parameters kept in order and as sent, always a
// same-site relative URL starting with a single '/'.
func cleanLocation(path, rawQuery string) string {
	p := "/" + strings.TrimLeft(path, "/\\")
	p = (&url.URL{Path: p}).EscapedPath()
	if strings.HasPrefix(p, "//") { // cannot happen after the trim; kept as a guard
		p = "/"
	}
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if isZatKey(key) {
			continue
		}
		kept = append(kept, part)
	}
	if len(kept) == 0 {
		return p
	}
	return p + "?" + strings.Join(kept, "&")
}

// safeNext validates a path a form asks to return to: local, absolute and
// free of zat; anything else goes to /shared.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/shared"
	}
	return cleanLocation(u.Path, u.RawQuery)
}
