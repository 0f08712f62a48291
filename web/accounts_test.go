package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app"
)

// loginFrom submits the login form from the peer address remote (with any
// extra request headers) and returns the answer to the POST.
func (cl *client) loginFrom(remote, handle, password string, headers ...string) *http.Response {
	cl.e.t.Helper()
	get := httptest.NewRequest(http.MethodGet, "/login", nil)
	setHeaders(get, headers)
	page := cl.doFrom(remote, get)
	body := readBody(cl.e.t, page)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		cl.e.t.Fatalf("no CSRF token on /login (status %d)", page.StatusCode)
	}
	form := url.Values{"handle": {handle}, "password": {password}, "_csrf": {m[1]}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setHeaders(req, headers)
	return cl.doFrom(remote, req)
}

// setHeaders sets name/value pairs on req; Host goes into req.Host, where
// the request line's host is taken from.
func setHeaders(req *http.Request, headers []string) {
	for i := 0; i+1 < len(headers); i += 2 {
		if http.CanonicalHeaderKey(headers[i]) == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
}

// responseCookie returns the cookie named name that resp sets, or nil.
func responseCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// loginResponse signs the client in and returns the answer to the POST.
func loginResponse(t *testing.T, cl *client, handle string) *http.Response {
	t.Helper()
	resp := cl.postForm("/login", url.Values{"handle": {handle}, "password": {"password-" + handle}}, "/login")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login %s: status %d, location %q", handle, resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp
}

func wantStatus(t *testing.T, what string, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, status)
	}
}

func wantRedirect(t *testing.T, what string, resp *http.Response, location string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != location {
		t.Fatalf("%s: status %d location %q, want 303 to %q", what, resp.StatusCode, resp.Header.Get("Location"), location)
	}
}

// clearsCookie reports whether c tells the browser to drop the cookie.
func clearsCookie(c *http.Cookie) bool {
	return c != nil && c.Value == "" && (c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()))
}

func sessionRows(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.db.NewSelect().Table("sessions").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sessionRowsFor(t *testing.T, e *env, id string) int {
	t.Helper()
	h := sha256.Sum256([]byte(id))
	n, err := e.db.NewSelect().Table("sessions").Where("id_hash = ?", h[:]).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func randomSessionID(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		eachEnv(t, func(t *testing.T, e *env) {
			e.member("alice")
			resp := loginResponse(t, e.client(), "alice")
			c := responseCookie(resp, "hs_session")
			if c == nil {
				t.Fatalf("login set no hs_session cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.Domain != "" {
				t.Errorf("session cookie: HttpOnly=%v SameSite=%v Path=%q Secure=%v Domain=%q; want HttpOnly, Lax, /, not Secure, host-only",
					c.HttpOnly, c.SameSite, c.Path, c.Secure, c.Domain)
			}
			if len(c.Value) != 43 {
				t.Errorf("session id %q has %d characters, want 43 (256 bits)", c.Value, len(c.Value))
			}
			for _, sc := range resp.Header.Values("Set-Cookie") {
				if strings.HasPrefix(sc, "__Host-") {
					t.Errorf("http base URL set a __Host- cookie: %q", sc)
				}
			}
			if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
				t.Errorf("http base URL sent Strict-Transport-Security %q", h)
			}
		})
	})
	t.Run("https", func(t *testing.T) {
		t.Parallel()
		eachEnv(t, func(t *testing.T, e *env) {
			e.member("alice")
			resp := loginResponse(t, e.client(), "alice")
			if responseCookie(resp, "hs_session") != nil {
				t.Errorf("https base URL set an unprefixed hs_session cookie")
			}
			c := responseCookie(resp, "__Host-hs_session")
			if c == nil {
				t.Fatalf("login set no __Host-hs_session cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("session cookie: Secure=%v HttpOnly=%v SameSite=%v Path=%q Domain=%q; want Secure, HttpOnly, Lax, /, host-only",
					c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
			}
		}, withBaseURL("https://hub.test"))
	})
}

func TestLogoutDeletesSessionServerSide(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		old := cl.cookies["hs_session"].Value
		if n := sessionRowsFor(t, e, old); n != 1 {
			t.Fatalf("%d session rows after login, want 1", n)
		}
		resp := cl.postForm("/logout", url.Values{}, "/")
		wantRedirect(t, "logout", resp, "/login")
		if c := responseCookie(resp, "hs_session"); !clearsCookie(c) {
			t.Errorf("logout did not clear the session cookie: %v", c)
		}
		if n := sessionRowsFor(t, e, old); n != 0 {
			t.Errorf("%d session rows after logout, want 0", n)
		}
		replay := e.client()
		replay.cookies["hs_session"] = &http.Cookie{Name: "hs_session", Value: old}
		wantRedirect(t, "GET / with the cookie of a logged-out session", replay.get("/"), "/login")
	})
}

func TestSessionIDChangesOnLogin(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		first := cl.cookies["hs_session"].Value
		// Signed in, the login form is not shown; the sign-out form's token
		// is bound to the same session.
		resp := cl.postForm("/login", url.Values{"handle": {"alice"}, "password": {"password-alice"}}, "/")
		wantRedirect(t, "second login", resp, "/")
		second := cl.cookies["hs_session"].Value
		if second == first {
			t.Fatalf("session id %q kept across a login", first)
		}
		if n := sessionRowsFor(t, e, first); n != 0 {
			t.Errorf("the session replaced at login still has %d rows", n)
		}
		wantStatus(t, "home with the new session", cl.get("/"), http.StatusOK)
		stale := e.client()
		stale.cookies["hs_session"] = &http.Cookie{Name: "hs_session", Value: first}
		wantRedirect(t, "home with the replaced session", stale.get("/"), "/login")
	})
}

func TestClientChosenSessionIDIsNeverAdopted(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		chosen := randomSessionID(t)
		cl := e.client()
		cl.cookies["hs_session"] = &http.Cookie{Name: "hs_session", Value: chosen}
		resp := cl.get("/")
		wantRedirect(t, "home with an unknown session id", resp, "/login")
		if c := responseCookie(resp, "hs_session"); !clearsCookie(c) {
			t.Errorf("an unknown session cookie was not cleared: %v", c)
		}
		if n := sessionRowsFor(t, e, chosen); n != 0 {
			t.Fatalf("%d session rows for a client-chosen id", n)
		}

		// Log in while still presenting the chosen id: the session that
		// results must have a fresh id.
		cl.cookies["hs_session"] = &http.Cookie{Name: "hs_session", Value: chosen}
		token := cl.csrf("/login")
		cl.cookies["hs_session"] = &http.Cookie{Name: "hs_session", Value: chosen}
		resp = cl.postForm("/login", url.Values{"handle": {"alice"}, "password": {"password-alice"}, "_csrf": {token}}, "")
		wantRedirect(t, "login presenting a chosen id", resp, "/")
		got := responseCookie(resp, "hs_session")
		if got == nil || got.Value == chosen {
			t.Fatalf("login kept the client-chosen session id (cookie %v)", got)
		}
		if n := sessionRowsFor(t, e, chosen); n != 0 {
			t.Errorf("%d session rows for the client-chosen id after login", n)
		}
		if n := sessionRows(t, e); n != 1 {
			t.Errorf("%d session rows, want 1", n)
		}
	})
}

func TestSessionStoredHashed(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		value := cl.cookies["hs_session"].Value
		raw, err := base64.RawURLEncoding.DecodeString(value)
		if err != nil {
			t.Fatalf("session id %q is not base64url: %v", value, err)
		}
		ctx := context.Background()
		var hashes [][]byte
		if err := e.db.NewSelect().Table("sessions").Column("id_hash").Scan(ctx, &hashes); err != nil {
			t.Fatal(err)
		}
		if len(hashes) != 1 {
			t.Fatalf("%d session rows, want 1", len(hashes))
		}
		want := sha256.Sum256([]byte(value))
		if bytes.Equal(hashes[0], []byte(value)) || bytes.Equal(hashes[0], raw) || !bytes.Equal(hashes[0], want[:]) {
			t.Errorf("id_hash = %x, want the SHA-256 of the cookie value", hashes[0])
		}
		var rows []map[string]any
		if err := e.db.NewSelect().Table("sessions").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		var dump strings.Builder
		for _, r := range rows {
			for k, v := range r {
				fmt.Fprintf(&dump, "%s=%v\n", k, v)
				if b, ok := v.([]byte); ok {
					fmt.Fprintf(&dump, "%s %x %s %s\n", b, b, base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
				}
			}
		}
		for _, s := range []string{value, hex.EncodeToString(raw)} {
			if strings.Contains(dump.String(), s) {
				t.Errorf("the sessions table holds the session id %q in clear:\n%s", s, dump.String())
			}
		}
	})
}

func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		e.clock.Advance(app.SessionIdleTimeout - time.Minute)
		wantStatus(t, "home just inside the idle timeout", cl.get("/"), http.StatusOK)
		e.clock.Advance(app.SessionIdleTimeout + time.Minute)
		wantRedirect(t, "home after the idle timeout", cl.get("/"), "/login")
		if n := sessionRows(t, e); n != 0 {
			t.Errorf("%d session rows after the idle timeout, want 0", n)
		}
	})
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		var elapsed time.Duration
		for elapsed+24*time.Hour <= app.SessionAbsoluteTimeout {
			e.clock.Advance(24 * time.Hour)
			elapsed += 24 * time.Hour
			if resp := cl.get("/"); resp.StatusCode != http.StatusOK {
				t.Fatalf("home after %v of daily use: status %d, want 200", elapsed, resp.StatusCode)
			}
		}
		e.clock.Advance(app.SessionAbsoluteTimeout - elapsed + time.Minute)
		wantRedirect(t, "home after the absolute timeout", cl.get("/"), "/login")
	})
}

// normalizedLoginFailure returns what a failed login's response shows,
// with the per-request parts (CSRF token, echoed handle, date, request id)
// replaced.
func normalizedLoginFailure(t *testing.T, resp *http.Response, handle string) (body string, headers http.Header, cookies []string) {
	t.Helper()
	body = readBody(t, resp)
	body = csrfRE.ReplaceAllString(body, `name="_csrf" value="TOKEN"`)
	body = strings.ReplaceAll(body, handle, "HANDLE")
	headers = resp.Header.Clone()
	for _, h := range []string{"Date", "X-Request-Id", "Set-Cookie", "Content-Length"} {
		headers.Del(h)
	}
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name)
	}
	slices.Sort(cookies)
	return body, headers, cookies
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		unknown := e.client().loginFrom("203.0.113.20:1", "nobody", "password-alice")
		wrong := e.client().loginFrom("203.0.113.21:1", "alice", "not-the-password")
		if unknown.StatusCode != http.StatusUnauthorized || wrong.StatusCode != http.StatusUnauthorized {
			t.Fatalf("statuses: unknown handle %d, wrong password %d; want 401 for both", unknown.StatusCode, wrong.StatusCode)
		}
		ub, uh, uc := normalizedLoginFailure(t, unknown, "nobody")
		wb, wh, wc := normalizedLoginFailure(t, wrong, "alice")
		if ub != wb {
			t.Errorf("bodies differ:\nunknown handle:\n%s\nwrong password:\n%s", ub, wb)
		}
		if fmt.Sprint(uh) != fmt.Sprint(wh) {
			t.Errorf("headers differ:\nunknown handle: %v\nwrong password: %v", uh, wh)
		}
		if !slices.Equal(uc, wc) {
			t.Errorf("cookies differ: unknown handle %v, wrong password %v", uc, wc)
		}
		if !strings.Contains(ub, "Wrong handle or password") {
			t.Errorf("the failure page does not say %q:\n%s", "Wrong handle or password", ub)
		}
	})
}

func wantThrottled(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429", what, resp.StatusCode)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > int(acl.DefaultWindow.Seconds())+1 {
		t.Errorf("%s: Retry-After %q, want seconds in 1..%d", what, resp.Header.Get("Retry-After"), int(acl.DefaultWindow.Seconds())+1)
	}
}

func TestLoginThrottlePerNetwork(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		const netA, netB = "203.0.113.5:1", "203.0.113.6:1"
		cl := e.client()
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			wantStatus(t, fmt.Sprintf("failure %d", i+1), cl.loginFrom(netA, "alice", "wrong-password"), http.StatusUnauthorized)
		}
		wantThrottled(t, "correct password after the network threshold", cl.loginFrom(netA, "alice", "password-alice"))
		wantThrottled(t, "another handle from the blocked network", cl.loginFrom(netA+"0", "nobody", "whatever-pass"))
		if _, ok := cl.cookies["hs_session"]; ok {
			t.Fatal("a throttled login set a session cookie")
		}
		wantRedirect(t, "login from another network", e.client().loginFrom(netB, "alice", "password-alice"), "/")

		e.clock.Advance(acl.DefaultWindow + time.Second)
		wantRedirect(t, "login from the first network after the window", e.client().loginFrom(netA, "alice", "password-alice"), "/")
	})
}

// A sign-in erases no earlier failure of its network: one valid account must
// not buy unlimited guessing at the others (SECURITY 15).
func TestLoginSuccessErasesNoFailures(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		const netB, netC = "203.0.113.7:1", "203.0.113.8:1"
		other := e.client()
		for i := 0; i < acl.NetworkFailureLimit-1; i++ {
			wantStatus(t, "failure from the other network", other.loginFrom(netC, "nobody", "wrong-password"), http.StatusUnauthorized)
		}
		cl := e.client()
		for i := 0; i < acl.NetworkFailureLimit-1; i++ {
			wantStatus(t, fmt.Sprintf("guess %d", i+1), cl.loginFrom(netB, "bob", "guess"), http.StatusUnauthorized)
		}
		wantRedirect(t, "sign-in to one's own account below the threshold", cl.loginFrom(netB, "alice", "password-alice"), "/")

		cl = e.client()
		// The count goes on from before the sign-in: one more failure reaches the threshold.
		wantStatus(t, "failure reaching the threshold", cl.loginFrom(netB, "bob", "guess"), http.StatusUnauthorized)
		wantThrottled(t, "attempt after the threshold", cl.loginFrom(netB, "alice", "password-alice"))

		// Network C's count is its own.
		wantRedirect(t, "sign-in from the other network below its threshold", e.client().loginFrom(netC, "alice", "password-alice"), "/")
		wantStatus(t, "failure reaching the other network's threshold", other.loginFrom(netC, "nobody", "wrong-password"), http.StatusUnauthorized)
		wantThrottled(t, "other network after its threshold", other.loginFrom(netC, "alice", "password-alice"))
	})
}

func TestLoginThrottlePerHandle(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		e.member("bob")
		cl := e.client()
		net := func(i int) string { return fmt.Sprintf("192.0.2.%d:1", i+1) }

		// A handle that does not exist: every failure from a network of its own.
		for i := 0; i < acl.TargetFailureLimit; i++ {
			resp := cl.loginFrom(net(i), "ghost", "guess-"+strconv.Itoa(i))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d for an unknown handle: status %d, want 401", i+1, resp.StatusCode)
			}
		}
		wantThrottled(t, "unknown handle from a fresh network after the cap", cl.loginFrom("198.18.0.1:1", "ghost", "guess"))
		wantThrottled(t, "unknown handle in other case after the cap", cl.loginFrom("198.18.0.2:1", "GHOST", "guess"))

		// An existing handle: most failures counted directly, the last ones
		// through the login form from networks of their own.
		const viaForm = 3
		key := acl.HandleKey(e.keys, "alice")
		for i := 0; i < acl.TargetFailureLimit-viaForm; i++ {
			if err := e.svc.Throttle.Fail(context.Background(), acl.ActionLogin, key); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < viaForm; i++ {
			wantStatus(t, "failure for alice", cl.loginFrom(fmt.Sprintf("198.18.1.%d:1", i+1), "alice", "wrong-password"), http.StatusUnauthorized)
		}
		wantThrottled(t, "correct password for a capped handle from a fresh network", e.client().loginFrom("198.18.2.1:1", "alice", "password-alice"))
		wantRedirect(t, "another handle from a fresh network", e.client().loginFrom("198.18.2.2:1", "bob", "password-bob"), "/")
	})
}

func TestForwardingHeadersIgnoredWithoutTrustedProxy(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		const peer = "203.0.113.5:1"
		spoof := func(i int) []string {
			return []string{
				"X-Forwarded-For", fmt.Sprintf("10.0.%d.1", i),
				"X-Real-IP", fmt.Sprintf("10.1.%d.1", i),
				"X-Forwarded-Proto", "https",
				"X-Forwarded-Host", "evil.example",
				"Host", fmt.Sprintf("spoof%d.example", i),
			}
		}
		cl := e.client()
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			resp := cl.loginFrom(peer, "alice", "wrong-password", spoof(i)...)
			wantStatus(t, fmt.Sprintf("spoofed failure %d", i+1), resp, http.StatusUnauthorized)
		}
		wantThrottled(t, "new forwarding headers from the blocked peer", cl.loginFrom(peer, "alice", "password-alice", spoof(99)...))

		fresh := e.client()
		resp := fresh.loginFrom("203.0.113.50:1", "alice", "password-alice", spoof(100)...)
		wantRedirect(t, "login with forwarding headers", resp, "/")
		for _, c := range resp.Cookies() {
			if c.Secure || strings.HasPrefix(c.Name, "__Host-") {
				t.Errorf("X-Forwarded-Proto: https from an untrusted peer made cookie %s Secure=%v", c.Name, c.Secure)
			}
		}
		if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
			t.Errorf("X-Forwarded-Proto: https from an untrusted peer gave Strict-Transport-Security %q", h)
		}
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "example") {
			t.Errorf("redirect follows a spoofed host: %q", loc)
		}
	})
}

func TestTrustedProxyForwardedForDecidesNetwork(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		const proxy = "198.51.100.10:1"
		cl := e.client()
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			wantStatus(t, "failure via the proxy", cl.loginFrom(proxy, "alice", "wrong-password", "X-Forwarded-For", "192.0.2.10"), http.StatusUnauthorized)
		}
		wantThrottled(t, "blocked client via the proxy", cl.loginFrom(proxy, "alice", "password-alice", "X-Forwarded-For", "192.0.2.10"))
		wantRedirect(t, "another client via the same proxy", e.client().loginFrom(proxy, "alice", "password-alice", "X-Forwarded-For", "192.0.2.11"), "/")

		// A peer outside the trusted range is its own network whatever it forwards.
		direct := e.client()
		const untrusted = "203.0.113.77:1"
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			wantStatus(t, "failure from an untrusted peer", direct.loginFrom(untrusted, "alice", "wrong-password", "X-Forwarded-For", fmt.Sprintf("10.9.%d.1", i)), http.StatusUnauthorized)
		}
		wantThrottled(t, "untrusted peer with a new X-Forwarded-For", direct.loginFrom(untrusted, "alice", "password-alice", "X-Forwarded-For", "10.9.200.1"))
	}, withTrustedProxies("198.51.100.0/24"))
}

// A proxy that appends to X-Forwarded-For passes on whatever the client
// sent before the address it saw itself: the nearest untrusted address (the
// last one) is the client's network, and what precedes it is the client's
// own text.
func TestTrustedProxyForwardedChainUsesNearestClient(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		const proxy = "198.51.100.10:1"
		cl := e.client()
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			xff := fmt.Sprintf("10.0.0.%d, 192.0.2.10", i+1)
			wantStatus(t, "failure via the proxy", cl.loginFrom(proxy, "alice", "wrong-password", "X-Forwarded-For", xff), http.StatusUnauthorized)
		}
		wantThrottled(t, "same client with another spoofed prefix", cl.loginFrom(proxy, "alice", "password-alice", "X-Forwarded-For", "10.0.0.99, 192.0.2.10"))
		resp := e.client().loginFrom(proxy, "alice", "password-alice", "X-Forwarded-For", "10.0.0.1, 192.0.2.11")
		wantRedirect(t, "a different client whose chain also has a prefix", resp, "/")
	}, withTrustedProxies("198.51.100.0/24"))
}

func TestAccessLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		m := e.member("alice")
		zat := acl.NewSecret(acl.GuestTokenPrefix)
		apiSecret := e.apiToken(m, "read")
		wrongPassword := "Wr0ng-Secret-Passphrase"

		cl := e.client()
		cl.get("/?zat=" + zat)
		cl.get("/login?zat=" + zat + "&x=1")
		cl.get("/items/" + zat)
		cl.postForm("/login", url.Values{"handle": {"alice"}, "password": {wrongPassword}}, "/login")
		cl.login("alice")
		session := cl.cookies["hs_session"].Value
		wantStatus(t, "home", cl.get("/"), http.StatusOK)
		csrf := cl.csrf("/settings/apitokens")
		wantStatus(t, "api /me", e.api(apiSecret, http.MethodGet, "/api/v1/me", ""), http.StatusOK)

		logs := e.logBuf.String()
		for name, secret := range map[string]string{
			"guest token": zat, "API token": apiSecret, "password": "password-alice",
			"wrong password": wrongPassword, "session id": session, "CSRF token": csrf,
		} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds the %s %q", name, secret)
			}
		}
		for _, p := range []string{"path=/login", "path=/api/v1/me", "path=/settings/apitokens", "path=/ "} {
			if !strings.Contains(logs, p) {
				t.Errorf("the log lacks %q:\n%s", p, logs)
			}
		}
	})
}

func TestErrorsNeverShowRawText(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		m := e.member("alice")
		secret := e.apiToken(m, "read")

		resp := e.client().get("/no/such/page")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(body, "Not found") {
			t.Errorf("unknown page: status %d, type %q, body:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(body, "Cannot GET") {
			t.Errorf("unknown page shows Fiber's raw text:\n%s", body)
		}

		resp = e.apiUndocumented(secret, http.MethodGet, "/api/v1/nope")
		wantAPIError(t, "unknown API route", resp, http.StatusNotFound, "not_found")

		// A database failure is answered with a generic message only.
		cl := e.client()
		cl.login("alice")
		if err := e.db.Close(); err != nil {
			t.Fatal(err)
		}
		resp = cl.get("/")
		body = readBody(t, resp)
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("home on a closed database: status %d, want 500", resp.StatusCode)
		}
		for _, raw := range []string{"sql:", "database is closed", "bun", "sqlite", "pg:"} {
			if strings.Contains(body, raw) {
				t.Errorf("the 500 page shows %q:\n%s", raw, body)
			}
		}
		resp = e.api(secret, http.MethodGet, "/api/v1/me", "")
		apiErr := wantAPIError(t, "API on a closed database", resp, http.StatusInternalServerError, "internal")
		if strings.Contains(apiErr.Message, "sql") || strings.Contains(apiErr.Message, "closed") {
			t.Errorf("API 500 message shows raw text: %q", apiErr.Message)
		}
		if !strings.Contains(e.logBuf.String(), "database is closed") {
			t.Errorf("the internal error was not logged")
		}
	})
}

func TestPageSecurityHeaders(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		check := func(what string, resp *http.Response, noStore bool) {
			t.Helper()
			readBody(t, resp)
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if csp == "" || strings.Contains(csp, "http") || strings.Contains(csp, "*") || !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("%s: Content-Security-Policy %q", what, csp)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q", what, got)
			}
			if got := h.Get("Referrer-Policy"); got != "same-origin" {
				t.Errorf("%s: Referrer-Policy %q, want same-origin", what, got)
			}
			if got := h.Get("Cache-Control"); noStore && got != "private, no-store" {
				t.Errorf("%s: Cache-Control %q, want private, no-store", what, got)
			}
		}
		cl := e.client()
		check("login page", cl.get("/login"), true)
		check("not found page", cl.get("/nothing-here"), true)
		cl.login("alice")
		check("home", cl.get("/"), true)
		check("API tokens page", cl.get("/settings/apitokens"), true)
	})
}

var signOutFormRE = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="/logout"[^>]*>.*?name="_csrf" value="[^"]+".*?</form>`)

func TestOwnerPagesNeedSignInAndOfferSignOut(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		ownerPages := []string{"/", "/settings/apitokens"}
		for _, p := range ownerPages {
			wantRedirect(t, "signed out "+p, cl.get(p), "/login")
		}
		cl.login("alice")
		for _, p := range ownerPages {
			resp := cl.get(p)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", p, resp.StatusCode)
			}
			if !signOutFormRE.MatchString(body) {
				t.Errorf("%s has no sign-out form posting to /logout with a CSRF token:\n%s", p, body)
			}
		}
	})
}
