package web_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/valyala/fasthttp"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
	"hubshare/content"
	"hubshare/content/media"
	"hubshare/content/media/s3test"
	"hubshare/web"
)

// s3Env gives the S3 stores of the tests the credentials of the servers
// s3test starts.
func s3Env(name string) string {
	switch name {
	case "AWS_ACCESS_KEY_ID":
		return s3test.AccessKey
	case "AWS_SECRET_ACCESS_KEY":
		return s3test.SecretKey
	}
	return ""
}

// env is one server under test on a fresh database.
type env struct {
	t      *testing.T
	db     *bun.DB
	svc    *acl.Service
	cs     *content.Service
	srv    *web.Server
	clock  *app.FakeClock
	cfg    *app.Config
	keys   *app.Keys
	logBuf *logtest.Buffer
	// s3 is the S3 server holding the media, nil for the file store.
	s3 *s3test.Server
}

type envOption func(*app.Config)

func withBaseURL(u string) envOption { return func(c *app.Config) { c.BaseURL = u } }

func withTrustedProxies(p ...string) envOption {
	return func(c *app.Config) { c.TrustedProxies = p }
}

// eachEnv runs fn on a fresh server for every database dialect.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env), opts ...envOption) {
	t.Helper()
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, d, opts...))
		})
	}
}

// eachStoreEnv runs fn on a fresh server for every database dialect and
// every media store: the data directory, and a bucket on a real S3 server.
func eachStoreEnv(t *testing.T, fn func(t *testing.T, e *env), opts ...envOption) {
	t.Helper()
	for _, d := range dbtest.Dialects() {
		for _, store := range []string{"file", "s3"} {
			t.Run(d+"/"+store, func(t *testing.T) {
				t.Parallel()
				if store == "s3" {
					fn(t, newS3Env(t, d, opts...))
					return
				}
				fn(t, newEnv(t, d, opts...))
			})
		}
	}
}

// newS3Env is newEnv with the media in a bucket of an S3 server started for
// the test.
func newS3Env(t *testing.T, dialect string, opts ...envOption) *env {
	t.Helper()
	srv := s3test.StartServer(t)
	e := newEnv(t, dialect, append(opts, func(c *app.Config) { c.MediaURL = srv.URL })...)
	e.s3 = srv
	return e
}

var testMaster = bytes.Repeat([]byte{7}, 32)

func newEnv(t *testing.T, dialect string, opts ...envOption) *env {
	t.Helper()
	db := dbtest.Open(t, dialect)
	keys, err := app.DeriveKeys(testMaster)
	if err != nil {
		t.Fatal(err)
	}
	clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	cfg := &app.Config{Listen: "127.0.0.1:0", BaseURL: "http://hub.test", DataDir: t.TempDir(), MaxUpload: app.DefaultMaxUpload}
	for _, o := range opts {
		o(cfg)
	}
	logBuf := &logtest.Buffer{}
	svc := acl.NewService(db, clock, keys)
	if cfg.MediaURL == "" {
		cfg.MediaURL = "file://" + filepath.Join(cfg.DataDir, "media")
	}
	store, err := media.OpenStore(context.Background(), cfg.MediaURL, s3Env)
	if err != nil {
		t.Fatal(err)
	}
	cs := content.NewService(db, clock, svc, store, cfg.MaxUpload)
	srv, err := web.New(web.Deps{Config: cfg, DB: db, ACL: svc, Content: cs, Clock: clock, Keys: keys,
		Logger: slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, svc: svc, cs: cs, srv: srv, clock: clock, cfg: cfg, keys: keys, logBuf: logBuf}
}

// member creates a member with the password "password-<handle>".
func (e *env) member(handle string) *acl.Member {
	e.t.Helper()
	m, err := e.svc.CreateMember(context.Background(), handle, strings.ToUpper(handle[:1])+handle[1:], "password-"+handle)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// client is a cookie-keeping browser against the server under test.
type client struct {
	e       *env
	cookies map[string]*http.Cookie
	remote  string
}

func (e *env) client() *client {
	return &client{e: e, cookies: map[string]*http.Cookie{}, remote: "198.51.100.7:4444"}
}

// do sends req through Fiber (no network) from the client's address and
// keeps the cookies it sets.
func (cl *client) do(req *http.Request) *http.Response {
	cl.e.t.Helper()
	return cl.doFrom(cl.remote, req)
}

// doFrom sends req as if it came from the peer address remote ("ip:port").
// App.Test always reports the peer as 0.0.0.0, so tests of per-network
// throttling and of trusted proxies hand the request to the server's
// fasthttp handler with the peer address they need.
func (cl *client) doFrom(remote string, req *http.Request) *http.Response {
	t := cl.e.t
	t.Helper()
	for _, c := range cl.cookies {
		req.AddCookie(c)
	}
	if req.ContentLength > 0 && req.Header.Get("Content-Length") == "" {
		req.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	dump, err := httputil.DumpRequest(req, true)
	if err != nil {
		t.Fatal(err)
	}
	// Read as the server does (DisablePreParseMultipartForm): the body,
	// multipart or not, stays for the handler to parse.
	var freq fasthttp.Request
	br := bufio.NewReader(bytes.NewReader(dump))
	if err := freq.Header.Read(br); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	if err := freq.ContinueReadBody(br, 0, false); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	addr, err := net.ResolveTCPAddr("tcp", remote)
	if err != nil {
		t.Fatal(err)
	}
	var fctx fasthttp.RequestCtx
	fctx.Init(&freq, addr, nil)
	cl.e.srv.App().Handler()(&fctx)
	var out bytes.Buffer
	if _, err := fctx.Response.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), req)
	if err != nil {
		t.Fatalf("%s %s: read response: %v", req.Method, req.URL, err)
	}
	oaCheck(t, req, oaRequestBody(t, req), resp)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(cl.cookies, c.Name)
		} else {
			cl.cookies[c.Name] = c
		}
	}
	return resp
}

func (cl *client) get(path string) *http.Response {
	return cl.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// postForm posts a form; when csrfFrom is not empty the CSRF token is taken
// from that page first.
func (cl *client) postForm(path string, form url.Values, csrfFrom string) *http.Response {
	cl.e.t.Helper()
	if csrfFrom != "" {
		form.Set("_csrf", cl.csrf(csrfFrom))
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return cl.do(req)
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf fetches a page and returns the CSRF token of its forms.
func (cl *client) csrf(page string) string {
	cl.e.t.Helper()
	resp := cl.get(page)
	body := readBody(cl.e.t, resp)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		cl.e.t.Fatalf("no CSRF token on %s (status %d)", page, resp.StatusCode)
	}
	return m[1]
}

// login signs the client in and fails the test if it does not work.
func (cl *client) login(handle string) {
	cl.e.t.Helper()
	resp := cl.postForm("/login", url.Values{"handle": {handle}, "password": {"password-" + handle}}, "/login")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		cl.e.t.Fatalf("login %s: status %d, location %q", handle, resp.StatusCode, resp.Header.Get("Location"))
	}
}

// api sends a JSON API request with a bearer token.
func (e *env) api(token, method, path string, body string) *http.Response {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.RemoteAddr = "198.51.100.9:5555"
	resp, err := e.test(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// apiUndocumented sends an API request that is meant to miss every
// documented operation (an unknown path or method); the answer must be the
// API's error body (oaCheckUndocumented).
func (e *env) apiUndocumented(token, method, path string) *http.Response {
	e.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	oaCheckUndocumented(e.t, req, resp)
	return resp
}

// test sends req through Fiber's App.Test and checks an API answer against
// the OpenAPI document (oaCheck).
func (e *env) test(req *http.Request) (*http.Response, error) {
	e.t.Helper()
	body := oaRequestBody(e.t, req)
	resp, err := e.srv.App().Test(req, -1)
	if err == nil {
		oaCheck(e.t, req, body, resp)
	}
	return resp, err
}

// apiToken makes a personal API token for m with the scope.
func (e *env) apiToken(m *acl.Member, scope string) string {
	e.t.Helper()
	_, secret, err := e.svc.CreateAPIToken(context.Background(), m.ID, "test", scope, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return string(b)
}

// guestCookieName is the name of the guest-session cookie on this server.
func (e *env) guestCookieName() string {
	if strings.HasPrefix(e.cfg.BaseURL, "https://") {
		return "__Host-hs_guest"
	}
	return "hs_guest"
}

// svcSecret returns the secret of a guest token, as its owner may copy it.
func (e *env) svcSecret(t *acl.GuestToken) string {
	e.t.Helper()
	secret, err := e.svc.TokenSecret(context.Background(), t.OwnerID, t.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}
