package web

import (
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
		return s.exchangeZat(c, zat)
	}
	v := content.Viewer{Member: member(c)}
	if h := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(h, "Bearer "+acl.GuestTokenPrefix) {
		t, err := s.ACL.BearerToken(c.UserContext(), strings.TrimPrefix(h, "Bearer "), s.clientNetwork(c))
		if err != nil {
			return err
		}
		v.Guest = acl.GuestSession{}.With(t)
	} else if ck := c.Cookies(s.cookies.guest); ck != "" {
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
	if !ok {
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
	return c.Status(status).Render("landing", fiber.Map{
		"Title": "A link was shared with you", "Note": t.Note, "ExpiresAt": t.ExpiresAt, "HasPassword": t.HasPassword(),
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
	if acc.TokenID == 0 {
		return
	}
	id := acc.Item.ID
	s.ACL.Log.Record(acl.AccessEvent{At: s.Clock.Now(), TokenID: acc.TokenID, ItemID: &id, Event: event, Network: s.clientNetwork(c)})
}

func (s *Server) sharedPage(c *fiber.Ctx) error {
	v := viewer(c)
	if len(v.Guest.Tokens) == 0 {
		return s.guestMiss(c, nil)
	}
	items, err := s.Content.Shared(c.UserContext(), v.Guest)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		// Every token revoked, expired or rotated: the session is over.
		return s.guestMiss(c, nil)
	}
	type note struct {
		Note    string
		Expires *time.Time
	}
	var notes []note
	seen := map[int64]bool{}
	for _, it := range items {
		if !seen[it.TokenID] && (it.TokenNote != "" || it.TokenExpires != nil) {
			notes = append(notes, note{it.TokenNote, it.TokenExpires})
		}
		seen[it.TokenID] = true
	}
	return c.Render("shared", fiber.Map{"Title": "Shared with you", "Items": items, "Notes": notes, "Member": v.Member}, "layouts/guest")
}
