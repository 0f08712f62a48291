package web_test

import (
	"fmt"
	"net/http"
	"testing"
)

// An item without a title has one label on every owner page (issue 8,
// defect 7): the first line of a post's text, else its kind — in the home
// grid, on the token page's grants and in the histories alike.
func TestUntitledItemsHaveOneLabelEverywhere(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		alice.call(http.MethodPost, "/api/v1/posts", `{"body":"Dinner on Friday\nBring the wine."}`, http.StatusCreated)
		var items struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
		}
		alice.decode(http.MethodGet, "/api/v1/items", "", http.StatusOK, &items)
		p := items.Items[0].ID
		photo := e.uploadPhoto(alice.key, "", testJPEG(t, 32, 24), 0)
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/items/%d", photo), `{"title":""}`, http.StatusOK)
		tk := alice.share(p, "")
		alice.putACL(photo, false, []int64{tk.ID}, nil)
		// A visit of each, so that the histories name them.
		guest := gtClientAt(e, "198.51.100.80:1")
		gtOpenLink(t, guest, tk.Link)
		gtStatus(t, "the photo as a guest", gtGet(t, guest, fmt.Sprintf("/items/%d", photo)), http.StatusOK)
		gtFlush(t, e)

		cl := e.client()
		cl.login("alice")
		pagesContains(t, "home", pagesOK(t, cl, "/"), ">Dinner on Friday<", ">Photo<")
		token := pagesOK(t, cl, fmt.Sprintf("/settings/tokens/%d", tk.ID))
		pagesContains(t, "the token page", token, ">Dinner on Friday<", ">Photo<")
		pagesLacks(t, "the token page", token, fmt.Sprintf("#%d", p), "Untitled")
		pagesContains(t, "the share panel of the photo", pagesOK(t, cl, fmt.Sprintf("/items/%d/share", photo)), ">Photo<")
	})
}
