package content

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
)

// Guest comments live in content, beside the items they are about: a comment
// belongs to the item's owner (who hides or deletes it, and whose item's
// deletion takes it away), and whether a guest may write one is read off the
// guest view of the item (Access.Comment), which acl decides. acl keeps only
// the permission and the throttle.

// Comment is a guest's comment on an item, written through one of the item
// owner's tokens that may comment.
type Comment struct {
	bun.BaseModel `bun:"table:comments,alias:cm"`

	ID      int64 `bun:"id,pk,autoincrement"`
	ItemID  int64 `bun:"item_id"`
	OwnerID int64 `bun:"owner_id"`
	TokenID int64 `bun:"token_id"`
	// Author is the name the guest typed, or empty.
	Author    string    `bun:"author"`
	Body      string    `bun:"body"`
	Hidden    bool      `bun:"hidden"`
	CreatedAt time.Time `bun:"created_at"`
}

// CommentRow is a comment as lists show it, with its token's name and state.
type CommentRow struct {
	Comment      `bun:",extend"`
	TokenName    string `bun:"token_name"`
	TokenRevoked bool   `bun:"token_revoked"`
}

// Limits of a comment, in characters.
const (
	MaxCommentBody   = 4000
	MaxCommentAuthor = 60
)

// Comments allowed per throttle window (acl.DefaultWindow): from one
// network, and through one token from anywhere.
const (
	CommentsPerNetwork = 10
	CommentsPerToken   = 30
	throttleComment    = "comment"
)

// AddComment stores a guest's comment on the item acc opened (acc comes from
// View in the same request). The comment goes under the session's lowest
// token that opens the item and may comment; without one it is EForbidden.
// A comment that breaks a rule is EInvalid and stores nothing; past the rate
// of comments per token or network it is EThrottled. network is the client's
// network (acl.Network).
func (s *Service) AddComment(ctx context.Context, acc *Access, network, author, body string) (*Comment, error) {
	if acc.Owner || !acc.Comment || acc.CommentToken == 0 {
		return nil, app.Errorf(app.EForbidden, "This link does not let you comment.")
	}
	author, err := app.CleanText("The name", author, MaxCommentAuthor, false)
	if err != nil {
		return nil, err
	}
	body, err = app.CleanText("The comment", body, MaxCommentBody, true)
	if err != nil {
		return nil, err
	}
	if body == "" {
		return nil, app.Errorf(app.EInvalid, "The comment is empty: write something first.")
	}
	keys := []acl.ThrottleKey{
		{Key: acl.NetworkKey(s.ACL.Keys, network).Key, Limit: CommentsPerNetwork},
		{Key: acl.TokenKey(acc.CommentToken).Key, Limit: CommentsPerToken},
	}
	if err := s.ACL.Throttle.Check(ctx, throttleComment, keys...); err != nil {
		var e *app.Error
		if errors.As(err, &e) && e.Code == app.EThrottled {
			return nil, &app.Error{Code: app.EThrottled, RetryAfter: e.RetryAfter,
				Message: "Too many comments from this link or this network. Please wait a few minutes and try again."}
		}
		return nil, err
	}
	if err := s.admitRow(); err != nil {
		return nil, err
	}
	cm := &Comment{ItemID: acc.Item.ID, OwnerID: acc.Item.OwnerID, TokenID: acc.CommentToken,
		Author: author, Body: body, CreatedAt: s.now()}
	if _, err := s.DB.NewInsert().Model(cm).Returning("id").Exec(ctx); err != nil {
		return nil, translate(err)
	}
	// Every comment counts towards the rate, in the throttle's counters.
	if err := s.ACL.Throttle.Fail(ctx, throttleComment, keys...); err != nil {
		return nil, err
	}
	if s.CommentAdded != nil {
		s.CommentAdded(ctx, cm)
	}
	return cm, nil
}

// GuestComments lists the comments a guest sees on the item acc opened:
// not hidden, and not through a revoked token; oldest first, a page at a time.
func (s *Service) GuestComments(ctx context.Context, acc *Access, p app.Page) ([]CommentRow, string, error) {
	return s.comments(ctx, acc.Item.ID, true, p)
}

// ItemComments lists every comment on one of owner's items, hidden ones and
// those of revoked tokens included; oldest first, a page at a time. Another
// member's item is ENotFound.
func (s *Service) ItemComments(ctx context.Context, owner, item int64, p app.Page) ([]CommentRow, string, error) {
	if _, err := s.Item(ctx, owner, item); err != nil {
		return nil, "", err
	}
	return s.comments(ctx, item, false, p)
}

func (s *Service) comments(ctx context.Context, item int64, guest bool, p app.Page) ([]CommentRow, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	var after int64
	if p.Cursor != "" {
		k, err := app.DecodeCursor(p.Cursor, 1)
		if err != nil {
			return nil, "", err
		}
		after = k[0]
	}
	rows := []CommentRow{}
	q := s.DB.NewSelect().Model(&rows).
		ColumnExpr("cm.*, t.name AS token_name, t.revoked_at IS NOT NULL AS token_revoked").
		Join("JOIN guest_tokens AS t ON t.id = cm.token_id").
		Where("cm.item_id = ?", item).Where("cm.id > ?", after)
	if guest {
		q = q.Where("NOT cm.hidden").Where("t.revoked_at IS NULL")
	}
	if err := q.OrderExpr("cm.id").Limit(limit + 1).Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", translate(err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = app.EncodeCursor(rows[limit-1].ID)
	}
	return rows, next, nil
}

// SetCommentHidden hides a comment on one of owner's items from its guests,
// or shows it again; another member's comment is ENotFound.
func (s *Service) SetCommentHidden(ctx context.Context, owner, id int64, hidden bool) (*CommentRow, error) {
	res, err := s.DB.NewUpdate().Model((*Comment)(nil)).Set("hidden = ?", hidden).
		Where("id = ? AND owner_id = ?", id, owner).Exec(ctx)
	if err != nil {
		return nil, translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, errNoComment
	}
	return s.comment(ctx, owner, id)
}

// DeleteComment deletes a comment on one of owner's items for good and
// returns the item it was on.
func (s *Service) DeleteComment(ctx context.Context, owner, id int64) (item int64, err error) {
	var items []int64
	err = s.DB.NewDelete().Model((*Comment)(nil)).Where("id = ? AND owner_id = ?", id, owner).
		Returning("item_id").Scan(ctx, &items)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, translate(err)
	}
	if len(items) == 0 {
		return 0, errNoComment
	}
	return items[0], nil
}

// comment returns one comment on one of owner's items.
func (s *Service) comment(ctx context.Context, owner, id int64) (*CommentRow, error) {
	row := new(CommentRow)
	err := s.DB.NewSelect().Model(row).
		ColumnExpr("cm.*, t.name AS token_name, t.revoked_at IS NOT NULL AS token_revoked").
		Join("JOIN guest_tokens AS t ON t.id = cm.token_id").
		Where("cm.id = ? AND cm.owner_id = ?", id, owner).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoComment
	}
	if err != nil {
		return nil, translate(err)
	}
	return row, nil
}

var errNoComment = app.Errorf(app.ENotFound, "No such comment.")
