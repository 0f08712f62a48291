package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/valyala/fasthttp"

	"hubshare/acl"
	"hubshare/app/database"
	"hubshare/app/logtest"
	"hubshare/content"
	"hubshare/web"
)

// gtBase is the public URL of the servers under test.
const gtBase = "http://hub.test"

// gtDo sends req as the browser cl, from the peer address cl.remote, and
// keeps the cookies the answer sets. The request goes straight to the
// server's fasthttp handler so that the peer address is the client's (the
// per-network throttle sees it). It returns errors instead of failing the
// test, so that goroutines may use it.
func gtDo(cl *client, req *http.Request) (*http.Response, error) {
	for _, c := range cl.cookies {
		req.AddCookie(c)
	}
	if req.ContentLength > 0 && req.Header.Get("Content-Length") == "" {
		req.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	dump, err := httputil.DumpRequest(req, true)
	if err != nil {
		return nil, err
	}
	var freq fasthttp.Request
	if err := freq.Read(bufio.NewReader(bytes.NewReader(dump))); err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	addr, err := net.ResolveTCPAddr("tcp", cl.remote)
	if err != nil {
		return nil, err
	}
	var fctx fasthttp.RequestCtx
	fctx.Init(&freq, addr, nil)
	cl.e.srv.App().Handler()(&fctx)
	var out bytes.Buffer
	if _, err := fctx.Response.WriteTo(&out); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", req.Method, req.URL, err)
	}
	oaCheck(cl.e.t, req, oaRequestBody(cl.e.t, req), resp)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(cl.cookies, c.Name)
		} else {
			cl.cookies[c.Name] = c
		}
	}
	return resp, nil
}

func gtMustDo(t *testing.T, cl *client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := gtDo(cl, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// gtGet fetches path as the browser cl; headers are name, value pairs.
func gtGet(t *testing.T, cl *client, path string, headers ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return gtMustDo(t, cl, req)
}

func gtFormRequest(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func gtPost(t *testing.T, cl *client, path string, form url.Values) *http.Response {
	t.Helper()
	return gtMustDo(t, cl, gtFormRequest(path, form))
}

// gtClientAt is a fresh browser on the network of the address remote.
func gtClientAt(e *env, remote string) *client {
	cl := e.client()
	cl.remote = remote
	return cl
}

// gtStatus reads the body and fails the test unless the status is want.
func gtStatus(t *testing.T, what string, resp *http.Response, want int) string {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, resp.StatusCode, want, gtShort(body))
	}
	return body
}

func gtShort(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// gtSee303 checks a 303 to location and returns nothing of the body.
func gtSee303(t *testing.T, what string, resp *http.Response, location string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != location {
		t.Fatalf("%s: status %d location %q, want 303 to %q\n%s", what, resp.StatusCode, resp.Header.Get("Location"), location, gtShort(body))
	}
}

func gtCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// gtWantCookie checks that resp sets the named cookie as HttpOnly,
// SameSite=Lax, Path=/ (not Secure: the base URL is http).
func gtWantCookie(t *testing.T, what string, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	c := gtCookie(resp, name)
	if c == nil || c.Value == "" || c.MaxAge < 0 {
		t.Fatalf("%s: no %s cookie set (Set-Cookie %q)", what, name, resp.Header.Values("Set-Cookie"))
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("%s: cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v, want HttpOnly, Lax, /, not Secure",
			what, name, c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	return c
}

func gtWantThrottled(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("%s: status %d, want 429\n%s", what, resp.StatusCode, gtShort(body))
		return
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > int(acl.DefaultWindow.Seconds())+1 {
		t.Errorf("%s: Retry-After %q, want seconds in 1..%d", what, resp.Header.Get("Retry-After"), int(acl.DefaultWindow.Seconds())+1)
	}
}

// gtSnap is everything a client can observe of a response.
type gtSnap struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

func gtSnapshot(t *testing.T, resp *http.Response) gtSnap {
	t.Helper()
	return gtSnap{status: resp.StatusCode, header: resp.Header.Clone(), cookies: resp.Cookies(), body: readBody(t, resp)}
}

// gtSameResponse fails unless got and want are the same response: status,
// body bytes, every header name and value apart from Date and the request
// id, and the cookies (none expected).
func gtSameResponse(t *testing.T, what string, got, want gtSnap) {
	t.Helper()
	if got.status != want.status {
		t.Errorf("%s: status %d, want %d", what, got.status, want.status)
	}
	if got.body != want.body {
		t.Errorf("%s: body differs\n got: %s\nwant: %s", what, gtShort(got.body), gtShort(want.body))
	}
	names := map[string]bool{}
	for k := range got.header {
		names[k] = true
	}
	for k := range want.header {
		names[k] = true
	}
	for k := range names {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		if !slices.Equal(got.header.Values(k), want.header.Values(k)) {
			t.Errorf("%s: header %s is %q, want %q", what, k, got.header.Values(k), want.header.Values(k))
		}
	}
	if len(got.cookies) != 0 || len(want.cookies) != 0 {
		t.Errorf("%s: cookies set: %v (the reference sets %v), want none", what, got.cookies, want.cookies)
	}
}

// gtToken is a guest token as the JSON API shows it.
type gtToken struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Token        string     `json:"token"`
	Link         string     `json:"link"`
	Status       string     `json:"status"`
	Uses         int        `json:"uses"`
	MaxUses      *int       `json:"max_uses"`
	ExpiresAt    *time.Time `json:"expires_at"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	CanDownload  bool       `json:"can_download"`
	ShowMetadata bool       `json:"show_metadata"`
	HasPassword  bool       `json:"has_password"`
	Note         string     `json:"note"`
	Items        *int       `json:"items"`
	Entries      *int       `json:"acl_entries"`
	Grants       []gtGrant  `json:"grants"`
	Views        *int       `json:"views"`
}

type gtGrant struct {
	ItemID    int64   `json:"item_id"`
	ItemTitle string  `json:"item_title"`
	Effect    string  `json:"effect"`
	Via       *int64  `json:"via"`
	ViaName   *string `json:"via_name"`
	Active    bool    `json:"active"`
	Views     int     `json:"views"`
}

// gtOwner is a member driving the JSON API with a write token.
type gtOwner struct {
	t   *testing.T
	e   *env
	m   *acl.Member
	key string
}

func gtNewOwner(t *testing.T, e *env, handle string) *gtOwner {
	m := e.member(handle)
	return &gtOwner{t: t, e: e, m: m, key: e.apiToken(m, "write")}
}

// call sends an API request and fails the test unless the status is want;
// it returns the body.
func (o *gtOwner) call(method, path, body string, want int) string {
	o.t.Helper()
	return gtStatus(o.t, method+" "+path, o.e.api(o.key, method, path, body), want)
}

func (o *gtOwner) decode(method, path, body string, want int, v any) string {
	o.t.Helper()
	out := o.call(method, path, body, want)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		o.t.Fatalf("%s %s: %v\n%s", method, path, err, out)
	}
	return out
}

func (o *gtOwner) post(title, body string) int64 {
	o.t.Helper()
	in, _ := json.Marshal(map[string]string{"title": title, "body": body})
	var it struct {
		ID int64 `json:"id"`
	}
	o.decode(http.MethodPost, "/api/v1/posts", string(in), http.StatusCreated, &it)
	if it.ID == 0 {
		o.t.Fatal("new post without an id")
	}
	return it.ID
}

// share is the one-click share of an item, with optional token fields.
func (o *gtOwner) share(item int64, fields string) gtToken {
	o.t.Helper()
	var tk gtToken
	o.decode(http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", item), fields, http.StatusCreated, &tk)
	if !acl.ValidSecret(acl.GuestTokenPrefix, tk.Token) {
		o.t.Fatalf("share answered the token %q", tk.Token)
	}
	return tk
}

func (o *gtOwner) newToken(fields string) gtToken {
	o.t.Helper()
	var tk gtToken
	o.decode(http.MethodPost, "/api/v1/tokens", fields, http.StatusCreated, &tk)
	return tk
}

func (o *gtOwner) token(id int64) gtToken {
	o.t.Helper()
	var tk gtToken
	o.decode(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", id), "", http.StatusOK, &tk)
	return tk
}

func (o *gtOwner) uses(id int64) int {
	o.t.Helper()
	return o.token(id).Uses
}

func (o *gtOwner) putACL(item int64, public bool, allow, deny []int64) {
	o.t.Helper()
	in, _ := json.Marshal(map[string]any{"public": public, "allow": allow, "deny": deny})
	o.call(http.MethodPut, fmt.Sprintf("/api/v1/items/%d/acl", item), string(in), http.StatusOK)
}

func (o *gtOwner) group(name string, members ...int64) int64 {
	o.t.Helper()
	in, _ := json.Marshal(map[string]any{"name": name, "members": members})
	var g struct {
		ID int64 `json:"id"`
	}
	o.decode(http.MethodPost, "/api/v1/groups", string(in), http.StatusCreated, &g)
	return g.ID
}

// gtLinkPath is the path and query of a link the API gave.
func gtLinkPath(t *testing.T, link string) string {
	t.Helper()
	if !strings.HasPrefix(link, gtBase+"/") {
		t.Fatalf("link %q is not under %s", link, gtBase)
	}
	return strings.TrimPrefix(link, gtBase)
}

// gtOpenLink opens a link of a token with neither limit nor password: the
// zat exchange (303 with the guest cookie) and the page it leads to.
func gtOpenLink(t *testing.T, cl *client, link string) (location string, page *http.Response) {
	t.Helper()
	resp := gtGet(t, cl, gtLinkPath(t, link))
	body := readBody(t, resp)
	location = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || location == "" {
		t.Fatalf("opening %s: status %d location %q\n%s", link, resp.StatusCode, location, gtShort(body))
	}
	if gtCookie(resp, "hs_guest") == nil {
		t.Fatalf("opening %s: no guest cookie", link)
	}
	return location, gtGet(t, cl, location)
}

var gtNextRE = regexp.MustCompile(`name="next" value="([^"]*)"`)

// gtLanding follows the link of a token with a limit or a password to its
// landing page and returns the page's CSRF token, its next field and body.
func gtLanding(t *testing.T, cl *client, link string) (csrf, next, body string) {
	t.Helper()
	resp := gtGet(t, cl, gtLinkPath(t, link))
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || gtCookie(resp, "hs_pending") == nil {
		t.Fatalf("link %s: status %d, pending cookie %v; want 303 with a pending cookie", link, resp.StatusCode, gtCookie(resp, "hs_pending"))
	}
	page := gtGet(t, cl, resp.Header.Get("Location"))
	body = gtStatus(t, "landing page", page, http.StatusOK)
	m, n := csrfRE.FindStringSubmatch(body), gtNextRE.FindStringSubmatch(body)
	if m == nil || n == nil {
		t.Fatalf("landing page without a CSRF token or next field:\n%s", gtShort(body))
	}
	return html.UnescapeString(m[1]), html.UnescapeString(n[1]), body
}

func gtOpenForm(csrf, next, password string) url.Values {
	f := url.Values{"_csrf": {csrf}, "next": {next}}
	if password != "" {
		f.Set("password", password)
	}
	return f
}

// gtSecondInstance is another server on e's database and keys, as a second
// process of the same deployment would be.
func gtSecondInstance(t *testing.T, e *env) *env {
	t.Helper()
	cfg := *e.cfg
	svc := acl.NewService(e.db, e.clock, e.keys)
	cs := content.NewService(e.db, e.clock, svc, e.cs.Media, e.cs.MaxUpload)
	logBuf := &logtest.Buffer{}
	srv, err := web.New(web.Deps{Config: &cfg, DB: e.db, ACL: svc, Content: cs, Clock: e.clock, Keys: e.keys,
		Logger: slog.New(slog.NewTextHandler(logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: e.db, svc: svc, cs: cs, srv: srv, clock: e.clock, cfg: &cfg, keys: e.keys, logBuf: logBuf}
}

// gtCopyCookies gives to a browser of another instance the cookies of from.
func gtCopyCookies(to, from *client) {
	for k, v := range from.cookies {
		to.cookies[k] = v
	}
}

func gtFlush(t *testing.T, e *env) {
	t.Helper()
	if err := e.svc.Log.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The whole journey of a recipient: a member shares a post, a fresh browser
// opens the link, the token leaves the address bar at once and the post shows.
func TestGuestLinkJourney(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		raw := alice.call(http.MethodPost, "/api/v1/posts", `{"title":"Holiday plans","body":"We leave on Friday at dawn."}`, http.StatusCreated)
		if !strings.HasPrefix(raw, `{"id":`) {
			t.Errorf("new post: id is not first: %s", raw)
		}
		var post struct {
			ID     int64 `json:"id"`
			Public bool  `json:"public"`
		}
		json.Unmarshal([]byte(raw), &post)
		if post.Public {
			t.Errorf("a new post is public")
		}
		itemPath := fmt.Sprintf("/items/%d", post.ID)
		gtStatus(t, "the private post without a cookie", gtGet(t, e.client(), itemPath), http.StatusNotFound)

		raw = alice.call(http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", post.ID), "", http.StatusCreated)
		if !strings.HasPrefix(raw, `{"id":`) {
			t.Errorf("share: id is not first: %s", raw)
		}
		var tk gtToken
		json.Unmarshal([]byte(raw), &tk)
		if !strings.HasPrefix(tk.Token, "hsg_") || !acl.ValidSecret(acl.GuestTokenPrefix, tk.Token) {
			t.Fatalf("share: token %q", tk.Token)
		}
		if want := gtBase + itemPath + "?zat=" + tk.Token; tk.Link != want {
			t.Errorf("share: link %q, want %q", tk.Link, want)
		}
		if tk.Status != acl.StatusActive || tk.Uses != 0 {
			t.Errorf("share: status %q uses %d", tk.Status, tk.Uses)
		}
		var a acl.ACL
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/acl", post.ID), "", http.StatusOK, &a)
		if a.Public || !slices.Equal(a.Allow, []int64{tk.ID}) || len(a.Deny) != 0 {
			t.Errorf("ACL after share: %+v, want allow [%d]", a, tk.ID)
		}

		cl := e.client()
		resp := gtGet(t, cl, gtLinkPath(t, tk.Link))
		gtSee303(t, "the zat exchange", resp, itemPath)
		gtWantCookie(t, "the zat exchange", resp, "hs_guest")
		if c := gtCookie(resp, "hs_pending"); c != nil {
			t.Errorf("an unlimited token set a pending cookie")
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("zat exchange Cache-Control %q, want no-store", got)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("zat exchange Referrer-Policy %q, want no-referrer", got)
		}
		for _, c := range resp.Cookies() {
			if strings.Contains(c.Value, tk.Token) || strings.Contains(c.Value, tk.Token[4:]) {
				t.Errorf("cookie %s carries the token", c.Name)
			}
		}

		page := gtGet(t, cl, itemPath)
		body := gtStatus(t, "the post after the exchange", page, http.StatusOK)
		if !strings.Contains(body, "Holiday plans") || !strings.Contains(body, "We leave on Friday at dawn.") {
			t.Errorf("the post page does not show the post:\n%s", gtShort(body))
		}
		if strings.Contains(body, "hsg_") || strings.Contains(body, tk.Token[4:]) {
			t.Errorf("the page after the redirect contains the token")
		}
		if got := page.Header.Get("X-Robots-Tag"); !strings.Contains(got, "noindex") {
			t.Errorf("guest page X-Robots-Tag %q, want noindex", got)
		}
		if got := page.Header.Get("Cache-Control"); got != "private, no-store" {
			t.Errorf("guest page Cache-Control %q, want \"private, no-store\"", got)
		}
		csp := page.Header.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "http") || strings.Contains(csp, "//") || strings.Contains(csp, "*") {
			t.Errorf("guest page CSP %q: want one without other origins", csp)
		}
		if got := page.Header.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("guest page Referrer-Policy %q, want same-origin", got)
		}
		if got := gtCookie(page, "hs_guest"); got != nil {
			t.Errorf("the page after the exchange sets the guest cookie again")
		}
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after one opening: %d, want 1", n)
		}

		// Other parameters survive the exchange, in order.
		cl2 := e.client()
		resp = gtGet(t, cl2, itemPath+"?lang=en&zat="+tk.Token+"&v=2")
		gtSee303(t, "exchange with other parameters", resp, itemPath+"?lang=en&v=2")
		body = gtStatus(t, "the post with other parameters", gtGet(t, cl2, itemPath+"?lang=en&v=2"), http.StatusOK)
		if !strings.Contains(body, "Holiday plans") || strings.Contains(body, "hsg_") {
			t.Errorf("the post page with other parameters:\n%s", gtShort(body))
		}

		gtStatus(t, "the post in a browser without the cookie", gtGet(t, e.client(), itemPath), http.StatusNotFound)
	})
}

// A malformed, unknown, revoked, expired or used-up token gets exactly the
// answer a missing item gets, and no session.
func TestBadTokensLookLikeAMissingItem(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		p := alice.post("Private plans", "Only for the family.")
		itemPath := fmt.Sprintf("/items/%d", p)
		reference := func() gtSnap {
			return gtSnapshot(t, gtGet(t, gtClientAt(e, "203.0.113.1:1000"), "/items/999999"))
		}
		want := reference()
		if want.status != http.StatusNotFound {
			t.Fatalf("a missing item: status %d", want.status)
		}
		network := 10
		check := func(what, query string) {
			t.Helper()
			network++
			cl := gtClientAt(e, fmt.Sprintf("203.0.113.%d:1000", network))
			got := gtSnapshot(t, gtGet(t, cl, itemPath+"?"+query))
			gtSameResponse(t, what, got, want)
			if len(cl.cookies) != 0 {
				t.Errorf("%s: the browser holds cookies %v", what, cl.cookies)
			}
			gtSameResponse(t, what+", then the item", gtSnapshot(t, gtGet(t, cl, itemPath)), want)
		}

		check("a malformed zat", "zat=hsg_not-a-token")
		check("an empty zat", "zat=")
		check("an API token as zat", "zat="+acl.NewSecret(acl.APITokenPrefix))
		check("an unknown well-formed zat", "zat="+acl.NewSecret(acl.GuestTokenPrefix))

		revoked := alice.share(p, `{"name":"revoked"}`)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", revoked.ID), "", http.StatusNoContent)
		check("a revoked token", "zat="+revoked.Token)

		limited := alice.share(p, `{"name":"once","max_uses":1}`)
		spender := gtClientAt(e, "203.0.113.99:1")
		csrf, next, _ := gtLanding(t, spender, limited.Link)
		gtSee303(t, "spending the only use", gtPost(t, spender, "/open", gtOpenForm(csrf, next, "")), itemPath)
		if tk := alice.token(limited.ID); tk.Status != acl.StatusUsedUp {
			t.Fatalf("the limited token is %q after its only use", tk.Status)
		}
		check("a used-up token", "zat="+limited.Token)

		expiring := alice.share(p, `{"name":"soon","expires_at":"`+e.clock.Now().Add(time.Hour).Format(time.RFC3339)+`"}`)
		e.clock.Advance(2 * time.Hour)
		if tk := alice.token(expiring.ID); tk.Status != acl.StatusExpired {
			t.Fatalf("the token is %q after its expiry", tk.Status)
		}
		check("an expired token", "zat="+expiring.Token)

		// Another member's valid token is a valid zat: it is exchanged like any
		// other (303 and a guest cookie, PRODUCT journey 2), but what the
		// browser then gets for this item is the missing-item answer.
		bp := bob.post("Bob's notes", "Bob's own post.")
		stranger := bob.share(bp, "")
		cl := gtClientAt(e, "203.0.113.50:1000")
		gtSee303(t, "a stranger's token on my item", gtGet(t, cl, itemPath+"?zat="+stranger.Token), itemPath)
		// The error page's way on depends on the cookies the browser holds
		// (here a guest session), never on a token: the same browser gets the
		// same answer for my item as for a missing one.
		gtSameResponse(t, "a stranger's token, then my item", gtSnapshot(t, gtGet(t, cl, itemPath)), gtSnapshot(t, gtGet(t, cl, "/items/999999")))
		shared := gtStatus(t, "the stranger's token's /shared", gtGet(t, cl, "/shared"), http.StatusOK)
		if strings.Contains(shared, "Private plans") || !strings.Contains(shared, "Bob&#39;s notes") {
			t.Errorf("/shared with bob's token:\n%s", gtShort(shared))
		}

		gtSameResponse(t, "the reference at the end", reference(), want)
	})
}

// A token with a use limit: GETs of its link (mail scanners, previews) spend
// nothing, the landing page's explicit Open spends one use.
func TestLimitedLinkSpendsOnlyOnOpen(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Grandma's recipes", "Flour, butter and love.")
		itemPath := fmt.Sprintf("/items/%d", p)
		tk := alice.share(p, `{"max_uses":5,"note":"For Grandma, with love"}`)
		cl := e.client()
		for i := 1; i <= 2; i++ {
			resp := gtGet(t, cl, gtLinkPath(t, tk.Link))
			what := fmt.Sprintf("GET %d of the link", i)
			gtSee303(t, what, resp, itemPath)
			gtWantCookie(t, what, resp, "hs_pending")
			if gtCookie(resp, "hs_guest") != nil {
				t.Errorf("%s: a guest session before the explicit open", what)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: Cache-Control %q Referrer-Policy %q", what, resp.Header.Get("Cache-Control"), resp.Header.Get("Referrer-Policy"))
			}
		}
		if n := alice.uses(tk.ID); n != 0 {
			t.Fatalf("uses after two GETs of the link: %d, want 0", n)
		}

		page := gtGet(t, cl, itemPath)
		body := gtStatus(t, "the landing page", page, http.StatusOK)
		for _, want := range []string{`action="/open"`, `method="post"`, `>Open</button>`, "For Grandma, with love"} {
			if !strings.Contains(body, want) {
				t.Errorf("the landing page lacks %q:\n%s", want, gtShort(body))
			}
		}
		if strings.Contains(body, "hsg_") || strings.Contains(body, tk.Token[4:]) {
			t.Errorf("the landing page contains the token")
		}
		if strings.Contains(body, "Flour, butter and love.") {
			t.Errorf("the landing page shows the post before the open")
		}
		if page.Header.Get("Cache-Control") != "private, no-store" || !strings.Contains(page.Header.Get("X-Robots-Tag"), "noindex") {
			t.Errorf("landing page Cache-Control %q X-Robots-Tag %q", page.Header.Get("Cache-Control"), page.Header.Get("X-Robots-Tag"))
		}
		m, n := csrfRE.FindStringSubmatch(body), gtNextRE.FindStringSubmatch(body)
		if m == nil || n == nil {
			t.Fatalf("landing page without a CSRF token or next field")
		}
		if next := html.UnescapeString(n[1]); next != itemPath {
			t.Errorf("landing next %q, want %q", next, itemPath)
		}
		if n := alice.uses(tk.ID); n != 0 {
			t.Fatalf("uses after the landing page: %d, want 0", n)
		}

		resp := gtPost(t, cl, "/open", gtOpenForm(html.UnescapeString(m[1]), html.UnescapeString(n[1]), ""))
		gtSee303(t, "Open", resp, itemPath)
		gtWantCookie(t, "Open", resp, "hs_guest")
		if _, ok := cl.cookies["hs_pending"]; ok {
			t.Errorf("the pending cookie survives the open")
		}
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after the open: %d, want 1", n)
		}
		body = gtStatus(t, "the post after the open", gtGet(t, cl, itemPath), http.StatusOK)
		if !strings.Contains(body, "Flour, butter and love.") || strings.Contains(body, "hsg_") {
			t.Errorf("the post after the open:\n%s", gtShort(body))
		}
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after viewing: %d, want 1", n)
		}
	})
}

// Fifty browsers press Open at once on a token with max_uses 5: exactly five
// get in.
func TestLimitedLinkConcurrentOpenings(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Concert tickets", "Row 5, seats 1 to 5.")
		itemPath := fmt.Sprintf("/items/%d", p)
		tk := alice.share(p, `{"max_uses":5}`)
		const n = 50
		clients := make([]*client, n)
		forms := make([]url.Values, n)
		for i := range clients {
			clients[i] = gtClientAt(e, fmt.Sprintf("198.51.100.%d:2000", i+1))
			csrf, next, _ := gtLanding(t, clients[i], tk.Link)
			forms[i] = gtOpenForm(csrf, next, "")
		}
		if uses := alice.uses(tk.ID); uses != 0 {
			t.Fatalf("uses after %d landing pages: %d", n, uses)
		}
		statuses := make([]int, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := gtDo(clients[i], gtFormRequest("/open", forms[i]))
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		opened, refused := 0, 0
		for i, st := range statuses {
			switch {
			case errs[i] != nil:
				t.Errorf("opening %d: %v", i, errs[i])
			case st == http.StatusSeeOther:
				opened++
			case st == http.StatusNotFound:
				refused++
			default:
				t.Errorf("opening %d: status %d", i, st)
			}
		}
		if opened != 5 || refused != n-5 {
			t.Errorf("%d openings succeeded and %d were refused, want 5 and %d", opened, refused, n-5)
		}
		if got := alice.uses(tk.ID); got != 5 {
			t.Errorf("uses after the rush: %d, want 5", got)
		}
		if st := alice.token(tk.ID).Status; st != acl.StatusUsedUp {
			t.Errorf("status after the rush: %q, want used_up", st)
		}
		for i, cl := range clients {
			want := http.StatusNotFound
			if statuses[i] == http.StatusSeeOther {
				want = http.StatusOK
			}
			gtStatus(t, fmt.Sprintf("browser %d afterwards", i), gtGet(t, cl, itemPath), want)
		}
	})
}

// A visitor password: wrong ones are refused (and logged), the right one
// opens, and repeated failures from one network block it.
func TestPasswordLink(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Wedding photos", "The album is coming soon.")
		itemPath := fmt.Sprintf("/items/%d", p)
		const password = "hunter22 ✓"
		tk := alice.share(p, `{"password":"hunter22 ✓","note":"Ask Bob for the password"}`)
		if !tk.HasPassword {
			t.Fatalf("the token has no password")
		}
		cl := gtClientAt(e, "203.0.113.20:1")
		csrf, next, body := gtLanding(t, cl, tk.Link)
		if !strings.Contains(body, `type="password"`) || !strings.Contains(body, `name="password"`) {
			t.Fatalf("the landing page has no password field:\n%s", gtShort(body))
		}

		resp := gtPost(t, cl, "/open", gtOpenForm(csrf, next, "hunter22"))
		body = gtStatus(t, "a wrong password", resp, http.StatusUnauthorized)
		if !strings.Contains(body, "That password is not right.") || !strings.Contains(body, `type="password"`) {
			t.Errorf("the answer to a wrong password is not the landing page with an error:\n%s", gtShort(body))
		}
		if strings.Contains(body, "hsg_") {
			t.Errorf("the landing page with an error contains a token")
		}
		if _, ok := cl.cookies["hs_guest"]; ok {
			t.Errorf("a wrong password gave a guest session")
		}
		if n := alice.uses(tk.ID); n != 0 {
			t.Errorf("uses after a wrong password: %d", n)
		}
		gtFlush(t, e)
		log, err := e.svc.TokenAccess(ctx, alice.m.ID, tk.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].Event != acl.EventDeniedPassword || log[0].TokenID != tk.ID {
			t.Errorf("the token's log after a wrong password: %+v, want one denied_password entry", log)
		}

		// The retry is sent with the form the failed attempt showed, as a
		// person would: it returns to the item, not to /open.
		m, n := csrfRE.FindStringSubmatch(body), gtNextRE.FindStringSubmatch(body)
		if m == nil || n == nil {
			t.Fatalf("the landing page after a wrong password has no form:\n%s", gtShort(body))
		}
		if retryNext := html.UnescapeString(n[1]); retryNext != next {
			t.Errorf("the form after a wrong password returns to %q, want %q", retryNext, next)
		}
		resp = gtPost(t, cl, "/open", gtOpenForm(html.UnescapeString(m[1]), html.UnescapeString(n[1]), password))
		gtSee303(t, "the right password", resp, itemPath)
		gtWantCookie(t, "the right password", resp, "hs_guest")
		body = gtStatus(t, "the post after the password", gtGet(t, cl, itemPath), http.StatusOK)
		if !strings.Contains(body, "The album is coming soon.") {
			t.Errorf("the post after the password:\n%s", gtShort(body))
		}
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after the right password: %d, want 1", n)
		}

		// Throttling: NetworkFailureLimit wrong passwords from one network, then
		// even the right one gets 429.
		cl2 := gtClientAt(e, "203.0.113.21:1")
		csrf2, next2, _ := gtLanding(t, cl2, tk.Link)
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			gtStatus(t, fmt.Sprintf("wrong password %d", i+1), gtPost(t, cl2, "/open", gtOpenForm(csrf2, next2, fmt.Sprintf("guess-%d", i))), http.StatusUnauthorized)
		}
		gtWantThrottled(t, "the right password after the threshold", gtPost(t, cl2, "/open", gtOpenForm(csrf2, next2, password)))
		if _, ok := cl2.cookies["hs_guest"]; ok {
			t.Errorf("a throttled attempt gave a guest session")
		}
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after the throttled attempt: %d, want 1", n)
		}
		// Another network is not blocked.
		cl3 := gtClientAt(e, "203.0.113.22:1")
		csrf3, next3, _ := gtLanding(t, cl3, tk.Link)
		gtSee303(t, "the right password from another network", gtPost(t, cl3, "/open", gtOpenForm(csrf3, next3, password)), itemPath)
	})
}

// Repeated bad zat values from one network block every zat attempt from it,
// valid or not, until the window passes; other networks are not affected.
func TestZatFailuresThrottleTheNetwork(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Throttled", "Behind a throttle.")
		itemPath := fmt.Sprintf("/items/%d", p)
		tk := alice.share(p, "")
		const netA, netB = "203.0.113.30:1", "203.0.113.31:1"
		clA := gtClientAt(e, netA)
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			zat := "hsg_bad" + strconv.Itoa(i)
			if i%2 == 1 {
				zat = acl.NewSecret(acl.GuestTokenPrefix)
			}
			gtStatus(t, fmt.Sprintf("bad zat %d", i+1), gtGet(t, clA, itemPath+"?zat="+zat), http.StatusNotFound)
		}
		gtWantThrottled(t, "a valid zat from the blocked network", gtGet(t, clA, gtLinkPath(t, tk.Link)))
		if len(clA.cookies) != 0 {
			t.Errorf("the blocked network got cookies %v", clA.cookies)
		}
		if n := alice.uses(tk.ID); n != 0 {
			t.Errorf("uses after the blocked attempt: %d", n)
		}
		gtWantThrottled(t, "an unknown well-formed zat from the blocked network",
			gtGet(t, clA, itemPath+"?zat="+acl.NewSecret(acl.GuestTokenPrefix)))
		gtWantThrottled(t, "a malformed zat from the blocked network", gtGet(t, clA, itemPath+"?zat=hsg_garbage"))

		clB := gtClientAt(e, netB)
		gtSee303(t, "the valid zat from another network", gtGet(t, clB, gtLinkPath(t, tk.Link)), itemPath)
		gtStatus(t, "the post from another network", gtGet(t, clB, itemPath), http.StatusOK)

		e.clock.Advance(acl.DefaultWindow + time.Second)
		gtSee303(t, "the valid zat from the first network after the window", gtGet(t, clA, gtLinkPath(t, tk.Link)), itemPath)
		gtStatus(t, "the post from the first network after the window", gtGet(t, clA, itemPath), http.StatusOK)
	})
}

// Revoking, expiring, rotating or changing the password of a token ends the
// sessions opened from it on the very next request, and only those.
func TestTokenChangesEndSessionsAtOnce(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Family news", "The baby is here!")
		itemPath := fmt.Sprintf("/items/%d", p)
		open := func(name string) (gtToken, *client) {
			t.Helper()
			tk := alice.share(p, `{"name":"`+name+`"}`)
			cl := e.client()
			_, page := gtOpenLink(t, cl, tk.Link)
			gtStatus(t, name+": the post after opening", page, http.StatusOK)
			return tk, cl
		}
		revTk, revCl := open("revoke")
		expTk, expCl := open("expire")
		rotTk, rotCl := open("rotate")
		pwTk, pwCl := open("password")
		_, keepCl := open("keep")
		keep := func(what string) {
			t.Helper()
			gtStatus(t, "an untouched token's session after "+what, gtGet(t, keepCl, itemPath), http.StatusOK)
		}

		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", revTk.ID), "", http.StatusNoContent)
		gtStatus(t, "the session of a revoked token", gtGet(t, revCl, itemPath), http.StatusNotFound)
		// "Shared with you" of a session that is over is the empty page.
		if body := gtStatus(t, "/shared of a revoked token", gtGet(t, revCl, "/shared"), http.StatusOK); strings.Contains(body, "Family news") ||
			!strings.Contains(body, "Nothing is shared with you in this browser yet.") {
			t.Errorf("/shared of a revoked token is not the empty page:\n%s", gtShort(body))
		}
		keep("a revocation")

		soon := e.clock.Now().Add(time.Minute).Format(time.RFC3339)
		var patched gtToken
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", expTk.ID), `{"expires_at":"`+soon+`"}`, http.StatusOK, &patched)
		if patched.ExpiresAt == nil || patched.ExpiresAt.Format(time.RFC3339) != soon {
			t.Errorf("PATCH expires_at: %v, want %s", patched.ExpiresAt, soon)
		}
		gtStatus(t, "the session before the expiry", gtGet(t, expCl, itemPath), http.StatusOK)
		e.clock.Advance(2 * time.Minute)
		gtStatus(t, "the session after the expiry", gtGet(t, expCl, itemPath), http.StatusNotFound)
		keep("an expiry")

		raw := alice.call(http.MethodPost, fmt.Sprintf("/api/v1/tokens/%d/rotate", rotTk.ID), "", http.StatusCreated)
		var rotated gtToken
		json.Unmarshal([]byte(raw), &rotated)
		if rotated.ID != rotTk.ID || rotated.Token == rotTk.Token || !acl.ValidSecret(acl.GuestTokenPrefix, rotated.Token) ||
			!strings.HasSuffix(rotated.Link, "?zat="+rotated.Token) {
			t.Fatalf("rotate answered %s", raw)
		}
		gtStatus(t, "the session of a rotated token", gtGet(t, rotCl, itemPath), http.StatusNotFound)
		gtStatus(t, "the old link of a rotated token", gtGet(t, e.client(), gtLinkPath(t, rotTk.Link)), http.StatusNotFound)
		newCl := e.client()
		_, page := gtOpenLink(t, newCl, rotated.Link)
		if body := gtStatus(t, "the new link's page", page, http.StatusOK); !strings.Contains(body, "Family news") {
			t.Errorf("the new link's /shared does not list the post:\n%s", gtShort(body))
		}
		gtStatus(t, "the post through the new link", gtGet(t, newCl, itemPath), http.StatusOK)
		var a acl.ACL
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/acl", p), "", http.StatusOK, &a)
		if !slices.Contains(a.Allow, rotTk.ID) {
			t.Errorf("the rotated token left the ACL: %+v", a)
		}
		keep("a rotation")

		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", pwTk.ID), `{"password":"a brand new password"}`, http.StatusOK, &patched)
		if !patched.HasPassword {
			t.Errorf("PATCH password: has_password false")
		}
		gtStatus(t, "the session after a password change", gtGet(t, pwCl, itemPath), http.StatusNotFound)
		keep("a password change")
	})
}

// Every instance sharing the database sees a revocation at once.
func TestRevokeEndsSessionsOnEveryInstance(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Shared across instances", "One database, two processes.")
		itemPath := fmt.Sprintf("/items/%d", p)
		other := gtSecondInstance(t, e)

		tk := alice.share(p, "")
		one := e.client()
		_, page := gtOpenLink(t, one, tk.Link)
		gtStatus(t, "the post on instance one", page, http.StatusOK)
		two := other.client()
		gtCopyCookies(two, one)
		gtStatus(t, "the same browser on instance two", gtGet(t, two, itemPath), http.StatusOK)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
		gtStatus(t, "instance two after a revocation on instance one", gtGet(t, two, itemPath), http.StatusNotFound)
		gtStatus(t, "instance one after its own revocation", gtGet(t, one, itemPath), http.StatusNotFound)

		tk2 := alice.share(p, "")
		three := other.client()
		_, page = gtOpenLink(t, three, tk2.Link)
		gtStatus(t, "the post opened on instance two", page, http.StatusOK)
		four := e.client()
		gtCopyCookies(four, three)
		gtStatus(t, "that browser on instance one", gtGet(t, four, itemPath), http.StatusOK)
		gtStatus(t, "revoke on instance two", other.api(alice.key, http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk2.ID), ""), http.StatusNoContent)
		gtStatus(t, "instance one after a revocation on instance two", gtGet(t, four, itemPath), http.StatusNotFound)
	})
}

// A second link adds its token to the browser's guest session.
func TestSecondLinkJoinsTheGuestSession(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		p1 := alice.post("Alice's garden", "Tomatoes everywhere.")
		p2 := bob.post("Bob's boat", "Sails on Sunday.")
		p3 := alice.post("Alice's diary", "Not shared.")
		tA, tB := alice.share(p1, ""), bob.share(p2, "")
		cl := e.client()
		gtOpenLink(t, cl, tA.Link)
		gtOpenLink(t, cl, tB.Link)
		if len(cl.cookies) != 1 || cl.cookies["hs_guest"] == nil {
			t.Errorf("the browser holds %v, want one guest cookie", cl.cookies)
		}
		gtStatus(t, "the first link's post", gtGet(t, cl, fmt.Sprintf("/items/%d", p1)), http.StatusOK)
		gtStatus(t, "the second link's post", gtGet(t, cl, fmt.Sprintf("/items/%d", p2)), http.StatusOK)
		gtStatus(t, "a post neither token opens", gtGet(t, cl, fmt.Sprintf("/items/%d", p3)), http.StatusNotFound)
		body := gtStatus(t, "/shared", gtGet(t, cl, "/shared"), http.StatusOK)
		if !strings.Contains(body, "Alice&#39;s garden") || !strings.Contains(body, "Bob&#39;s boat") || strings.Contains(body, "diary") {
			t.Errorf("/shared with two tokens:\n%s", gtShort(body))
		}
	})
}

// A signed-in member who opens a link stays signed in and sees the item.
func TestMemberOpeningALinkStaysSignedIn(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		e.member("bob")
		p := alice.post("For Bob too", "Bob has an account.")
		tk := alice.share(p, "")
		cl := e.client()
		cl.login("bob")
		session := cl.cookies["hs_session"]
		_, page := gtOpenLink(t, cl, tk.Link)
		if body := gtStatus(t, "the post for a signed-in member", page, http.StatusOK); !strings.Contains(body, "Bob has an account.") {
			t.Errorf("the post page:\n%s", gtShort(body))
		}
		if c := cl.cookies["hs_session"]; c == nil || session == nil || c.Value != session.Value {
			t.Errorf("the member session changed or went away when the link was opened")
		}
		gtStatus(t, "the member's home after opening a link", gtGet(t, cl, "/"), http.StatusOK)
	})
}

// Crawlers may present an unlimited token as a bearer credential: a view,
// no use, no session. Limited and password tokens do not qualify.
func TestCrawlerBearerToken(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Feed item", "For the feed reader.")
		itemPath := fmt.Sprintf("/items/%d", p)
		unlimited := alice.share(p, `{"name":"crawler"}`)
		limited := alice.share(p, `{"max_uses":3}`)
		withPassword := alice.share(p, `{"password":"crawler password"}`)

		resp := gtGet(t, e.client(), itemPath, "Authorization", "Bearer "+unlimited.Token)
		body := gtStatus(t, "the bearer GET", resp, http.StatusOK)
		if !strings.Contains(body, "For the feed reader.") {
			t.Errorf("the bearer GET does not show the post:\n%s", gtShort(body))
		}
		if gtCookie(resp, "hs_guest") != nil || gtCookie(resp, "hs_pending") != nil {
			t.Errorf("the bearer GET set a guest cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		if strings.Contains(body, "hsg_") {
			t.Errorf("the bearer GET's page contains a token")
		}
		resp = gtGet(t, e.client(), "/shared", "Authorization", "Bearer "+unlimited.Token)
		if body := gtStatus(t, "/shared with a bearer token", resp, http.StatusOK); !strings.Contains(body, "Feed item") {
			t.Errorf("/shared with a bearer token:\n%s", gtShort(body))
		}
		if n := alice.uses(unlimited.ID); n != 0 {
			t.Errorf("bearer GETs spent %d uses", n)
		}
		gtFlush(t, e)
		if views := alice.token(unlimited.ID).Views; views == nil || *views != 1 {
			t.Errorf("views after one bearer GET of the item: %v, want 1", views)
		}

		for _, tk := range []gtToken{limited, withPassword} {
			resp := gtGet(t, e.client(), itemPath, "Authorization", "Bearer "+tk.Token)
			gtStatus(t, "a bearer GET with a limited or password token", resp, http.StatusNotFound)
			if gtCookie(resp, "hs_guest") != nil {
				t.Errorf("a refused bearer GET set a guest cookie")
			}
			if n := alice.uses(tk.ID); n != 0 {
				t.Errorf("a refused bearer GET spent %d uses", n)
			}
		}
	})
}

// Opening a link again in a browser that holds a live session of its token
// spends nothing.
func TestReopeningALinkSpendsNothing(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Again and again", "Opened twice.")
		itemPath := fmt.Sprintf("/items/%d", p)
		tk := alice.share(p, "")
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		if n := alice.uses(tk.ID); n != 1 {
			t.Fatalf("uses after the first opening: %d", n)
		}
		resp := gtGet(t, cl, gtLinkPath(t, tk.Link))
		gtSee303(t, "the second GET of the link", resp, itemPath)
		gtStatus(t, "the post after the second GET", gtGet(t, cl, itemPath), http.StatusOK)
		if n := alice.uses(tk.ID); n != 1 {
			t.Errorf("uses after re-opening the link: %d, want 1", n)
		}

		// The same for a limited token once it is open in this browser.
		limited := alice.share(p, `{"max_uses":2}`)
		lc := e.client()
		csrf, next, _ := gtLanding(t, lc, limited.Link)
		gtSee303(t, "Open", gtPost(t, lc, "/open", gtOpenForm(csrf, next, "")), itemPath)
		resp = gtGet(t, lc, gtLinkPath(t, limited.Link))
		gtSee303(t, "the limited link again", resp, itemPath)
		if body := gtStatus(t, "the post, not a landing page", gtGet(t, lc, itemPath), http.StatusOK); !strings.Contains(body, "Opened twice.") {
			t.Errorf("re-opening a limited link shows:\n%s", gtShort(body))
		}
		if n := alice.uses(limited.ID); n != 1 {
			t.Errorf("limited token uses after re-opening: %d, want 1", n)
		}
	})
}

// gtQueryHook counts the queries run on a database while it is on.
type gtQueryHook struct {
	on      atomic.Bool
	mu      sync.Mutex
	queries []string
}

func (h *gtQueryHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *gtQueryHook) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if h.on.Load() {
		h.mu.Lock()
		h.queries = append(h.queries, ev.Query)
		h.mu.Unlock()
	}
}

// A guest's view of a post costs one query: the check and the item together.
func TestGuestViewIsOneQuery(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		bob := e.member("bob")
		p := alice.post("Counted", "One query.")
		tk := alice.share(p, "")
		alice.putACL(p, false, []int64{tk.ID, bob.ID}, nil)
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		session := e.svc.OpenGuest(cl.cookies["hs_guest"].Value)
		if !slices.Equal(session.TokenIDs(), []int64{tk.ID}) {
			t.Fatalf("guest session holds %v", session.TokenIDs())
		}

		ctx, counter := database.WithCounter(context.Background())
		acc, err := e.cs.View(ctx, p, content.Viewer{Guest: session})
		if err != nil || acc.Item.ID != p || acc.TokenID != tk.ID || acc.Owner {
			t.Fatalf("guest View: %+v, %v", acc, err)
		}
		if n := counter.Count(); n != 1 {
			t.Errorf("a guest View ran %d queries, want 1", n)
		}
		ctx, counter = database.WithCounter(context.Background())
		acc, err = e.cs.View(ctx, p, content.Viewer{Member: bob})
		if err != nil || acc.Item.ID != p || acc.Owner {
			t.Fatalf("member View: %+v, %v", acc, err)
		}
		if n := counter.Count(); n != 1 {
			t.Errorf("a member View ran %d queries, want 1", n)
		}

		hook := &gtQueryHook{}
		database.AddQueryHook(e.db, hook)
		hook.on.Store(true)
		resp := gtGet(t, cl, fmt.Sprintf("/items/%d", p))
		hook.on.Store(false)
		gtStatus(t, "the guest's GET", resp, http.StatusOK)
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if len(hook.queries) != 1 {
			t.Errorf("a guest's GET of a post ran %d queries, want 1:\n%s", len(hook.queries), strings.Join(hook.queries, "\n"))
		}
	})
}

// A guest post page kept with its view is the page a render gives: the same
// bytes, one query, and a new page once the post, the link or the words of
// its expiry change.
func TestKeptPostPageIsTheRenderedPage(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Kept", "The same <b>bytes</b>.")
		until := e.clock.Now().Add(72 * time.Hour).Format(time.RFC3339)
		tk := alice.share(p, `{"expires_at":"`+until+`","note":"For you"}`)
		cl := e.client()
		gtOpenLink(t, cl, tk.Link)
		itemPath := fmt.Sprintf("/items/%d", p)
		get := func(what string) (string, http.Header, int) {
			t.Helper()
			hook := &gtQueryHook{}
			database.AddQueryHook(e.db, hook)
			hook.on.Store(true)
			resp := gtGet(t, cl, itemPath)
			hook.on.Store(false)
			body := gtStatus(t, what, resp, http.StatusOK)
			hook.mu.Lock()
			defer hook.mu.Unlock()
			return body, resp.Header, len(hook.queries)
		}
		first, h1, _ := get("the first view")
		second, h2, n := get("the second view")
		if first != second {
			t.Errorf("the kept page differs from the rendered one:\n%s\n---\n%s", gtShort(first), gtShort(second))
		}
		if h2.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", h2.Get("Content-Type"))
		}
		// Every header but the request's own.
		for name := range h1 {
			if name != "Date" && name != "X-Request-Id" && !slices.Equal(h1[name], h2[name]) {
				t.Errorf("header %s: %q, then %q from the kept page", name, h1[name], h2[name])
			}
		}
		if len(h1) != len(h2) {
			t.Errorf("headers %v, then %v from the kept page", h1, h2)
		}
		if n != 1 {
			t.Errorf("the kept page ran %d queries, want 1", n)
		}
		for _, want := range []string{"Kept", "The same &lt;b&gt;bytes&lt;/b&gt;.", "For you", "in 3 days"} {
			if !strings.Contains(second, want) {
				t.Errorf("the kept page lacks %q:\n%s", want, gtShort(second))
			}
		}

		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", p), `{"title":"Kept, then edited"}`, http.StatusOK)
		if body, _, _ := get("after the edit"); !strings.Contains(body, "Kept, then edited") {
			t.Errorf("the page after an edit keeps the old title:\n%s", gtShort(body))
		}
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), `{"note":"A new note"}`, http.StatusOK)
		if body, _, _ := get("after the note"); !strings.Contains(body, "A new note") || strings.Contains(body, "For you") {
			t.Errorf("the page after a new note:\n%s", gtShort(body))
		}
		e.clock.Advance(24 * time.Hour)
		if body, _, _ := get("a day later"); !strings.Contains(body, "in 2 days") {
			t.Errorf("a day later the page does not say \"in 2 days\":\n%s", gtShort(body))
		}
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusNoContent)
		gtStatus(t, "after the revocation", gtGet(t, cl, itemPath), http.StatusNotFound)
	})
}

// "Shared with you" lists everything the token opens, newest first, with
// the owner's note.
func TestSharedListsWhatTheTokenOpens(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p0 := alice.post("Not shared at all", "x")
		p1 := alice.post("Shared directly", "x")
		p2 := alice.post("Shared with the family", "x")
		p3 := alice.post("Denied to the token", "x")
		tk := alice.newToken(`{"name":"Grandma","note":"Lots of love from Alice"}`)
		g := alice.group("Family", tk.ID)
		alice.putACL(p1, false, []int64{tk.ID}, nil)
		alice.putACL(p2, false, []int64{g}, nil)
		alice.putACL(p3, false, []int64{g}, []int64{tk.ID})
		cl := e.client()
		location, page := gtOpenLink(t, cl, tk.Link)
		if location != "/shared" {
			t.Errorf("a token's own link leads to %q, want /shared", location)
		}
		body := gtStatus(t, "/shared", page, http.StatusOK)
		i1, i2 := strings.Index(body, "Shared directly"), strings.Index(body, "Shared with the family")
		if i1 < 0 || i2 < 0 || i2 > i1 {
			t.Errorf("/shared: want both posts, newest (the family one) first; positions %d, %d:\n%s", i2, i1, gtShort(body))
		}
		if strings.Contains(body, "Denied to the token") || strings.Contains(body, "Not shared at all") {
			t.Errorf("/shared lists a post the token may not open:\n%s", gtShort(body))
		}
		if !strings.Contains(body, "Lots of love from Alice") {
			t.Errorf("/shared lacks the token's note")
		}
		if strings.Contains(body, "hsg_") {
			t.Errorf("/shared contains a token")
		}
		gtStatus(t, "the denied post", gtGet(t, cl, fmt.Sprintf("/items/%d", p3)), http.StatusNotFound)
		gtStatus(t, "the post shared through the group", gtGet(t, cl, fmt.Sprintf("/items/%d", p2)), http.StatusOK)
		gtStatus(t, "the unshared post", gtGet(t, cl, fmt.Sprintf("/items/%d", p0)), http.StatusNotFound)
	})
}

// The item's access log shows who opened it, also through a landing page
// (limited or password tokens), and the wrong passwords tried on it.
func TestLandingEventsAreInTheItemLog(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Guarded", "Behind a password.")
		tk := alice.share(p, `{"name":"Uncle","password":"open sesame"}`)
		cl := e.client()
		csrf, next, _ := gtLanding(t, cl, tk.Link)
		gtStatus(t, "a wrong password", gtPost(t, cl, "/open", gtOpenForm(csrf, next, "close sesame")), http.StatusUnauthorized)
		gtSee303(t, "the right password", gtPost(t, cl, "/open", gtOpenForm(csrf, next, "open sesame")), fmt.Sprintf("/items/%d", p))
		gtFlush(t, e)
		var log struct {
			Entries []struct {
				TokenID int64  `json:"token_id"`
				Event   string `json:"event"`
			} `json:"entries"`
		}
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access", p), "", http.StatusOK, &log)
		events := map[string]bool{}
		for _, en := range log.Entries {
			if en.TokenID == tk.ID {
				events[en.Event] = true
			}
		}
		if !events[acl.EventOpen] || !events[acl.EventDeniedPassword] {
			t.Errorf("the item's access log has events %v for the token, want open and denied_password", events)
		}
	})
}

// A success erases no earlier guess: holding one valid token must not buy
// unlimited guessing (SECURITY 15).
func TestZatSuccessErasesNoGuesses(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Held", "x")
		itemPath := fmt.Sprintf("/items/%d", p)
		tk := alice.share(p, "")
		clA, clB := gtClientAt(e, "203.0.113.40:1"), gtClientAt(e, "203.0.113.41:1")
		guess := func(cl *client, what string, n int) {
			t.Helper()
			for i := 0; i < n; i++ {
				gtStatus(t, fmt.Sprintf("%s: unknown zat %d", what, i+1), gtGet(t, cl, itemPath+"?zat="+acl.NewSecret(acl.GuestTokenPrefix)), http.StatusNotFound)
			}
		}
		guess(clA, "network A", acl.NetworkFailureLimit-1)
		gtSee303(t, "the held token from network A below the threshold", gtGet(t, gtClientAt(e, "203.0.113.40:2"), gtLinkPath(t, tk.Link)), itemPath)
		guess(clA, "network A after its success", 1)
		gtWantThrottled(t, "the held token once network A reached the threshold", gtGet(t, gtClientAt(e, "203.0.113.40:3"), gtLinkPath(t, tk.Link)))
		gtWantThrottled(t, "another guess from network A", gtGet(t, clA, itemPath+"?zat="+acl.NewSecret(acl.GuestTokenPrefix)))
		// Network B's own count is untouched by A's.
		guess(clB, "network B", acl.NetworkFailureLimit-1)
		gtSee303(t, "the held token from network B", gtGet(t, gtClientAt(e, "203.0.113.41:2"), gtLinkPath(t, tk.Link)), itemPath)
	})
}

// Old links are no guesses: a household that keeps opening revoked, expired
// and used-up links is never locked out of its live ones, and the owner sees
// every such attempt with its reason (SECURITY 15).
func TestDeadTokensNeverLockANetworkOut(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Household", "x")
		itemPath := fmt.Sprintf("/items/%d", p)
		live := alice.share(p, "")
		revoked := alice.share(p, "")
		alice.call("DELETE", fmt.Sprintf("/api/v1/tokens/%d", revoked.ID), "", http.StatusNoContent)
		expiring := alice.share(p, fmt.Sprintf(`{"expires_at":%q}`, e.clock.Now().Add(time.Hour).Format(time.RFC3339)))
		usedUp := alice.share(p, `{"max_uses":1}`)
		home := gtClientAt(e, "203.0.113.50:1")
		csrf, next, _ := gtLanding(t, home, usedUp.Link)
		gtStatus(t, "spending the only use", gtPost(t, home, "/open", gtOpenForm(csrf, next, "")), http.StatusSeeOther)
		e.clock.Advance(2 * time.Hour)

		for i := 0; i < 2*acl.NetworkFailureLimit; i++ {
			dead := []gtToken{revoked, expiring, usedUp}[i%3]
			gtStatus(t, fmt.Sprintf("dead link %d", i+1), gtGet(t, gtClientAt(e, "203.0.113.50:9"), gtLinkPath(t, dead.Link)), http.StatusNotFound)
		}
		gtSee303(t, "a live link after many dead ones from the same network", gtGet(t, gtClientAt(e, "203.0.113.50:2"), gtLinkPath(t, live.Link)), itemPath)

		gtFlush(t, e)
		var log struct {
			Entries []struct {
				TokenID int64  `json:"token_id"`
				Event   string `json:"event"`
				Reason  string `json:"reason"`
			} `json:"entries"`
		}
		alice.decode("GET", fmt.Sprintf("/api/v1/items/%d/access", p), "", http.StatusOK, &log)
		reasons := map[int64]map[string]int{}
		for _, en := range log.Entries {
			if en.Event == acl.EventFailed {
				if reasons[en.TokenID] == nil {
					reasons[en.TokenID] = map[string]int{}
				}
				reasons[en.TokenID][en.Reason]++
			}
		}
		for _, want := range []struct {
			tk     gtToken
			reason string
		}{{revoked, acl.StatusRevoked}, {expiring, acl.StatusExpired}, {usedUp, acl.StatusUsedUp}} {
			if reasons[want.tk.ID][want.reason] == 0 {
				t.Errorf("the owner's log has no %q attempt of token %d: %v", want.reason, want.tk.ID, reasons)
			}
		}
	})
}

// With an https base URL the guest and pending cookies are Secure and carry
// the __Host- prefix (SECURITY 4).
func TestZatExchangeOverHTTPS(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Secure", "Over https.")
		itemPath := fmt.Sprintf("/items/%d", p)
		path := func(link string) string {
			t.Helper()
			const base = "https://hub.test"
			if !strings.HasPrefix(link, base+"/") {
				t.Fatalf("link %q is not under %s", link, base)
			}
			return strings.TrimPrefix(link, base)
		}
		wantHostCookie := func(what string, resp *http.Response, name string) {
			t.Helper()
			c := gtCookie(resp, name)
			if c == nil || c.Value == "" {
				t.Fatalf("%s: no %s cookie (Set-Cookie %q)", what, name, resp.Header.Values("Set-Cookie"))
			}
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("%s: cookie %s: Secure=%v HttpOnly=%v SameSite=%v Path=%q Domain=%q", what, name, c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
			}
		}
		tk := alice.share(p, "")
		cl := e.client()
		resp := gtGet(t, cl, path(tk.Link))
		gtSee303(t, "the zat exchange over https", resp, itemPath)
		wantHostCookie("the zat exchange over https", resp, "__Host-hs_guest")
		if gtCookie(resp, "hs_guest") != nil {
			t.Errorf("a cookie without the __Host- prefix over https")
		}
		gtStatus(t, "the post over https", gtGet(t, cl, itemPath), http.StatusOK)

		limited := alice.share(p, `{"max_uses":1}`)
		lc := e.client()
		resp = gtGet(t, lc, path(limited.Link))
		gtSee303(t, "a limited link over https", resp, itemPath)
		wantHostCookie("a limited link over https", resp, "__Host-hs_pending")
		body := gtStatus(t, "the landing page over https", gtGet(t, lc, itemPath), http.StatusOK)
		m, n := csrfRE.FindStringSubmatch(body), gtNextRE.FindStringSubmatch(body)
		if m == nil || n == nil {
			t.Fatalf("landing page without a form")
		}
		req := gtFormRequest("/open", gtOpenForm(html.UnescapeString(m[1]), html.UnescapeString(n[1]), ""))
		req.Header.Set("Origin", "https://hub.test")
		req.Header.Set("Referer", "https://hub.test"+itemPath)
		resp = gtMustDo(t, lc, req)
		gtSee303(t, "Open over https", resp, itemPath)
		wantHostCookie("Open over https", resp, "__Host-hs_guest")
		gtStatus(t, "the post after Open over https", gtGet(t, lc, itemPath), http.StatusOK)
	}, withBaseURL("https://hub.test"))
}
