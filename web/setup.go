package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// firstRun guards the creation of a hub's first member from the browser: it
// needs a one-time code that serve prints in its log, so that a stranger who
// reaches the port first cannot take the hub.
type firstRun struct {
	mu   sync.Mutex
	code string // normalised; empty until made, and again once a member exists
	done bool   // a member exists: nothing more to set up
}

// setupAlphabet has no letters that read like digits (no I, L, O, U).
var setupEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// SetupCode returns the one-time code that creates the hub's first member
// in the browser, making it on first call; ok is false once the hub has a
// member. The code lives in this process only: each instance prints its own.
func (s *Server) SetupCode(ctx context.Context) (code string, ok bool, err error) {
	if open, err := s.setupOpen(ctx); err != nil || !open {
		return "", false, err
	}
	s.setup.mu.Lock()
	defer s.setup.mu.Unlock()
	if s.setup.code == "" {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return "", false, err
		}
		s.setup.code = setupEncoding.EncodeToString(b)[:15]
	}
	c := s.setup.code
	return c[:5] + "-" + c[5:10] + "-" + c[10:], true, nil
}

// setupOpen reports whether the hub still waits for its first member.
func (s *Server) setupOpen(ctx context.Context) (bool, error) {
	s.setup.mu.Lock()
	done := s.setup.done
	s.setup.mu.Unlock()
	if done {
		return false, nil
	}
	has, err := s.ACL.HasMembers(ctx)
	if err != nil {
		return false, err
	}
	if has {
		s.closeSetup()
	}
	return !has, nil
}

func (s *Server) closeSetup() {
	s.setup.mu.Lock()
	s.setup.done, s.setup.code = true, ""
	s.setup.mu.Unlock()
}

// setupCodeMatches compares a typed code with the one printed, ignoring case,
// spaces and dashes, in constant time.
func (s *Server) setupCodeMatches(typed string) bool {
	typed = strings.NewReplacer("-", "", " ", "").Replace(strings.ToUpper(typed))
	s.setup.mu.Lock()
	code := s.setup.code
	s.setup.mu.Unlock()
	return code != "" && subtle.ConstantTimeCompare([]byte(typed), []byte(code)) == 1
}

// start is "/": the member's home; signed out, the first-run form while the
// hub has no member, and the sign-in page otherwise.
func (s *Server) start(c *fiber.Ctx) error {
	if member(c) != nil {
		return s.home(c)
	}
	open, err := s.setupOpen(c.UserContext())
	if err != nil {
		return err
	}
	if !open {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	return s.renderSetup(c, fiber.StatusOK, "", "", "")
}

func (s *Server) renderSetup(c *fiber.Ctx, status int, handle, displayName, errMsg string) error {
	return c.Status(status).Render("setup", fiber.Map{"Title": "Welcome to hubshare", "CSRF": s.csrfToken(c),
		"Handle": handle, "DisplayName": displayName, "Error": errMsg}, "layouts/bare")
}

// errWrongSetupCode is the answer to a code that is not the one printed.
var errWrongSetupCode = "That setup code is not right. It is printed in the server's log when hubshare starts."

// setupForm creates the first member and signs them in. A wrong code counts
// as a failed sign-in of the network, so it cannot be guessed.
func (s *Server) setupForm(c *fiber.Ctx) error {
	ctx := c.UserContext()
	open, err := s.setupOpen(ctx)
	if err != nil {
		return err
	}
	if !open {
		return notFound
	}
	handle := strings.TrimSpace(c.FormValue("handle"))
	displayName := c.FormValue("display_name")
	netKey := acl.NetworkKey(s.Keys, s.clientNetwork(c))
	if err := s.ACL.Throttle.Check(ctx, acl.ActionLogin, netKey); err != nil {
		return err
	}
	if !s.setupCodeMatches(c.FormValue("code")) {
		if err := s.ACL.Throttle.Fail(ctx, acl.ActionLogin, netKey); err != nil {
			return err
		}
		return s.renderSetup(c, fiber.StatusUnauthorized, handle, displayName, errWrongSetupCode)
	}
	if c.FormValue("password") != c.FormValue("password2") {
		return s.renderSetup(c, fiber.StatusUnprocessableEntity, handle, displayName, "The two passwords are not the same.")
	}
	m, err := s.ACL.CreateFirstMember(ctx, handle, displayName, c.FormValue("password"))
	if err == acl.ErrHubHasMembers {
		s.closeSetup()
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	if err != nil {
		if code := app.ErrorCode(err); code == app.EInvalid || code == app.EConflict {
			return s.renderSetup(c, fiber.StatusUnprocessableEntity, handle, displayName, app.ErrorMessage(err))
		}
		return err
	}
	s.closeSetup()
	s.Logger.InfoContext(ctx, "first member created; the setup code is spent", "handle", m.Handle)
	id, err := s.ACL.CreateSession(ctx, m.ID)
	if err != nil {
		return err
	}
	s.setCookie(c, s.cookies.session, id, app.SessionAbsoluteTimeout)
	s.clearCookie(c, s.cookies.pre)
	return c.Redirect("/", fiber.StatusSeeOther)
}
