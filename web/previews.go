package web

import (
	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
)

// previewPage is what link previewers, mail scanners and crawlers get for a
// zat URL: the same neutral page whatever the token (valid, dead or made
// up), with no title, image, owner name or note of the item, so that a
// chat's link card or a search index learns nothing; og:title is the only
// thing a card shows.
const previewPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<meta property="og:title" content="A link was shared with you">
</head>
<body>
<p>A link was shared with you. Open it in a web browser to see it.</p>
</body>
</html>
`

// previewFamily names the previewer behind a request on a zat URL: a known
// preview or scanner agent, or any HEAD request (a HEAD reads headers only,
// so it never starts a session).
func previewFamily(c *fiber.Ctx) (string, bool) {
	if f, ok := acl.PreviewFamily(c.Get(fiber.HeaderUserAgent)); ok {
		return f, true
	}
	if c.Method() == fiber.MethodHead {
		return acl.PreviewHEAD, true
	}
	return "", false
}

// answerPreview gives a previewer the neutral page: 200, no cookie, no use,
// no session; only a preview event in the owner's log, naming the family.
func (s *Server) answerPreview(c *fiber.Ctx, zat, family string) error {
	if err := s.ACL.RecordPreview(c.UserContext(), zat, s.clientNetwork(c), family, itemIDParam(c)); err != nil {
		return err
	}
	c.Response().Header.DelAllCookies()
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("X-Robots-Tag", "noindex, nofollow")
	c.Type("html", "utf-8")
	return c.Status(fiber.StatusOK).SendString(previewPage)
}
