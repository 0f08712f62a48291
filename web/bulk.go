package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Cleanup by rule: revoke or extend every token a rule chooses, after a
// preview of exactly which tokens and items it touches (acl.Bulk).

type bulkItemView struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Label names an untitled item on the preview page; not in the API.
	Label string `json:"-"`
}

type bulkSkipView struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (s *Server) bulkViews(r *acl.BulkResult) (tokens []tokenView, items []bulkItemView, skipped []bulkSkipView) {
	tokens = make([]tokenView, 0, len(r.Tokens))
	for i := range r.Tokens {
		tokens = append(tokens, s.newTokenView(&r.Tokens[i]))
	}
	items = make([]bulkItemView, 0, len(r.Items))
	for _, it := range r.Items {
		items = append(items, bulkItemView{ID: it.ID, Kind: it.Kind, Title: it.Title, Label: labelOf(it.Title, it.Kind, it.Excerpt)})
	}
	skipped = make([]bulkSkipView, 0, len(r.Skipped))
	for _, sk := range r.Skipped {
		skipped = append(skipped, bulkSkipView{ID: sk.Token.ID, Name: sk.Token.Name, Reason: sk.Reason})
	}
	return tokens, items, skipped
}

// apiBulkTokens is POST /tokens/bulk.
func (s *Server) apiBulkTokens(c *fiber.Ctx) error {
	var in struct {
		Action string `json:"action"`
		Days   *int   `json:"days"`
		Rule   *struct {
			UnusedDays    *int    `json:"unused_days"`
			NoExpiry      *bool   `json:"no_expiry"`
			InNoACL       *bool   `json:"in_no_acl"`
			CreatedBefore *string `json:"created_before"`
		} `json:"rule"`
		DryRun *bool `json:"dry_run"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.DryRun == nil {
		return app.Errorf(app.EInvalid, "dry_run must be true (to see what the action touches) or false (to run it).")
	}
	if in.Rule == nil {
		return app.Errorf(app.EInvalid, "rule is required: unused_days, no_expiry, in_no_acl and/or created_before.")
	}
	req := acl.BulkRequest{Action: in.Action, DryRun: *in.DryRun, Rule: acl.BulkRule{UnusedDays: in.Rule.UnusedDays}}
	if in.Days != nil {
		req.Days = *in.Days
	} else if in.Action == acl.BulkExtend {
		return app.Errorf(app.EInvalid, "days is required to extend.")
	}
	req.Rule.NoExpiry = in.Rule.NoExpiry != nil && *in.Rule.NoExpiry
	req.Rule.InNoACL = in.Rule.InNoACL != nil && *in.Rule.InNoACL
	if in.Rule.CreatedBefore != nil {
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*in.Rule.CreatedBefore))
		if err != nil {
			return app.Errorf(app.EInvalid, "created_before must be an RFC 3339 instant, such as 2026-01-31T00:00:00Z.")
		}
		req.Rule.CreatedBefore = &t
	}
	res, err := s.ACL.Bulk(c.UserContext(), apiMember(c).ID, req)
	if err != nil {
		return err
	}
	tokens, items, skipped := s.bulkViews(res)
	return c.JSON(fiber.Map{"tokens": tokens, "items": items, "skipped": skipped, "dry_run": req.DryRun})
}

// bulkFormValues refills the cleanup form and carries a previewed rule to
// its confirmation.
type bulkFormValues struct {
	Action, Days, UnusedDays, CreatedBefore string
	NoExpiry, InNoACL                       bool
	// CreatedBeforeUTC is the instant as RFC 3339, for the confirmation.
	CreatedBeforeUTC string
}

// bulkRequest reads the cleanup form (the query of the preview, the body of
// the confirmation: FormValue reads both).
func bulkRequest(c *fiber.Ctx) (acl.BulkRequest, bulkFormValues, error) {
	v := bulkFormValues{Action: formText(c, "action"), Days: strings.TrimSpace(formText(c, "days")),
		UnusedDays: strings.TrimSpace(formText(c, "unused_days")), CreatedBefore: formText(c, "created_before"),
		NoExpiry: formChecked(c, "no_expiry"), InNoACL: formChecked(c, "in_no_acl")}
	req := acl.BulkRequest{Action: v.Action, Rule: acl.BulkRule{NoExpiry: v.NoExpiry, InNoACL: v.InNoACL}}
	if req.Action == acl.BulkExtend {
		n, err := strconv.Atoi(v.Days)
		if err != nil {
			return req, v, app.Errorf(app.EInvalid, "Extend by how many days? Type a whole number.")
		}
		req.Days = n
	}
	if v.UnusedDays != "" {
		n, err := strconv.Atoi(v.UnusedDays)
		if err != nil {
			return req, v, app.Errorf(app.EInvalid, "“Unused for” takes a whole number of days.")
		}
		req.Rule.UnusedDays = &n
	}
	before, err := formInstant(c, "created_before", "“Created before”")
	if err != nil {
		return req, v, err
	}
	if before != nil {
		req.Rule.CreatedBefore = before
		v.CreatedBeforeUTC = before.Format(time.RFC3339Nano)
	}
	return req, v, nil
}

// bulkPreviewPage is the dry run of the cleanup form: the tokens and items
// the action would touch, and a button that runs it on exactly those.
func (s *Server) bulkPreviewPage(c *fiber.Ctx) error {
	req, v, err := bulkRequest(c)
	req.DryRun = true
	var res *acl.BulkResult
	if err == nil {
		res, err = s.ACL.Bulk(c.UserContext(), member(c).ID, req)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderTokens(c, status, fiber.Map{"BulkError": msg, "Bulk": v})
		})
	}
	tokens, items, skipped := s.bulkViews(res)
	ids := make([]string, len(tokens))
	for i, t := range tokens {
		ids[i] = itoa(t.ID)
	}
	return s.page(c, "tokens_bulk", "Clean up guest links", fiber.Map{"Nav": "tokens", "Bulk": v, "Extend": req.Action == acl.BulkExtend,
		"Tokens": tokens, "Items": items, "Skipped": skipped, "IDs": strings.Join(ids, ",")})
}

// bulkForm confirms a previewed cleanup: the rule again, limited to the
// tokens its preview listed.
func (s *Server) bulkForm(c *fiber.Ctx) error {
	req, v, err := bulkRequest(c)
	if err == nil {
		req.Only = []int64{}
		for _, part := range strings.Split(c.FormValue("ids"), ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			id, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil || id <= 0 {
				err = app.Errorf(app.EInvalid, "The list of guest links is damaged; preview the cleanup again.")
				break
			}
			req.Only = append(req.Only, id)
		}
	}
	var res *acl.BulkResult
	if err == nil {
		res, err = s.ACL.Bulk(c.UserContext(), member(c).ID, req)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderTokens(c, status, fiber.Map{"BulkError": msg, "Bulk": v})
		})
	}
	done := "revoked"
	if req.Action == acl.BulkExtend {
		done = "saved"
	}
	return seeOther(c, "/settings/tokens?done="+done+"&n="+strconv.Itoa(len(res.Tokens)))
}
