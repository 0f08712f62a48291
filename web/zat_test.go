package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestZatParam(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query string
		want  string
		ok    bool
	}{
		{"zat=abc", "abc", true},
		{"a=1&zat=abc&b=2", "abc", true},
		{"a=1&b=2&zat=abc", "abc", true},
		{"ZAT=abc", "abc", true},
		{"Zat=abc", "abc", true},
		{"%7Aat=abc", "abc", true},
		{"%7aat=abc", "abc", true},
		{"z%61t=abc", "abc", true},
		{"+zat+=abc", "abc", true},
		{"zat=a%2Bb%3D", "a+b=", true},
		{"zat=%ZZ", "%ZZ", true},
		{"zat=first&zat=second", "first", true},
		{"zat", "", true},
		{"zat=", "", true},
		{"a=1&zat", "", true},
		{"", "", false},
		{"a=1&b=2", "", false},
		{"zatx=1", "", false},
		{"xzat=1", "", false},
		{"za=t", "", false},
		{"a=zat", "", false},
		{"a=1;zat=2", "", false},
		{"zat%=1", "", false},
	}
	for _, c := range cases {
		got, ok := zatParam(c.query)
		if got != c.want || ok != c.ok {
			t.Errorf("zatParam(%q) = %q, %v; want %q, %v", c.query, got, ok, c.want, c.ok)
		}
	}
}

func TestCleanLocation(t *testing.T) {
	t.Parallel()
	cases := []struct{ path, query, want string }{
		{"/items/3", "zat=x", "/items/3"},
		{"/items/3", "zat=x&a=1", "/items/3?a=1"},
		{"/items/3", "a=1&zat=x&b=2", "/items/3?a=1&b=2"},
		{"/items/3", "a=1&b=2&zat=x", "/items/3?a=1&b=2"},
		{"/items/3", "ZAT=x&Zat=y&%7Aat=z&z%61t=w&a=b", "/items/3?a=b"},
		{"/items/3", "zat=x&a=1&zat=y&b=2&zat", "/items/3?a=1&b=2"},
		{"/shared", "zat", "/shared"},
		{"/shared", "zat=", "/shared"},
		{"/shared", "&zat=1&", "/shared"},
		{"/p", "a=1&&b=2&zat=1", "/p?a=1&b=2"},
		{"/p", "b=2&a=1&zat=1", "/p?b=2&a=1"},
		{"/p", "a=%7A&zat=1&c=x+y", "/p?a=%7A&c=x+y"},
		{"/p", "a=1;zat=2", "/p?a=1;zat=2"},
		{"/p", "zatx=1&xzat=2", "/p?zatx=1&xzat=2"},
		{"//evil.example/x", "zat=1", "/evil.example/x"},
		{"/\\evil.example", "zat=1", "/evil.example"},
		{"\\\\evil.example", "", "/evil.example"},
		{"/%2F%2Fevil", "zat=1", "/%252F%252Fevil"},
		{"", "", "/"},
		{"", "zat=1", "/"},
		{"/a b", "", "/a%20b"},
		{"/items/ü", "q=ü&zat=1", "/items/%C3%BC?q=ü"},
		{"/a?b", "", "/a%3Fb"},
	}
	for _, c := range cases {
		if got := cleanLocation(c.path, c.query); got != c.want {
			t.Errorf("cleanLocation(%q, %q) = %q, want %q", c.path, c.query, got, c.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	cases := []struct{ next, want string }{
		{"/items/3", "/items/3"},
		{"/items/3?a=1", "/items/3?a=1"},
		{"/items/3?zat=x&a=1", "/items/3?a=1"},
		{"/items/3?a=1&ZAT=x", "/items/3?a=1"},
		{"/shared", "/shared"},
		{"", "/shared"},
		{"items/3", "/shared"},
		{"//evil.example/x", "/shared"},
		{"/\\evil.example", "/shared"},
		{"https://evil.example/", "/shared"},
		{"http:/evil.example", "/shared"},
		{"javascript:alert(1)", "/shared"},
		{"/\t/evil.example", "/shared"},
		{"/%2F%2Fevil.example", "/evil.example"},
		{"/%5Cevil.example", "/evil.example"},
	}
	for _, c := range cases {
		if got := safeNext(c.next); got != c.want {
			t.Errorf("safeNext(%q) = %q, want %q", c.next, got, c.want)
		}
	}
}

// zatKeyForTest is the reading of a query key the redirect must never keep:
// url-unescaped (kept raw when it does not unescape), trimmed, lower-cased.
func zatKeyForTest(rawKey string) bool {
	k, err := url.QueryUnescape(rawKey)
	if err != nil {
		k = rawKey
	}
	return strings.ToLower(strings.TrimSpace(k)) == "zat"
}

// keptParams lists, in order, the parameters of rawQuery that are not zat.
func keptParams(rawQuery string) []string {
	var out []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if zatKeyForTest(key) {
			continue
		}
		out = append(out, part)
	}
	return out
}

func checkCleanLocation(t *testing.T, path, rawQuery string) {
	t.Helper()
	got := cleanLocation(path, rawQuery)
	if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
		t.Fatalf("cleanLocation(%q, %q) = %q: does not start with a single '/'", path, rawQuery, got)
	}
	if u, err := url.Parse(got); err == nil && (u.Scheme != "" || u.Host != "") {
		t.Fatalf("cleanLocation(%q, %q) = %q: leaves the site (scheme %q, host %q)", path, rawQuery, got, u.Scheme, u.Host)
	}
	gotPath, gotQuery, hasQuery := strings.Cut(got, "?")
	if strings.ContainsAny(gotPath, "?#\\") {
		t.Fatalf("cleanLocation(%q, %q) = %q: unescaped '?', '#' or '\\' in the path", path, rawQuery, got)
	}
	var gotParams []string
	if hasQuery {
		if gotQuery == "" {
			t.Fatalf("cleanLocation(%q, %q) = %q: empty query after '?'", path, rawQuery, got)
		}
		gotParams = strings.Split(gotQuery, "&")
	}
	for _, p := range gotParams {
		key, _, _ := strings.Cut(p, "=")
		if zatKeyForTest(key) {
			t.Fatalf("cleanLocation(%q, %q) = %q: keeps the zat parameter %q", path, rawQuery, got, p)
		}
	}
	// The server's own query parser (fasthttp) must not find a zat either.
	var args fasthttp.Args
	args.Parse(gotQuery)
	args.VisitAll(func(k, _ []byte) {
		if strings.EqualFold(strings.TrimSpace(string(k)), "zat") {
			t.Fatalf("cleanLocation(%q, %q) = %q: fasthttp reads a zat key %q", path, rawQuery, got, k)
		}
	})
	want := keptParams(rawQuery)
	if len(want) != len(gotParams) {
		t.Fatalf("cleanLocation(%q, %q) = %q: parameters %q, want %q", path, rawQuery, got, gotParams, want)
	}
	for i := range want {
		if want[i] != gotParams[i] {
			t.Fatalf("cleanLocation(%q, %q) = %q: parameter %d is %q, want %q", path, rawQuery, got, i, gotParams[i], want[i])
		}
	}
}

func FuzzCleanLocation(f *testing.F) {
	seeds := [][2]string{
		{"/items/1", "zat=hsg_x"},
		{"/items/1", "zat=hsg_x&a=1&b=2"},
		{"/items/1", "a=1&zat=hsg_x&b=2"},
		{"/items/1", "a=1&b=2&zat=hsg_x"},
		{"/items/1", "ZAT=x&a=1"},
		{"/items/1", "Zat=x&a=1"},
		{"/items/1", "%7Aat=x&a=1"},
		{"/items/1", "%7aat=x&a=1"},
		{"/items/1", "z%61t=x&a=1"},
		{"/items/1", "%7A%41%54=x"},
		{"/items/1", "zat=1&zat=2&a=3&zat=4"},
		{"/items/1", "zat"},
		{"/items/1", "a=1&zat"},
		{"/items/1", "zat="},
		{"/items/1", "zat=&a="},
		{"/items/1", "+zat=1&zat+=2&%20zat%09=3"},
		{"//evil.example/x", "zat=1"},
		{"/\\evil", "zat=1"},
		{"\\/evil", "a=1"},
		{"/%2F%2Fevil", "zat=1"},
		{"/%5C%5Cevil", ""},
		{"/items/1", "a=1;zat=2"},
		{"/items/1", "a=1&&zat=2&&b=3"},
		{"/items/1", "&&&"},
		{"/items/1", "a=%ZZ&zat%=1&%=2"},
		{"/fotos/ünïcödé", "q=日本&zat=1&r=ß"},
		{"/shared", "名=値&ZAT=x"},
		{"", ""},
		{"/", "?zat=1"},
		{"/a?b#c", "d=#&zat=1"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		checkCleanLocation(t, path, rawQuery)
	})
}
