package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// pagesOK fetches an owner page and fails unless it answers 200.
func pagesOK(t *testing.T, cl *client, path string) string {
	t.Helper()
	resp := cl.get(path)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", path, resp.StatusCode, body)
	}
	return body
}

// pagesPost posts a form with the CSRF token of the page it comes from and
// checks the status; it returns the body.
func pagesPost(t *testing.T, cl *client, from, path string, form url.Values, status int) (*http.Response, string) {
	t.Helper()
	resp := cl.postForm(path, form, from)
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("POST %s: status %d, want %d\n%s", path, resp.StatusCode, status, body)
	}
	return resp, body
}

// pagesSaved posts a form that must answer 303 to want.
func pagesSaved(t *testing.T, cl *client, from, path string, form url.Values, want string) {
	t.Helper()
	resp, _ := pagesPost(t, cl, from, path, form, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != want {
		t.Fatalf("POST %s: Location %q, want %q", path, got, want)
	}
}

// pagesFollow posts a form that must answer 303 to a Location beginning
// with want, then loads that page, as a browser does; it returns both.
func pagesFollow(t *testing.T, cl *client, from, path string, form url.Values, want string) (location, body string) {
	t.Helper()
	resp, _ := pagesPost(t, cl, from, path, form, http.StatusSeeOther)
	location = resp.Header.Get("Location")
	if !strings.HasPrefix(location, want) {
		t.Fatalf("POST %s: Location %q, want %q…", path, location, want)
	}
	return location, pagesOK(t, cl, location)
}

func pagesContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not show %q", what, w)
		}
	}
}

func pagesLacks(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s shows %q", what, w)
		}
	}
}

func pagesToken(t *testing.T, e *env, owner int64, name string, in acl.TokenInput) *acl.GuestToken {
	t.Helper()
	in.Name = &name
	tok, _, err := e.svc.CreateToken(context.Background(), owner, in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func pagesPost0(t *testing.T, e *env, owner int64, title string) *content.Item {
	t.Helper()
	it, err := e.cs.CreatePost(context.Background(), owner, title, "Some text.")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// listTokens lists every token of owner (tests have fewer than a page).
func listTokens(e *env, ctx context.Context, owner int64) ([]acl.TokenSummary, error) {
	ts, _, err := e.svc.ListTokensPage(ctx, owner, acl.TokenQuery{Page: app.Page{Limit: app.MaxPageSize}})
	return ts, err
}

func pagesTokenByName(t *testing.T, e *env, owner int64, name string) acl.TokenSummary {
	t.Helper()
	ts, err := listTokens(e, context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts {
		if tk.Name == name {
			return tk
		}
	}
	t.Fatalf("no token named %q among %d", name, len(ts))
	return acl.TokenSummary{}
}

func pagesACL(t *testing.T, e *env, owner, item int64) *acl.ACL {
	t.Helper()
	a, err := e.svc.ItemACL(context.Background(), owner, item)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// pagesPhoto stores a small PNG as a photo of owner.
func pagesPhoto(t *testing.T, e *env, owner int64, title string, album *int64) *content.Item {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := e.cs.IngestPhoto(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	it, err := e.cs.SavePhoto(ctx, owner, p, title, album)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestHomePageListsItemsAndCreatesPostsAndAlbums(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		pagesPost0(t, e, bob.ID, "Diary of bob")
		cl := e.client()
		cl.login("alice")

		body := pagesOK(t, cl, "/")
		pagesContains(t, "empty home", body, `action="/posts"`, `action="/albums"`, `enctype="multipart/form-data"`,
			`<input type="file" name="file" accept="image/*" multiple`, `name="album_id"`, "Nothing here yet")
		// The upload form carries its token in a field before the file input
		// (the streamed upload reads it before any file byte), never in its URL.
		if !regexp.MustCompile(`(?s)<form method="post" action="/upload" enctype="multipart/form-data"[^>]*>\s*<input type="hidden" name="_csrf" value="[A-Za-z0-9_-]+">.*?<input type="file" name="file"`).MatchString(body) {
			t.Errorf("home has no upload form with the CSRF field before the file input:\n%s", body)
		}
		pagesLacks(t, "home", body, "_csrf=")

		pagesSaved(t, cl, "/", "/posts", url.Values{"title": {"Beach day"}, "body": {"Sand everywhere."}}, "/?done=saved")
		pagesSaved(t, cl, "/", "/albums", url.Values{"title": {"Holidays"}}, "/?done=saved")
		items, err := e.cs.Items(ctx, alice.ID)
		if err != nil || len(items) != 2 {
			t.Fatalf("items after the forms: %d, %v", len(items), err)
		}
		album, post := items[0], items[1]
		if album.Kind != content.KindAlbum || album.Title != "Holidays" || post.Kind != content.KindPost || post.Title != "Beach day" || post.Body != "Sand everywhere." {
			t.Fatalf("items = %+v / %+v", album, post)
		}
		photo := pagesPhoto(t, e, alice.ID, "Sunset", &album.ID)

		body = pagesOK(t, cl, "/?done=saved")
		pagesContains(t, "home", body, "Saved.", "Beach day", "Holidays", "Sunset",
			fmt.Sprintf(`href="/items/%d"`, post.ID), fmt.Sprintf(`href="/items/%d/share"`, post.ID),
			fmt.Sprintf(`src="/media/%d/thumb"`, photo.ID), fmt.Sprintf(`href="/items/%d/share"`, photo.ID),
			fmt.Sprintf(`<option value="%d">Holidays</option>`, album.ID))
		pagesLacks(t, "home", body, "Diary of bob", "hsg_")
		// Newest first.
		if strings.Index(body, "Sunset") > strings.Index(body, "Beach day") {
			t.Error("home does not list the newest item first")
		}

		// A post with neither title nor body is refused on the page itself.
		_, body = pagesPost(t, cl, "/", "/posts", url.Values{"title": {"  "}, "body": {""}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused post", body, "A post needs a title or a body.")
		_, body = pagesPost(t, cl, "/", "/albums", url.Values{"title": {""}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused album", body, "An album needs a title.")
		if items, _ := e.cs.Items(ctx, alice.ID); len(items) != 3 {
			t.Errorf("refused forms created items: %d", len(items))
		}
	})
}

var linkRE = regexp.MustCompile(`value="(http://hub\.test/[^"]+)"`)

func TestSharePanelCreateGuestLinkInOneClick(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Holiday letter")
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)

		body := pagesOK(t, cl, share)
		pagesContains(t, "share panel", body, "Holiday letter", "Create guest link", share+"/link", "Private")
		pagesLacks(t, "share panel", body, "hsg_")

		_, body = pagesFollow(t, cl, share, share+"/link", url.Values{"name": {"Grandma"}, "expires_in": {"date"}, "expires_at": {"2026-06-30T18:00"}}, share+"?new=")
		pagesContains(t, "new link", body, fmt.Sprintf("/items/%d?zat=hsg_", post.ID), `src="data:image/png;base64,`,
			`data-copy="share-link"`, `class="is-new"`, "Grandma", `<script src="/static/app.js" defer></script>`)
		m := linkRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no link input on the page:\n%s", body)
		}
		tok := pagesTokenByName(t, e, alice.ID, "Grandma")
		if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(time.Date(2026, 6, 30, 18, 0, 0, 0, time.UTC)) {
			t.Errorf("expiry = %v, want 2026-06-30 18:00 UTC", tok.ExpiresAt)
		}
		if a := pagesACL(t, e, alice.ID, post.ID); !slices.Contains(a.Allow, tok.ID) || a.Public {
			t.Errorf("ACL after the one-click share = %+v, want token %d allowed", a, tok.ID)
		}
		secret, err := e.svc.TokenSecret(ctx, alice.ID, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("http://hub.test/items/%d?zat=%s", post.ID, secret); m[1] != want {
			t.Errorf("link %q, want %q", m[1], want)
		}
		// The secret shows only where the link is offered: once in the input.
		if n := strings.Count(body, secret); n != 1 {
			t.Errorf("the secret appears %d times on the page, want 1", n)
		}

		// The link works for a recipient.
		guest := e.client()
		resp := guest.get(strings.TrimPrefix(m[1], "http://hub.test"))
		wantStatus(t, "guest opens the link", resp, http.StatusSeeOther)
		resp = guest.get(resp.Header.Get("Location"))
		if b := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(b, "Holiday letter") {
			t.Errorf("guest view: status %d", resp.StatusCode)
		}

		// Without a name, a link still comes out in one click.
		_, body = pagesFollow(t, cl, share, share+"/link", url.Values{}, share+"?new=")
		pagesContains(t, "unnamed link", body, fmt.Sprintf("/items/%d?zat=hsg_", post.ID))
		if a := pagesACL(t, e, alice.ID, post.ID); len(a.Allow) != 2 {
			t.Errorf("allow list after two links: %v", a.Allow)
		}

		// A past expiry is refused on the panel, and nothing is made.
		_, body = pagesPost(t, cl, share, share+"/link", url.Values{"name": {"Late"}, "expires_at": {"2026-05-01T10:00"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused link", body, "The expiry must be in the future.", `value="Late"`)
		pagesLacks(t, "refused link", body, "hsg_")
		if ts, _ := listTokens(e, ctx, alice.ID); len(ts) != 2 {
			t.Errorf("tokens after a refused link: %d, want 2", len(ts))
		}

		// Back on the panel: the list and "who can open" name Grandma, no secret.
		body = pagesOK(t, cl, share)
		pagesContains(t, "share panel", body, "Grandma", fmt.Sprintf(`href="/settings/tokens/%d"`, tok.ID), "named directly")
		pagesLacks(t, "share panel", body, "hsg_")
	})
}

func TestSharePanelManagesTheACL(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		carol := e.member("carol")
		post := pagesPost0(t, e, alice.ID, "Plans")
		grandma := pagesToken(t, e, alice.ID, "Grandma", acl.TokenInput{})
		uncle := pagesToken(t, e, alice.ID, "Uncle", acl.TokenInput{})
		cousin := pagesToken(t, e, alice.ID, "Cousin", acl.TokenInput{})
		revoked := pagesToken(t, e, alice.ID, "Old link", acl.TokenInput{})
		if err := e.svc.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		family, err := e.svc.CreateGroup(ctx, alice.ID, "Family")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetGroupMembers(ctx, alice.ID, family.ID, []int64{uncle.ID, cousin.ID, carol.ID}); err != nil {
			t.Fatal(err)
		}
		bobsToken := pagesToken(t, e, bob.ID, "Link of bob", acl.TokenInput{})
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", post.ID)
		done := share + "?done=saved"

		body := pagesOK(t, cl, share)
		// The picker offers members (not oneself), groups and active tokens.
		pagesContains(t, "picker", body, fmt.Sprintf(`<option value="%d">Bob (@bob)</option>`, bob.ID),
			fmt.Sprintf(`<option value="%d">Family (3 in it)</option>`, family.ID), fmt.Sprintf(`<option value="%d">Grandma</option>`, grandma.ID))
		pagesLacks(t, "picker", body, fmt.Sprintf(`<option value="%d">`, alice.ID), fmt.Sprintf(`<option value="%d">`, revoked.ID), "Link of bob")
		// Reusing a token is one click: a form per active token.
		reuse := section(t, body, "Or reuse a guest link", "Who is on the list")
		for _, id := range []int64{grandma.ID, uncle.ID, cousin.ID} {
			pagesContains(t, "reuse", reuse, fmt.Sprintf(`name="principal" value="%d"`, id))
		}
		pagesLacks(t, "reuse", reuse, fmt.Sprintf(`name="principal" value="%d"`, revoked.ID))

		pagesSaved(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(grandma.ID)}, "effect": {"allow"}}, done)
		pagesSaved(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(family.ID)}, "effect": {"allow"}}, done)
		pagesSaved(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(cousin.ID)}, "effect": {"deny"}}, done)
		pagesSaved(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(bob.ID)}, "effect": {"allow"}}, done)
		a := pagesACL(t, e, alice.ID, post.ID)
		if !slices.Equal(a.Allow, sorted(grandma.ID, family.ID, bob.ID)) || !slices.Equal(a.Deny, []int64{cousin.ID}) {
			t.Fatalf("ACL = %+v", a)
		}

		body = pagesOK(t, cl, done)
		pagesContains(t, "share panel", body, "Saved.", "Grandma", "Family", "Bob", "@bob", "Cousin", "through group Family", "named directly",
			fmt.Sprintf(`action="%s/showlink"`, share))
		// Who can open it: Grandma directly and Uncle through Family; Cousin is denied.
		openers := section(t, body, "Who can open this", "Who opened it when")
		pagesContains(t, "who can open", openers, "Grandma", "Uncle")
		pagesLacks(t, "who can open", openers, "Cousin", "Old link", "hsg_")
		// Reuse buttons are left for tokens not on the list.
		reuse = section(t, body, "Or reuse a guest link", "Who is on the list")
		pagesContains(t, "reuse", reuse, "Uncle")
		pagesLacks(t, "reuse", reuse, "Grandma", "Cousin", "Old link")

		// Another member's token, or nothing picked, is refused on the panel.
		_, body = pagesPost(t, cl, share, share+"/add", url.Values{"principal": {fmt.Sprint(bobsToken.ID)}, "effect": {"allow"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused principal", body, "neither a member nor one of your groups or guest tokens")
		pagesPost(t, cl, share, share+"/add", url.Values{"principal": {""}}, http.StatusUnprocessableEntity)

		pagesSaved(t, cl, share, share+"/remove", url.Values{"principal": {fmt.Sprint(cousin.ID)}}, done)
		pagesSaved(t, cl, share, share+"/remove", url.Values{"principal": {fmt.Sprint(bob.ID)}}, done)
		if a := pagesACL(t, e, alice.ID, post.ID); !slices.Equal(a.Allow, sorted(grandma.ID, family.ID)) || len(a.Deny) != 0 {
			t.Fatalf("ACL after removing = %+v", a)
		}

		pagesSaved(t, cl, share, share+"/public", url.Values{"public": {"1"}}, done)
		if !pagesACL(t, e, alice.ID, post.ID).Public {
			t.Error("the item did not become public")
		}
		body = pagesOK(t, cl, share)
		pagesContains(t, "public panel", body, "Make private", "the item is public")
		pagesSaved(t, cl, share, share+"/public", url.Values{"public": {"0"}}, done)
		if pagesACL(t, e, alice.ID, post.ID).Public {
			t.Error("the item did not become private again")
		}
	})
}

func sorted(ids ...int64) []int64 {
	slices.Sort(ids)
	return ids
}

// section returns the part of a page between two headings.
func section(t *testing.T, body, from, to string) string {
	t.Helper()
	i, j := strings.Index(body, from), strings.Index(body, to)
	if i < 0 || j < i {
		t.Fatalf("no section %q … %q on the page", from, to)
	}
	return body[i:j]
}

func TestSharePanelCopiesAnExistingLinkAndShowsWhoOpenedIt(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		album, err := e.cs.CreateAlbum(ctx, alice.ID, "Summer")
		if err != nil {
			t.Fatal(err)
		}
		photo := pagesPhoto(t, e, alice.ID, "Lake", &album.ID)
		grandma := pagesToken(t, e, alice.ID, "Grandma", acl.TokenInput{})
		if err := e.svc.Grant(ctx, alice.ID, album.ID, grandma.ID, false); err != nil {
			t.Fatal(err)
		}
		itemID := photo.ID
		e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: grandma.ID, ItemID: &itemID, Event: acl.EventView, Network: "203.0.113.0/24"})
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", photo.ID)

		body := pagesOK(t, cl, share)
		pagesContains(t, "photo panel", body, fmt.Sprintf(`src="/media/%d/thumb"`, photo.ID), "through its album")
		history := section(t, body, "Who opened it when", "</section>\n<script")
		pagesContains(t, "history", history, "Grandma", "Viewed", "1 Jun 2026 12:00 UTC")

		// The album's panel offers to copy Grandma's link.
		albumShare := fmt.Sprintf("/items/%d/share", album.ID)
		_, body = pagesFollow(t, cl, albumShare, albumShare+"/showlink", url.Values{"token": {fmt.Sprint(grandma.ID)}}, albumShare+"?link=")
		secret, err := e.svc.TokenSecret(ctx, alice.ID, grandma.ID)
		if err != nil {
			t.Fatal(err)
		}
		pagesContains(t, "copied link", body, fmt.Sprintf(`value="http://hub.test/items/%d?zat=%s"`, album.ID, secret),
			`src="data:image/png;base64,`, `Link for “Grandma”`)
		if n := strings.Count(body, "hsg_"); n != 1 {
			t.Errorf("hsg_ appears %d times, want once (the link)", n)
		}
	})
}

func TestSharePanelOfAnotherMembersItemIsNotFound(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		bobs := pagesPost0(t, e, bob.ID, "Post of bob")
		mine := pagesToken(t, e, alice.ID, "Mine", acl.TokenInput{})
		cl := e.client()
		cl.login("alice")
		share := fmt.Sprintf("/items/%d/share", bobs.ID)

		for _, p := range []string{share, "/items/999999/share"} {
			resp := cl.get(p)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Post of bob") {
				t.Errorf("GET %s: status %d", p, resp.StatusCode)
			}
		}
		posts := []struct {
			path string
			form url.Values
		}{
			{"/link", url.Values{"name": {"Sneaky"}}},
			{"/add", url.Values{"principal": {fmt.Sprint(mine.ID)}, "effect": {"allow"}}},
			{"/remove", url.Values{"principal": {fmt.Sprint(bob.ID)}}},
			{"/public", url.Values{"public": {"1"}}},
			{"/showlink", url.Values{"token": {fmt.Sprint(mine.ID)}}},
		}
		for _, p := range posts {
			_, body := pagesPost(t, cl, "/", share+p.path, p.form, http.StatusNotFound)
			pagesLacks(t, "POST "+p.path, body, "hsg_", "Post of bob")
		}
		if ts, _ := listTokens(e, ctx, alice.ID); len(ts) != 1 {
			t.Errorf("alice has %d tokens, want 1", len(ts))
		}
		if a := pagesACL(t, e, bob.ID, bobs.ID); a.Public || len(a.Allow) != 0 {
			t.Errorf("bob's ACL changed: %+v", a)
		}
	})
}

func TestTokenPagesListStatusesAndFlags(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		post := pagesPost0(t, e, alice.ID, "Letter")
		// Made 40 days ago: one never used, one used 35 days ago, one used yesterday.
		never := pagesToken(t, e, alice.ID, "Never used", acl.TokenInput{})
		oldUse := pagesToken(t, e, alice.ID, "Used long ago", acl.TokenInput{})
		fresh := pagesToken(t, e, alice.ID, "Used lately", acl.TokenInput{})
		for _, id := range []int64{never.ID, oldUse.ID, fresh.ID} {
			if err := e.svc.Grant(ctx, alice.ID, post.ID, id, false); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(5 * 24 * time.Hour)
		e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: oldUse.ID, Event: acl.EventOpen, Network: "203.0.113.0/24"})
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(34 * 24 * time.Hour)
		e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: fresh.ID, Event: acl.EventOpen, Network: "203.0.113.0/24"})
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(24 * time.Hour)
		// Made now: in no ACL; revoked; used up; expired; limited.
		loose := pagesToken(t, e, alice.ID, "Loose", acl.TokenInput{})
		revoked := pagesToken(t, e, alice.ID, "Revoked one", acl.TokenInput{})
		if err := e.svc.RevokeToken(ctx, alice.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		zero := 0
		usedUp := pagesToken(t, e, alice.ID, "Used up", acl.TokenInput{MaxUses: &zero})
		soon := e.clock.Now().Add(time.Hour)
		expired := pagesToken(t, e, alice.ID, "Expired one", acl.TokenInput{ExpiresAt: &soon})
		five := 5
		limited := pagesToken(t, e, alice.ID, "Limited", acl.TokenInput{MaxUses: &five})
		for _, id := range []int64{revoked.ID, usedUp.ID, expired.ID, limited.ID} {
			if err := e.svc.Grant(ctx, alice.ID, post.ID, id, false); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(2 * time.Hour)
		pagesToken(t, e, bob.ID, "Token of bob", acl.TokenInput{})

		cl := e.client()
		cl.login("alice")
		body := pagesOK(t, cl, "/settings/tokens")
		pagesLacks(t, "token list", body, "hsg_", "Token of bob")
		row := func(id int64) string {
			t.Helper()
			i := strings.Index(body, fmt.Sprintf(`<a href="/settings/tokens/%d">`, id))
			if i < 0 {
				t.Fatalf("token %d not listed", id)
			}
			j := strings.Index(body[i:], "</tr>")
			return body[i : i+j]
		}
		check := func(id int64, status string, wants []string, unwanted []string) {
			t.Helper()
			r := row(id)
			pagesContains(t, fmt.Sprintf("row %d", id), r, append(wants, `status-`+status)...)
			pagesLacks(t, fmt.Sprintf("row %d", id), r, unwanted...)
		}
		check(never.ID, "active", []string{"Never used", "unused for 30 days", "0 / ∞", "never", "1 item"}, []string{"in no ACL"})
		check(oldUse.ID, "active", []string{"unused for 30 days", "6 Jun 2026 12:00 UTC"}, []string{"in no ACL"})
		check(fresh.ID, "active", []string{"Used lately"}, []string{"unused for 30 days", "in no ACL"})
		check(loose.ID, "active", []string{"in no ACL", "0 items"}, []string{"unused for 30 days"})
		check(revoked.ID, "revoked", nil, []string{"unused for 30 days", "/revoke"})
		check(usedUp.ID, "used_up", []string{"0 / 0"}, nil)
		check(expired.ID, "expired", []string{"/extend", `name="days" value="7"`}, nil)
		check(limited.ID, "active", []string{"0 / 5", "/revoke", "/rotate"}, nil)
		pagesContains(t, "token list", body, `href="/settings/tokens/revoke-flagged"`)
		pagesContains(t, "the flagged links", pagesOK(t, cl, "/settings/tokens/revoke-flagged"),
			"Revoke flagged tokens (3)", `action="/settings/tokens/revoke-flagged"`)

		// Bulk revoke takes exactly the flagged active tokens.
		pagesSaved(t, cl, "/settings/tokens/revoke-flagged", "/settings/tokens/revoke-flagged", url.Values{}, "/settings/tokens?done=revoked")
		for _, tk := range []*acl.GuestToken{never, oldUse, fresh, loose, revoked, usedUp, expired, limited} {
			got, err := e.svc.Token(ctx, alice.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantRevoked := tk == never || tk == oldUse || tk == loose || tk == revoked
			if (got.RevokedAt != nil) != wantRevoked {
				t.Errorf("%s: revoked %v, want %v", tk.Name, got.RevokedAt != nil, wantRevoked)
			}
		}
		if got, _ := listTokens(e, ctx, bob.ID); got[0].RevokedAt != nil {
			t.Error("bulk revoke touched another member's token")
		}
		body = pagesOK(t, cl, "/settings/tokens?done=revoked")
		pagesContains(t, "token list after bulk revoke", body, "Revoked.")
		pagesContains(t, "the flagged links after bulk revoke", pagesOK(t, cl, "/settings/tokens/revoke-flagged"), "No active guest link is flagged")
	})
}

func TestTokenPagesCreateEditExtendRotateRevoke(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		cl := e.client()
		cl.login("alice")

		_, body := pagesFollow(t, cl, "/settings/tokens", "/settings/tokens", url.Values{"name": {"Grandma"}, "expires_at": {"2026-07-01T09:30"},
			"max_uses": {"3"}, "password": {"open sesame"}, "can_download": {"1"}, "note": {"Love, Alice"}}, "/settings/tokens/")
		tok := pagesTokenByName(t, e, alice.ID, "Grandma")
		secret, err := e.svc.TokenSecret(ctx, alice.ID, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		pagesContains(t, "new token page", body, `value="http://hub.test/shared?zat=`+secret+`"`, `src="data:image/png;base64,`, "New link for “Grandma”")
		if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(time.Date(2026, 7, 1, 9, 30, 0, 0, time.UTC)) || tok.MaxUses == nil || *tok.MaxUses != 3 ||
			!tok.HasPassword() || !tok.Download || tok.Metadata || tok.Note != "Love, Alice" {
			t.Fatalf("created token = %+v", tok.GuestToken)
		}

		// A bad form is refused with its message and the typed values (never the password).
		_, body = pagesPost(t, cl, "/settings/tokens", "/settings/tokens", url.Values{"name": {"Negative"}, "max_uses": {"-1"}, "password": {"pw-typed"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused token", body, "cannot be negative", `value="Negative"`)
		pagesLacks(t, "refused token", body, "pw-typed")

		page := fmt.Sprintf("/settings/tokens/%d", tok.ID)
		body = pagesOK(t, cl, page)
		pagesContains(t, "token page", body, "Grandma", "status-active", "0 / 3", "Love, Alice", `name="max_uses" min="0" step="1" inputmode="numeric" value="3"`)
		pagesLacks(t, "token page", body, "hsg_")

		// Edit: blank expiry keeps it, blank max uses removes the limit, password removed.
		pagesSaved(t, cl, page, page, url.Values{"name": {"Granny"}, "expires_at": {""}, "max_uses": {""}, "remove_password": {"1"},
			"show_metadata": {"1"}, "note": {"See you soon"}}, page+"?done=saved")
		got, err := e.svc.Token(ctx, alice.ID, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Granny" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(*tok.ExpiresAt) || got.MaxUses != nil || got.HasPassword() ||
			got.Download || !got.Metadata || got.Note != "See you soon" {
			t.Fatalf("edited token = %+v", got)
		}
		_, body = pagesPost(t, cl, page, page, url.Values{"name": {"Granny"}, "expires_at": {"2020-01-01T00:00"}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused edit", body, "The expiry must be in the future.")
		pagesSaved(t, cl, page, page, url.Values{"name": {"Granny"}, "no_expiry": {"1"}, "max_uses": {"10"}}, page+"?done=saved")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); got.ExpiresAt != nil || got.MaxUses == nil || *got.MaxUses != 10 {
			t.Fatalf("token after clearing the expiry = %+v", got)
		}

		// Extend: a link that never expires has nothing to extend; a picked
		// instant sets the expiry; +7 days counts from the expiry (acl.ExtendToken).
		_, body = pagesPost(t, cl, "/settings/tokens", page+"/extend", url.Values{"days": {"7"}}, http.StatusConflict)
		pagesContains(t, "refused extend", body, "never expires")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); got.ExpiresAt != nil {
			t.Fatalf("extending a link without expiry gave it one: %v", got.ExpiresAt)
		}
		pagesSaved(t, cl, "/settings/tokens", page+"/extend", url.Values{"expires_at": {"2026-12-24T18:00"}}, "/settings/tokens?done=saved")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); !got.ExpiresAt.Equal(time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)) {
			t.Fatalf("picked expiry = %v", got.ExpiresAt)
		}
		// With the browser's offset (share.js), the typed time is the viewer's local time.
		pagesSaved(t, cl, "/settings/tokens", page+"/extend", url.Values{"expires_at": {"2026-12-24T18:00"}, "tz_offset": {"60"}}, "/settings/tokens?done=saved")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); !got.ExpiresAt.Equal(time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)) {
			t.Fatalf("picked expiry at UTC+1 = %v, want 17:00 UTC", got.ExpiresAt)
		}
		pagesSaved(t, cl, page, page+"/extend", url.Values{"days": {"7"}, "from": {"token"}}, page+"?done=saved")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); !got.ExpiresAt.Equal(time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)) {
			t.Fatalf("expiry after +7 days = %v, want 31 Dec 17:00 UTC", got.ExpiresAt)
		}
		_, body = pagesPost(t, cl, "/settings/tokens", page+"/extend", url.Values{"expires_at": {""}}, http.StatusUnprocessableEntity)
		pagesContains(t, "refused extend", body, "Pick the new expiry.")

		// Copy link shows the current link; rotate shows a new one and keeps the grants.
		if err := e.svc.Grant(ctx, alice.ID, post.ID, tok.ID, false); err != nil {
			t.Fatal(err)
		}
		_, body = pagesFollow(t, cl, page, page+"/showlink", url.Values{}, page+"?link=")
		pagesContains(t, "copy link", body, `value="http://hub.test/shared?zat=`+secret+`"`, `data-copy="token-link"`)
		_, body = pagesFollow(t, cl, page, page+"/rotate", url.Values{}, page+"?link=")
		rotated, err := e.svc.TokenSecret(ctx, alice.ID, tok.ID)
		if err != nil || rotated == secret {
			t.Fatalf("rotate did not change the secret (%v)", err)
		}
		pagesContains(t, "rotated", body, `value="http://hub.test/shared?zat=`+rotated+`"`, "The old link no longer works")
		pagesLacks(t, "rotated", body, secret)
		if a := pagesACL(t, e, alice.ID, post.ID); !slices.Contains(a.Allow, tok.ID) {
			t.Error("rotation lost the grant")
		}

		// Revoke from the token page returns there; the token stays, revoked.
		pagesSaved(t, cl, page, page+"/revoke", url.Values{"from": {"token"}}, page+"?done=revoked")
		if got, _ = e.svc.Token(ctx, alice.ID, tok.ID); got.RevokedAt == nil {
			t.Fatal("not revoked")
		}
		body = pagesOK(t, cl, page+"?done=revoked")
		pagesContains(t, "revoked token page", body, "Revoked.", "status-revoked", "Inactive")
		pagesLacks(t, "revoked token page", body, page+"/rotate", page+"/showlink", page+"/extend", `action="`+page+`"`)
		_, body = pagesPost(t, cl, "/settings/tokens", page+"/rotate", url.Values{}, http.StatusConflict)
		pagesContains(t, "refused rotate", body, "A revoked token cannot be rotated.")
	})
}

func TestTokenPageShowsGrantsAndUngrants(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		direct := pagesPost0(t, e, alice.ID, "Direct post")
		viaGroup := pagesPost0(t, e, alice.ID, "Family post")
		denied := pagesPost0(t, e, alice.ID, "Hidden post")
		tok := pagesToken(t, e, alice.ID, "Grandma", acl.TokenInput{})
		family, err := e.svc.CreateGroup(ctx, alice.ID, "Family")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AddGroupMember(ctx, alice.ID, family.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		for _, g := range []struct {
			item, principal int64
			deny            bool
		}{{direct.ID, tok.ID, false}, {viaGroup.ID, family.ID, false}, {denied.ID, family.ID, false}, {denied.ID, tok.ID, true}} {
			if err := e.svc.Grant(ctx, alice.ID, g.item, g.principal, g.deny); err != nil {
				t.Fatal(err)
			}
		}
		itemID := direct.ID
		for range 2 {
			e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: tok.ID, ItemID: &itemID, Event: acl.EventView, Network: "203.0.113.0/24"})
		}
		e.svc.Log.Record(acl.AccessEvent{At: e.clock.Now(), TokenID: tok.ID, ItemID: &itemID, Event: acl.EventFailed, Network: "203.0.113.0/24", Reason: acl.StatusUsedUp})
		if err := e.svc.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		page := fmt.Sprintf("/settings/tokens/%d", tok.ID)

		body := pagesOK(t, cl, page)
		grants := section(t, body, "Items it is on", "Access history")
		pagesContains(t, "grants", grants, "Direct post", "Family post", "Hidden post", "through group Family", "direct", "Denied", "Allowed",
			fmt.Sprintf(`href="/items/%d"`, viaGroup.ID), `href="/settings/groups"`, fmt.Sprintf(`name="item" value="%d"`, direct.ID),
			fmt.Sprintf(`name="item" value="%d"`, denied.ID), "2 page views in all", "status-active")
		// A grant through the group is removed in the group, not here.
		pagesLacks(t, "grants", grants, fmt.Sprintf(`name="item" value="%d"`, viaGroup.ID))
		history := section(t, body, "Access history", "app.js")
		pagesContains(t, "history", history, "Viewed", "Refused: used up", "Direct post")
		pagesLacks(t, "token page", body, "hsg_")

		pagesSaved(t, cl, page, page+"/ungrant", url.Values{"item": {fmt.Sprint(direct.ID)}}, page+"?done=saved")
		if a := pagesACL(t, e, alice.ID, direct.ID); len(a.Allow) != 0 {
			t.Errorf("ACL after ungrant = %+v", a)
		}
		pagesSaved(t, cl, page, page+"/ungrant", url.Values{"item": {fmt.Sprint(denied.ID)}}, page+"?done=saved")
		if a := pagesACL(t, e, alice.ID, denied.ID); len(a.Deny) != 0 || !slices.Equal(a.Allow, []int64{family.ID}) {
			t.Errorf("ACL after removing the deny = %+v", a)
		}
		body = pagesOK(t, cl, page)
		pagesLacks(t, "token page after ungrant", section(t, body, "Items it is on", "Access history"), "Direct post")

		// Revoked: grants stay listed, inactive.
		if err := e.svc.RevokeToken(ctx, alice.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		body = pagesOK(t, cl, page)
		pagesContains(t, "revoked grants", section(t, body, "Items it is on", "Access history"), "Family post", "inactive")
	})
}

func TestTokenPageOfAnotherMemberIsNotFound(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.member("alice")
		bob := e.member("bob")
		post := pagesPost0(t, e, bob.ID, "Post of bob")
		bobs := pagesToken(t, e, bob.ID, "Link of bob", acl.TokenInput{})
		if err := e.svc.Grant(ctx, bob.ID, post.ID, bobs.ID, false); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		page := fmt.Sprintf("/settings/tokens/%d", bobs.ID)
		for _, p := range []string{page, "/settings/tokens/999999"} {
			resp := cl.get(p)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Link of bob") {
				t.Errorf("GET %s: status %d", p, resp.StatusCode)
			}
		}
		for _, p := range []struct {
			path string
			form url.Values
		}{
			{"", url.Values{"name": {"Hijacked"}}},
			{"/revoke", url.Values{}},
			{"/extend", url.Values{"days": {"7"}}},
			{"/rotate", url.Values{}},
			{"/showlink", url.Values{}},
			{"/ungrant", url.Values{"item": {fmt.Sprint(post.ID)}}},
		} {
			_, body := pagesPost(t, cl, "/settings/tokens", page+p.path, p.form, http.StatusNotFound)
			pagesLacks(t, "POST "+p.path, body, "hsg_", "Link of bob")
		}
		got, err := e.svc.Token(ctx, bob.ID, bobs.ID)
		if err != nil || got.Name != "Link of bob" || got.RevokedAt != nil || got.ExpiresAt != nil || got.SessionVersion != bobs.SessionVersion {
			t.Errorf("bob's token changed: %+v, %v", got, err)
		}
		if a := pagesACL(t, e, bob.ID, post.ID); !slices.Contains(a.Allow, bobs.ID) {
			t.Error("bob's grant was removed")
		}
	})
}

func TestGroupsPageManagesGroups(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		bob := e.member("bob")
		grandma := pagesToken(t, e, alice.ID, "Grandma", acl.TokenInput{})
		bobs := pagesToken(t, e, bob.ID, "Link of bob", acl.TokenInput{})
		if _, err := e.svc.CreateGroup(ctx, bob.ID, "Circle of bob"); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		cl.login("alice")
		const groups = "/settings/groups"

		body := pagesOK(t, cl, groups)
		pagesContains(t, "groups page", body, "No groups yet", `action="/settings/groups"`)
		pagesLacks(t, "groups page", body, "Circle of bob")

		pagesSaved(t, cl, groups, groups, url.Values{"name": {"Family"}}, groups+"?done=saved")
		gs, err := e.svc.Groups(ctx, alice.ID)
		if err != nil || len(gs) != 1 || gs[0].Name != "Family" {
			t.Fatalf("groups = %+v, %v", gs, err)
		}
		g := gs[0].ID
		base := fmt.Sprintf("%s/%d", groups, g)

		_, body = pagesPost(t, cl, groups, groups, url.Values{"name": {"Family"}}, http.StatusConflict)
		pagesContains(t, "duplicate group", body, "You already have a group named")
		_, body = pagesPost(t, cl, groups, groups, url.Values{"name": {" "}}, http.StatusUnprocessableEntity)
		pagesContains(t, "nameless group", body, "A group needs a name.")

		pagesSaved(t, cl, groups, base+"/add", url.Values{"principal": {fmt.Sprint(grandma.ID)}}, groups+"?done=saved")
		pagesSaved(t, cl, groups, base+"/add", url.Values{"principal": {fmt.Sprint(bob.ID)}}, groups+"?done=saved")
		_, body = pagesPost(t, cl, groups, base+"/add", url.Values{"principal": {fmt.Sprint(bobs.ID)}}, http.StatusUnprocessableEntity)
		pagesContains(t, "another member's token", body, "neither a member nor one of your groups or guest tokens")
		grp, err := e.svc.Group(ctx, alice.ID, g)
		if err != nil || !slices.Equal(grp.Members, sorted(grandma.ID, bob.ID)) {
			t.Fatalf("members = %v, %v", grp.Members, err)
		}

		body = pagesOK(t, cl, groups)
		card := section(t, body, `>Family</h2>`, "app.js")
		pagesContains(t, "group card", card, "Grandma", "guest link", "Bob", "@bob", fmt.Sprintf(`href="/settings/tokens/%d"`, grandma.ID),
			fmt.Sprintf(`action="%s/remove"`, base), fmt.Sprintf(`action="%s/rename"`, base), fmt.Sprintf(`action="%s/delete"`, base))
		pagesLacks(t, "group card", card, "Link of bob", "hsg_")

		pagesSaved(t, cl, groups, base+"/remove", url.Values{"principal": {fmt.Sprint(bob.ID)}}, groups+"?done=saved")
		if grp, _ = e.svc.Group(ctx, alice.ID, g); !slices.Equal(grp.Members, []int64{grandma.ID}) {
			t.Fatalf("members after remove = %v", grp.Members)
		}
		pagesSaved(t, cl, groups, base+"/rename", url.Values{"name": {"Close family"}}, groups+"?done=saved")
		if grp, _ = e.svc.Group(ctx, alice.ID, g); grp.Name != "Close family" {
			t.Fatalf("name after rename = %q", grp.Name)
		}

		// Another member's group is not found.
		bg, _ := e.svc.Groups(ctx, bob.ID)
		other := fmt.Sprintf("%s/%d", groups, bg[0].ID)
		pagesPost(t, cl, groups, other+"/rename", url.Values{"name": {"Mine now"}}, http.StatusNotFound)
		pagesPost(t, cl, groups, other+"/delete", url.Values{}, http.StatusNotFound)
		pagesPost(t, cl, groups, other+"/add", url.Values{"principal": {fmt.Sprint(grandma.ID)}}, http.StatusNotFound)

		pagesSaved(t, cl, groups, base+"/delete", url.Values{}, groups+"?done=deleted")
		if gs, _ = e.svc.Groups(ctx, alice.ID); len(gs) != 0 {
			t.Fatalf("groups after delete = %+v", gs)
		}
		if bg, _ = e.svc.Groups(ctx, bob.ID); len(bg) != 1 || bg[0].Name != "Circle of bob" {
			t.Errorf("bob's groups = %+v", bg)
		}
	})
}

func TestOwnerPagesNeedSignInAndHoldNoSecrets(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		post := pagesPost0(t, e, alice.ID, "Letter")
		tok, _, err := e.svc.ShareItem(ctx, alice.ID, post.ID, acl.TokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := e.svc.CreateGroup(ctx, alice.ID, "Family")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AddGroupMember(ctx, alice.ID, g.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		pages := []string{"/", "/settings/tokens", fmt.Sprintf("/settings/tokens/%d", tok.ID), fmt.Sprintf("/items/%d/share", post.ID), "/settings/groups"}
		anon := e.client()
		for _, p := range pages {
			wantRedirect(t, "signed out "+p, anon.get(p), "/login")
		}
		cl := e.client()
		cl.login("alice")
		for _, p := range pages {
			resp := cl.get(p)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", p, resp.StatusCode)
			}
			if strings.Contains(body, "hsg_") || strings.Contains(body, "hsp_") {
				t.Errorf("%s shows a secret", p)
			}
			if !strings.Contains(body, `action="/logout"`) {
				t.Errorf("%s has no sign-out form", p)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("%s: Cache-Control %q", p, cc)
			}
			if strings.Contains(body, " style=") || strings.Contains(body, "onclick") || strings.Contains(body, "<script>") {
				t.Errorf("%s has inline style or script, which the CSP blocks", p)
			}
		}
	})
}
