package web

import (
	"cmp"
	"context"
	"encoding/base64"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
)

// The signed-in member's pages: home, the share panel of an item, the
// guest-link audit (every token, one token) and groups. Handlers stay thin:
// read the form, call the service, then redirect (303 with a flash code) or
// re-render the page with the message of a rule the input broke.

// staleAfter is how long an active guest link may go unused before the audit
// flags it.
const staleAfter = 30 * 24 * time.Hour

// Limits on the recent history shown on the share panel and a token's page.
const (
	itemHistoryLimit  = 50
	tokenHistoryLimit = 100
)

// ownerPageRoutes registers the owner pages; every route sits behind owner
// (session, CSRF on unsafe methods, sign-in required).
func (s *Server) ownerPageRoutes(owner []fiber.Handler, with func([]fiber.Handler, fiber.Handler) []fiber.Handler) {
	a := s.app
	a.Post("/posts", with(owner, s.createPostForm)...)
	a.Post("/albums", with(owner, s.createAlbumForm)...)

	a.Get("/items/:id/share", with(owner, s.sharePage)...)
	a.Post("/items/:id/share/public", with(owner, s.setPublicForm)...)
	a.Post("/items/:id/share/add", with(owner, s.grantForm)...)
	a.Post("/items/:id/share/remove", with(owner, s.ungrantForm)...)
	a.Post("/items/:id/share/link", with(owner, s.shareLinkForm)...)
	a.Post("/items/:id/share/showlink", with(owner, s.showItemLinkForm)...)

	a.Get("/settings/tokens", with(owner, s.tokensPage)...)
	a.Post("/settings/tokens", with(owner, s.createTokenForm)...)
	// Registered before /settings/tokens/:id, which would take it for an id.
	a.Post("/settings/tokens/revoke-flagged", with(owner, s.revokeFlaggedForm)...)
	a.Get("/settings/tokens/:id", with(owner, s.tokenPage)...)
	a.Post("/settings/tokens/:id", with(owner, s.updateTokenForm)...)
	a.Post("/settings/tokens/:id/revoke", with(owner, s.revokeTokenForm)...)
	a.Post("/settings/tokens/:id/extend", with(owner, s.extendTokenForm)...)
	a.Post("/settings/tokens/:id/rotate", with(owner, s.rotateTokenForm)...)
	a.Post("/settings/tokens/:id/showlink", with(owner, s.showTokenLinkForm)...)
	a.Post("/settings/tokens/:id/ungrant", with(owner, s.ungrantTokenForm)...)

	a.Get("/settings/groups", with(owner, s.groupsPage)...)
	a.Post("/settings/groups", with(owner, s.createGroupForm)...)
	a.Post("/settings/groups/:id/rename", with(owner, s.renameGroupForm)...)
	a.Post("/settings/groups/:id/delete", with(owner, s.deleteGroupForm)...)
	a.Post("/settings/groups/:id/add", with(owner, s.addGroupMemberForm)...)
	a.Post("/settings/groups/:id/remove", with(owner, s.removeGroupMemberForm)...)
}

// Form helpers.

// formText returns a form field as a string of its own: Fiber's strings are
// only valid inside the handler, and these end up in rendered pages and
// service calls.
func formText(c *fiber.Ctx, name string) string { return strings.Clone(c.FormValue(name)) }

func formChecked(c *fiber.Ctx, name string) bool { return c.FormValue(name) != "" }

// formID reads a principal or item id picked in a form.
func formID(c *fiber.Ctx, name, missing string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(c.FormValue(name)), 10, 64)
	if err != nil || id <= 0 {
		return 0, app.Errorf(app.EInvalid, "%s", missing)
	}
	return id, nil
}

// formError re-renders the page with the message when the input broke a
// rule or clashes with what exists; any other error goes to the error handler.
func formError(err error, render func(status int, msg string) error) error {
	switch code := app.ErrorCode(err); code {
	case app.EInvalid, app.EConflict:
		return render(statusOf[code], app.ErrorMessage(err))
	}
	return err
}

func seeOther(c *fiber.Ctx, url string) error { return c.Redirect(url, fiber.StatusSeeOther) }

// inputTime formats an instant for a datetime-local field (UTC).
func inputTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

// linkData is what a page needs to show a link to copy: the link itself and
// its QR code, made here so that nothing loads from elsewhere.
func linkData(link string, token int64) (fiber.Map, error) {
	png, err := qrcode.Encode(link, qrcode.Medium, 256)
	if err != nil {
		return nil, app.Wrap(err, app.EInternal, "QR code")
	}
	// The data URI is built here from our own PNG; it is safe as an image source.
	qr := template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	return fiber.Map{"Link": link, "QR": qr, "LinkToken": token}, nil
}

// Principals.

// Principal kinds as pages name them.
const (
	kindMember = "member"
	kindGroup  = "group"
	kindToken  = "token"
)

// principalView is a member, group or guest token as owner pages show it.
type principalView struct {
	ID     int64
	Kind   string
	Name   string
	Detail string // a member's @handle, a group's size
	Status string // a token's status
}

// Label is the principal's name with what tells it apart.
func (p principalView) Label() string {
	if p.Detail != "" {
		return p.Name + " (" + p.Detail + ")"
	}
	return p.Name
}

// directory names every principal an owner may put into an ACL or a group.
type directory struct {
	byID     map[int64]principalView
	members  []principalView // every member of the hub but the owner
	groups   []principalView
	tokens   []principalView // newest first
	groupsOf map[int64][]int64
	raw      []acl.Group
}

func (s *Server) loadDirectory(ctx context.Context, owner int64) (*directory, error) {
	ms, err := s.ACL.ListMembers(ctx)
	if err != nil {
		return nil, err
	}
	gs, err := s.ACL.Groups(ctx, owner)
	if err != nil {
		return nil, err
	}
	// Names and states only: the counts of ListTokens cost seconds for an
	// owner with a million ACL entries.
	ts, err := s.ACL.Tokens(ctx, owner)
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	d := &directory{byID: make(map[int64]principalView, len(ms)+len(gs)+len(ts)), groupsOf: map[int64][]int64{}, raw: gs}
	for _, m := range ms {
		p := principalView{ID: m.ID, Kind: kindMember, Name: m.DisplayName, Detail: "@" + m.Handle}
		d.byID[m.ID] = p
		if m.ID != owner {
			d.members = append(d.members, p)
		}
	}
	for _, g := range gs {
		detail := strconv.Itoa(len(g.Members)) + " in it"
		p := principalView{ID: g.ID, Kind: kindGroup, Name: g.Name, Detail: detail}
		d.byID[g.ID] = p
		d.groups = append(d.groups, p)
		for _, m := range g.Members {
			d.groupsOf[m] = append(d.groupsOf[m], g.ID)
		}
	}
	for i := range ts {
		t := &ts[i]
		p := principalView{ID: t.ID, Kind: kindToken, Name: t.Name, Status: t.Status(now)}
		d.byID[t.ID] = p
		d.tokens = append(d.tokens, p)
	}
	return d, nil
}

func (d *directory) principal(id int64) principalView {
	if p, ok := d.byID[id]; ok {
		return p
	}
	return principalView{ID: id, Kind: "unknown", Name: "#" + itoa(id)}
}

func (d *directory) activeTokens() []principalView {
	var out []principalView
	for _, t := range d.tokens {
		if t.Status == acl.StatusActive {
			out = append(out, t)
		}
	}
	return out
}

// Access history.

// accessRow is one access-log entry as owner pages show it.
type accessRow struct {
	At        time.Time
	TokenID   int64
	TokenName string
	ItemID    *int64
	ItemTitle string
	Event     string
	Client    string
	Reason    string
}

func eventText(e string) string {
	switch e {
	case acl.EventOpen:
		return "opened the link"
	case acl.EventView:
		return "viewed"
	case acl.EventDownload:
		return "downloaded"
	case acl.EventDeniedPassword:
		return "wrong password"
	case acl.EventFailed:
		return "refused"
	}
	return e
}

func accessRows(es []acl.AccessEntry) []accessRow {
	out := make([]accessRow, 0, len(es))
	for _, e := range es {
		r := accessRow{At: e.At, TokenID: e.TokenID, TokenName: e.TokenName, ItemID: e.ItemID, Event: eventText(e.Event),
			Client: e.Client, Reason: strings.ReplaceAll(e.Reason, "_", " ")}
		if e.ItemTitle != nil {
			r.ItemTitle = *e.ItemTitle
		}
		if r.ItemTitle == "" && e.ItemID != nil {
			r.ItemTitle = "#" + itoa(*e.ItemID)
		}
		out = append(out, r)
	}
	return out
}

// Home.

// itemTile is an item on the home page.
type itemTile struct {
	ID     int64
	Kind   string
	Label  string
	Public bool
}

func itemLabel(it *content.Item) string {
	if it.Title != "" {
		return it.Title
	}
	if it.Kind == content.KindPost && it.Body != "" {
		line, _, _ := strings.Cut(strings.TrimSpace(it.Body), "\n")
		if r := []rune(line); len(r) > 60 {
			line = string(r[:60]) + "…"
		}
		return line
	}
	return kindName(it.Kind)
}

func (s *Server) home(c *fiber.Ctx) error {
	return s.renderHome(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderHome(c *fiber.Ctx, status int, data fiber.Map) error {
	items, err := s.Content.Items(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	tiles := make([]itemTile, 0, len(items))
	var albums []itemTile
	for i := range items {
		t := itemTile{ID: items[i].ID, Kind: items[i].Kind, Label: itemLabel(&items[i]), Public: items[i].Public}
		tiles = append(tiles, t)
		if t.Kind == content.KindAlbum {
			albums = append(albums, t)
		}
	}
	data["Items"], data["Albums"] = tiles, albums
	c.Status(status)
	return s.page(c, "home", "Home", data)
}

func (s *Server) createPostForm(c *fiber.Ctx) error {
	title, body := formText(c, "title"), formText(c, "body")
	if _, err := s.Content.CreatePost(c.UserContext(), member(c).ID, title, body); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderHome(c, status, fiber.Map{"PostError": msg, "PostTitle": title, "PostBody": body})
		})
	}
	return seeOther(c, "/?done=saved")
}

func (s *Server) createAlbumForm(c *fiber.Ctx) error {
	title := formText(c, "title")
	if _, err := s.Content.CreateAlbum(c.UserContext(), member(c).ID, title); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderHome(c, status, fiber.Map{"AlbumError": msg, "AlbumTitle": title})
		})
	}
	return seeOther(c, "/?done=saved")
}

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
}

// Flagged reports whether the bulk revoke takes the token.
func (r tokenRow) Flagged() bool { return r.Status == acl.StatusActive && (r.NoACL || r.Stale) }

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
	cutoff := now.Add(-staleAfter)
	out := make([]tokenRow, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		r := tokenRow{ID: t.ID, Name: t.Name, Status: t.Status(now), Uses: t.Uses, MaxUses: maxUsesText(t.MaxUses),
			LastUsed: t.LastUsedAt, Items: t.Items, Created: t.CreatedAt, ExpiresAt: t.ExpiresAt, Expiry: inputTime(t.ExpiresAt),
			NoACL: t.Entries == 0}
		if r.Status == acl.StatusActive {
			if t.LastUsedAt != nil {
				r.Stale = t.LastUsedAt.Before(cutoff)
			} else {
				r.Stale = t.CreatedAt.Before(cutoff)
			}
		}
		out = append(out, r)
	}
	return out
}

func (s *Server) tokensPage(c *fiber.Ctx) error {
	return s.renderTokens(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderTokens(c *fiber.Ctx, status int, data fiber.Map) error {
	ts, err := s.ACL.ListTokens(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	rows := s.tokenRows(ts)
	flagged := 0
	for _, r := range rows {
		if r.Flagged() {
			flagged++
		}
	}
	data["Tokens"], data["Flagged"] = rows, flagged
	if _, ok := data["Form"]; !ok {
		data["Form"] = tokenFormValues{}
	}
	c.Status(status)
	return s.page(c, "tokens", "Guest links", data)
}

// tokenFormValues refills a guest-link form after an error; never the password.
type tokenFormValues struct {
	Name, Expires, MaxUses, Note string
	CanDownload, ShowMetadata    bool
}

// tokenForm reads a guest-link form. In an edit, a blank expiry or password
// keeps the current one (checkboxes clear them) and a blank maximum removes
// the limit.
func tokenForm(c *fiber.Ctx, edit bool) (acl.TokenInput, tokenFormValues, error) {
	v := tokenFormValues{Name: formText(c, "name"), Expires: formText(c, "expires_at"), MaxUses: formText(c, "max_uses"),
		Note: formText(c, "note"), CanDownload: formChecked(c, "can_download"), ShowMetadata: formChecked(c, "show_metadata")}
	in := acl.TokenInput{CanDownload: &v.CanDownload, ShowMetadata: &v.ShowMetadata, Note: &v.Note}
	if edit || strings.TrimSpace(v.Name) != "" {
		in.Name = &v.Name
	}
	if edit && formChecked(c, "no_expiry") {
		in.ClearExpiry = true
	} else {
		exp, err := parseInstant("The expiry", v.Expires)
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
		var secret string
		if t, secret, err = s.ACL.CreateToken(c.UserContext(), member(c).ID, in); err == nil {
			data, err := linkData(s.link(secret, 0), t.ID)
			if err != nil {
				return err
			}
			data["Created"] = true
			return s.renderToken(c, fiber.StatusCreated, t.ID, data)
		}
	}
	return formError(err, func(status int, msg string) error {
		return s.renderTokens(c, status, fiber.Map{"Error": msg, "Form": v})
	})
}

// revokeFlaggedForm revokes every active token the audit flags: in no ACL,
// or unused for a long time.
func (s *Server) revokeFlaggedForm(c *fiber.Ctx) error {
	ctx, owner := c.UserContext(), member(c).ID
	ts, err := s.ACL.ListTokens(ctx, owner)
	if err != nil {
		return err
	}
	for _, r := range s.tokenRows(ts) {
		if r.Flagged() {
			if err := s.ACL.RevokeToken(ctx, owner, r.ID); err != nil {
				return err
			}
		}
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

// extendTokenForm sets a new expiry, or pushes the current one back by a
// number of days (counted from now when it has passed).
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
	var exp *time.Time
	if days := strings.TrimSpace(c.FormValue("days")); days != "" {
		n, perr := strconv.Atoi(days)
		if perr != nil || n < 1 || n > 3650 {
			err = app.Errorf(app.EInvalid, "Extend by 1 to 3650 days.")
		} else {
			base := s.Clock.Now()
			if t.ExpiresAt != nil && t.ExpiresAt.After(base) {
				base = *t.ExpiresAt
			}
			e := base.Add(time.Duration(n) * 24 * time.Hour)
			exp = &e
		}
	} else if exp, err = parseInstant("The expiry", c.FormValue("expires_at")); err == nil && exp == nil {
		err = app.Errorf(app.EInvalid, "Pick the new expiry.")
	}
	if err == nil {
		_, err = s.ACL.UpdateToken(ctx, owner, id, acl.TokenInput{ExpiresAt: exp})
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
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
	CanDownload  bool
	ShowMetadata bool
	Note         string
}

// Active reports whether the token opens anything now.
func (t tokenDetail) Active() bool { return t.Status == acl.StatusActive }

// Revoked reports whether the token was revoked (for good).
func (t tokenDetail) Revoked() bool { return t.Status == acl.StatusRevoked }

func (s *Server) tokenPage(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	return s.renderToken(c, fiber.StatusOK, id, fiber.Map{})
}

// renderToken shows one of the member's tokens; another member's is "not found".
func (s *Server) renderToken(c *fiber.Ctx, status int, id int64, data fiber.Map) error {
	ctx, owner := c.UserContext(), member(c).ID
	t, err := s.ACL.Token(ctx, owner, id)
	if err != nil {
		return err
	}
	grants, err := s.ACL.TokenGrants(ctx, owner, id)
	if err != nil {
		return err
	}
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
		HasPassword: t.HasPassword(), CanDownload: t.CanDownload, ShowMetadata: t.ShowMetadata, Note: t.Note}
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

// rotateTokenForm gives the token a new secret (every grant stays) and shows
// the new link once.
func (s *Server) rotateTokenForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	_, secret, err := s.ACL.RotateToken(c.UserContext(), member(c).ID, id)
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderToken(c, status, id, fiber.Map{"Error": msg})
		})
	}
	data, err := linkData(s.link(secret, 0), id)
	if err != nil {
		return err
	}
	data["Rotated"] = true
	return s.renderToken(c, fiber.StatusCreated, id, data)
}

func (s *Server) showTokenLinkForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	secret, err := s.ACL.TokenSecret(c.UserContext(), member(c).ID, id)
	if err != nil {
		return err
	}
	data, err := linkData(s.link(secret, 0), id)
	if err != nil {
		return err
	}
	return s.renderToken(c, fiber.StatusOK, id, data)
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

// Groups.

// groupRow is one group with who is in it and who could be added.
type groupRow struct {
	ID         int64
	Name       string
	Members    []principalView
	Candidates []principalView
}

func (s *Server) groupsPage(c *fiber.Ctx) error {
	return s.renderGroups(c, fiber.StatusOK, fiber.Map{})
}

func (s *Server) renderGroups(c *fiber.Ctx, status int, data fiber.Map) error {
	dir, err := s.loadDirectory(c.UserContext(), member(c).ID)
	if err != nil {
		return err
	}
	active := dir.activeTokens()
	rows := make([]groupRow, 0, len(dir.raw))
	for _, g := range dir.raw {
		r := groupRow{ID: g.ID, Name: g.Name}
		in := map[int64]bool{}
		for _, m := range g.Members {
			in[m] = true
			r.Members = append(r.Members, dir.principal(m))
		}
		for _, group := range [][]principalView{dir.members, active} {
			for _, p := range group {
				if !in[p.ID] {
					r.Candidates = append(r.Candidates, p)
				}
			}
		}
		rows = append(rows, r)
	}
	data["Groups"] = rows
	c.Status(status)
	return s.page(c, "groups", "Groups", data)
}

func (s *Server) groupError(c *fiber.Ctx, err error, extra fiber.Map) error {
	return formError(err, func(status int, msg string) error {
		if extra == nil {
			extra = fiber.Map{}
		}
		extra["Error"] = msg
		return s.renderGroups(c, status, extra)
	})
}

func (s *Server) createGroupForm(c *fiber.Ctx) error {
	name := formText(c, "name")
	if _, err := s.ACL.CreateGroup(c.UserContext(), member(c).ID, name); err != nil {
		return s.groupError(c, err, fiber.Map{"NewName": name})
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) renameGroupForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.ACL.RenameGroup(c.UserContext(), member(c).ID, id, formText(c, "name")); err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) deleteGroupForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if err := s.ACL.DeleteGroup(c.UserContext(), member(c).ID, id); err != nil {
		return err
	}
	return seeOther(c, "/settings/groups?done=deleted")
}

func (s *Server) addGroupMemberForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Pick a member or guest link to add.")
	if err == nil {
		err = s.ACL.AddGroupMember(c.UserContext(), member(c).ID, id, principal)
	}
	if err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}

func (s *Server) removeGroupMemberForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	principal, err := formID(c, "principal", "Nothing to remove.")
	if err == nil {
		err = s.ACL.RemoveGroupMember(c.UserContext(), member(c).ID, id, principal)
	}
	if err != nil {
		return s.groupError(c, err, nil)
	}
	return seeOther(c, "/settings/groups?done=saved")
}
