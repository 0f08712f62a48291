package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
)

// Access windows in the guest-link forms: valid_from, and how long a link
// works once opened (expires_after_first_use).

// windowChoice is one option of the "once opened, works for" field.
type windowChoice struct {
	Value, Label string
	Selected     bool
}

var windowPresets = []struct {
	Seconds int64
	Label   string
}{
	{3600, "An hour"},
	{24 * 3600, "A day"},
	{7 * 24 * 3600, "A week"},
	{30 * 24 * 3600, "30 days"},
}

// windowChoices lists the options with current (seconds, or nil) selected;
// a window set through the API that is no preset is offered as it is.
func windowChoices(current *int64) []windowChoice {
	out := []windowChoice{{Value: "", Label: "Until it expires", Selected: current == nil}}
	found := current == nil
	for _, p := range windowPresets {
		sel := current != nil && *current == p.Seconds
		found = found || sel
		out = append(out, windowChoice{Value: strconv.FormatInt(p.Seconds, 10), Label: p.Label, Selected: sel})
	}
	if !found {
		out = append(out, windowChoice{Value: strconv.FormatInt(*current, 10), Label: windowText(*current), Selected: true})
	}
	return out
}

// windowText says a window in words.
func windowText(seconds int64) string {
	for _, p := range windowPresets {
		if p.Seconds == seconds {
			return strings.ToLower(p.Label)
		}
	}
	return (time.Duration(seconds) * time.Second).String()
}

// windowForm reads the access-window fields of a guest-link form into in.
// In an edit, a blank valid_from keeps the current one (a checkbox clears
// it), and "until it expires" removes the window.
func windowForm(c *fiber.Ctx, edit bool, in *acl.TokenInput) error {
	if edit && formChecked(c, "clear_valid_from") {
		in.ClearValidFrom = true
	} else {
		from, err := formInstant(c, "valid_from", "“Valid from”")
		if err != nil {
			return err
		}
		in.ValidFrom = from
	}
	w := strings.TrimSpace(c.FormValue("expires_after_first_use"))
	switch {
	case w == "" && edit:
		in.ClearWindow = true
	case w != "":
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return app.Errorf(app.EInvalid, "“Once opened, works for” takes one of its choices.")
		}
		in.ExpiresAfterFirstUse = &n
	}
	return nil
}
