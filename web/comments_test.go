package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hubshare/acl"
	"hubshare/content"
)

// Guest comments: the form for guests whose token may comment, the owner's
// moderation on the item page and in the API, and the rules around them.

type cmList struct {
	Comments []struct {
		ID        int64  `json:"id"`
		At        string `json:"at"`
		TokenID   int64  `json:"token_id"`
		TokenName string `json:"token_name"`
		Author    string `json:"author"`
		Body      string `json:"body"`
		Hidden    bool   `json:"hidden"`
	} `json:"comments"`
	NextCursor *string `json:"next_cursor"`
}

func (o *gtOwner) comments(item int64) cmList {
	o.t.Helper()
	var l cmList
	o.decode(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/comments", item), "", http.StatusOK, &l)
	return l
}

// cmGuest is a browser holding a guest session of the tokens, as if it had
// opened their links.
func cmGuest(e *env, tokens ...int64) *client {
	e.t.Helper()
	var g acl.GuestSession
	for _, id := range tokens {
		tk := new(acl.GuestToken)
		if err := e.db.NewSelect().Model(tk).Where("id = ?", id).Scan(context.Background()); err != nil {
			e.t.Fatal(err)
		}
		g = g.With(tk)
	}
	cl := e.client()
	cl.cookies[e.guestCookieName()] = &http.Cookie{Name: e.guestCookieName(), Value: e.svc.SealGuest(g)}
	return cl
}

// cmPost posts the comment form of an item page as the browser, with the
// CSRF token of that page.
func cmPost(t *testing.T, cl *client, item int64, author, body string) *http.Response {
	t.Helper()
	page := fmt.Sprintf("/items/%d", item)
	return cl.postForm(page+"/comments", url.Values{"author": {author}, "body": {body}}, page)
}

func cmRows(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.db.NewSelect().Table("comments").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGuestCommentsJourney(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "We went to the sea.")
		tk := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		guest := e.client()
		_, page := gtOpenLink(t, guest, tk.Link)
		body := gtStatus(t, "the shared post", page, http.StatusOK)
		pagesContains(t, "the guest page", body, `action="/items/`+fmt.Sprint(post)+`/comments"`, `name="author"`, `name="body"`, "No comments yet.")
		if !strings.Contains(body, `name="author" maxlength="60" value=""`) {
			t.Errorf("the author field is not empty at first:\n%s", section(t, body, `id="comments"`, "</section>"))
		}

		// A comment with a name, markup and line breaks; then one without a name.
		gtSee303(t, "a comment", cmPost(t, guest, post, "Ann", "Lovely!\nSee you <b>soon</b>"), fmt.Sprintf("/items/%d#comments", post))
		gtSee303(t, "a nameless comment", cmPost(t, guest, post, "  ", "Second"), fmt.Sprintf("/items/%d#comments", post))
		body = gtStatus(t, "the post after commenting", gtGet(t, guest, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesContains(t, "the guest page", body, "Ann (via Grandma)", "Guest (via Grandma)",
			"Lovely!\nSee you &lt;b&gt;soon&lt;/b&gt;", `class="comment-body"`)
		pagesLacks(t, "the guest page", body, "<b>soon</b>")

		l := alice.comments(post)
		if len(l.Comments) != 2 || l.NextCursor != nil {
			t.Fatalf("the owner sees %+v", l)
		}
		first, second := l.Comments[0], l.Comments[1]
		if first.Author != "Ann" || first.Body != "Lovely!\nSee you <b>soon</b>" || first.TokenID != tk.ID || first.TokenName != "Grandma" ||
			first.Hidden || first.At == "" || second.Author != "" || second.Body != "Second" {
			t.Fatalf("stored comments: %+v", l.Comments)
		}

		// Each comment tells the owner, naming the link and the item.
		var notes ntList
		alice.decode(http.MethodGet, "/api/v1/notifications", "", http.StatusOK, &notes)
		var told []string
		for _, n := range notes.Notifications {
			if n.Kind == "comment" && n.TokenID != nil && *n.TokenID == tk.ID && n.ItemID != nil && *n.ItemID == post {
				told = append(told, n.Text)
			}
		}
		if len(told) != 2 || !strings.Contains(told[1], "Lovely! See you <b>soon</b>") || !strings.Contains(told[0], "Second") {
			t.Errorf("comment notifications %q, want one per comment, newest first", told)
		}

		// The owner hides the first in one click: gone for the guest at once.
		owner := e.client()
		owner.login("alice")
		ownerPage := pagesOK(t, owner, fmt.Sprintf("/items/%d", post))
		pagesContains(t, "the owner's item page", ownerPage, "Ann (via Grandma)", "Guest (via Grandma)",
			fmt.Sprintf(`action="/comments/%d/hide"`, first.ID), fmt.Sprintf(`action="/comments/%d/delete"`, second.ID))
		resp := owner.postForm(fmt.Sprintf("/comments/%d/hide", first.ID), url.Values{"hidden": {"1"}}, fmt.Sprintf("/items/%d", post))
		gtSee303(t, "hide", resp, fmt.Sprintf("/items/%d#comment-%d", post, first.ID))
		body = gtStatus(t, "the post after hiding", gtGet(t, guest, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesLacks(t, "the guest page after hiding", body, "Ann (via Grandma)", "Lovely!")
		pagesContains(t, "the guest page after hiding", body, "Guest (via Grandma)")
		ownerPage = pagesOK(t, owner, fmt.Sprintf("/items/%d", post))
		pagesContains(t, "the owner's page after hiding", ownerPage, "Ann (via Grandma)", "Show to guests")
		if l := alice.comments(post); !l.Comments[0].Hidden {
			t.Fatal("the API does not show the comment as hidden")
		}

		// Shown again through the API, hidden again through it.
		var c struct {
			ID     int64 `json:"id"`
			Hidden bool  `json:"hidden"`
		}
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/comments/%d", first.ID), `{"hidden":false}`, http.StatusOK, &c)
		if c.ID != first.ID || c.Hidden {
			t.Fatalf("PATCH answered %+v", c)
		}
		body = gtStatus(t, "the post after showing", gtGet(t, guest, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesContains(t, "the guest page after showing again", body, "Ann (via Grandma)")
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/comments/%d", first.ID), `{"hidden":"yes"}`, http.StatusUnprocessableEntity)
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/comments/%d", first.ID), `{}`, http.StatusUnprocessableEntity)

		// Deleted in one click on the page, and through the API.
		resp = owner.postForm(fmt.Sprintf("/comments/%d/delete", second.ID), url.Values{}, fmt.Sprintf("/items/%d", post))
		gtSee303(t, "delete", resp, fmt.Sprintf("/items/%d#comments", post))
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/comments/%d", first.ID), "", http.StatusNoContent)
		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/comments/%d", first.ID), "", http.StatusNotFound)
		if l := alice.comments(post); len(l.Comments) != 0 || cmRows(t, e) != 0 {
			t.Fatalf("after deleting both: %+v", l)
		}
	})
}

func TestGuestCommentRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "")
		tk := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		guest := cmGuest(e, tk.ID)
		for _, c := range []struct{ what, author, body, reason string }{
			{"an empty comment", "Ann", "   ", "The comment is empty"},
			{"a comment too long", "Ann", strings.Repeat("é", 4001), "The comment is too long (4001 characters, at most 4000)."},
			{"a name too long", strings.Repeat("n", 61), "Hello", "The name is too long (61 characters, at most 60)."},
			{"a name on two lines", "Ann\nB", "Hello", "The name contains a control character."},
		} {
			resp := cmPost(t, guest, post, c.author, c.body)
			body := gtStatus(t, c.what, resp, http.StatusUnprocessableEntity)
			pagesContains(t, c.what, html.UnescapeString(body), c.reason, `role="alert"`, "Holiday")
			if n := cmRows(t, e); n != 0 {
				t.Fatalf("%s stored %d comments", c.what, n)
			}
		}
		// The refused text comes back in the form; the limit itself is fine.
		body := gtStatus(t, "too long", cmPost(t, guest, post, "Ann", "keep me "+strings.Repeat("x", 4000)), http.StatusUnprocessableEntity)
		pagesContains(t, "the re-rendered form", body, "keep me xxx", `value="Ann"`)
		gtSee303(t, "4000 characters", cmPost(t, guest, post, strings.Repeat("n", 60), strings.Repeat("é", 4000)), fmt.Sprintf("/items/%d#comments", post))

		// CSRF like every form: no token, or another browser's, is refused.
		resp := guest.postForm(fmt.Sprintf("/items/%d/comments", post), url.Values{"body": {"no token"}}, "")
		gtStatus(t, "no CSRF token", resp, http.StatusForbidden)
		other := cmGuest(e, tk.ID)
		resp = other.postForm(fmt.Sprintf("/items/%d/comments", post), url.Values{"body": {"their token"}, "_csrf": {guest.csrf(fmt.Sprintf("/items/%d", post))}}, "")
		gtStatus(t, "another browser's CSRF token", resp, http.StatusForbidden)
		if n := cmRows(t, e); n != 1 {
			t.Fatalf("%d comments stored, want the one of 4000 characters", n)
		}
	})
}

func TestGuestCommentNeedsPermission(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		post := alice.post("Holiday", "")
		public := alice.post("Public notice", "")
		alice.putACL(public, true, nil, nil)
		plain := alice.share(post, `{"name":"Plain"}`)
		// Bob's commenting token, also put (by Bob) nowhere on Alice's items.
		bobs := bob.newToken(`{"name":"Bob's","can_comment":true}`)

		cl := cmGuest(e, plain.ID)
		body := gtStatus(t, "a token without can_comment", gtGet(t, cl, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesLacks(t, "the page without can_comment", body, `name="body"`, "Comments")
		// The form is not there, but a browser with a CSRF token of its own posts anyway.
		csrf := cl.csrf("/login")
		resp := cl.postForm(fmt.Sprintf("/items/%d/comments", post), url.Values{"body": {"hi"}, "_csrf": {csrf}}, "")
		gtStatus(t, "a comment without can_comment", resp, http.StatusForbidden)

		// Another member's token never comments on my items, even public ones.
		cl = cmGuest(e, bobs.ID)
		body = gtStatus(t, "Bob's token on Alice's public post", gtGet(t, cl, fmt.Sprintf("/items/%d", public)), http.StatusOK)
		pagesLacks(t, "Alice's public post seen with Bob's token", body, `name="body"`)
		csrf = cl.csrf("/login")
		resp = cl.postForm(fmt.Sprintf("/items/%d/comments", public), url.Values{"body": {"hi"}, "_csrf": {csrf}}, "")
		gtStatus(t, "Bob's token commenting on Alice's public post", resp, http.StatusForbidden)
		resp = cl.postForm(fmt.Sprintf("/items/%d/comments", post), url.Values{"body": {"hi"}, "_csrf": {csrf}}, "")
		gtStatus(t, "Bob's token commenting on Alice's private post", resp, http.StatusNotFound)

		// A visitor without a token on a public item neither.
		anon := e.client()
		csrf = anon.csrf("/login")
		resp = anon.postForm(fmt.Sprintf("/items/%d/comments", public), url.Values{"body": {"hi"}, "_csrf": {csrf}}, "")
		gtStatus(t, "a visitor without a token", resp, http.StatusForbidden)
		if n := cmRows(t, e); n != 0 {
			t.Fatalf("%d comments stored", n)
		}
	})
}

func TestGuestCommentsOwnerOnly(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := gtNewOwner(t, e, "alice"), gtNewOwner(t, e, "bob")
		post := alice.post("Holiday", "")
		tk := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		gtSee303(t, "a comment", cmPost(t, cmGuest(e, tk.ID), post, "Ann", "Hello"), fmt.Sprintf("/items/%d#comments", post))
		id := alice.comments(post).Comments[0].ID

		// Bob's API token and Bob's browser get "not found" for everything.
		bob.call(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/comments", post), "", http.StatusNotFound)
		bob.call(http.MethodPatch, fmt.Sprintf("/api/v1/comments/%d", id), `{"hidden":true}`, http.StatusNotFound)
		bob.call(http.MethodDelete, fmt.Sprintf("/api/v1/comments/%d", id), "", http.StatusNotFound)
		bobWeb := e.client()
		bobWeb.login("bob")
		gtStatus(t, "Bob hides Alice's comment", bobWeb.postForm(fmt.Sprintf("/comments/%d/hide", id), url.Values{"hidden": {"1"}}, "/"), http.StatusNotFound)
		gtStatus(t, "Bob deletes Alice's comment", bobWeb.postForm(fmt.Sprintf("/comments/%d/delete", id), url.Values{}, "/"), http.StatusNotFound)
		// A read-only key lists but does not moderate.
		read := e.apiToken(alice.m, "read")
		gtStatus(t, "PATCH with a read key", e.api(read, http.MethodPatch, fmt.Sprintf("/api/v1/comments/%d", id), `{"hidden":true}`), http.StatusForbidden)

		l := alice.comments(post)
		if len(l.Comments) != 1 || l.Comments[0].Hidden {
			t.Fatalf("after Bob's attempts: %+v", l)
		}
	})
}

func TestGuestCommentsOfARevokedToken(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "")
		grandma := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		uncle := alice.share(post, `{"name":"Uncle","can_comment":true}`)
		gtSee303(t, "Grandma's comment", cmPost(t, cmGuest(e, grandma.ID), post, "", "From grandma"), fmt.Sprintf("/items/%d#comments", post))
		gtSee303(t, "Uncle's comment", cmPost(t, cmGuest(e, uncle.ID), post, "", "From uncle"), fmt.Sprintf("/items/%d#comments", post))
		uncleBrowser := cmGuest(e, uncle.ID)
		body := gtStatus(t, "before revoking", gtGet(t, uncleBrowser, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesContains(t, "before revoking", body, "From grandma", "From uncle")

		alice.call(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", grandma.ID), "", http.StatusNoContent)
		body = gtStatus(t, "after revoking", gtGet(t, uncleBrowser, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesLacks(t, "after revoking Grandma", body, "From grandma")
		pagesContains(t, "after revoking Grandma", body, "From uncle")
		if l := alice.comments(post); len(l.Comments) != 2 {
			t.Fatalf("the owner keeps %d comments, want both", len(l.Comments))
		}
		owner := e.client()
		owner.login("alice")
		pagesContains(t, "the owner's page", pagesOK(t, owner, fmt.Sprintf("/items/%d", post)), "From grandma", "link revoked")
	})
}

// A session holding several tokens gets the union of their permissions on
// an item; a comment goes under a token that may comment.
func TestGuestCommentUnionOfTokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "")
		plain := alice.share(post, `{"name":"Plain"}`)
		talker := alice.share(post, `{"name":"Talker","can_comment":true}`)
		if plain.ID > talker.ID {
			t.Fatal("the test needs the plain token first")
		}
		cl := cmGuest(e, plain.ID, talker.ID)
		gtSee303(t, "a comment", cmPost(t, cl, post, "", "Both"), fmt.Sprintf("/items/%d#comments", post))
		l := alice.comments(post)
		if len(l.Comments) != 1 || l.Comments[0].TokenID != talker.ID || l.Comments[0].TokenName != "Talker" {
			t.Fatalf("the comment went under %+v, want Talker", l.Comments)
		}
		body := gtStatus(t, "the post", gtGet(t, cl, fmt.Sprintf("/items/%d", post)), http.StatusOK)
		pagesContains(t, "the post", body, "Guest (via Talker)")
	})
}

// Comments past a small rate per network, and per token from anywhere, are 429.
func TestGuestCommentThrottle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "")
		tk := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		cl := cmGuest(e, tk.ID)
		page := fmt.Sprintf("/items/%d", post)
		csrf := cl.csrf(page)
		send := func(remote string, n int) *http.Response {
			form := url.Values{"body": {fmt.Sprintf("comment %d", n)}, "_csrf": {csrf}}
			return cl.doFrom(remote, gtFormRequest(page+"/comments", form))
		}
		n := 0
		for ; n < content.CommentsPerNetwork; n++ {
			gtSee303(t, fmt.Sprintf("comment %d", n), send("198.51.100.7:1000", n), page+"#comments")
		}
		resp := send("198.51.100.7:1000", n)
		body := gtStatus(t, "past the rate of a network", resp, http.StatusTooManyRequests)
		pagesContains(t, "the 429 page", body, "Too many comments")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After on the 429")
		}
		// Other networks go on until the token's own cap.
		for net := 1; n < content.CommentsPerToken; net++ {
			for i := 0; i < content.CommentsPerNetwork && n < content.CommentsPerToken; i++ {
				gtSee303(t, fmt.Sprintf("comment %d", n), send(fmt.Sprintf("203.0.113.%d:1000", net), n), page+"#comments")
				n++
			}
		}
		gtStatus(t, "past the rate of the token", send("192.0.2.99:1000", n), http.StatusTooManyRequests)
		if got := cmRows(t, e); got != content.CommentsPerToken {
			t.Fatalf("%d comments stored, want %d", got, content.CommentsPerToken)
		}
	})
}

func TestGuestCommentsPaged(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		post := alice.post("Holiday", "")
		tk := alice.share(post, `{"name":"Grandma","can_comment":true}`)
		ctx := context.Background()
		acc, err := e.cs.View(ctx, post, content.Viewer{Guest: cmGuestSession(t, e, tk.ID)})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := e.cs.AddComment(ctx, acc, fmt.Sprintf("192.0.2.%d", i), "", fmt.Sprintf("c%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		cursor := ""
		for range 10 {
			var l cmList
			path := fmt.Sprintf("/api/v1/items/%d/comments?limit=2", post)
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			alice.decode(http.MethodGet, path, "", http.StatusOK, &l)
			for _, c := range l.Comments {
				got = append(got, c.Body)
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
		}
		if strings.Join(got, ",") != "c0,c1,c2,c3,c4" {
			t.Fatalf("pages gave %v, want oldest first, each once", got)
		}
		alice.call(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/comments?cursor=nonsense", post), "", http.StatusUnprocessableEntity)
		alice.call(http.MethodGet, fmt.Sprintf("/api/v1/items/%d/comments?limit=201", post), "", http.StatusUnprocessableEntity)
	})
}

func cmGuestSession(t *testing.T, e *env, id int64) acl.GuestSession {
	t.Helper()
	tk := new(acl.GuestToken)
	if err := e.db.NewSelect().Model(tk).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return acl.GuestSession{}.With(tk)
}

// can_comment is a token field of the API and of the token forms.
func TestTokenCanComment(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice := gtNewOwner(t, e, "alice")
		var tk struct {
			ID         int64 `json:"id"`
			CanComment bool  `json:"can_comment"`
		}
		alice.decode(http.MethodPost, "/api/v1/tokens", `{"name":"A","can_comment":true}`, http.StatusCreated, &tk)
		if !tk.CanComment {
			t.Fatal("created without can_comment")
		}
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), `{"name":"B"}`, http.StatusOK, &tk)
		if !tk.CanComment {
			t.Fatal("a PATCH without can_comment cleared it")
		}
		alice.decode(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), `{"can_comment":false}`, http.StatusOK, &tk)
		if tk.CanComment {
			t.Fatal("PATCH can_comment false kept it")
		}
		alice.call(http.MethodPatch, fmt.Sprintf("/api/v1/tokens/%d", tk.ID), `{"can_comment":"yes"}`, http.StatusUnprocessableEntity)

		owner := e.client()
		owner.login("alice")
		page := fmt.Sprintf("/settings/tokens/%d", tk.ID)
		resp := owner.postForm(page, url.Values{"name": {"B"}, "can_comment": {"1"}}, page)
		gtStatus(t, "the edit form", resp, http.StatusSeeOther)
		got, err := e.svc.Token(context.Background(), alice.m.ID, tk.ID)
		if err != nil || !got.Comment || got.Download || got.Metadata {
			t.Fatalf("after the form: %+v %v", got, err)
		}
		body := pagesOK(t, owner, page)
		pagesContains(t, "the token page", body, `name="can_comment" value="1" checked`, "<dt>Comments</dt><dd>allowed</dd>",
			fmt.Sprintf(`href="/settings/tokens/%d/preview"`, tk.ID))
		pagesContains(t, "the token list's form", pagesOK(t, owner, "/settings/tokens"), `name="can_comment" value="1"`)
	})
}
