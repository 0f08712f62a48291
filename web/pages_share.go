package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Share panel.

// entryRow is one principal on an item's allow or deny list.
type entryRow struct {
	principalView
	New bool // the guest link just made
}

// openerRow is a guest token that opens the item, and why, with its read
// receipts (acl.Audience).
type openerRow struct {
	principalView
	How           string
	FirstOpenedAt *time.Time
	LastSeenAt    *time.Time
	Views         int
	Networks      int
}

// Opened reports whether the token ever opened the item.
func (o openerRow) Opened() bool { return o.FirstOpenedAt != nil }

func sharePath(id int64) string { return "/items/" + itoa(id) + "/share" }

func (s *Server) sharePage(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	data := fiber.Map{}
	// After a create (?new=) or a "Copy link" (?link=), the redirect names
	// the token, never its secret: the link is made again from the sealed
	// copy, so a reload shows it again and does nothing else.
	if tok := queryID(c, "new"); tok != 0 {
		if err := s.shareLinkData(c, id, tok, true, data); err != nil {
			return err
		}
	} else if tok := queryID(c, "link"); tok != 0 {
		if err := s.shareLinkData(c, id, tok, false, data); err != nil {
			return err
		}
	}
	return s.renderShare(c, fiber.StatusOK, id, data)
}

// shareLinkData puts the link of one of the member's tokens, opening item,
// into data: for a new one (fresh) only within newLinkWindow of its
// creation; never for a revoked one or another member's.
func (s *Server) shareLinkData(c *fiber.Ctx, item, tok int64, fresh bool, data fiber.Map) error {
	ctx, owner := c.UserContext(), member(c).ID
	if _, err := s.Content.Item(ctx, owner, item); err != nil {
		return err
	}
	t, err := s.ACL.Token(ctx, owner, tok)
	if app.ErrorCode(err) == app.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	if t.RevokedAt != nil || (fresh && (now.Sub(t.CreatedAt) > newLinkWindow || t.CreatedAt.After(now.Add(time.Minute)))) {
		return nil
	}
	secret, err := s.ACL.TokenSecret(ctx, owner, tok)
	if err != nil {
		return err
	}
	link, err := linkData(s.link(secret, item), tok)
	if err != nil {
		return err
	}
	for k, v := range link {
		data[k] = v
	}
	if fresh {
		data["NewToken"] = tok
	}
	return nil
}

// renderShare shows the share panel of one of the member's items; another
// member's item, or none, is "not found".
func (s *Server) renderShare(c *fiber.Ctx, status int, id int64, data fiber.Map) error {
	ctx, owner := c.UserContext(), member(c).ID
	it, err := s.Content.Item(ctx, owner, id)
	if err != nil {
		return err
	}
	a, err := s.ACL.ItemACL(ctx, owner, id)
	if err != nil {
		return err
	}
	dir, err := s.loadDirectory(ctx, owner)
	if err != nil {
		return err
	}
	opens, notOpened, err := s.ACL.Audience(ctx, owner, id)
	if err != nil {
		return err
	}
	history, _, err := s.ACL.ItemAccessPage(ctx, owner, id, app.Page{Limit: itemHistoryLimit})
	if err != nil {
		return err
	}

	newToken, _ := data["NewToken"].(int64)
	named := map[int64]bool{}
	rows := func(ids []int64) []entryRow {
		out := make([]entryRow, 0, len(ids))
		for _, p := range ids {
			named[p] = true
			out = append(out, entryRow{principalView: dir.principal(p), New: p == newToken})
		}
		return out
	}
	data["Allow"], data["Deny"] = rows(a.Allow), rows(a.Deny)

	var reuse []principalView
	for _, t := range dir.activeTokens() {
		if !named[t.ID] {
			reuse = append(reuse, t)
		}
	}
	openers := make([]openerRow, 0, len(opens))
	for _, o := range opens {
		openers = append(openers, openerRow{principalView: dir.principal(o.Token.ID), How: openReason(o.Opener),
			FirstOpenedAt: o.FirstOpenedAt, LastSeenAt: o.LastSeenAt, Views: o.Views, Networks: o.Networks})
	}
	data["NotOpened"] = len(notOpened)
	if tok, ok := data["LinkToken"].(int64); ok {
		data["LinkFor"] = dir.principal(tok).Name
	}
	if _, ok := data["ExpiresIn"]; !ok {
		data["ExpiresIn"] = "never"
	}
	data["Item"], data["Label"], data["Public"] = it, itemLabel(it), a.Public
	data["PickMembers"], data["PickGroups"], data["PickTokens"] = dir.members, dir.groups, dir.activeTokens()
	data["Reuse"], data["ReuseMany"] = reuse, len(reuse) > reuseChips
	data["Openers"], data["Access"] = openers, accessRows(history)
	data["Presets"] = expiryPresets
	if _, ok := data["LinkWindow"]; !ok {
		data["LinkWindow"] = windowChoices(nil)
	}
	data["Nav"] = "home"
	c.Status(status)
	return s.page(c, "share", "Share "+itemLabel(it), data)
}

// reuseChips is how many guest links the panel offers as one-click buttons;
// with more, a list with a filter box takes their place.
const reuseChips = 6

// openReason says in words why a token opens the item.
func openReason(o acl.Opener) string {
	var why string
	switch {
	case o.Public && o.ThroughAlbum:
		return "its album is public"
	case o.Public:
		return "the item is public"
	case o.Group == 0:
		why = "named directly"
	default:
		why = "through group " + o.GroupName
	}
	if o.ThroughAlbum {
		return "through its album, " + why
	}
	return why
}

// expiryPreset is one choice of the share panel's "Expires" field.
type expiryPreset struct {
	Value, Label string
	For          time.Duration // 0: no preset
}

var expiryPresets = []expiryPreset{
	{"never", "Never", 0},
	{"day", "In a day", 24 * time.Hour},
	{"week", "In a week", 7 * 24 * time.Hour},
	{"month", "In a month (30 days)", 30 * 24 * time.Hour},
	{"date", "On a date", 0},
}

// linkExpiry reads the share panel's expiry: a preset counted from now (an
// instant, whatever the viewer's zone), else the date and time typed
// (formInstant: the viewer's local time), else none.
func (s *Server) linkExpiry(c *fiber.Ctx) (*time.Time, error) {
	choice := c.FormValue("expires_in")
	for _, p := range expiryPresets {
		if choice == p.Value && p.For > 0 {
			e := s.Clock.Now().Add(p.For).UTC()
			return &e, nil
		}
	}
	exp, err := formInstant(c, "expires_at", "The expiry")
	if err == nil && exp == nil && choice == "date" {
		err = app.Errorf(app.EInvalid, "Pick the date and time the link stops working.")
	}
	return exp, err
}

func (s *Server) setPublicForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.SetPublic(c.UserContext(), member(c).ID, id, c.FormValue("public") == "1"); err != nil {
		return err
	}
	return seeOther(c, sharePath(id)+"?done=saved")
}

func (s *Server) grantForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Pick a member, group or guest link to add.")
	if err == nil {
		switch c.FormValue("effect") {
		case "", "allow":
			err = s.ACL.Grant(c.UserContext(), member(c).ID, id, principal, false)
		case "deny":
			err = s.ACL.Grant(c.UserContext(), member(c).ID, id, principal, true)
		default:
			err = app.Errorf(app.EInvalid, "Choose allow or deny.")
		}
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderShare(c, status, id, fiber.Map{"ACLError": msg})
		})
	}
	return seeOther(c, sharePath(id)+"?done=saved")
}

func (s *Server) ungrantForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Nothing to remove.")
	if err == nil {
		err = s.ACL.Ungrant(c.UserContext(), member(c).ID, id, principal)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderShare(c, status, id, fiber.Map{"ACLError": msg})
		})
	}
	return seeOther(c, sharePath(id)+"?done=saved")
}

// shareLinkForm is the one-click share: a new guest link, already allowed on
// the item; the redirect shows it with its copy button and QR code.
func (s *Server) shareLinkForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	name, choice := formText(c, "name"), formText(c, "expires_in")
	var in acl.TokenInput
	if strings.TrimSpace(name) != "" {
		in.Name = &name
	}
	in.ExpiresAt, err = s.linkExpiry(c)
	if err == nil {
		err = windowForm(c, false, &in)
	}
	if err == nil {
		var t *acl.GuestToken
		if t, _, err = s.ACL.ShareItem(c.UserContext(), member(c).ID, id, in); err == nil {
			return seeOther(c, sharePath(id)+"?new="+itoa(t.ID))
		}
	}
	return formError(err, func(status int, msg string) error {
		return s.renderShare(c, status, id, fiber.Map{"LinkError": msg, "LinkName": name, "ExpiresIn": choice,
			"LinkExpires": formText(c, "expires_at"), "LinkValidFrom": formText(c, "valid_from"), "LinkWindow": windowChoices(in.ExpiresAfterFirstUse)})
	})
}

// showItemLinkForm is "Copy link" on a guest link of the list: the redirect
// shows that token's link to this item.
func (s *Server) showItemLinkForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	token, err := formID(c, "token", "Pick a guest link.")
	if err != nil {
		return err
	}
	ctx, owner := c.UserContext(), member(c).ID
	if _, err := s.Content.Item(ctx, owner, id); err != nil {
		return err
	}
	if _, err := s.ACL.Token(ctx, owner, token); err != nil {
		return err
	}
	return seeOther(c, sharePath(id)+"?link="+itoa(token))
}
