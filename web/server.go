// Package web is the HTTP edge of hubshare, on Fiber: routes, thin handlers,
// middleware (recovery, request ids, an access log without secrets, security
// headers, CSRF, sessions, the zat exchange, throttling), the one error
// handler, and the embedded templates and static files. The JSON API lives
// here too, beside the HTML handlers that do the same thing.
package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"
	"github.com/valyala/fasthttp"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/metrics"
	"hubshare/content"
)

//go:embed templates
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the web layer needs from the rest of the service.
type Deps struct {
	Config  *app.Config
	DB      *bun.DB
	ACL     *acl.Service
	Content *content.Service
	Clock   app.Clock
	Keys    *app.Keys
	Logger  *slog.Logger
	// Metrics, when set, times requests and counts media bytes served.
	Metrics *metrics.Metrics
}

// Server is the HTTP server.
type Server struct {
	Deps
	app     *fiber.App
	cookies cookieNames
	started time.Time
	proxies []netip.Prefix
	setup   firstRun
}

// Body limits: forms and JSON are small; uploads have their own, enforced
// while streaming after authentication.
const smallBodyLimit = 1 << 20

// New builds the server and its routes; templates are parsed here so that a
// broken template fails the start, not a request.
func New(d Deps) (*Server, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = app.SystemClock{}
	}
	tpl, err := fs.Sub(templatesFS, "templates")
	if err != nil {
		return nil, err
	}
	engine := newViews(tpl)
	if err := engine.Load(); err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s := &Server{Deps: d, cookies: newCookieNames(d.Config.Secure()), started: time.Now()}
	cfg := fiber.Config{
		AppName:                      "hubshare",
		Views:                        engine,
		ViewsLayout:                  "layouts/main",
		ErrorHandler:                 s.handleError,
		DisableStartupMessage:        true,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    smallBodyLimit,
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 10 * time.Minute,
		IdleTimeout:                  2 * time.Minute,
		ReadBufferSize:               16 << 10,
	}
	// Forwarding headers are read only by clientIP, and only from the
	// trusted proxies; Fiber's own trust check stays on so that nothing in
	// Fiber believes X-Forwarded-* from anyone else either.
	cfg.EnableTrustedProxyCheck = true
	cfg.TrustedProxies = d.Config.TrustedProxies
	for _, p := range d.Config.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
			}
			pfx = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		s.proxies = append(s.proxies, pfx.Masked())
	}
	s.app = fiber.New(cfg)
	s.routes()
	// Fiber lists the mounted apps' prefixes for views on the first Render,
	// without a lock, so the first renders of concurrent requests race on
	// that list. One render now makes it before any request comes.
	warm := s.app.AcquireCtx(&fasthttp.RequestCtx{})
	_ = warm.Render("error", fiber.Map{"Title": "", "Status": 0, "Message": ""}, "layouts/bare")
	s.app.ReleaseCtx(warm)
	return s, nil
}

// App returns the Fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

var templateFuncs = template.FuncMap{
	"timefmt": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2 Jan 2006 15:04 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		return ""
	},
	"isotime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"lower":   strings.ToLower,
	"deref": func(f *float64) float64 {
		if f == nil {
			return 0
		}
		return *f
	},
}
