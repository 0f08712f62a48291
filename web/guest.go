package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// guestCookieLifetime bounds how long a browser keeps a guest session; the
// tokens' own expiry and revocation are checked on every request.
const guestCookieLifetime = 30 * 24 * time.Hour

func viewer(c *fiber.Ctx) content.Viewer {
	v, _ := c.Locals("viewer").(content.Viewer)
	return v
}

// guestHeaders are the headers of every guest-visible page: never cached,
// never indexed.
func guestHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("X-Robots-Tag", "noindex, nofollow")
}

// guestGate runs before every guest-visible GET route: it exchanges a zat
// for a cookie (and redirects to the clean URL), accepts a guest token as a
// bearer credential for crawlers, and resolves the viewer from the member
// session and the guest session.
func (s *Server) guestGate(c *fiber.Ctx) error {
	guestHeaders(c)
	if zat, ok := zatParam(string(c.Request().URI().QueryString())); ok {
		if family, ok := previewFamily(c); ok {
			return s.answerPreview(c, zat, family)
		}
		return s.exchangeZat(c, zat)
	}
	v := content.Viewer{Member: member(c)}
	if h := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(h, "Bearer "+acl.GuestTokenPrefix) {
		t, err := s.ACL.BearerToken(c.UserContext(), strings.TrimPrefix(h, "Bearer "), s.clientNetwork(c))
		if err != nil {
			return err
		}
		v.Guest = acl.GuestSession{}.With(t)
		c.Locals(bearerKey, true)
	} else if ck := c.Cookies(s.cookies.guest); ck != "" {
		v.Guest = s.ACL.OpenGuest(ck)
	}
	c.Locals("viewer", v)
	return c.Next()
}

// bearerKey marks a request whose guest token came as a bearer credential
// (a crawler): it is shown no forms.
const bearerKey = "guest_bearer"

// guestSession resolves the viewer of a guest form's POST from the member
// session and the guest-session cookie only: no zat exchange, no bearer.
func (s *Server) guestSession(c *fiber.Ctx) error {
	guestHeaders(c)
	v := content.Viewer{Member: member(c)}
	if ck := c.Cookies(s.cookies.guest); ck != "" {
		v.Guest = s.ACL.OpenGuest(ck)
	}
	c.Locals("viewer", v)
	return c.Next()
}

// itemIDParam is the item a guest route is about, when it has one (for the log).
func itemIDParam(c *fiber.Ctx) *int64 {
	if c.Params("id") == "" {
		return nil
	}
	id, err := paramID(c, "id")
	if err != nil {
		return nil
	}
	return &id
}

// exchangeZat answers every valid zat with a cookie and a 303 to the same
// URL without it, so the token leaves the address bar at once. A token
// with neither a use limit nor a password gets a guest session; any other
// gets a pending mark, and the clean URL shows its landing page. Every
// failure is the same "not found" as a missing item, with no cookie.
func (s *Server) exchangeZat(c *fiber.Ctx, zat string) error {
	held := s.ACL.OpenGuest(c.Cookies(s.cookies.guest))
	ex, err := s.ACL.ExchangeZat(c.UserContext(), zat, s.clientNetwork(c), held, itemIDParam(c))
	if err != nil {
		return err
	}
	switch ex.Outcome {
	case acl.Opened, acl.Reopened:
		s.setCookie(c, s.cookies.guest, s.ACL.SealGuest(held.With(ex.Token)), guestCookieLifetime)
	case acl.NeedsOpen:
		// The pending mark carries the item only when the token may open it,
		// so that its landing-page events are never tied to another's item.
		s.setCookie(c, s.cookies.pending, s.ACL.SealPending(ex.Token, ex.Item), acl.PendingLifetime)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Redirect(cleanLocation(string(c.Request().URI().Path()), string(c.Request().URI().QueryString())), fiber.StatusSeeOther)
}

// guestMiss is called when the viewer may not open what was asked: if the
// browser holds a pending link whose token opens it, the landing page is
// shown; otherwise "not found".
func (s *Server) guestMiss(c *fiber.Ctx, itemID *int64) error {
	p, ok := s.ACL.OpenPending(c.Cookies(s.cookies.pending))
	if !ok || previewOf(c) != nil {
		return notFound
	}
	t, err := s.ACL.PendingToken(c.UserContext(), p)
	if err != nil {
		return err
	}
	if itemID != nil {
		// Show the landing page only for what the pending token would open.
		if _, err := s.Content.View(c.UserContext(), *itemID, content.Viewer{Guest: acl.GuestSession{}.With(t)}); err != nil {
			return err
		}
	}
	return s.renderLanding(c, fiber.StatusOK, t, cleanLocation(c.Path(), string(c.Request().URI().QueryString())), "")
}

// renderLanding shows the landing page of a pending link; next is the page
// the explicit open returns to.
func (s *Server) renderLanding(c *fiber.Ctx, status int, t *acl.GuestToken, next, errMsg string) error {
	guestHeaders(c)
	var until *guestTime
	if t.ExpiresAt != nil {
		until = newGuestTime(*t.ExpiresAt, s.Clock.Now())
	}
	return c.Status(status).Render("landing", fiber.Map{
		"Title": "A link was shared with you", "Note": t.Note, "Until": until, "HasPassword": t.HasPassword(),
		"MaxUses": t.MaxUses, "CSRF": s.csrfToken(c), "Next": next,
		"Error": errMsg,
	}, "layouts/bare")
}

// openLink is the landing page's explicit open: the only place a use of a
// limited or password token is spent.
func (s *Server) openLink(c *fiber.Ctx) error {
	guestHeaders(c)
	p, ok := s.ACL.OpenPending(c.Cookies(s.cookies.pending))
	if !ok {
		return notFound
	}
	next := safeNext(c.FormValue("next"))
	t, err := s.ACL.OpenPendingLink(c.UserContext(), p, c.FormValue("password"), s.clientNetwork(c))
	if err != nil {
		if app.ErrorCode(err) == app.EUnauthorized {
			pt, perr := s.ACL.PendingToken(c.UserContext(), p)
			if perr != nil {
				return perr
			}
			// The retry returns to the page the link was for, not to /open.
			return s.renderLanding(c, fiber.StatusUnauthorized, pt, next, app.ErrorMessage(err))
		}
		return err
	}
	held := s.ACL.OpenGuest(c.Cookies(s.cookies.guest))
	s.setCookie(c, s.cookies.guest, s.ACL.SealGuest(held.With(t)), guestCookieLifetime)
	s.clearCookie(c, s.cookies.pending)
	return c.Redirect(next, fiber.StatusSeeOther)
}

// recordView logs a guest's view of an item (batched).
func (s *Server) recordView(c *fiber.Ctx, acc *content.Access, event string) {
	if acc.TokenID == 0 || previewOf(c) != nil {
		// The owner's preview of a token is no view of it.
		return
	}
	id := acc.Item.ID
	s.ACL.Log.Record(acl.AccessEvent{At: s.Clock.Now(), TokenID: acc.TokenID, ItemID: &id, Event: event, Network: s.clientNetwork(c)})
}

// sharedPage is "Shared with you": what the browser's guest tokens may
// open, with their notes. A browser with no live token (none opened yet, or
// every one revoked or expired) gets a friendly empty page, or the landing
// page of a link it is opening.
func (s *Server) sharedPage(c *fiber.Ctx) error {
	ctx, links := c.UserContext(), guestLinksOf(c)
	v := viewer(c)
	items, err := s.Content.Shared(ctx, v.Guest)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		if _, ok := s.ACL.OpenPending(c.Cookies(s.cookies.pending)); ok && previewOf(c) == nil {
			if err := s.guestMiss(c, nil); !app.IsNotFound(err) {
				return err
			}
		}
		return c.Render("shared", s.guestData(c, fiber.Map{"Title": "Shared with you", "Member": v.Member, "NavShared": true}), "layouts/guest")
	}
	var notes []sharedNote
	seen := map[int64]bool{}
	// A photo of a listed album is shown in the album, not on its own.
	albums := map[int64]bool{}
	for i := range items {
		if items[i].Kind == content.KindAlbum {
			albums[items[i].ID] = true
		}
	}
	tiles := make([]sharedTile, 0, len(items))
	for i := range items {
		it := &items[i]
		if !seen[it.TokenID] && (it.TokenNote != "" || it.TokenExpires != nil) {
			n := sharedNote{From: it.SharedBy, Note: it.TokenNote}
			if it.TokenExpires != nil {
				n.Until = newGuestTime(*it.TokenExpires, s.Clock.Now())
			}
			notes = append(notes, n)
		}
		seen[it.TokenID] = true
		if it.Kind == content.KindPhoto && it.AlbumID != nil && albums[*it.AlbumID] {
			continue
		}
		t := sharedTile{ID: it.ID, Page: links.item(it.ID), Kind: it.Kind, KindLabel: kindLabel(it.Kind), Label: guestLabel(&it.Item)}
		t.Alt = "Untitled " + strings.ToLower(t.KindLabel)
		switch it.Kind {
		case content.KindPhoto:
			t.Image = links.media(it.ID, "thumb")
		case content.KindAlbum:
			cover, ok, err := s.Content.Cover(ctx, &content.Access{Item: &it.Item, TokenID: it.TokenID}, v)
			if err != nil {
				return err
			}
			if ok {
				t.Image = links.media(cover, "thumb")
			}
		case content.KindPost:
			t.Excerpt = excerpt(it.Body, 160)
		}
		tiles = append(tiles, t)
	}
	count := "1 item"
	if len(tiles) != 1 {
		count = strconv.Itoa(len(tiles)) + " items"
	}
	return c.Render("shared", s.guestData(c, fiber.Map{"Title": "Shared with you", "Items": tiles, "Count": count, "Notes": notes, "Member": v.Member, "NavShared": true}), "layouts/guest")
}

// excerpt is the start of a text, cut at n characters.
func excerpt(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// errorPage is the error page's view: a member is sent back to their items,
// a browser holding a guest session to "Shared with you", anyone else to
// nothing but a small sign-in link for members. It looks at the cookies
// only — never at the state of a token — so a bad link and a missing item
// give the same page to the same browser.
func (s *Server) errorPage(c *fiber.Ctx, status int, msg string) errorView {
	v := errorView{Title: titleOf(status), Status: status, Message: msg}
	if t, ok := friendlyTitles[status]; ok {
		v.Title = t
	}
	if friendly, ok := friendlyErrors[status]; ok {
		v.Message = friendly
	}
	m := member(c)
	if m == nil && status < 500 {
		// Routes without the session middleware (an unknown path) still
		// know a signed-in member.
		if id := c.Cookies(s.cookies.session); id != "" {
			m, _ = s.ACL.SessionMember(c.UserContext(), id)
		}
	}
	switch {
	case m != nil:
		v.Action, v.ActionLabel = "/", "Back to your items"
	case len(s.ACL.OpenGuest(c.Cookies(s.cookies.guest)).Tokens) > 0:
		v.Action, v.ActionLabel = "/shared", "Shared with you"
		v.SignIn = true
	default:
		v.SignIn = true
	}
	return v
}

var friendlyTitles = map[int]string{
	fiber.StatusRequestEntityTooLarge: "Too large",
	fiber.StatusUnsupportedMediaType:  "Not a photo we can read",
	fiber.StatusTooManyRequests:       "Slow down",
}

// friendlyErrors replaces the terse message of a status with a sentence a
// recipient understands.
var friendlyErrors = map[int]string{
	fiber.StatusNotFound: "This page does not exist, or the link that opened it has expired or was withdrawn. " +
		"If someone shared it with you, ask them for a new link.",
}
