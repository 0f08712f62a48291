package acl

import (
	"context"
	"time"
)

// AccessEntry is an access-log entry as owners see it.
type AccessEntry struct {
	At        time.Time `bun:"at" json:"at"`
	TokenID   int64     `bun:"token_id" json:"token_id"`
	TokenName string    `bun:"token_name" json:"token_name"`
	ItemID    *int64    `bun:"item_id" json:"item_id"`
	ItemTitle *string   `bun:"item_title" json:"-"`
	Event     string    `bun:"event" json:"event"`
	Client    string    `bun:"client_mark" json:"client"`
	Reason    string    `bun:"reason" json:"reason,omitempty"`
}

// ItemAccess returns the access log of one of owner's items, newest first.
func (s *Service) ItemAccess(ctx context.Context, owner, item int64, limit int) ([]AccessEntry, error) {
	if _, err := ownedItem(ctx, s.DB, owner, item); err != nil {
		return nil, err
	}
	return s.access(ctx, owner, "l.item_id = ?", item, limit)
}

// TokenAccess returns the access history of one of owner's tokens, newest first.
func (s *Service) TokenAccess(ctx context.Context, owner, token int64, limit int) ([]AccessEntry, error) {
	if _, err := s.Token(ctx, owner, token); err != nil {
		return nil, err
	}
	return s.access(ctx, owner, "l.token_id = ?", token, limit)
}

// access reads log entries of owner's tokens. An entry names an item only
// when that item is owner's too: whatever ids reached the log, no audit
// surface shows another member's item or token.
func (s *Service) access(ctx context.Context, owner int64, where string, arg int64, limit int) ([]AccessEntry, error) {
	out := []AccessEntry{}
	err := s.DB.NewSelect().TableExpr("access_log AS l").
		ColumnExpr("l.at, l.token_id, t.name AS token_name, i.id AS item_id, i.title AS item_title, l.event, l.client_mark, l.reason").
		Join("JOIN guest_tokens AS t ON t.id = l.token_id AND t.owner_id = ?", owner).
		Join("LEFT JOIN items AS i ON i.id = l.item_id AND i.owner_id = t.owner_id").
		Where(where, arg).OrderExpr("l.at DESC, l.id DESC").Limit(limit).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}
