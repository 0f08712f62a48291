package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"hubshare/acl"
)

// The share panel with its audience, in a real browser on a laptop and a
// phone: who opened the item (first opened, last seen, views, networks) and
// who has not yet, without widening the page.
func TestBrowserShareAudience(t *testing.T) {
	w := sbStart(t)
	ctx := context.Background()
	post := pagesPost0(t, w.e, w.owner.ID, "Summer letter")
	grandma, secret, err := w.e.svc.ShareItem(ctx, w.owner.ID, post.ID, acl.TokenInput{Name: ptrTo("Grandma")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.e.svc.ShareItem(ctx, w.owner.ID, post.ID, acl.TokenInput{Name: ptrTo("Uncle Joe")}); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/items/%d", post.ID)
	for _, remote := range []string{"203.0.113.5:1000", "198.51.100.20:2000"} {
		guest := w.e.client()
		guest.remote = remote
		gtGet(t, guest, path+"?zat="+url.QueryEscape(secret))
		gtGet(t, guest, path)
	}
	if err := w.e.svc.Log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, vp := range sbViewports {
		t.Run(vp.name, func(t *testing.T) {
			w.open(t, vp, path+"/share", `.audience`)
			w.noSideScroll(t, vp, "share panel with its audience")
			text := sbEval[string](t, w.ctx, `document.querySelector('.audience').innerText`)
			for _, want := range []string{"Grandma", "First opened", "2 views", "2 networks", "Uncle Joe", "not opened yet"} {
				if !strings.Contains(text, want) {
					t.Errorf("the audience lacks %q: %q", want, text)
				}
			}
			screenshot(t, w.ctx, "share-audience-"+vp.name)
		})
	}
	_ = grandma
}
