package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"hubshare/acl"
	"hubshare/app"
)

// pvAgents reads the preview agents the acl test holds: a real User-Agent
// of each known previewer, scanner and crawler, with its family.
func pvAgents(t *testing.T) [][2]string {
	t.Helper()
	b, err := os.ReadFile("../acl/testdata/preview_agents.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, line := range strings.Split(string(b), "\n") {
		ua, family, ok := strings.Cut(line, "\t")
		if line == "" || strings.HasPrefix(line, "#") || !ok || family == "-" {
			continue
		}
		out = append(out, [2]string{ua, family})
	}
	if len(out) < 30 {
		t.Fatalf("only %d agents read", len(out))
	}
	return out
}

// pvWantNeutral checks a previewer's answer: 200, the neutral page (or no
// body for HEAD), no cookie, nothing of the item, its owner or the link.
func pvWantNeutral(t *testing.T, what string, resp *http.Response, head bool, secrets ...string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, want 200", what, resp.StatusCode)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("%s: sets cookies %q", what, c)
	}
	if got := resp.Header.Get("X-Robots-Tag"); !strings.Contains(got, "noindex") {
		t.Errorf("%s: X-Robots-Tag %q", what, got)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q", what, got)
	}
	if head {
		if body != "" {
			t.Errorf("%s: HEAD answered with a body", what)
		}
		return
	}
	if !strings.Contains(body, `<meta property="og:title" content="A link was shared with you">`) || !strings.Contains(body, "noindex") {
		t.Errorf("%s: not the neutral page: %s", what, body)
	}
	for _, leak := range append([]string{"Beach party", "Bring a towel", "Alice", "<title", "og:image", "og:description", "<img"}, secrets...) {
		if strings.Contains(body, leak) {
			t.Errorf("%s: the page holds %q", what, leak)
		}
	}
}

func TestPreviewAgentsGetANeutralPageAndSpendNothing(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Beach party", "Bring a towel")
		if err != nil {
			t.Fatal(err)
		}
		// A link that opens once, and one without limit.
		once, onceSecret, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("Once"), MaxUses: ptrTo(1), Note: ptrTo("Bring a towel")})
		if err != nil {
			t.Fatal(err)
		}
		free, freeSecret, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{Name: ptrTo("Free")})
		if err != nil {
			t.Fatal(err)
		}
		path := "/items/" + itoa(post.ID)
		agents := pvAgents(t)
		for _, a := range agents {
			for _, secret := range []string{onceSecret, freeSecret} {
				cl := e.client()
				req := httptest.NewRequest(http.MethodGet, path+"?zat="+url.QueryEscape(secret), nil)
				req.Header.Set("User-Agent", a[0])
				pvWantNeutral(t, a[1]+" "+a[0], cl.do(req), false, onceSecret, freeSecret)
			}
		}
		// Every HEAD request is a preview, whatever its agent; so is a
		// made-up token (the page tells nothing either way).
		for _, secret := range []string{onceSecret, freeSecret} {
			req := httptest.NewRequest(http.MethodHead, path+"?zat="+url.QueryEscape(secret), nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
			pvWantNeutral(t, "HEAD", e.client().do(req), true)
		}
		req := httptest.NewRequest(http.MethodGet, "/shared?zat=zat_notarealtoken", nil)
		req.Header.Set("User-Agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
		pvWantNeutral(t, "unknown token", e.client().do(req), false)

		for _, tk := range []*acl.GuestToken{once, free} {
			got, err := e.svc.Token(ctx, alice.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Uses != 0 || got.LastUsedAt != nil || got.FirstUsedAt != nil {
				t.Errorf("%s after previews: uses %d, last used %v, first used %v", tk.Name, got.Uses, got.LastUsedAt, got.FirstUsedAt)
			}
		}
		// The owner's log names every family, tied to the item.
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		entries, _, err := e.svc.ItemAccessPage(ctx, alice.ID, post.ID, app.Page{Limit: app.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		families := map[string]int{}
		for _, en := range entries {
			if en.Event != acl.EventPreview {
				t.Errorf("a preview left a %q entry", en.Event)
			}
			families[en.Reason] += en.Count
		}
		for _, a := range agents {
			if families[a[1]] == 0 {
				t.Errorf("no preview event names %q", a[1])
			}
		}
		if families[acl.PreviewHEAD] != 2 {
			t.Errorf("HEAD previews logged %d times, want 2", families[acl.PreviewHEAD])
		}

		// The share panel names the previewer in words.
		owner := e.client()
		owner.login("alice")
		if body := readBody(t, owner.get(path+"/share")); !strings.Contains(body, "Link preview (HEAD request)") {
			t.Error("the share panel's history does not name the previewer")
		}

		// After all that, a person opens the one-use link exactly once.
		person := e.client()
		resp := gtGet(t, person, path+"?zat="+url.QueryEscape(onceSecret), "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("person's GET: %d", resp.StatusCode)
		}
		landing := readBody(t, gtGet(t, person, path))
		m := csrfRE.FindStringSubmatch(landing)
		if m == nil {
			t.Fatalf("no landing page: %s", landing)
		}
		resp = person.postForm("/open", url.Values{"_csrf": {m[1]}, "next": {path}}, "")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("Open: %d %s", resp.StatusCode, readBody(t, resp))
		}
		if body := readBody(t, gtGet(t, person, path)); !strings.Contains(body, "Beach party") {
			t.Errorf("the person does not see the post after Open")
		}
		if got, _ := e.svc.Token(ctx, alice.ID, once.ID); got.Uses != 1 {
			t.Errorf("uses after one opening: %d", got.Uses)
		}
		// And a second person finds it used up.
		second := e.client()
		second.remote = "192.0.2.50:1234"
		gtGet(t, second, path+"?zat="+url.QueryEscape(onceSecret))
		landing = readBody(t, gtGet(t, second, path))
		if m := csrfRE.FindStringSubmatch(landing); m != nil {
			resp = second.postForm("/open", url.Values{"_csrf": {m[1]}, "next": {path}}, "")
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("second Open of a one-use link: %d", resp.StatusCode)
			}
		} else if !strings.Contains(landing, "does not exist") {
			t.Errorf("second person: neither landing nor not found")
		}
	})
}

func TestABrowserIsNoPreview(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post, err := e.cs.CreatePost(ctx, alice.ID, "Beach party", "")
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		resp := gtGet(t, cl, "/items/"+itoa(post.ID)+"?zat="+url.QueryEscape(secret),
			"User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
		if resp.StatusCode != http.StatusSeeOther || responseCookie(resp, e.guestCookieName()) == nil {
			t.Errorf("a phone's browser: status %d, cookies %v; want the exchange", resp.StatusCode, resp.Header.Values("Set-Cookie"))
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
