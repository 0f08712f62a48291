package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/uptrace/bun/dialect"

	"hubshare/acl"
)

var routeParamRE = regexp.MustCompile(`:[A-Za-z0-9_]+\??|\*|\+`)

// concretePath fills every route parameter with 1.
func concretePath(p string) string { return routeParamRE.ReplaceAllString(p, "1") }

type route struct{ method, path string }

// routesOf lists the server's routes (middleware mounts left out) with the
// given methods, each concrete path once per method.
func routesOf(e *env, methods ...string) []route {
	var out []route
	seen := map[route]bool{}
	for _, r := range e.srv.App().GetRoutes(true) {
		want := false
		for _, m := range methods {
			want = want || r.Method == m
		}
		rt := route{r.Method, concretePath(r.Path)}
		if want && !seen[rt] {
			seen[rt] = true
			out = append(out, rt)
		}
	}
	return out
}

func formRequest(method, path string, form url.Values) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// multipartRequest builds a small multipart form, with a _csrf field when
// token is not empty.
func multipartRequest(t *testing.T, method, path, token string) *http.Request {
	t.Helper()
	return multipartTokenRequest(t, method, path, token, false)
}

// multipartTokenRequest is multipartRequest with the _csrf field placed
// after the file when tokenAfterFile is set.
func multipartTokenRequest(t *testing.T, method, path, token string, tokenAfterFile bool) *http.Request {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if token != "" && !tokenAfterFile {
		w.WriteField("_csrf", token)
	}
	fw, err := w.CreateFormFile("file", "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("hello"))
	if token != "" && tokenAfterFile {
		w.WriteField("_csrf", token)
	}
	w.Close()
	req := httptest.NewRequest(method, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return req
}

func TestEveryUnsafePageRouteNeedsSessionBoundCSRFToken(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		e.member("bob")
		e.apiToken(alice, "write") // something a revoke route could hit
		cl := e.client()
		cl.login("alice")
		other := e.client()
		other.login("bob")
		otherToken := other.csrf("/")
		ownToken := cl.csrf("/")
		if otherToken == ownToken {
			t.Fatal("two sessions got the same CSRF token")
		}
		anonymous := e.client()

		var checked int
		for _, r := range routesOf(e, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete) {
			if strings.HasPrefix(r.path, "/api/") {
				continue
			}
			checked++
			type attempt struct {
				name string
				cl   *client
				req  *http.Request
			}
			header := formRequest(r.method, r.path, url.Values{})
			header.Header.Set("X-CSRF-Token", otherToken)
			// This session's own valid token, but only in the URL (§30).
			inURL := r.path + "?_csrf=" + url.QueryEscape(ownToken)
			attempts := []attempt{
				{"no token", cl, formRequest(r.method, r.path, url.Values{"description": {"x"}})},
				{"wrong token", cl, formRequest(r.method, r.path, url.Values{"_csrf": {strings.Repeat("A", len(ownToken))}})},
				{"another session's token", cl, formRequest(r.method, r.path, url.Values{"_csrf": {otherToken}})},
				{"another session's token in the header", cl, header},
				{"multipart without a token", cl, multipartRequest(t, r.method, r.path, "")},
				{"multipart with another session's token in the URL", cl, multipartRequest(t, r.method, r.path+"?_csrf="+url.QueryEscape(otherToken), "")},
				{"multipart with another session's token in the body", cl, multipartRequest(t, r.method, r.path, otherToken)},
				{"its own token only in the URL", cl, formRequest(r.method, inURL, url.Values{"description": {"x"}})},
				{"its own token only in the URL of a multipart form", cl, multipartRequest(t, r.method, inURL, "")},
				{"its own token only in the URL, a wrong one in the body", cl, formRequest(r.method, inURL, url.Values{"_csrf": {otherToken}})},
			}
			for _, a := range attempts {
				resp := a.cl.do(a.req)
				body := readBody(t, resp)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s with %s: status %d, want 403\n%s", r.method, r.path, a.name, resp.StatusCode, body)
				}
			}
			// Without any session the request is refused too (sign-in
			// required or CSRF, whichever comes first).
			resp := anonymous.do(formRequest(r.method, r.path, url.Values{}))
			readBody(t, resp)
			if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without a session: status %d, want 403 or 401", r.method, r.path, resp.StatusCode)
			}
		}
		if checked < 2 {
			t.Fatalf("found %d unsafe routes outside /api/, want at least 2", checked)
		}
		// None of the refused requests signed the member out or changed anything.
		wantStatus(t, "home after the refused requests", cl.get("/"), http.StatusOK)
		if ts, err := e.svc.ListAPITokens(context.Background(), alice.ID); err != nil || len(ts) != 1 || ts[0].RevokedAt != nil {
			t.Errorf("API tokens after the refused requests: %+v, %v", ts, err)
		}
	})
}

func TestCSRFRefusesForeignOrigin(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		token := cl.csrf("/settings/apitokens")

		req := formRequest(http.MethodPost, "/settings/apitokens", url.Values{"_csrf": {token}, "description": {"evil"}})
		req.Header.Set("Origin", "https://evil.example")
		wantStatus(t, "POST from a foreign origin", cl.do(req), http.StatusForbidden)
		req = formRequest(http.MethodPost, "/settings/apitokens", url.Values{"_csrf": {token}, "description": {"evil"}})
		req.Header.Set("Origin", "null")
		wantStatus(t, "POST from an opaque origin", cl.do(req), http.StatusForbidden)
		if ts, _ := e.svc.ListAPITokens(context.Background(), alice.ID); len(ts) != 0 {
			t.Fatalf("a refused POST created %d API tokens", len(ts))
		}

		req = formRequest(http.MethodPost, "/settings/apitokens", url.Values{"_csrf": {token}, "description": {"own"}})
		req.Header.Set("Origin", "http://hub.test")
		wantStatus(t, "POST from the site's own origin", cl.do(req), http.StatusSeeOther)
	})
}

var apiSecretRE = regexp.MustCompile(`hsp_[A-Za-z0-9_-]+`)

func TestCSRFValidTokenCreatesAPITokenShownOnce(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		cl := e.client()
		cl.login("alice")
		// Post/redirect/get: the secret is on the page the 303 leads to.
		resp := cl.postForm("/settings/apitokens", url.Values{"description": {"backup script"}, "scope": {"write"}}, "/settings/apitokens")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther || strings.Contains(body, "hsp_") || strings.Contains(resp.Header.Get("Location"), "hsp_") {
			t.Fatalf("create API token: status %d, Location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		resp = cl.get(resp.Header.Get("Location"))
		body = readBody(t, resp)
		secrets := apiSecretRE.FindAllString(body, -1)
		if len(secrets) != 1 || !acl.ValidSecret(acl.APITokenPrefix, secrets[0]) {
			t.Fatalf("the page shows %d secrets (%q), want one valid secret", len(secrets), secrets)
		}
		if !strings.Contains(body, "backup script") {
			t.Errorf("the new token is not listed on the page")
		}
		me := e.api(secrets[0], http.MethodGet, "/api/v1/me", "")
		if b := readBody(t, me); me.StatusCode != http.StatusOK || !strings.Contains(b, `"handle":"alice"`) {
			t.Errorf("the new token on /api/v1/me: %d %s", me.StatusCode, b)
		}

		resp = cl.get("/settings/apitokens")
		body = readBody(t, resp)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, secrets[0]) || strings.Contains(body, "hsp_") {
			t.Errorf("reloading the page: status %d, shows the secret again: %v", resp.StatusCode, strings.Contains(body, "hsp_"))
		}

		ts, err := e.svc.ListAPITokens(context.Background(), alice.ID)
		if err != nil || len(ts) != 1 || ts[0].Scopes != "write" {
			t.Fatalf("stored tokens: %+v, %v", ts, err)
		}
		resp = cl.postForm(fmt.Sprintf("/settings/apitokens/%d/revoke", ts[0].ID), url.Values{}, "/settings/apitokens")
		wantRedirect(t, "revoke with a valid token", resp, "/settings/apitokens?done=revoked")
		wantStatus(t, "revoked token on /api/v1/me", e.api(secrets[0], http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized)
	})
}

// tableNames lists the tables of the database.
func tableNames(t *testing.T, e *env) []string {
	t.Helper()
	var names []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if e.db.Dialect().Name() == dialect.PG {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	}
	if err := e.db.NewRaw(q).Scan(context.Background(), &names); err != nil {
		t.Fatal(err)
	}
	return names
}

// storedState describes what a GET must leave alone: the row count of every
// table except sessions, throttle counters and usage records, and the
// contents of the account tables (minus last-used times).
func storedState(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, name := range tableNames(t, e) {
		switch {
		case name == "sessions", name == "throttle", name == "access_log", strings.HasPrefix(name, "bun_migration"):
			continue
		}
		n, err := e.db.NewSelect().Table(name).Count(ctx)
		if err != nil {
			t.Fatalf("count %s: %v", name, err)
		}
		fmt.Fprintf(&b, "%s: %d rows\n", name, n)
	}
	for _, tc := range [][2]string{
		{"members", "id, handle, display_name, password_hash, created_at"},
		{"principals", "id, kind"},
		{"api_tokens", "id, member_id, token_hash, description, scopes, created_at, expires_at, revoked_at"},
	} {
		table, cols := tc[0], tc[1]
		var rows []map[string]any
		if err := e.db.NewRaw("SELECT "+cols+" FROM "+table+" ORDER BY id").Scan(ctx, &rows); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		fmt.Fprintf(&b, "%s: %v\n", table, rows)
	}
	return b.String()
}

func TestSafeMethodsChangeNoStoredState(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		secret := e.apiToken(alice, "write")
		// Something for the item routes to show.
		resp := e.api(secret, http.MethodPost, "/api/v1/posts", `{"title":"Holiday","body":"Sun."}`)
		if b := readBody(t, resp); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create a post: %d %s", resp.StatusCode, b)
		}
		cl := e.client()
		cl.login("alice")
		routes := routesOf(e, http.MethodGet, http.MethodHead)
		if len(routes) < 4 {
			t.Fatalf("found only %d GET/HEAD routes", len(routes))
		}
		before := storedState(t, e)
		for _, r := range routes {
			req := httptest.NewRequest(r.method, r.path, nil)
			if strings.HasPrefix(r.path, "/api/") {
				req.Header.Set("Authorization", "Bearer "+secret)
			}
			resp := cl.do(req)
			readBody(t, resp)
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s: status %d", r.method, r.path, resp.StatusCode)
			}
			if after := storedState(t, e); after != before {
				t.Fatalf("%s %s changed stored state:\nbefore:\n%s\nafter:\n%s", r.method, r.path, before, after)
			}
		}
	})
}
