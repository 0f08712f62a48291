package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
)

// startServeMetrics runs serve with a metrics listener on a free port and
// returns the public address, the metrics address and the log so far.
func startServeMetrics(t *testing.T, getenv func(string) string, args ...string) (addr, metricsAddr string, logs func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, metricsReady := make(chan string, 1), make(chan string, 1)
	var stderr logtest.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: getenv,
		Ready: func(a string) { ready <- a }, MetricsReady: func(a string) { metricsReady <- a }}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...))
	}()
	for addr == "" || metricsAddr == "" {
		select {
		case addr = <-ready:
		case metricsAddr = <-metricsReady:
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped before it was ready: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Second):
			cancel()
			t.Fatalf("serve did not become ready\n%s", stderr.String())
		}
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	return addr, metricsAddr, stderr.String
}

// scrape fetches /metrics and parses it with Prometheus' text parser.
func scrape(t *testing.T, metricsAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics listener: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels include
// want (a counter, gauge or untyped value, or a histogram's count), and
// whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// hub is a served hub with one member, her write API token and a client
// that keeps no cookies.
type hub struct {
	t                  *testing.T
	base, metricsAddr  string
	apiToken, password string
	logs               func() string
	client             *http.Client
	responseIDs        []string // X-Request-ID of every answer seen
}

func newHub(t *testing.T, dialect string, extra ...string) *hub {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--database-url", dbtest.URL(t, dialect)}
	h := &hub{t: t, password: "correct horse battery staple"}
	var out bytes.Buffer
	m := &Main{Stdin: strings.NewReader(h.password + "\n"), Stdout: &out, Stderr: &out, Getenv: env()}
	if err := m.Run(context.Background(), append([]string{"member", "create", "--handle", "alice", "--log-format", "json"}, args...)); err != nil {
		t.Fatalf("member create: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), h.password) {
		t.Errorf("member create printed the password:\n%s", out.String())
	}
	tok, err := run(t, env(), "", append([]string{"apitoken", "create", "--handle", "alice", "--scope", "write"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.apiToken = strings.TrimSpace(tok)
	addr, maddr, logs := startServeMetrics(t, env(), append(args, extra...)...)
	h.base, h.metricsAddr, h.logs = "http://"+addr, maddr, logs
	h.client = &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return h
}

// do sends a request and returns the status and body.
func (h *hub) do(c *http.Client, req *http.Request) (int, []byte, http.Header) {
	h.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h.responseIDs = append(h.responseIDs, resp.Header.Get("X-Request-ID"))
	return resp.StatusCode, body, resp.Header
}

func (h *hub) get(c *http.Client, path string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
	code, body, _ := h.do(c, req)
	return code, body
}

// api calls the JSON API as the member and decodes the answer into out.
func (h *hub) api(method, path, contentType string, body io.Reader, want int, out any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+"/api/v1"+path, body)
	req.Header.Set("Authorization", "Bearer "+h.apiToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	code, b, _ := h.do(h.client, req)
	if code != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// share makes a guest link for an item and returns its secret.
func (h *hub) share(item int64) string {
	var tok struct{ Token string }
	h.api(http.MethodPost, "/items/"+strconv.FormatInt(item, 10)+"/share", "application/json", strings.NewReader(`{}`), http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, "hsg_") {
		h.t.Fatalf("share answered token %q", tok.Token)
	}
	return tok.Token
}

// uploadPNG uploads a real PNG, into the album if one is given, and
// returns the photo's id and the file's size.
func (h *hub) uploadPNG(album ...int64) (int64, int) {
	h.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for x := 0; x < 320; x++ {
		for y := 0; y < 200; y++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var file bytes.Buffer
	if err := png.Encode(&file, img); err != nil {
		h.t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, a := range album {
		mw.WriteField("album_id", strconv.FormatInt(a, 10))
	}
	fw, _ := mw.CreateFormFile("file", "photo.png")
	fw.Write(file.Bytes())
	mw.Close()
	var photo struct{ ID int64 }
	h.api(http.MethodPost, "/photos", mw.FormDataContentType(), &body, http.StatusCreated, &photo)
	return photo.ID, file.Len()
}

func newCookieClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// The metrics listener serves Prometheus' text format, apart from the
// public listener; guest traffic moves its counters by exactly what was
// done, under route patterns only.
func TestServeMetricsScrape(t *testing.T) {
	t.Parallel()
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, dialect)
			var post struct{ ID int64 }
			h.api(http.MethodPost, "/posts", "application/json", strings.NewReader(`{"title":"Holiday","body":"We went to the sea."}`), http.StatusCreated, &post)
			photo, size := h.uploadPNG()
			postZat, photoZat := h.share(post.ID), h.share(photo)
			postPath, photoPath := fmt.Sprintf("/items/%d", post.ID), fmt.Sprintf("/items/%d", photo)

			// Two openings, three views of the post, one of the photo and
			// its thumbnail twice.
			guest := newCookieClient()
			if code, _ := h.get(guest, postPath+"?zat="+postZat); code != http.StatusSeeOther {
				t.Fatalf("open the post's link: %d", code)
			}
			if code, _ := h.get(guest, photoPath+"?zat="+photoZat); code != http.StatusSeeOther {
				t.Fatalf("open the photo's link: %d", code)
			}
			for range 3 {
				if code, body := h.get(guest, postPath); code != http.StatusOK {
					t.Fatalf("guest view of the post: %d %s", code, body)
				}
			}
			if code, _ := h.get(guest, photoPath); code != http.StatusOK {
				t.Fatalf("guest view of the photo: %d", code)
			}
			code, thumb := h.get(guest, fmt.Sprintf("/media/%d/thumb", photo))
			if code != http.StatusOK || len(thumb) == 0 {
				t.Fatalf("guest thumbnail: %d, %d bytes", code, len(thumb))
			}
			if code, again := h.get(guest, fmt.Sprintf("/media/%d/thumb", photo)); code != http.StatusOK || !bytes.Equal(again, thumb) {
				t.Fatalf("guest thumbnail again: %d, %d bytes (%d the first time)", code, len(again), len(thumb))
			}
			// One unknown token: a denial.
			if code, _ := h.get(newCookieClient(), postPath+"?zat=hsg_"+strings.Repeat("A", 43)); code != http.StatusNotFound {
				t.Fatalf("unknown zat: %d, want 404", code)
			}
			// The public listener has no /metrics.
			if code, _ := h.get(h.client, "/metrics"); code != http.StatusNotFound {
				t.Errorf("GET /metrics on the public listener: %d, want 404", code)
			}

			want := map[string]float64{
				"hubshare_guest_openings_total":  2,
				"hubshare_guest_views_total":     4,
				"hubshare_guest_downloads_total": 0,
			}
			// The access log is written every 2 seconds: wait (bounded) until
			// it has flushed the six events.
			var fams map[string]*dto.MetricFamily
			deadline := time.Now().Add(20 * time.Second)
			for {
				fams = scrape(t, h.metricsAddr)
				flushed, _ := value(fams, "hubshare_access_log_flushed_events_total", nil)
				depth, ok := value(fams, "hubshare_access_log_queue_depth", nil)
				if flushed == 6 && depth == 0 && ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("access log: %v flushed, %v queued after 20 s; want 6 and 0", flushed, depth)
				}
				time.Sleep(200 * time.Millisecond)
			}
			for name, n := range want {
				if got, ok := value(fams, name, nil); !ok || got != n {
					t.Errorf("%s = %v (present %v), want %v", name, got, ok, n)
				}
			}
			checks := []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"hubshare_guest_denials_total", map[string]string{"reason": "unknown_token"}, 1},
				// The first view of each item runs the statement; the later
				// post views and the thumbnails (the photo, seen by the same
				// session) are the kept views.
				{"hubshare_guest_view_cache_total", map[string]string{"result": "miss"}, 2},
				{"hubshare_guest_view_cache_total", map[string]string{"result": "hit"}, 4},
				// The thumbnail's file is read once, then kept.
				{"hubshare_media_cache_total", map[string]string{"result": "miss"}, 1},
				{"hubshare_media_cache_total", map[string]string{"result": "hit"}, 1},
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "/items/:id", "method": "GET", "status": "2xx"}, 4},
				// The two link openings; the unknown zat is a 404.
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "/items/:id", "method": "GET", "status": "3xx"}, 2},
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "/items/:id", "method": "GET", "status": "4xx"}, 1},
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "/media/:id/:variant", "method": "GET", "status": "2xx"}, 2},
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "/api/v1/photos", "method": "POST", "status": "2xx"}, 1},
				{"hubshare_http_request_duration_seconds", map[string]string{"route": "unmatched", "method": "GET", "status": "4xx"}, 1},
				{"hubshare_media_served_bytes_total", map[string]string{"variant": "thumb"}, float64(2 * len(thumb))},
				{"hubshare_uploads_in_progress", nil, 0},
				{"hubshare_access_log_dropped_events_total", nil, 0},
				{"hubshare_access_log_flush_retries_total", nil, 0},
				{"hubshare_access_log_merged_events_total", nil, 0},
			}
			for _, c := range checks {
				if got, ok := value(fams, c.name, c.labels); !ok || got != c.want {
					t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
				}
			}
			// Every variant of the photo was stored: more than the upload.
			if got, _ := value(fams, "hubshare_media_stored_bytes_total", nil); got <= float64(size) {
				t.Errorf("hubshare_media_stored_bytes_total = %v, want more than the %d bytes uploaded", got, size)
			}
			for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "go_build_info"} {
				if _, ok := value(fams, name, nil); !ok {
					t.Errorf("no %s", name)
				}
			}
			if got, ok := value(fams, "go_sql_max_open_connections", map[string]string{"db_name": dialect}); !ok || got <= 0 {
				t.Errorf("go_sql_max_open_connections{db_name=%q} = %v (present %v), want the pool's limit", dialect, got, ok)
			}
			// Route labels are patterns, never raw paths with ids.
			digits := regexp.MustCompile(`/[0-9]+(/|$)`)
			for _, m := range fams["hubshare_http_request_duration_seconds"].Metric {
				for _, l := range m.Label {
					if l.GetName() == "route" && digits.MatchString(l.GetValue()) {
						t.Errorf("route label %q holds a raw path", l.GetValue())
					}
				}
			}

			// Unknown tokens from one network are throttled: every 429 is
			// counted once.
			refused := 0
			for i := 0; i < 20 && refused < 2; i++ {
				code, _ := h.get(newCookieClient(), postPath+"?zat=hsg_"+strings.Repeat("B", 43))
				if code == http.StatusTooManyRequests {
					refused++
				} else if code != http.StatusNotFound {
					t.Fatalf("unknown zat %d: %d", i, code)
				}
			}
			if refused != 2 {
				t.Fatalf("20 unknown zats from one network were never throttled")
			}
			fams = scrape(t, h.metricsAddr)
			if got, _ := value(fams, "hubshare_throttled_total", map[string]string{"action": "zat"}); got != 2 {
				t.Errorf("hubshare_throttled_total{action=zat} = %v, want 2", got)
			}
			if got, _ := value(fams, "hubshare_http_request_duration_seconds", map[string]string{"route": "/items/:id", "status": "4xx"}); got < 3 {
				t.Errorf("4xx answers of /items/:id = %v, want the 404s and 429s", got)
			}
		})
	}
}

// An album's ZIP download counts its photos' bytes as served, by the
// variant sent, and one guest download.
func TestServeMetricsAlbumDownload(t *testing.T) {
	t.Parallel()
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, dialect)
			var album struct{ ID int64 }
			h.api(http.MethodPost, "/albums", "application/json", strings.NewReader(`{"title":"Sea"}`), http.StatusCreated, &album)
			h.uploadPNG(album.ID)
			h.uploadPNG(album.ID)
			var tok struct{ Token string }
			h.api(http.MethodPost, fmt.Sprintf("/items/%d/share", album.ID), "application/json",
				strings.NewReader(`{"name":"Family","can_download":true}`), http.StatusCreated, &tok)
			guest := newCookieClient()
			if code, _ := h.get(guest, fmt.Sprintf("/items/%d?zat=%s", album.ID, tok.Token)); code != http.StatusSeeOther {
				t.Fatalf("open the album's link: %d", code)
			}
			code, body := h.get(guest, fmt.Sprintf("/items/%d/download", album.ID))
			if code != http.StatusOK {
				t.Fatalf("album download: %d", code)
			}
			zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
			if err != nil || len(zr.File) != 2 {
				t.Fatalf("album download is not a ZIP of two photos: %v", err)
			}
			var inZip uint64
			for _, f := range zr.File {
				inZip += f.UncompressedSize64
			}
			fams := scrape(t, h.metricsAddr)
			// Without show_metadata a guest gets the clean variant.
			if got, _ := value(fams, "hubshare_media_served_bytes_total", map[string]string{"variant": "clean"}); got != float64(inZip) {
				t.Errorf("clean bytes served = %v, want the %d bytes in the ZIP", got, inZip)
			}
			if got, _ := value(fams, "hubshare_guest_downloads_total", nil); got != 1 {
				t.Errorf("guest downloads = %v, want 1", got)
			}
		})
	}
}

// With --log-format json every line is a JSON object; each request line
// carries the request id the client got in X-Request-ID, so does a line a
// handler logs (the first member's creation), and no secret (setup code
// after its one line, zat, API token, password, cookie value) is written.
func TestServeJSONLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--data-dir", dir}
	addr, _, logs := startServeMetrics(t, env(), append(args, "--log-format", "json")...)
	h := &hub{t: t, base: "http://" + addr, logs: logs, password: "correct horse battery staple",
		client: &http.Client{Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	var setupCode string
	for _, line := range strings.Split(logs(), "\n") {
		var rec struct {
			SetupCode string `json:"setup_code"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.SetupCode != "" {
			setupCode = rec.SetupCode
		}
	}
	if setupCode == "" {
		t.Fatalf("no setup_code in the JSON log:\n%s", logs())
	}
	// The first member, through the browser.
	member := newCookieClient()
	code, page := h.get(member, "/")
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if code != http.StatusOK || csrf == nil {
		t.Fatalf("GET / on a new hub: %d", code)
	}
	form := url.Values{"_csrf": {html.UnescapeString(string(csrf[1]))}, "code": {setupCode}, "handle": {"alice"},
		"password": {h.password}, "password2": {h.password}}
	req, _ := http.NewRequest(http.MethodPost, h.base+"/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body, hdr := h.do(member, req)
	if code != http.StatusSeeOther {
		t.Fatalf("POST /setup: %d %s", code, body)
	}
	setupID := hdr.Get("X-Request-ID")
	if code, _ := h.get(member, "/"); code != http.StatusOK {
		t.Fatalf("home after the first run: %d", code)
	}
	tok, err := run(t, env(), "", append([]string{"apitoken", "create", "--handle", "alice", "--scope", "write"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.apiToken = strings.TrimSpace(tok)

	var post struct{ ID int64 }
	h.api(http.MethodPost, "/posts", "application/json", strings.NewReader(`{"title":"Secret plans","body":"..."}`), http.StatusCreated, &post)
	zat := h.share(post.ID)
	guest := newCookieClient()
	path := fmt.Sprintf("/items/%d", post.ID)
	if code, _ := h.get(guest, path+"?zat="+zat); code != http.StatusSeeOther {
		t.Fatalf("open the link: %d", code)
	}
	if code, _ := h.get(guest, path); code != http.StatusOK {
		t.Fatalf("guest view: %d", code)
	}
	// A crawler's bearer guest token.
	req, _ = http.NewRequest(http.MethodGet, h.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+zat)
	if code, _, _ := h.do(h.client, req); code != http.StatusOK {
		t.Fatalf("bearer guest view: %d", code)
	}

	text := h.logs()
	secrets := []string{zat, h.apiToken, h.password, url.QueryEscape(zat)}
	u, _ := url.Parse(h.base)
	for _, jar := range []http.CookieJar{guest.Jar, member.Jar} {
		for _, ck := range jar.Cookies(u) {
			secrets = append(secrets, ck.Value)
		}
	}
	if len(secrets) < 6 {
		t.Fatalf("only %d secrets to look for: the clients hold no cookies", len(secrets))
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(text, s) {
			t.Errorf("the log holds a secret %q", s[:8]+"…")
		}
	}
	if n := strings.Count(text, setupCode); n != 1 {
		t.Errorf("the setup code is in %d log lines, want only the one that announces it", n)
	}
	byID := map[string]bool{}
	requests, created := 0, false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, sc.Text())
			continue
		}
		id, _ := rec["request_id"].(string)
		switch msg, _ := rec["msg"].(string); {
		case msg == "request":
			requests++
			if id == "" {
				t.Errorf("request line without request_id: %s", sc.Text())
			}
			byID[id] = true
		case strings.HasPrefix(msg, "first member created"):
			created = true
			if id == "" || id != setupID {
				t.Errorf("the first member's line has request_id %q, want %q of POST /setup: %s", id, setupID, sc.Text())
			}
		}
	}
	if !created {
		t.Errorf("no line about the first member\n%s", text)
	}
	if requests < 8 {
		t.Errorf("%d request lines, want one per request (at least 8)\n%s", requests, text)
	}
	for _, id := range h.responseIDs {
		if id == "" || !byID[id] {
			t.Errorf("the answer with X-Request-ID %q has no log line with that request_id", id)
		}
	}
}

// hubshare version prints the module, the VCS revision and the Go version
// that the build recorded, as `go version -m` reads them from the binary;
// built from a git clone, the revision is the commit checked out.
func TestVersionOfBuiltBinary(t *testing.T) {
	t.Parallel()
	settings := checkVersion(t, ".")
	if settings["vcs.revision"] != "" {
		return
	}
	// Go records no VCS information in a linked worktree (its .git is a
	// file): build a clone of the commit checked out instead.
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to build from: %v", err)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if out, err := exec.Command("git", "-C", clone, "checkout", "--quiet", "--detach", strings.TrimSpace(string(head))).CombinedOutput(); err != nil {
		t.Fatalf("git checkout: %v\n%s", err, out)
	}
	settings = checkVersion(t, filepath.Join(clone, "cmd", "hubshare"))
	if got, want := settings["vcs.revision"], strings.TrimSpace(string(head)); got != want {
		t.Errorf("built from a clone at %s, the binary records revision %q", want, got)
	}
	if settings["vcs.modified"] != "false" || settings["vcs.time"] == "" {
		t.Errorf("built from a clean clone: vcs.modified %q, vcs.time %q", settings["vcs.modified"], settings["vcs.time"])
	}
}

// checkVersion builds the command in dir, checks that `hubshare version`
// prints what `go version -m` reads from the binary, and returns the
// binary's build settings.
func checkVersion(t *testing.T, dir string) map[string]string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hubshare")
	build := exec.Command("go", "build", "-buildvcs=auto", "-trimpath", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("hubshare version: %v\n%s", err, out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, meta)
	}
	// go version -m prints "\tbuild\tkey=value" and "\tmod\tpath\tversion".
	settings := map[string]string{}
	var module, modVersion, goVersion string
	for i, line := range strings.Split(string(meta), "\n") {
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case i == 0:
			goVersion = strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
		case len(f) >= 3 && f[0] == "mod":
			module, modVersion = f[1], f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				settings[k] = v
			}
		}
	}
	unknown := func(v string) string {
		if v == "" {
			return "(unknown)"
		}
		return v
	}
	want := []string{
		"hubshare " + modVersion,
		"module:   " + module,
		"revision: " + unknown(settings["vcs.revision"]),
		"time:     " + unknown(settings["vcs.time"]),
		"modified: " + unknown(settings["vcs.modified"]),
		"go:       " + goVersion,
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Errorf("hubshare version:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if module != "hubshare" || goVersion == "" {
		t.Errorf("go version -m: module %q, Go %q", module, goVersion)
	}
	return settings
}
