package web

import (
	"cmp"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Share panel.

// entryRow is one principal on an item's allow or deny list.
type entryRow struct {
	principalView
	New bool // the guest link made by this request
}

// openerRow is a guest token that opens the item, and why.
type openerRow struct {
	principalView
	How string
}

func sharePath(id int64) string { return "/items/" + itoa(id) + "/share" }

func (s *Server) sharePage(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	return s.renderShare(c, fiber.StatusOK, id, fiber.Map{})
}

// decisionACL turns an item's stored ACL into what acl.Decide reads.
func decisionACL(owner int64, a *acl.ACL) *acl.ItemACL {
	es := make([]acl.Entry, 0, len(a.Allow)+len(a.Deny))
	for _, p := range a.Allow {
		es = append(es, acl.Entry{Principal: p})
	}
	for _, p := range a.Deny {
		es = append(es, acl.Entry{Principal: p, Deny: true})
	}
	acl.SortEntries(es)
	return &acl.ItemACL{Owner: owner, Public: a.Public, Entries: es}
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
	decide := decisionACL(owner, a)
	if it.AlbumID != nil {
		albumACL, err := s.ACL.ItemACL(ctx, owner, *it.AlbumID)
		if err != nil {
			return err
		}
		decide.Album = decisionACL(owner, albumACL)
	}
	dir, err := s.loadDirectory(ctx, owner)
	if err != nil {
		return err
	}
	history, err := s.ACL.ItemAccess(ctx, owner, id, itemHistoryLimit)
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
	var openers []openerRow
	for _, t := range dir.tokens {
		who := acl.NewIdentity(t.ID, owner, dir.groupsOf[t.ID])
		d := acl.Decide(decide, &who)
		if !d.Allowed {
			continue
		}
		openers = append(openers, openerRow{principalView: t, How: openReason(d, t.ID, dir)})
	}
	// Active links first: they are the ones that work now.
	slices.SortStableFunc(openers, func(a, b openerRow) int {
		return cmp.Compare(statusRank(a.Status), statusRank(b.Status))
	})
	if tok, ok := data["LinkToken"].(int64); ok {
		data["LinkFor"] = dir.principal(tok).Name
	}
	data["Item"], data["Label"], data["Public"] = it, itemLabel(it), a.Public
	data["PickMembers"], data["PickGroups"], data["PickTokens"] = dir.members, dir.groups, dir.activeTokens()
	data["Reuse"], data["Openers"], data["Access"] = reuse, openers, accessRows(history)
	data["Nav"] = "home"
	c.Status(status)
	return s.page(c, "share", "Share "+itemLabel(it), data)
}

// openReason says in words why a token opens the item.
func openReason(d acl.Decision, token int64, dir *directory) string {
	var why string
	switch {
	case d.Reason == acl.ReasonPublic || (d.Reason == acl.ReasonAlbum && d.Principal == 0):
		why = "the item is public"
	case d.Principal == token:
		why = "named directly"
	default:
		why = "through group " + dir.principal(d.Principal).Name
	}
	if d.Level > 0 {
		if d.Principal == 0 {
			return "its album is public"
		}
		return "through its album, " + why
	}
	return why
}

func statusRank(status string) int {
	if status == acl.StatusActive {
		return 0
	}
	return 1
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
// the item, shown at once with its copy button and QR code.
func (s *Server) shareLinkForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	name, expires := formText(c, "name"), formText(c, "expires_at")
	var in acl.TokenInput
	if strings.TrimSpace(name) != "" {
		in.Name = &name
	}
	in.ExpiresAt, err = parseInstant("The expiry", expires)
	if err == nil {
		var t *acl.GuestToken
		var secret string
		if t, secret, err = s.ACL.ShareItem(c.UserContext(), member(c).ID, id, in); err == nil {
			data, err := linkData(s.link(secret, id), t.ID)
			if err != nil {
				return err
			}
			data["NewToken"] = t.ID
			return s.renderShare(c, fiber.StatusCreated, id, data)
		}
	}
	return formError(err, func(status int, msg string) error {
		return s.renderShare(c, status, id, fiber.Map{"LinkError": msg, "LinkName": name, "LinkExpires": expires})
	})
}

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
	secret, err := s.ACL.TokenSecret(ctx, owner, token)
	if err != nil {
		return err
	}
	data, err := linkData(s.link(secret, id), token)
	if err != nil {
		return err
	}
	return s.renderShare(c, fiber.StatusOK, id, data)
}
