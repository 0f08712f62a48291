package web_test

// The browser harness: the real server on a loopback port, headless
// Chromium, viewports, screenshots and axe-core. The journey test
// (e2e_test.go) and the page-kind walk (pages_browser_test.go) use it.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// serveLive starts the server under test on a loopback port, as a browser
// reaches it, and returns it with its base URL. Its clock is the real one:
// the browser's cookies expire by it.
func serveLive(t *testing.T, opts ...envOption) (*env, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newEnv(t, "sqlite", append([]envOption{withBaseURL(base)}, opts...)...)
	e.clock.Set(time.Now())
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
	return e, base
}

// chromiumPath finds the browser; without one the browser tests skip,
// except in CI, where its absence is a failure of the CI setup.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH in CI")
	}
	t.Skip("no Chromium on PATH")
	return ""
}

// browser starts a headless Chromium with a fresh profile.
func browser(t *testing.T, ctx context.Context, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// Confirmation dialogs (revoke) are accepted, as a person would.
	err := chromedp.Listen(bctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// artifacts is where the browser test leaves its screenshots.
func artifacts(t *testing.T) string {
	dir := os.Getenv("HUBSHARE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata-artifacts")
	}
	dir = filepath.Join(dir, "e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifacts(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// steps runs actions one by one, each with its own time limit, and on a
// failure saves a screenshot and says which step failed.
func steps(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) error {
	t.Helper()
	for i, a := range actions {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := chromedp.Do(sctx, a)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			screenshot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
			return fmt.Errorf("%s: step %d at %s: %w", what, i+1, loc, err)
		}
	}
	return nil
}

type css = chromedp.CSS

// newTab opens a tab with a profile of its own (cookies, cache) in the
// browser of bctx, as a second person on another machine would have.
func newTab(t *testing.T, bctx context.Context) context.Context {
	t.Helper()
	if err := chromedp.Do(bctx); err != nil { // the browser runs before a tab joins it
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// The two viewports every page is checked at.
type viewport struct {
	name string // in screenshot names: "desktop", "phone"
	w, h int64
}

var (
	desktop   = viewport{"desktop", 1280, 800}
	phone     = viewport{"phone", 390, 844}
	viewports = []viewport{desktop, phone}
)

// atViewport sizes the tab; below 600 pixels it is a phone: mobile layout
// viewport (the page's meta viewport applies) and touch.
func atViewport(ctx context.Context, w, h int64) error {
	if w < 600 {
		return chromedp.Do(ctx, chromedp.EmulateViewport(w, h, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	}
	return chromedp.Do(ctx, chromedp.EmulateViewport(w, h))
}

// darkMode makes the tab prefer a dark colour scheme, as a system set to
// dark does; lightMode undoes it.
func darkMode(ctx context.Context) error { return colorScheme(ctx, "dark") }

func lightMode(ctx context.Context) error { return colorScheme(ctx, "light") }

func colorScheme(ctx context.Context, scheme string) error {
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	return err
}

// noHorizontalScroll fails when the page is wider than the window, naming
// the elements that stick out.
func noHorizontalScroll(t *testing.T, ctx context.Context) {
	t.Helper()
	o, err := sideways(ctx)
	if err != nil {
		t.Fatalf("measure the page: %v", err)
	}
	if o.Page != "" {
		t.Errorf("the page scrolls sideways: %s", o.Page)
	}
}

// noHiddenColumns fails when a box on the page (a table's wrapper, say)
// scrolls sideways, hiding part of its content, unless scrollKnown lists
// the page kind at that viewport.
func noHiddenColumns(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	o, err := sideways(ctx)
	if err != nil {
		t.Fatalf("measure the page: %v", err)
	}
	if len(o.Boxes) == 0 {
		return
	}
	msg := "content hidden in a box that scrolls sideways: " + strings.Join(o.Boxes, ", ")
	if why := scrollKnown[name]; why != "" {
		t.Logf("known, %s: %s", why, msg)
		return
	}
	t.Error(msg)
}

type overflow struct {
	Page  string   // why the page itself scrolls sideways, or ""
	Boxes []string // boxes inside it that scroll sideways
}

// sideways measures what is wider than the window: the page, and the boxes
// that scroll their content sideways.
func sideways(ctx context.Context) (overflow, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[overflow](`(() => {
		const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
			(typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
		const de = document.documentElement, limit = Math.min(de.clientWidth, window.innerWidth);
		let page = '';
		if (de.scrollWidth > limit) {
			const wide = [];
			for (const el of document.body.querySelectorAll('*')) {
				const r = el.getBoundingClientRect();
				if (r.right > limit + 1 && wide.length < 6) wide.push(name(el) + ' (right ' + Math.round(r.right) + ')');
			}
			page = de.scrollWidth + ' pixels wide in a window of ' + limit + '; sticking out: ' + wide.join(', ');
		}
		const boxes = [];
		for (const el of document.body.querySelectorAll('*')) {
			const ox = getComputedStyle(el).overflowX;
			if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
				boxes.push(name(el) + ' (' + el.scrollWidth + ' in ' + el.clientWidth + ')');
			}
		}
		return {page, boxes};
	})()`))
}

// shot saves a screenshot of the whole page as NAME.png in artifacts().
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name)
}

// axeSource reads axe.min.js of the pinned axe-core (installed by
// npm ci --prefix web/testdata/axe), or the file HUBSHARE_AXE_JS names.
// Without it the axe checks skip, except in CI, where they fail.
func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		path := os.Getenv("HUBSHARE_AXE_JS")
		if path == "" {
			path = filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			axeErr = fmt.Errorf("axe-core: %w (run: npm ci --prefix web/testdata/axe)", err)
			return
		}
		axeJS = string(b)
	})
	if axeErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(axeErr)
		}
		t.Skip(axeErr)
	}
	return axeJS
}

var (
	axeOnce sync.Once
	axeJS   string
	axeErr  error
)

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct {
		Target  string
		HTML    string
		Summary string
	}
}

// axeRun injects axe-core into the page (through the DevTools protocol,
// which the page's CSP does not govern) and returns its violations.
func axeRun(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	src := axeSource(t)
	has, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err == nil && !has {
		err = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src))
	}
	if err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then(r =>
		r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map(n => ({target: n.target.flat().join(' '), html: n.html.slice(0, 160), summary: n.failureSummary || ''}))})))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
	return vs
}

// axeCheck runs axe-core on the page and fails on every serious or
// critical violation that axeKnown does not list for the page kind;
// moderate and minor ones are logged.
func axeCheck(t *testing.T, ctx context.Context, kind string) {
	t.Helper()
	for _, v := range axeRun(t, ctx) {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.Target)
		}
		msg := fmt.Sprintf("axe %s [%s] on %s: %s — %s", v.ID, v.Impact, kind, v.Help, strings.Join(where, " | "))
		switch {
		case v.Impact != "serious" && v.Impact != "critical":
			t.Log(msg)
		case axeExcused(kind, v):
			t.Logf("known, to be fixed in the page's own part: %s", msg)
		default:
			for _, n := range v.Nodes {
				msg += fmt.Sprintf("\n\t%s\n\t%s", n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n\t"))
			}
			t.Error(msg)
		}
	}
}

// axeExcused reports whether axeKnown lists every element of the violation
// for the page kind.
func axeExcused(kind string, v axeViolation) bool {
	for _, n := range v.Nodes {
		if axeKnown[kind+" "+v.ID+" "+n.Target] == "" {
			return false
		}
	}
	return len(v.Nodes) > 0
}

// TestBrowserHarnessSeesDefects holds the checks to what they claim: on a
// real page made wrong on purpose, each reports the defect.
func TestBrowserHarnessSeesDefects(t *testing.T) {
	exe := chromiumPath(t)
	_, base := serveLive(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tab := newTab(t, browser(t, ctx, exe))
	if err := atViewport(tab, phone.w, phone.h); err != nil {
		t.Fatal(err)
	}
	open := func() {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(css(`input[name=handle]`))); err != nil {
			t.Fatal(err)
		}
	}
	spoil := func(js string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](js)); err != nil {
			t.Fatal(err)
		}
	}

	open()
	if o, err := sideways(tab); err != nil || o.Page != "" || len(o.Boxes) != 0 {
		t.Fatalf("the sign-in page as served: %+v %v", o, err)
	}
	// The page's CSP refuses style attributes; the CSSOM is allowed.
	spoil(`const d = document.createElement('div'); d.textContent = 'wide'; d.style.width = '1000px'; document.querySelector('main').append(d)`)
	if o, _ := sideways(tab); !strings.Contains(o.Page, "sticking out: div (right") {
		t.Errorf("a 1000-pixel block on a phone: %+v", o)
	}

	open()
	spoil(`const w = document.createElement('div'), d = document.createElement('div');
		w.id = 'wrap'; w.style.overflowX = 'auto'; d.textContent = 'wide'; d.style.width = '900px';
		w.append(d); document.querySelector('main').append(w)`)
	if o, _ := sideways(tab); o.Page != "" || len(o.Boxes) != 1 || !strings.HasPrefix(o.Boxes[0], "div#wrap") {
		t.Errorf("a box that scrolls sideways: %+v", o)
	}

	open()
	if vs := axeRun(t, tab); len(vs) != 0 {
		t.Fatalf("the sign-in page as served has axe violations: %+v", vs)
	}
	spoil(`document.querySelector('label input[name=handle]').parentElement.replaceWith(Object.assign(document.createElement('input'), {name: 'handle'}));
		const p = document.createElement('p'); p.textContent = 'faint'; p.style.color = '#ccc'; p.style.background = '#fff';
		document.querySelector('main').append(document.createElement('img'), p)`)
	seen := map[string]string{}
	for _, v := range axeRun(t, tab) {
		seen[v.ID] = v.Impact
	}
	for id, impact := range map[string]string{"label": "critical", "image-alt": "critical", "color-contrast": "serious"} {
		if seen[id] != impact {
			t.Errorf("axe-core on a page with the defect %s: %q (all: %v)", id, seen[id], seen)
		}
	}
	if err := darkMode(tab); err != nil {
		t.Fatal(err)
	}
	if dark, err := chromedp.Run(tab, chromedp.Evaluate[bool](`matchMedia('(prefers-color-scheme: dark)').matches`)); err != nil || !dark {
		t.Errorf("darkMode: the page does not see a dark scheme (%v)", err)
	}
}
