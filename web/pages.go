package web

import (
	"context"
	"encoding/base64"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"hubshare/acl"
	"hubshare/app"
)

// The signed-in member's pages, one file per resource: pages_home.go (home),
// pages_share.go (an item's share panel), pages_tokens.go (the guest-link
// audit and one token), pages_groups.go; this file holds what they share.
// Every route is in routes.go. Handlers stay thin: read the form, call the
// service, then redirect (303 with a flash code) or re-render the page with
// the message of a rule the input broke.

// Limits on the recent history shown on the share panel and a token's page.
const (
	itemHistoryLimit  = 50
	tokenHistoryLimit = 100
)

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

// inputTime formats an instant for a datetime-local field (UTC; share.js
// turns it into the viewer's local time from the field's data-utc).
func inputTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

// formInstant reads a date and time typed in a datetime-local field, which
// has no zone: share.js puts the viewer's UTC offset for that date (minutes
// east of UTC) in the form's tz_offset field on submit. Without it (no
// script) the time is taken as UTC, as the field's label then says. An RFC
// 3339 instant is taken as it is.
func formInstant(c *fiber.Ctx, field, what string) (*time.Time, error) {
	v := strings.TrimSpace(c.FormValue(field))
	off := strings.TrimSpace(c.FormValue("tz_offset"))
	if v == "" || off == "" {
		return parseInstant(what, v)
	}
	mins, err := strconv.Atoi(off)
	if err != nil || mins < -16*60 || mins > 16*60 {
		return parseInstant(what, v)
	}
	zone := time.FixedZone("", mins*60)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, zone); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return parseInstant(what, v)
}

// queryID reads an id from the query string; 0 when absent or malformed.
func queryID(c *fiber.Ctx, name string) int64 {
	id, err := strconv.ParseInt(c.Query(name), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// newLinkWindow is how long after its creation a guest link is shown again
// on the page a create redirects to (?new=): long enough for a slow
// redirect or a reload, short enough that an old bookmark shows nothing.
const newLinkWindow = 10 * time.Minute

// Labels.

// The owner pages' template functions join the shared set (server.go) here,
// before New parses the templates, so that the wording lives beside the
// views that use it.
func init() {
	templateFuncs["label"] = label
	templateFuncs["when"] = when
	templateFuncs["itemlabel"] = labelOf
}

// label is the one wording of every status and access-log event on the
// owner pages ({{label .Status}}, {{label .Event .Reason}}): codes are never
// shown as they are stored. A refusal names its reason ("Refused: revoked").
func label(code string, detail ...string) string {
	switch code {
	case acl.StatusActive:
		return "Active"
	case acl.StatusExpired:
		return "Expired"
	case acl.StatusRevoked:
		return "Revoked"
	case acl.StatusUsedUp:
		return "Used up"
	case "inactive":
		return "Inactive"
	case "allow":
		return "Allowed"
	case "deny":
		return "Denied"
	case acl.EventOpen:
		return "Opened"
	case acl.EventView:
		return "Viewed"
	case acl.EventDownload:
		return "Downloaded"
	case acl.EventDeniedPassword:
		return "Wrong password"
	case acl.EventPreview:
		// The family of the previewer: "Link preview (Slack)".
		if len(detail) > 0 && detail[0] != "" {
			return "Link preview (" + detail[0] + ")"
		}
		return "Link preview"
	case acl.EventFailed:
		if len(detail) > 0 && detail[0] != "" {
			return "Refused: " + strings.ToLower(label(detail[0]))
		}
		return "Refused"
	case "":
		return ""
	}
	// A code this list does not know yet still reads as words.
	w := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(w[:1]) + w[1:]
}

// when shows an instant as a <time> element: UTC text, which share.js
// rewrites in the viewer's local time; "never" for none.
func when(t any) template.HTML {
	var v time.Time
	switch x := t.(type) {
	case time.Time:
		v = x
	case *time.Time:
		if x == nil {
			return "never"
		}
		v = *x
	default:
		return ""
	}
	v = v.UTC()
	return template.HTML(`<time datetime="` + v.Format(time.RFC3339) + `" data-local>` +
		template.HTMLEscapeString(v.Format("2 Jan 2006 15:04 UTC")) + `</time>`)
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
	Event     string // in words (label), with "× N" for an entry of N events
	Client    string
}

func accessRows(es []acl.AccessEntry) []accessRow {
	out := make([]accessRow, 0, len(es))
	for _, e := range es {
		r := accessRow{At: e.At, TokenID: e.TokenID, TokenName: e.TokenName, ItemID: e.ItemID, Event: label(e.Event, e.Reason),
			Client: e.Client}
		if e.Count > 1 {
			// Identical events close together are one entry (the newest
			// time): say how many.
			r.Event += " × " + strconv.Itoa(e.Count)
		}
		if e.ItemID != nil {
			r.ItemTitle = labelOf(deref(e.ItemTitle), deref(e.ItemKind), deref(e.ItemExcerpt))
		}
		out = append(out, r)
	}
	return out
}
