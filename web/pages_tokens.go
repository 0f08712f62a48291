package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Guest-link audit.

// tokenRow is one guest token in the audit table.
type tokenRow struct {
	ID        int64
	Name      string
	Status    string
	Uses      int
	MaxUses   string
	LastUsed  *time.Time
	Items     int
	Created   time.Time
	ExpiresAt *time.Time
	Expiry    string // for the extend field
	NoACL     bool
	Stale     bool
	// Flagged: the bulk revoke takes the token (acl.TokenSummary.Flagged).
	Flagged bool
}

// Active reports whether the token opens anything now.
func (r tokenRow) Active() bool { return r.Status == acl.StatusActive }

func maxUsesText(n *int) string {
	if n == nil {
		return "∞"
	}
	return strconv.Itoa(*n)
}

func (s *Server) tokenRows(ts []acl.TokenSummary) []tokenRow {
	now := s.Clock.Now()
	out := make([]tokenRow, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		out = append(out, tokenRow{ID: t.ID, Name: t.Name, Status: t.Status(now), Uses: t.Uses, MaxUses: maxUsesText(t.MaxUses),
			LastUsed: t.LastUsedAt, Items: t.Items, Created: t.CreatedAt, ExpiresAt: t.ExpiresAt, Expiry: inputTime(t.ExpiresAt),
			NoACL: t.InNoACL(), Stale: t.Stale(now), Flagged: t.Flagged(now)})
	}
	return out
}

// tokensPerPage is how many guest links /settings/tokens shows at a time,
// grantsPerPage how many items a token's page lists.
const (
	tokensPerPage = 50
	grantsPerPage = 100
)

func (s *Server) tokensPage(c *fiber.Ctx) error {
	return s.renderTokens(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderTokens(c *fiber.Ctx, status int, data fiber.Map) error {
	// One page of tokens, filtered as the URL asks; the same list as
	// GET /api/v1/tokens, so the page costs the same at any size.
	q := acl.TokenQuery{Q: c.Query("q"), Status: c.Query("status"), Flag: c.Query("flag"),
		Page: app.Page{Limit: tokensPerPage, Cursor: c.Query("cursor")}}
	ts, next, err := s.ACL.ListTokensPage(c.UserContext(), member(c).ID, q)
	if app.ErrorCode(err) == app.EInvalid {
		// A hand-edited filter or a stale cursor: the first page, unfiltered.
		q = acl.TokenQuery{Page: app.Page{Limit: tokensPerPage}}
		ts, next, err = s.ACL.ListTokensPage(c.UserContext(), member(c).ID, q)
	}
	if err != nil {
		return err
	}
	data["Tokens"], data["Filter"] = s.tokenRows(ts), q
	data["Filtered"] = q.Q != "" || q.Status != "" || q.Flag != ""
	if next != "" {
		more := url.Values{"cursor": {next}}
		for k, v := range map[string]string{"q": q.Q, "status": q.Status, "flag": q.Flag} {
			if v != "" {
				more.Set(k, v)
			}
		}
		data["NextPage"] = "/settings/tokens?" + more.Encode()
	}
	data["FirstPage"] = q.Cursor != ""
	if _, ok := data["Form"]; !ok {
		data["Form"] = tokenFormValues{Permissions: permissionViews(acl.Permissions{})}
	}
	if f, ok := data["Form"].(tokenFormValues); ok && f.Window == nil {
		f.Window = windowChoices(nil)
		data["Form"] = f
	}
	if _, ok := data["Bulk"]; !ok {
		data["Bulk"] = bulkFormValues{}
	}
	c.Status(status)
	return s.page(c, "tokens", "Guest links", data)
}

// tokenFormValues refills a guest-link form after an error; never the password.
type tokenFormValues struct {
	Name, Expires, MaxUses, Note string
	ValidFrom                    string
	Window                       []windowChoice
	Permissions                  []permissionView
}

// permissionView is one token permission on the token pages: its form
// field, the checkbox's label, the fact's name and words, and its state.
type permissionView struct {
	Name, Ask, Fact, Text string
	On                    bool
}

// permissionWords names each of acl.PermissionNames on the pages: the
// checkbox, the fact, and the fact's value when granted and when not.
var permissionWords = map[string][4]string{
	"can_download":  {"May download originals", "Download originals", "allowed", "no"},
	"show_metadata": {"May see photo metadata", "Photo metadata", "shown", "stripped"},
	"can_comment":   {"May comment", "Comments", "allowed", "no"},
}

func init() {
	// A permission without words would vanish from the pages: fail the boot.
	for _, name := range acl.PermissionNames {
		if _, ok := permissionWords[name]; !ok {
			panic("web: no words for the token permission " + name)
		}
	}
}

func permissionViews(p acl.Permissions) []permissionView {
	out := make([]permissionView, 0, len(acl.PermissionNames))
	for _, name := range acl.PermissionNames {
		w, on := permissionWords[name], p.Has(name)
		v := permissionView{Name: name, Ask: w[0], Fact: w[1], Text: w[3], On: on}
		if on {
			v.Text = w[2]
		}
		out = append(out, v)
	}
	return out
}

// tokenForm reads a guest-link form. In an edit, a blank expiry or password
// keeps the current one (checkboxes clear them) and a blank maximum removes
// the limit.
func tokenForm(c *fiber.Ctx, edit bool) (acl.TokenInput, tokenFormValues, error) {
	v := tokenFormValues{Name: formText(c, "name"), Expires: formText(c, "expires_at"), MaxUses: formText(c, "max_uses"),
		Note: formText(c, "note")}
	in := acl.TokenInput{Permissions: acl.PermissionsEdit{}, Note: &v.Note}
	var perms acl.Permissions
	for _, name := range acl.PermissionNames {
		// An unchecked box is a permission turned off.
		_ = in.Permissions.Set(name, formChecked(c, name))
	}
	in.Permissions.Apply(&perms)
	v.Permissions = permissionViews(perms)
	if edit || strings.TrimSpace(v.Name) != "" {
		in.Name = &v.Name
	}
	if edit && formChecked(c, "no_expiry") {
		in.ClearExpiry = true
	} else {
		exp, err := formInstant(c, "expires_at", "The expiry")
		if err != nil {
			return in, v, err
		}
		in.ExpiresAt = exp
	}
	if m := strings.TrimSpace(v.MaxUses); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return in, v, app.Errorf(app.EInvalid, "The maximum number of uses must be a whole number, or blank for no limit.")
		}
		in.MaxUses = &n
	} else if edit {
		in.ClearMaxUses = true
	}
	v.ValidFrom = formText(c, "valid_from")
	if err := windowForm(c, edit, &in); err != nil {
		return in, v, err
	}
	if in.ExpiresAfterFirstUse != nil {
		v.Window = windowChoices(in.ExpiresAfterFirstUse)
	}
	if edit && formChecked(c, "remove_password") {
		empty := ""
		in.Password = &empty
	} else if pw := formText(c, "password"); pw != "" {
		in.Password = &pw
	}
	return in, v, nil
}

func (s *Server) createTokenForm(c *fiber.Ctx) error {
	in, v, err := tokenForm(c, false)
	if err == nil {
		var t *acl.GuestToken
		if t, _, err = s.ACL.CreateToken(c.UserContext(), member(c).ID, in); err == nil {
			return seeOther(c, tokenPath(t.ID)+"?link="+linkCreated)
		}
	}
	return formError(err, func(status int, msg string) error {
		return s.renderTokens(c, status, fiber.Map{"Error": msg, "Form": v})
	})
}

// flaggedPage shows how many active links the audit flags (in no ACL, or
// unused for a long time) before revoking them all: the count goes over
// every token of the owner, so it is here, on the page that asks for it,
// and not on every page of the list.
func (s *Server) flaggedPage(c *fiber.Ctx) error {
	n, err := s.ACL.CountFlagged(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	return s.page(c, "tokens_flagged", "Revoke flagged links", fiber.Map{"Flagged": n, "Nav": "tokens"})
}

// revokeFlaggedForm revokes every active token the audit flags: in no ACL,
// or unused for a long time.
func (s *Server) revokeFlaggedForm(c *fiber.Ctx) error {
	if _, err := s.ACL.RevokeFlagged(c.UserContext(), member(c).ID); err != nil {
		return err
	}
	return seeOther(c, "/settings/tokens?done=revoked")
}

func tokenPath(id int64) string { return "/settings/tokens/" + itoa(id) }

// backTo is where a token action started: the token's own page or the list.
func backTo(c *fiber.Ctx, id int64) string {
	if c.FormValue("from") == "token" {
		return tokenPath(id)
	}
	return "/settings/tokens"
}

func (s *Server) revokeTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.RevokeToken(c.UserContext(), member(c).ID, id); err != nil {
		return err
	}
	return seeOther(c, backTo(c, id)+"?done=revoked")
}

// extendTokenForm pushes the expiry back by a number of days
// (acl.ExtendToken) or sets a new one.
func (s *Server) extendTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	ctx, owner := c.UserContext(), member(c).ID
	t, err := s.ACL.Token(ctx, owner, id)
	if err != nil {
		return err
	}
	if days := strings.TrimSpace(c.FormValue("days")); days != "" {
		// Not a number is out of range too: ExtendToken says what it takes.
		n, _ := strconv.Atoi(days)
		_, err = s.ACL.ExtendToken(ctx, owner, id, n)
	} else {
		var exp *time.Time
		if exp, err = formInstant(c, "expires_at", "The expiry"); err == nil && exp == nil {
			err = app.Errorf(app.EInvalid, "Pick the new expiry.")
		}
		if err == nil {
			_, err = s.ACL.UpdateToken(ctx, owner, id, acl.TokenInput{ExpiresAt: exp})
		}
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			if c.FormValue("from") == "token" {
				return s.renderToken(c, status, id, fiber.Map{"Error": msg})
			}
			return s.renderTokens(c, status, fiber.Map{"Error": t.Name + ": " + msg})
		})
	}
	return seeOther(c, backTo(c, id)+"?done=saved")
}

// Token page.

// tokenDetail is one guest token as its page shows it: never its secret or
// password hash.
type tokenDetail struct {
	ID           int64
	Name         string
	Status       string
	Uses         int
	MaxUses      string
	MaxUsesInput string
	ExpiresAt    *time.Time
	Created      time.Time
	LastUsed     *time.Time
	RevokedAt    *time.Time
	HasPassword  bool
	Permissions  []permissionView
	Note         string
	ValidFrom    *time.Time
	// Window is the "once opened, works for" choice; WindowText says it.
	Window      []windowChoice
	WindowText  string
	FirstUsedAt *time.Time
}

// Active reports whether the token opens anything now.
func (t tokenDetail) Active() bool { return t.Status == acl.StatusActive }

// Revoked reports whether the token was revoked (for good).
func (t tokenDetail) Revoked() bool { return t.Status == acl.StatusRevoked }

// What a token page shows after a redirect (?link=): the token's link,
// made again from its sealed copy, never carried in the URL.
const (
	linkCreated = "created" // shown within newLinkWindow of the creation only
	linkRotated = "rotated"
	linkShown   = "shown"
)

func (s *Server) tokenPage(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	ctx, owner := c.UserContext(), member(c).ID
	data := fiber.Map{}
	if kind := c.Query("link"); kind == linkCreated || kind == linkRotated || kind == linkShown {
		t, err := s.ACL.Token(ctx, owner, id)
		if err != nil {
			return err
		}
		age := s.Clock.Now().Sub(t.CreatedAt)
		if t.RevokedAt == nil && (kind != linkCreated || (age <= newLinkWindow && age >= -time.Minute)) {
			secret, err := s.ACL.TokenSecret(ctx, owner, id)
			if err != nil {
				return err
			}
			if data, err = linkData(s.link(secret, 0), id); err != nil {
				return err
			}
			data["Created"], data["Rotated"] = kind == linkCreated, kind == linkRotated
		}
	}
	return s.renderToken(c, fiber.StatusOK, id, data)
}

// renderToken shows one of the member's tokens; another member's is "not found".
func (s *Server) renderToken(c *fiber.Ctx, status int, id int64, data fiber.Map) error {
	ctx, owner := c.UserContext(), member(c).ID
	t, err := s.ACL.Token(ctx, owner, id)
	if err != nil {
		return err
	}
	// The grants a page at a time, in the API's order, from ?grants=.
	grants, next, err := s.ACL.TokenGrantsPage(ctx, owner, id, app.Page{Limit: grantsPerPage, Cursor: c.Query("grants")})
	if app.ErrorCode(err) == app.EInvalid {
		grants, next, err = s.ACL.TokenGrantsPage(ctx, owner, id, app.Page{Limit: grantsPerPage})
	}
	if err != nil {
		return err
	}
	if next != "" {
		data["GrantsNext"] = tokenPath(id) + "?grants=" + url.QueryEscape(next) + "#grants-h"
	}
	data["GrantsFirst"] = c.Query("grants") != ""
	views, err := s.ACL.TokenViews(ctx, id)
	if err != nil {
		return err
	}
	history, err := s.ACL.TokenAccess(ctx, owner, id, tokenHistoryLimit)
	if err != nil {
		return err
	}
	d := tokenDetail{ID: t.ID, Name: t.Name, Status: t.Status(s.Clock.Now()), Uses: t.Uses, MaxUses: maxUsesText(t.MaxUses),
		ExpiresAt: t.ExpiresAt, Created: t.CreatedAt, LastUsed: t.LastUsedAt, RevokedAt: t.RevokedAt,
		HasPassword: t.HasPassword(), Permissions: permissionViews(t.Permissions), Note: t.Note,
		ValidFrom: t.ValidFrom, Window: windowChoices(t.ExpiresAfterFirstUse), FirstUsedAt: t.FirstUsedAt}
	if t.ExpiresAfterFirstUse != nil {
		d.WindowText = windowText(*t.ExpiresAfterFirstUse)
	}
	if t.MaxUses != nil {
		d.MaxUsesInput = strconv.Itoa(*t.MaxUses)
	}
	if _, ok := data["LinkToken"]; ok {
		data["LinkFor"] = t.Name
	}
	data["Token"], data["Grants"], data["Views"], data["Access"] = d, newGrantViews(grants, d.Active()), views, accessRows(history)
	data["Nav"] = "tokens"
	c.Status(status)
	return s.page(c, "token", t.Name, data)
}

func (s *Server) updateTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	in, _, err := tokenForm(c, true)
	if err == nil {
		_, err = s.ACL.UpdateToken(c.UserContext(), member(c).ID, id, in)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderToken(c, status, id, fiber.Map{"Error": msg})
		})
	}
	return seeOther(c, tokenPath(id)+"?done=saved")
}

// rotateTokenForm gives the token a new secret (every grant stays); the
// redirect shows the new link.
func (s *Server) rotateTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if _, _, err := s.ACL.RotateToken(c.UserContext(), member(c).ID, id); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderToken(c, status, id, fiber.Map{"Error": msg})
		})
	}
	return seeOther(c, tokenPath(id)+"?link="+linkRotated)
}

func (s *Server) showTokenLinkForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ACL.Token(c.UserContext(), member(c).ID, id); err != nil {
		return err
	}
	return seeOther(c, tokenPath(id)+"?link="+linkShown)
}

// ungrantTokenForm takes the token off one item's ACL.
func (s *Server) ungrantTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	ctx, owner := c.UserContext(), member(c).ID
	if _, err := s.ACL.Token(ctx, owner, id); err != nil {
		return err
	}
	item, err := formID(c, "item", "Nothing to remove.")
	if err == nil {
		err = s.ACL.Ungrant(ctx, owner, item, id)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderToken(c, status, id, fiber.Map{"Error": msg})
		})
	}
	return seeOther(c, tokenPath(id)+"?done=saved")
}
