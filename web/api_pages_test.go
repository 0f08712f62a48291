package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"hubshare/acl"
)

// pageAll follows a list's next_cursor from the first page to the last and
// returns every id, in order, failing on a repeat.
func pageAll(t *testing.T, o *gtOwner, path, field string, limit int) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: no end after 100 pages", path)
		}
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if u, _ := url.Parse(path); u.RawQuery != "" {
			sep = "&"
		}
		var page map[string]json.RawMessage
		o.decode(http.MethodGet, path+sep+q.Encode(), "", http.StatusOK, &page)
		var rows []struct {
			ID     int64 `json:"id"`
			ItemID int64 `json:"item_id"`
			At     string
		}
		if err := json.Unmarshal(page[field], &rows); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(rows) > limit {
			t.Fatalf("%s: a page of %d, limit %d", path, len(rows), limit)
		}
		for _, r := range rows {
			id := r.ID
			if id == 0 {
				id = r.ItemID
			}
			ids = append(ids, id)
		}
		var next *string
		if err := json.Unmarshal(page["next_cursor"], &next); err != nil {
			t.Fatalf("%s: next_cursor %s: %v", path, page["next_cursor"], err)
		}
		if next == nil {
			return ids
		}
		cursor = *next
	}
}

// Every list of the API pages by key (PRODUCT, contract additions): limit
// and cursor in, next_cursor out (null on the last page), every entry once,
// in the list's order, and the token list filters by name, status and flag.
func TestListsPageByCursor(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		var posts []int64
		for i := 0; i < 7; i++ {
			posts = append(posts, alice.post(fmt.Sprintf("Post %d", i), "x"))
		}
		var tokens []int64
		for i := 0; i < 7; i++ {
			tokens = append(tokens, alice.newToken(fmt.Sprintf(`{"name":"Cousin %d"}`, i)).ID)
		}
		shared := alice.share(posts[0], `{"name":"Grandma"}`)
		tokens = append(tokens, shared.ID)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", tokens[2]), "", http.StatusNoContent)

		desc := func(ids []int64) []int64 { out := slices.Clone(ids); slices.Sort(out); slices.Reverse(out); return out }
		for _, limit := range []int{1, 3, 50} {
			if got := pageAll(t, alice, "/api/v1/tokens", "tokens", limit); !slices.Equal(got, desc(tokens)) {
				t.Errorf("tokens by pages of %d: %v, want %v", limit, got, desc(tokens))
			}
		}
		if got := pageAll(t, alice, "/api/v1/items", "items", 2); !slices.Equal(got, desc(posts)) {
			t.Errorf("items by pages of 2: %v, want %v", got, desc(posts))
		}
		if got := pageAll(t, alice, "/api/v1/tokens?q=COUSIN%201", "tokens", 2); !slices.Equal(got, []int64{tokens[1]}) {
			t.Errorf("name search: %v, want %v", got, tokens[1])
		}
		if got := pageAll(t, alice, "/api/v1/tokens?q=%25", "tokens", 5); len(got) != 0 {
			t.Errorf("a search for %% found %v: wildcards must be literal", got)
		}
		if got := pageAll(t, alice, "/api/v1/tokens?status=revoked", "tokens", 5); !slices.Equal(got, []int64{tokens[2]}) {
			t.Errorf("status=revoked: %v, want %v", got, tokens[2])
		}
		unused := desc(slices.DeleteFunc(slices.Clone(tokens), func(id int64) bool { return id == shared.ID }))
		if got := pageAll(t, alice, "/api/v1/tokens?flag=unused", "tokens", 3); !slices.Equal(got, unused) {
			t.Errorf("flag=unused: %v, want %v (every token but the shared one)", got, unused)
		}
		e.clock.Advance(acl.StaleAfter + time.Hour)
		stale := desc(slices.DeleteFunc(slices.Clone(tokens), func(id int64) bool { return id == tokens[2] }))
		if got := pageAll(t, alice, "/api/v1/tokens?flag=stale", "tokens", 3); !slices.Equal(got, stale) {
			t.Errorf("flag=stale: %v, want %v (every active token)", got, stale)
		}
		for _, bad := range []string{"limit=0", "limit=201", "limit=x", "cursor=nonsense", "status=gone", "flag=old"} {
			alice.call(http.MethodGet, "/api/v1/tokens?"+bad, "", http.StatusUnprocessableEntity)
		}
	})
}

// GET /tokens/{id} holds the first 100 grants and grants_next_cursor;
// /tokens/{id}/grants pages the rest, in the same order, each entry once —
// the token's own entries and those of its groups interleaved by item.
func TestTokenGrantsPageBeyondTheFirstHundred(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		tk := alice.newToken(`{"name":"Many"}`)
		g := alice.group("Family", tk.ID)
		var items []int64
		for i := 0; i < 110; i++ {
			p := alice.post(fmt.Sprintf("P%d", i), "x")
			items = append(items, p)
			switch i % 3 {
			case 0:
				alice.putACL(p, false, []int64{tk.ID}, nil)
			case 1:
				alice.putACL(p, false, []int64{g}, nil)
			default:
				alice.putACL(p, false, []int64{g}, []int64{tk.ID})
			}
		}
		var first struct {
			Grants []struct {
				ItemID int64  `json:"item_id"`
				Via    *int64 `json:"via"`
			} `json:"grants"`
			Next *string `json:"grants_next_cursor"`
		}
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), "", http.StatusOK, &first)
		if len(first.Grants) != 100 || first.Next == nil {
			t.Fatalf("GET /tokens/{id}: %d grants, next %v; want 100 and a cursor", len(first.Grants), first.Next)
		}
		type key struct{ item, via int64 }
		var all []key
		for _, gr := range first.Grants {
			k := key{gr.ItemID, 0}
			if gr.Via != nil {
				k.via = *gr.Via
			}
			all = append(all, k)
		}
		cursor := *first.Next
		for cursor != "" {
			var page struct {
				Grants []struct {
					ItemID int64  `json:"item_id"`
					Via    *int64 `json:"via"`
				} `json:"grants"`
				Next *string `json:"next_cursor"`
			}
			alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/tokens/%d/grants?limit=7&cursor=%s", tk.ID, url.QueryEscape(cursor)), "", http.StatusOK, &page)
			for _, gr := range page.Grants {
				k := key{gr.ItemID, 0}
				if gr.Via != nil {
					k.via = *gr.Via
				}
				all = append(all, k)
			}
			cursor = ""
			if page.Next != nil {
				cursor = *page.Next
			}
		}
		var want []key
		for i := len(items) - 1; i >= 0; i-- {
			switch i % 3 {
			case 0:
				want = append(want, key{items[i], 0})
			case 1:
				want = append(want, key{items[i], g})
			default:
				want = append(want, key{items[i], 0}, key{items[i], g})
			}
		}
		if !slices.Equal(all, want) {
			t.Errorf("grants by pages: %d entries\n got %v\nwant %v", len(all), all, want)
		}
	})
}

// The access log of an item pages by (time, id): entries of the same
// instant are neither repeated nor skipped across pages.
func TestItemAccessPagesThroughEntriesOfTheSameInstant(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		p := alice.post("Busy", "x")
		tk := alice.share(p, "")
		for i := 0; i < 9; i++ {
			// The test clock stands still: every opening has the same time.
			gtOpenLink(t, gtClientAt(e, fmt.Sprintf("198.51.100.%d:1", i+1)), tk.Link)
		}
		gtFlush(t, e)
		var full struct {
			Entries []json.RawMessage `json:"entries"`
		}
		alice.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/access?limit=200", p), "", http.StatusOK, &full)
		n := 0
		cursor := ""
		seen := map[string]bool{}
		for {
			path := fmt.Sprintf("/api/v1/items/%d/access?limit=4", p)
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			var page struct {
				Entries []json.RawMessage `json:"entries"`
				Next    *string           `json:"next_cursor"`
			}
			alice.decode(http.MethodGet, path, "", http.StatusOK, &page)
			for _, en := range page.Entries {
				if string(en) != string(full.Entries[n]) {
					t.Errorf("entry %d by pages %s, in one page %s", n, en, full.Entries[n])
				}
				n++
				seen[string(en)] = true
			}
			if page.Next == nil {
				break
			}
			cursor = *page.Next
		}
		if n != len(full.Entries) || n < 18 {
			t.Errorf("%d entries by pages, %d in one page (want at least 18: an open and a view per browser)", n, len(full.Entries))
		}
	})
}

// /settings/tokens pages as the API does: 50 links a page, "Older links"
// to the next, a search box and filters that the next page keeps.
func TestTokensPagePagesAndFilters(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		for i := 0; i < 53; i++ {
			alice.newToken(fmt.Sprintf(`{"name":"Guest %02d"}`, i))
		}
		cl := e.client()
		cl.login("alice")
		first := pagesOK(t, cl, "/settings/tokens")
		pagesContains(t, "the first page", first, "Guest 52", "Guest 03", "Older links")
		pagesLacks(t, "the first page", first, ">Guest 02<")
		m := regexp.MustCompile(`href="(/settings/tokens\?cursor=[^"]+)" rel="next"`).FindStringSubmatch(first)
		if m == nil {
			t.Fatalf("no link to the next page")
		}
		second := pagesOK(t, cl, html.UnescapeString(m[1]))
		pagesContains(t, "the second page", second, ">Guest 02<", ">Guest 00<", "First page")
		pagesLacks(t, "the second page", second, ">Guest 03<", "Older links")

		found := pagesOK(t, cl, "/settings/tokens?q=guest+1")
		for i := 10; i < 20; i++ {
			pagesContains(t, "the search", found, fmt.Sprintf(">Guest %d<", i))
		}
		pagesLacks(t, "the search", found, ">Guest 09<", ">Guest 20<")
		// A hand-edited filter shows the whole list rather than an error.
		pagesContains(t, "an unknown status", pagesOK(t, cl, "/settings/tokens?status=nonsense"), ">Guest 52<")
	})
}

// A token's page lists the items it is on 100 at a time, with a link to
// the older ones.
func TestTokenPagePagesItsGrants(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		tk := alice.newToken(`{"name":"Everywhere"}`)
		for i := 0; i < 103; i++ {
			p := alice.post(fmt.Sprintf("Note %03d", i), "x")
			alice.putACL(p, false, []int64{tk.ID}, nil)
		}
		cl := e.client()
		cl.login("alice")
		first := pagesOK(t, cl, fmt.Sprintf("/settings/tokens/%d", tk.ID))
		pagesContains(t, "the first page", first, ">Note 102<", ">Note 003<", "Older items")
		pagesLacks(t, "the first page", first, ">Note 002<")
		m := regexp.MustCompile(`href="([^"]+\?grants=[^"]+)" rel="next"`).FindStringSubmatch(first)
		if m == nil {
			t.Fatalf("no link to the older items")
		}
		second := pagesOK(t, cl, html.UnescapeString(m[1]))
		pagesContains(t, "the second page", second, ">Note 002<", ">Note 000<", "First items")
		pagesLacks(t, "the second page", second, ">Note 003<", "Older items")
	})
}
