package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/app"
	"hubshare/content"
)

// Guest comments: a guest whose session holds a token with can_comment
// comments under the post, photo or album the token opens; the owner sees
// every comment on the item page and in the API, and hides, shows again or
// deletes one in one click.

// guestComments is the comments part of a guest page.
type guestComments struct {
	List []guestComment
	// More is the link to the next page of comments, if any.
	More string
	// Form is the comment form, when the viewer may comment.
	Form *commentForm
	// Preview says where the form would be, on the owner's preview.
	Preview bool
}

// guestComment is one comment as guests see it: plain text, escaped by the
// template, line breaks kept by the style.
type guestComment struct {
	ID   int64
	Who  string
	Body string
	At   *guestTime
}

// commentForm is the comment form, with a refused comment's text and reason.
type commentForm struct {
	Action, CSRF       string
	Author, Body       string
	Error              string
	MaxAuthor, MaxBody int
}

// commentInput is a refused comment, shown again with its reason.
type commentInput struct{ Author, Body, Error string }

// commentsPerPage is how many comments an item page shows at once.
const commentsPerPage = 100

// commentWho is how a comment is signed: "author (via token name)".
func commentWho(author, token string) string {
	if author == "" {
		author = "Guest"
	}
	return author + " (via " + token + ")"
}

// guestComments builds the comments part of a guest page: the comments and
// the form, for a guest whose session holds a token that opens the item and
// may comment. Other viewers see neither (and a guest page without comments
// stays one query: the guest view).
func (s *Server) guestComments(c *fiber.Ctx, acc *content.Access, in commentInput) (*guestComments, error) {
	if acc.TokenID == 0 || !acc.Comment {
		return nil, nil
	}
	rows, next, err := s.Content.GuestComments(c.UserContext(), acc, app.Page{Limit: commentsPerPage, Cursor: c.Query("comments")})
	if app.ErrorCode(err) == app.EInvalid {
		rows, next, err = s.Content.GuestComments(c.UserContext(), acc, app.Page{Limit: commentsPerPage})
	}
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	out := &guestComments{List: make([]guestComment, 0, len(rows))}
	for _, r := range rows {
		out.List = append(out.List, guestComment{ID: r.ID, Who: commentWho(r.Author, r.TokenName), Body: r.Body, At: newGuestTime(r.CreatedAt, now)})
	}
	if next != "" {
		out.More = guestLinksOf(c).item(acc.Item.ID) + "?comments=" + url.QueryEscape(next) + "#comments"
	}
	bearer, _ := c.Locals(bearerKey).(bool)
	switch {
	case previewOf(c) != nil:
		out.Preview = true
	case !bearer:
		// A crawler with a bearer token reads the comments but gets no form.
		out.Form = &commentForm{Action: itemPath(acc.Item.ID) + "/comments", CSRF: s.csrfToken(c),
			Author: in.Author, Body: in.Body, Error: in.Error, MaxAuthor: content.MaxCommentAuthor, MaxBody: content.MaxCommentBody}
	}
	return out, nil
}

// commentFormPost stores a guest's comment and goes back to the item; a
// refused one re-renders the page with 422 and the reason, storing nothing.
func (s *Server) commentFormPost(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	v := viewer(c)
	acc, err := s.Content.View(c.UserContext(), id, v)
	if err != nil {
		return err
	}
	in := commentInput{Author: formText(c, "author"), Body: formText(c, "body")}
	if _, err := s.Content.AddComment(c.UserContext(), acc, s.clientNetwork(c), in.Author, in.Body); err != nil {
		if app.ErrorCode(err) == app.EInvalid {
			in.Error = app.ErrorMessage(err)
			return s.guestItemPage(c, acc, v, fiber.StatusUnprocessableEntity, in)
		}
		return err
	}
	return seeOther(c, itemPath(id)+"#comments")
}

// ownerComment is a comment on its owner's item page.
type ownerComment struct {
	ID           int64
	Who          string
	Body         string
	At           string
	Hidden       bool
	TokenID      int64
	TokenRevoked bool
}

// ownerComments loads the owner item page's comments, a page at a time from ?comments=.
func (s *Server) ownerComments(c *fiber.Ctx, it *content.Item, data fiber.Map) error {
	owner := member(c).ID
	rows, next, err := s.Content.ItemComments(c.UserContext(), owner, it.ID, app.Page{Limit: commentsPerPage, Cursor: c.Query("comments")})
	if app.ErrorCode(err) == app.EInvalid {
		rows, next, err = s.Content.ItemComments(c.UserContext(), owner, it.ID, app.Page{Limit: commentsPerPage})
	}
	if err != nil {
		return err
	}
	out := make([]ownerComment, 0, len(rows))
	for _, r := range rows {
		out = append(out, ownerComment{ID: r.ID, Who: commentWho(r.Author, r.TokenName), Body: r.Body,
			At: r.CreatedAt.UTC().Format("2 Jan 2006, 15:04 UTC"), Hidden: r.Hidden, TokenID: r.TokenID, TokenRevoked: r.TokenRevoked})
	}
	data["Comments"] = out
	if next != "" {
		data["CommentsMore"] = itemURL(it.ID) + "?comments=" + url.QueryEscape(next) + "#comments"
	}
	return nil
}

// hideCommentForm hides a comment from guests (hidden=1) or shows it again.
func (s *Server) hideCommentForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	hidden := strings.TrimSpace(c.FormValue("hidden")) != "0"
	cm, err := s.Content.SetCommentHidden(c.UserContext(), member(c).ID, id, hidden)
	if err != nil {
		return err
	}
	return seeOther(c, itemURL(cm.ItemID)+"#comment-"+itoa(cm.ID))
}

// deleteCommentForm deletes a comment for good.
func (s *Server) deleteCommentForm(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	owner := member(c).ID
	item, err := s.Content.DeleteComment(c.UserContext(), owner, id)
	if err != nil {
		return err
	}
	return seeOther(c, itemURL(item)+"#comments")
}

// commentView is a comment in the API.
type commentView struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	TokenID   int64     `json:"token_id"`
	TokenName string    `json:"token_name"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	Hidden    bool      `json:"hidden"`
}

func newCommentView(r *content.CommentRow) commentView {
	return commentView{ID: r.ID, At: r.CreatedAt.UTC(), TokenID: r.TokenID,
		TokenName: r.TokenName, Author: r.Author, Body: r.Body, Hidden: r.Hidden}
}

// apiItemComments lists every comment on one of the caller's items, oldest first.
func (s *Server) apiItemComments(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	p, err := pageQuery(c)
	if err != nil {
		return err
	}
	rows, next, err := s.Content.ItemComments(c.UserContext(), apiMember(c).ID, id, p)
	if err != nil {
		return err
	}
	out := make([]commentView, 0, len(rows))
	for i := range rows {
		out = append(out, newCommentView(&rows[i]))
	}
	return c.JSON(fiber.Map{"comments": out, "next_cursor": nextCursor(next)})
}

// apiPatchComment hides a comment from guests or shows it again: {"hidden": bool}.
func (s *Server) apiPatchComment(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	fields, err := rawFields(c)
	if err != nil {
		return err
	}
	hidden, err := fieldBool(fields, "hidden")
	if err != nil {
		return err
	}
	if hidden == nil {
		return app.Errorf(app.EInvalid, "Send {\"hidden\": true} or {\"hidden\": false}.")
	}
	cm, err := s.Content.SetCommentHidden(c.UserContext(), apiMember(c).ID, id, *hidden)
	if err != nil {
		return err
	}
	return c.JSON(newCommentView(cm))
}

// apiDeleteComment deletes a comment for good.
func (s *Server) apiDeleteComment(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.Content.DeleteComment(c.UserContext(), apiMember(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
