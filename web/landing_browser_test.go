package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A recipient who mistypes the visitor password and then types it right
// lands on the item the link was for, at both viewports (issue 8, defect 1).
func TestBrowserPasswordRetryLandsOnTheItem(t *testing.T) {
	exe := chromiumPath(t)
	e, base := serveLive(t)
	o := gtNewOwner(t, e, "olivia")
	post := o.post("Wedding plans", "The ceremony starts at three.")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			tk := o.share(post, `{"password":"a visitor passphrase"}`)
			tab := newTab(t, browser(t, ctx, exe))
			if err := atViewport(tab, vp.w, vp.h); err != nil {
				t.Fatal(err)
			}
			err := steps(t, tab, "open the link and mistype the password",
				chromedp.Navigate(tk.Link),
				chromedp.WaitVisible(css(`input[type=password]`)),
				chromedp.SendKeys(css(`input[type=password]`), "a visitor passphras"),
				chromedp.Submit(css(`input[type=password]`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			// The answer to the POST is the landing page again, with the error.
			waitTrue(t, tab, "the wrong password's answer", `location.pathname === "/open" && !!document.querySelector("#open-error")`)
			text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
			if err != nil || !strings.Contains(text, "That password is not right") {
				t.Fatalf("after a wrong password the page says %q (%v)", text, err)
			}
			shot(t, tab, "guest-landing-wrong-password-"+vp.name)
			err = steps(t, tab, "type the right password",
				chromedp.SendKeys(css(`input[type=password]`), "a visitor passphrase"),
				chromedp.Submit(css(`input[type=password]`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			// The form's answer replaces the page; wait until it has, then
			// see where it led (the item, never /open).
			waitTrue(t, tab, "the right password's answer", `!document.querySelector("#open-error")`)
			if loc := location(t, tab); loc != fmt.Sprintf("%s/items/%d", base, post) {
				t.Fatalf("the right password after a wrong one led to %s", loc)
			}
			text, err = chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
			if err != nil || !strings.Contains(text, "The ceremony starts at three.") {
				t.Errorf("the item after the password shows %q (%v)", text, err)
			}
		})
	}
}
