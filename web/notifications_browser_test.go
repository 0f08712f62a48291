package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The notifications page in Chromium, light and dark, at a desktop and a
// phone width: the bell names the unread count, the page shows what came
// in, axe-core finds nothing serious and nothing scrolls sideways; then a
// click on "Mark read" and one on "Mark all read" empty the bell.
func TestBrowserNotificationsPage(t *testing.T) {
	exe := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, base := serveLive(t)
	o := gtNewOwner(t, e, "olivia")
	post := o.post("Letter from the coast", "We arrived on Tuesday.")
	names := []string{"Grandma", "The neighbours across the street", strings.Repeat("Grandmother", 9)}
	var first gtToken
	for i, name := range names {
		tk := o.share(post, fmt.Sprintf(`{"name": %q}`, name))
		if i == 0 {
			first = tk
		}
		u, err := url.Parse(tk.Link)
		if err != nil {
			t.Fatal(err)
		}
		gtSee303(t, "opening "+name, gtGet(t, gtClientAt(e, fmt.Sprintf("203.0.113.%d:1", i+1)), u.RequestURI()), u.Path)
		// A second network for the first link.
		if i == 0 {
			gtSee303(t, "opening "+name+" again", gtGet(t, gtClientAt(e, "198.51.100.20:1"), u.RequestURI()), u.Path)
		}
	}
	gtFlush(t, e)
	if err := e.svc.NotifyComment(context.Background(), first.ID, post, "What a lovely letter, thank you!"); err != nil {
		t.Fatal(err)
	}

	tab := newTab(t, browser(t, ctx, exe))
	err := steps(t, tab, "sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name=handle]`), "olivia"),
		chromedp.SendKeys(css(`input[name=password]`), "password-olivia"),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	unread := func() string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('a.bell').getAttribute('aria-label')`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := unread(); got != "Notifications, 5 unread" {
		t.Fatalf("the bell on the home page says %q", got)
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, vp := range viewports {
			name := "notifications-list-" + vp.name
			if scheme == "dark" {
				name = "notifications-list-dark-" + vp.name
			}
			t.Run(name, func(t *testing.T) {
				if err := atViewport(tab, vp.w, vp.h); err != nil {
					t.Fatal(err)
				}
				mode := lightMode
				if scheme == "dark" {
					mode = darkMode
				}
				if err := mode(tab); err != nil {
					t.Fatal(err)
				}
				if err := steps(t, tab, "open "+name, chromedp.Navigate(base+"/notifications"), chromedp.WaitVisible(css(`ul.notes`))); err != nil {
					t.Fatal(err)
				}
				shot(t, tab, name)
				text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"First opening", "New network", "New comment", "Grandma", "Mark all read"} {
					if !strings.Contains(text, want) {
						t.Errorf("%s does not show %q", name, want)
					}
				}
				noHorizontalScroll(t, tab)
				axeCheck(t, tab, "notifications")
			})
		}
	}
	if err := atViewport(tab, phone.w, phone.h); err != nil {
		t.Fatal(err)
	}
	err = steps(t, tab, "mark one read",
		chromedp.Navigate(base+"/notifications"),
		chromedp.Click(css(`form.note-action button`)),
		chromedp.WaitVisible(css(`p.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := unread(); got != "Notifications, 4 unread" {
		t.Errorf("after marking one the bell says %q", got)
	}
	err = steps(t, tab, "mark all read",
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(css(`ul.notes`)),
		chromedp.Click(css(`.notes-head form button`)),
		chromedp.WaitVisible(css(`p.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := unread(); got != "Notifications" {
		t.Errorf("after marking all the bell says %q", got)
	}
	if loc := location(t, tab); loc != base+"/notifications?done=read" {
		t.Errorf("the forms led to %s", loc)
	}
}
