package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// A guest comments under a shared photo at a phone's and a desktop's width;
// the owner hides the comment from the item page; the guest reloads and it
// is gone. Each page is checked with axe-core and leaves a screenshot.
func TestBrowserGuestCommentHidden(t *testing.T) {
	exe := chromiumPath(t)
	e, base := serveLive(t)
	o := gtNewOwner(t, e, "olivia")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			photo := e.uploadPhoto(o.key, "Harbour at dawn", testJPEG(t, 640, 420), 0)
			tk := o.share(photo, `{"name":"Grandma","can_comment":true}`)
			b := browser(t, ctx, exe)
			guest, owner := newTab(t, b), newTab(t, b)
			for _, tab := range []context.Context{guest, owner} {
				if err := atViewport(tab, vp.w, vp.h); err != nil {
					t.Fatal(err)
				}
			}
			item := fmt.Sprintf("%s/items/%d", base, photo)

			err := steps(t, guest, "open the link and comment",
				chromedp.Navigate(tk.Link),
				chromedp.WaitVisible(css(`textarea[name=body]`)),
				chromedp.SendKeys(css(`input[name=author]`), "Ann"),
				chromedp.SendKeys(css(`textarea[name=body]`), "What a light!"+kb.Enter+"Print it for me, please."),
				chromedp.Click(css(`.comment-form button[type=submit]`)),
				chromedp.WaitVisible(css(`.comment`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			text, err := chromedp.Run(guest, chromedp.Evaluate[string](`document.querySelector(".comment").innerText`))
			if err != nil || !strings.Contains(text, "Ann (via Grandma)") || !strings.Contains(text, "What a light!\nPrint it for me, please.") {
				t.Fatalf("the guest's comment reads %q (%v)", text, err)
			}
			if v, err := chromedp.Run(guest, chromedp.Evaluate[string](`document.querySelector("input[name=author]").value`)); err != nil || v != "" {
				t.Errorf("after posting, the name field holds %q (%v)", v, err)
			}
			noHorizontalScroll(t, guest)
			axeCheck(t, guest, "guest photo with comments")
			shot(t, guest, "comments-guest-posted-"+vp.name)

			err = steps(t, owner, "sign in and hide the comment",
				chromedp.Navigate(base+"/login"),
				chromedp.SendKeys(css(`input[name=handle]`), "olivia"),
				chromedp.SendKeys(css(`input[name=password]`), "password-olivia"),
				chromedp.Submit(css(`input[name=password]`)),
				chromedp.WaitReady(css(`form[action="/logout"]`)),
				chromedp.Navigate(item),
				chromedp.WaitVisible(css(`form[action$="/hide"] button`)),
				chromedp.Click(css(`form[action$="/hide"] button`)),
				chromedp.WaitVisible(css(`.comment-hidden`)),
			)
			if err != nil {
				t.Fatal(err)
			}
			text, err = chromedp.Run(owner, chromedp.Evaluate[string](`document.querySelector("#comments").innerText`))
			if err != nil || !strings.Contains(text, "Hidden") || !strings.Contains(text, "Show to guests") {
				t.Errorf("the owner's comments after hiding read %q (%v)", text, err)
			}
			noHorizontalScroll(t, owner)
			axeCheck(t, owner, "owner item with comments")
			shot(t, owner, "comments-owner-hidden-"+vp.name)

			err = steps(t, guest, "reload", chromedp.Reload(), chromedp.WaitVisible(css(`textarea[name=body]`)))
			if err != nil {
				t.Fatal(err)
			}
			text, err = chromedp.Run(guest, chromedp.Evaluate[string](`document.querySelector("#comments").innerText`))
			if err != nil || strings.Contains(text, "What a light!") || !strings.Contains(text, "No comments yet.") {
				t.Errorf("after the owner hid it, the guest's comments read %q (%v)", text, err)
			}
			shot(t, guest, "comments-guest-after-hiding-"+vp.name)
		})
	}
}
