package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/content/media/s3test"
)

// instanceStorage returns the storage flags of instance i of a deployment
// under root: every instance has a data directory of its own and the same
// media store, one S3 bucket.
func instanceStorage(root, mediaURL string, i int) []string {
	return []string{"--data-dir", filepath.Join(root, fmt.Sprintf("instance-%d", i)), "--media-url", mediaURL}
}

// jobInterval is the interval of every periodic job in the test of several
// instances (HUBSHARE_TEST_JOB_INTERVAL).
const jobInterval = 250 * time.Millisecond

// browser is a guest's browser behind the deployment's proxy: its requests
// carry its network in X-Forwarded-For, so each guest is throttled as its
// own network, and its cookies go to every instance (cookies ignore ports).
type browser struct {
	t       *testing.T
	network string
	http    *http.Client
}

func newBrowser(t *testing.T, network string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, network: network, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) do(method, u string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", b.network)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Errorf("%s %s: %v", method, u, err)
		return 0, ""
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page)
}

func (b *browser) get(u string) (int, string) { return b.do(http.MethodGet, u, nil) }

var (
	landingCSRFRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	landingNextRE = regexp.MustCompile(`name="next" value="([^"]+)"`)
	jobRunRE      = regexp.MustCompile(`msg="job run" job=(\S+) run=(\d+)`)
)

// Two serve processes on one PostgreSQL database, one S3 bucket and one
// server key behave as one service: a photo uploaded on A is seen by a guest
// on B, whose session A accepts; a revoke on B is denied on A's next
// request; max uses stay exact with openings split between A and B; the
// throttle is shared; the access log holds every view of both after a
// graceful stop; and the periodic jobs ran once across the two.
func TestTwoInstancesShareOneDeployment(t *testing.T) {
	if !strings.Contains(strings.Join(dbtest.Dialects(), " "), "postgres") {
		t.Skip(dbtest.EnvPostgres + " is not set: several instances need PostgreSQL")
	}
	ctx := context.Background()
	root := t.TempDir()
	dbURL := dbtest.URL(t, "postgres")
	// One key for both: losing or splitting it breaks every cookie and link.
	keyFile := filepath.Join(root, "secret.key")
	if _, err := app.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	common := []string{"--secret-key-file", keyFile, "--trusted-proxies", "127.0.0.1"}
	getenv := env("HUBSHARE_DATABASE_URL", dbURL, "HUBSHARE_SECRET_KEY_FILE", keyFile, "HUBSHARE_DATA_DIR", filepath.Join(root, "admin"))
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	apiToken := strings.TrimSpace(out)

	mediaURL, s3env := s3test.Start(t)
	childEnv := append([]string{"HUBSHARE_DATABASE_URL=" + dbURL, "HUBSHARE_TEST_JOB_INTERVAL=" + jobInterval.String()}, s3env...)
	started := time.Now()
	a := spawnChild(t, childEnv, append(instanceStorage(root, mediaURL, 0), common...)...)
	b := spawnChild(t, childEnv, append(instanceStorage(root, mediaURL, 1), common...)...)
	baseA, baseB := "http://"+a.addr, "http://"+b.addr
	apiA := apiClient{t: t, base: baseA, token: apiToken}
	apiB := apiClient{t: t, base: baseB, token: apiToken}
	share := func(api apiClient, item int64, fields map[string]any) (id int64, link string) {
		t.Helper()
		body, _ := json.Marshal(fields)
		status, tok := api.do(http.MethodPost, fmt.Sprintf("/api/v1/items/%d/share", item), "application/json", body)
		if status != http.StatusCreated {
			t.Fatalf("share: %d %v", status, tok)
		}
		u, err := url.Parse(tok["link"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return int64(tok["id"].(float64)), u.RequestURI()
	}

	// 1. A photo uploaded on A is seen by a guest on B, and the guest's
	// session, sealed by B, is good on A.
	status, photo := apiA.upload(noisyJPEG(t, 800, 600))
	if status != http.StatusCreated {
		t.Fatalf("upload on A: %d %v", status, photo)
	}
	photoID := int64(photo["id"].(float64))
	tok1, link1 := share(apiA, photoID, map[string]any{"name": "guest on B"})
	guest := newBrowser(t, "10.1.0.1")
	if status, page := guest.get(baseB + link1); status != http.StatusOK {
		t.Fatalf("guest opening A's photo on B: %d\n%.300s", status, page)
	}
	statusB, largeB := guest.get(fmt.Sprintf("%s/media/%d/large", baseB, photoID))
	statusA, largeA := guest.get(fmt.Sprintf("%s/media/%d/large", baseA, photoID))
	if statusB != http.StatusOK || statusA != http.StatusOK || largeA != largeB || len(largeA) == 0 {
		t.Fatalf("the photo on B: %d (%d bytes), on A with B's session: %d (%d bytes)", statusB, len(largeB), statusA, len(largeA))
	}

	// 2. A revoke on B is denied on A's next request.
	if status, out := apiB.do(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tok1), "", nil); status != http.StatusNoContent {
		t.Fatalf("revoke on B: %d %v", status, out)
	}
	if status, _ := guest.get(fmt.Sprintf("%s/items/%d", baseA, photoID)); status != http.StatusNotFound {
		t.Errorf("A's next request after the revoke on B: %d, want 404", status)
	}

	// 3. Max uses stay exact: 16 guests, half on each instance, open a link
	// good for 5 uses at the same moment.
	const maxUses, openers = 5, 16
	tok2, link2 := share(apiB, photoID, map[string]any{"name": "five uses", "max_uses": maxUses})
	type opener struct {
		b          *browser
		base       string
		csrf, next string
	}
	ops := make([]*opener, openers)
	for i := range ops {
		o := &opener{b: newBrowser(t, fmt.Sprintf("10.2.0.%d", i+1)), base: baseA}
		if i%2 == 1 {
			o.base = baseB
		}
		status, page := o.b.get(o.base + link2)
		c, n := landingCSRFRE.FindStringSubmatch(page), landingNextRE.FindStringSubmatch(page)
		if status != http.StatusOK || c == nil || n == nil {
			t.Fatalf("landing page %d: %d\n%.400s", i, status, page)
		}
		o.csrf, o.next = html.UnescapeString(c[1]), html.UnescapeString(n[1])
		ops[i] = o
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := map[string]int{}
	gate := make(chan struct{})
	for _, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			o.b.do(http.MethodPost, o.base+"/open", url.Values{"_csrf": {o.csrf}, "next": {o.next}})
			if status, _ := o.b.get(fmt.Sprintf("%s/items/%d", o.base, photoID)); status == http.StatusOK {
				mu.Lock()
				opened[o.base]++
				mu.Unlock()
			}
		}()
	}
	close(gate)
	wg.Wait()
	if n := opened[baseA] + opened[baseB]; n != maxUses {
		t.Errorf("%d guests opened a link good for %d uses (A %d, B %d)", n, maxUses, opened[baseA], opened[baseB])
	}
	if status, tok := apiA.do(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", tok2), "", nil); status != http.StatusOK ||
		tok["uses"] != float64(maxUses) || tok["status"] != "used_up" {
		t.Errorf("the token after the openings: %d uses=%v status=%v", status, tok["uses"], tok["status"])
	}

	// 4. The throttle is shared: failures on A block the network on B,
	// even for a valid link; another network is not blocked.
	_, link4 := share(apiA, photoID, map[string]any{"name": "after the failures"})
	attacker := newBrowser(t, "10.3.0.1")
	for i := range 10 {
		if status, _ := attacker.get(fmt.Sprintf("%s/shared?zat=hsg_%040d", baseA, i)); status != http.StatusNotFound {
			t.Fatalf("bad link %d on A: %d, want 404", i, status)
		}
	}
	if status, _ := attacker.get(baseB + link4); status != http.StatusTooManyRequests {
		t.Errorf("a valid link on B from the network that failed on A: %d, want 429", status)
	}
	if status, _ := newBrowser(t, "10.3.0.2").get(baseB + link4); status != http.StatusOK {
		t.Errorf("a valid link on B from another network: %d, want 200", status)
	}

	// 5. Views on both instances at once, then a graceful stop of both:
	// the access log holds every one.
	const viewsEach = 150
	tok5, link5 := share(apiA, photoID, map[string]any{"name": "views"})
	viewer := newBrowser(t, "10.4.0.1")
	if status, _ := viewer.get(baseA + link5); status != http.StatusOK {
		t.Fatalf("opening the views link: %d", status)
	}
	for _, base := range []string{baseA, baseB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range viewsEach {
				if status, _ := viewer.get(fmt.Sprintf("%s/items/%d", base, photoID)); status != http.StatusOK {
					t.Errorf("view on %s: %d", base, status)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Let the jobs run for a while on both before the stop.
	time.Sleep(max(0, 3*time.Second-time.Since(started)))
	a.stop()
	b.stop()
	elapsed := time.Since(started)

	db, err := database.Open(ctx, dbURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(db)
	var views int
	if err := db.NewRaw("SELECT COALESCE(SUM(count), 0) FROM access_log WHERE token_id = ? AND event = 'view'", tok5).Scan(ctx, &views); err != nil {
		t.Fatal(err)
	}
	// The opening of the link shows the item once more.
	if want := 2*viewsEach + 1; views != want {
		t.Errorf("the access log holds %d views of the two instances, want %d", views, want)
	}

	// 6. Each job's runs, as both logged them, are numbered 1..n without a
	// gap or a repeat (each claimed once), match the lease row, and are no
	// more than one instance on its own would have made in the time.
	for _, job := range []string{"housekeeping", "media-sweep"} {
		seen := map[int]string{}
		for name, c := range map[string]*child{"A": a, "B": b} {
			for _, m := range jobRunRE.FindAllStringSubmatch(c.logText(), -1) {
				if m[1] != job {
					continue
				}
				n, _ := strconv.Atoi(m[2])
				if prev, dup := seen[n]; dup {
					t.Errorf("%s run %d was claimed by %s and by %s", job, n, prev, name)
				}
				seen[n] = name
			}
		}
		var runs int
		if err := db.NewRaw("SELECT runs FROM job_leases WHERE name = ?", job).Scan(ctx, &runs); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= runs; n++ {
			if seen[n] == "" {
				t.Errorf("%s run %d of %d was not logged", job, n, runs)
			}
		}
		if len(seen) != runs {
			t.Errorf("%s: %d runs logged, %d in the lease row", job, len(seen), runs)
		}
		// One run per interval across both, plus the start-up sweep of
		// each instance; without the lease each instance would run its
		// own schedule, about twice as many.
		limit := int(elapsed/jobInterval) + 3
		if runs > limit || runs < 2 {
			t.Errorf("%s ran %d times in %v at one run per %v (want 2..%d)", job, runs, elapsed.Round(time.Millisecond), jobInterval, limit)
		}
		byA := 0
		for _, who := range seen {
			if who == "A" {
				byA++
			}
		}
		t.Logf("%s: %d runs in %v (A %d, B %d)", job, runs, elapsed.Round(time.Millisecond), byA, runs-byA)
	}
	if t.Failed() {
		t.Logf("A:\n%s\nB:\n%s", a.logText(), b.logText())
	}
}
