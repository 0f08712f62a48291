package web

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// member returns the signed-in member, or nil.
func member(c *fiber.Ctx) *acl.Member {
	m, _ := c.Locals("member").(*acl.Member)
	return m
}

// loadMember resolves the session cookie (only the cookie: an id in the URL
// or a header is never looked at) to the signed-in member, if any.
func (s *Server) loadMember(c *fiber.Ctx) error {
	id := c.Cookies(s.cookies.session)
	if id == "" {
		return c.Next()
	}
	m, err := s.ACL.SessionMember(c.UserContext(), id)
	switch {
	case err == nil:
		c.Locals("member", m)
	case app.IsNotFound(err):
		// Unknown or expired: never adopted, and forgotten by the browser.
		s.clearCookie(c, s.cookies.session)
	default:
		return err
	}
	return c.Next()
}

// requireMember sends visitors who are not signed in to the login page.
func (s *Server) requireMember(c *fiber.Ctx) error {
	if member(c) == nil {
		if c.Method() == fiber.MethodGet {
			return c.Redirect("/login", fiber.StatusSeeOther)
		}
		return app.Errorf(app.EUnauthorized, "Please sign in.")
	}
	return c.Next()
}

// clientNetwork is the network a request comes from, as throttling and the
// access log see it.
func (s *Server) clientNetwork(c *fiber.Ctx) string { return acl.Network(s.clientIP(c).String()) }

// clientIP is the peer's address, or — when the peer is a trusted proxy —
// the nearest address in X-Forwarded-For that is not a trusted proxy: the
// left part of that header is whatever the client chose to send.
func (s *Server) clientIP(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a garbled chain: count the proxy itself
		}
		if addr = addr.Unmap(); !s.trusted(addr) {
			return addr
		}
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	if member(c) != nil {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return s.renderLogin(c, fiber.StatusOK, "", "")
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, handle, errMsg string) error {
	return c.Status(status).Render("login", fiber.Map{"Title": "Sign in", "CSRF": s.csrfToken(c), "Handle": handle, "Error": errMsg}, "layouts/bare")
}

func (s *Server) login(c *fiber.Ctx) error {
	handle := strings.TrimSpace(c.FormValue("handle"))
	password := c.FormValue("password")
	m, err := s.ACL.Login(c.UserContext(), handle, password, s.clientNetwork(c))
	if err != nil {
		switch app.ErrorCode(err) {
		case app.EUnauthorized:
			return s.renderLogin(c, fiber.StatusUnauthorized, handle, app.ErrorMessage(err))
		}
		return err
	}
	// A new id at every login: whatever id the browser had is dropped.
	if old := c.Cookies(s.cookies.session); old != "" {
		if err := s.ACL.DeleteSession(c.UserContext(), old); err != nil {
			return err
		}
	}
	id, err := s.ACL.CreateSession(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	s.setCookie(c, s.cookies.session, id, app.SessionAbsoluteTimeout)
	s.clearCookie(c, s.cookies.pre)
	return c.Redirect("/", fiber.StatusSeeOther)
}

func (s *Server) logout(c *fiber.Ctx) error {
	if id := c.Cookies(s.cookies.session); id != "" {
		if err := s.ACL.DeleteSession(c.UserContext(), id); err != nil {
			return err
		}
	}
	s.clearCookie(c, s.cookies.session)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// page renders an owner page with the data every owner page needs.
func (s *Server) page(c *fiber.Ctx, name, title string, data fiber.Map) error {
	if data == nil {
		data = fiber.Map{}
	}
	data["Title"] = title
	data["Member"] = member(c)
	data["CSRF"] = s.csrfToken(c)
	if data["Nav"] == nil {
		data["Nav"] = name
	}
	unread, err := s.unreadCount(c, member(c))
	if err != nil {
		return err
	}
	data["Unread"] = unread
	if f := c.Query("done"); f != "" {
		data["Flash"] = flashText(f)
	}
	return c.Render(name, data)
}

// flashText maps a short code in a redirect to a message; arbitrary text in
// the URL is never shown.
func flashText(code string) string {
	switch code {
	case "revoked":
		return "Revoked."
	case "saved":
		return "Saved."
	case "deleted":
		return "Deleted."
	case "read":
		return "Marked read."
	}
	return ""
}
