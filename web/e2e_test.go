package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// gpsJPEG writes a real photo carrying GPS coordinates and a camera model.
func gpsJPEG(t *testing.T) string {
	t.Helper()
	exiftool, err := exec.LookPath("exiftool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no exiftool in CI")
		}
		t.Skip("no exiftool")
	}
	path := filepath.Join(t.TempDir(), "IMG_2041.jpg")
	if err := os.WriteFile(path, testJPEG(t, 640, 480), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exiftool, "-overwrite_original", "-GPSLatitude=43.2965", "-GPSLatitudeRef=N",
		"-GPSLongitude=5.3698", "-GPSLongitudeRef=E", "-Make=Canon", "-Model=Canon EOS R6", "-DateTimeOriginal=2026:07:14 18:30:00", path).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	if !hasGPS(t, path) {
		t.Fatal("the test photo has no GPS tags")
	}
	return path
}

func hasGPS(t *testing.T, path string) bool {
	t.Helper()
	out, err := exec.Command("exiftool", "-gps:all", "-a", "-G1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	return strings.Contains(string(out), "GPS")
}

var itemPathRE = regexp.MustCompile(`/items/(\d+)`)

// TestBrowserShareJourney is journey 1 to 4 in a real browser: the owner
// uploads a photo with GPS into an album, creates a guest link from the
// share panel and also opens the album to that token; a recipient in a fresh
// profile opens the link, lands on the photo without zat in the address
// bar and sees the album; photos served to the guest carry no GPS; the
// owner's token page shows the album and the photo with one view each;
// after revoke, the guest's next page load is not found.
func TestBrowserShareJourney(t *testing.T) {
	exe := chromiumPath(t)
	photo := gpsJPEG(t)
	e, base := serveLive(t)
	e.member("olivia")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	owner := browser(t, ctx, exe)

	// Sign in, make an album, upload the photo into it.
	err := steps(t, owner, "sign in and create the album",
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name=handle]`), "olivia"),
		chromedp.SendKeys(css(`input[name=password]`), "password-olivia"),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`form[action="/albums"]`)),
		chromedp.SendKeys(css(`form[action="/albums"] input[name=title]`), "Marseille 2026"),
		chromedp.Submit(css(`form[action="/albums"] input[name=title]`)),
		chromedp.WaitReady(css(`select[name=album_id] option + option`)),
	)
	if err != nil {
		screenshot(t, owner, "failed-sign-in")
		t.Fatalf("sign in and create the album at %s: %v", location(t, owner), err)
	}
	attr, err := chromedp.Run(owner, chromedp.AttributeValue(css(`select[name=album_id] option + option`), "value"))
	albumValue := attr.Value
	if err != nil || albumValue == "" {
		t.Fatalf("album option: %q %v", albumValue, err)
	}
	err = chromedp.Do(owner,
		chromedp.SetValue(css(`select[name=album_id]`), albumValue),
		chromedp.SetUploadFiles(css(`input[type=file][name=file]`), []string{photo}),
		chromedp.SendKeys(css(`form.compose-upload input[name=title]`), "Vieux-Port at sunset"),
		chromedp.Submit(css(`input[type=file][name=file]`)),
		chromedp.WaitVisible(css(`form[action$="/share/link"]`)),
	)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	m := itemPathRE.FindStringSubmatch(location(t, owner))
	if m == nil {
		t.Fatalf("after the upload the owner is at %s, not a share panel", location(t, owner))
	}
	photoID := m[1]

	// Create a guest link in one click and copy it.
	err = chromedp.Do(owner,
		chromedp.SendKeys(css(`form[action$="/share/link"] input[name=name]`), "Grandma"),
		chromedp.Submit(css(`form[action$="/share/link"] input[name=name]`)),
		chromedp.WaitVisible(css(`#share-link`)),
		chromedp.Click(css(`[data-copy="share-link"]`)),
	)
	if err != nil {
		t.Fatalf("create guest link: %v", err)
	}
	link, err := chromedp.Run(owner, chromedp.Value(css(`#share-link`)))
	if err != nil {
		t.Fatalf("create guest link: %v", err)
	}
	if !strings.HasPrefix(link, base+"/items/"+photoID+"?zat=hsg_") {
		t.Fatalf("link %q does not open the photo", link)
	}
	qr, err := chromedp.Run(owner, chromedp.Evaluate[int](`document.querySelectorAll('img.qr[src^="data:image/png"]').length`))
	if err != nil || qr == 0 {
		t.Fatalf("no QR code next to the link (%d, %v)", qr, err)
	}
	screenshot(t, owner, "share-panel")

	// Open the album to the same token with one click on its share panel.
	err = chromedp.Do(owner,
		chromedp.Navigate(base+"/items/"+albumValue+"/share"),
		chromedp.WaitVisible(css(`form[action$="/share/link"]`)),
		chromedp.Click(`//button[contains(., "Grandma")]`),
		chromedp.WaitVisible(css(`form[action$="/share/remove"]`)),
	)
	if err != nil {
		t.Fatalf("reuse the token on the album: %v", err)
	}

	// The recipient, in a fresh profile.
	guest := browser(t, ctx, exe)
	if err := chromedp.Do(guest, chromedp.Navigate(link), chromedp.WaitVisible(css(`img.photo-large`))); err != nil {
		t.Fatalf("guest opens the link: %v", err)
	}
	landed := location(t, guest)
	if landed != base+"/items/"+photoID || strings.Contains(strings.ToLower(landed), "zat") {
		t.Fatalf("guest landed on %q", landed)
	}
	html, err := chromedp.Run(guest, chromedp.OuterHTML(css("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "hsg_") {
		t.Fatal("the guest's page contains the token")
	}
	screenshot(t, guest, "guest-photo")

	// The photos the guest gets carry no GPS.
	cookies, err := getCookies(guest)
	if err != nil {
		t.Fatal(err)
	}
	for _, variant := range []string{"large", "thumb"} {
		got := fetchWithCookies(t, base+"/media/"+photoID+"/"+variant, cookies)
		path := filepath.Join(t.TempDir(), variant+".jpg")
		os.WriteFile(path, got, 0o644)
		if hasGPS(t, path) {
			t.Errorf("the guest's %s photo carries GPS tags", variant)
		}
	}

	// The guest goes to the album and sees the photo there.
	err = chromedp.Do(guest,
		chromedp.Click(css(`a[href="/items/`+albumValue+`"]`)),
		chromedp.WaitVisible(css(`.gallery a[href="/items/`+photoID+`"] img`)),
	)
	if err != nil {
		t.Fatalf("guest opens the album: %v", err)
	}

	// The owner's audit: album and photo, one view each.
	if err := e.svc.Log.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tokens, err := listTokens(e, context.Background(), 1)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens: %v %v", tokens, err)
	}
	tokenPage := fmt.Sprintf("%s/settings/tokens/%d", base, tokens[0].ID)
	if err := chromedp.Do(owner, chromedp.Navigate(tokenPage), chromedp.WaitVisible(css(`table`))); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(owner, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr')).map(r => r.innerText.replace(/\s+/g, ' ').trim())`))
	if err != nil {
		t.Fatal(err)
	}
	wantRow := func(title string) {
		for _, r := range rows {
			if strings.Contains(r, title) && regexp.MustCompile(`\b1\b`).MatchString(strings.ReplaceAll(r, title, "")) && strings.Contains(r, "Allowed") {
				return
			}
		}
		t.Errorf("token page has no row for %q with one view; rows: %q", title, rows)
	}
	wantRow("Vieux-Port at sunset")
	wantRow("Marseille 2026")
	screenshot(t, owner, "token-audit")

	// Revoke; the guest's next page load is not found.
	err = chromedp.Do(owner,
		chromedp.Click(css(`form[action$="/revoke"] button`)),
		chromedp.WaitVisible(css(`.status-revoked`)),
	)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := chromedp.Do(guest, chromedp.Navigate(base+"/items/"+photoID), chromedp.WaitVisible(css(`h1`))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(guest, chromedp.Text(css(`h1`)))
	if err != nil {
		t.Fatal(err)
	}
	if title != "Not found" {
		t.Fatalf("after revoke the guest sees %q", title)
	}
}

func getCookies(ctx context.Context) ([]*network.Cookie, error) {
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		return nil, err
	}
	return res.Cookies, nil
}

func fetchWithCookies(t *testing.T, rawURL string, cs []*network.Cookie) []byte {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(rawURL)
	var hc []*http.Cookie
	for _, c := range cs {
		hc = append(hc, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	jar.SetCookies(u, hc)
	resp, err := (&http.Client{Jar: jar}).Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", rawURL, resp.StatusCode)
	}
	return b
}
