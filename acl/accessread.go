package acl

import (
	"context"
	"hubshare/app"
	"time"
)

// AccessEntry is an access-log entry as owners see it.
type AccessEntry struct {
	At        time.Time `bun:"at" json:"at"`
	TokenID   int64     `bun:"token_id" json:"token_id"`
	TokenName string    `bun:"token_name" json:"token_name"`
	ItemID    *int64    `bun:"item_id" json:"item_id"`
	ItemTitle *string   `bun:"item_title" json:"-"`
	// ItemKind and ItemExcerpt (the start of a post's text) label an item
	// without a title, as every page does.
	ItemKind    *string `bun:"item_kind" json:"-"`
	ItemExcerpt *string `bun:"item_excerpt" json:"-"`
	Event       string  `bun:"event" json:"event"`
	// Count is how many identical events the entry stands for: a guest's
	// views, openings or downloads between two flushes of the log, or
	// events merged when its queue overflowed. At is the newest of them.
	Count  int    `bun:"count" json:"count"`
	Client string `bun:"client_mark" json:"client"`
	Reason string `bun:"reason" json:"reason,omitempty"`
}

// ItemAccessPage returns one page of the access log of one of owner's items,
// newest first, and the cursor of the next page ("" after the last).
func (s *Service) ItemAccessPage(ctx context.Context, owner, item int64, p app.Page) ([]AccessEntry, string, error) {
	if _, err := ownedItem(ctx, s.DB, owner, item); err != nil {
		return nil, "", err
	}
	return s.accessPage(ctx, owner, "l.item_id = ?", item, p)
}

// TokenAccess returns the newest entries of the access history of one of
// owner's tokens.
func (s *Service) TokenAccess(ctx context.Context, owner, token int64, limit int) ([]AccessEntry, error) {
	if _, err := s.Token(ctx, owner, token); err != nil {
		return nil, err
	}
	out, _, err := s.accessPage(ctx, owner, "l.token_id = ?", token, app.Page{Limit: limit})
	return out, err
}

// accessPage reads one page of log entries of owner's tokens, newest first,
// by the index on (item_id, at) or (token_id, at) from the cursor on, so a
// page costs the same however long the log. An entry names an item only
// when that item is owner's too: whatever ids reached the log, no audit
// surface shows another member's item or token.
func (s *Service) accessPage(ctx context.Context, owner int64, where string, arg int64, p app.Page) ([]AccessEntry, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	sel := s.DB.NewSelect().TableExpr("access_log AS l").
		ColumnExpr("l.id, l.at, l.token_id, t.name AS token_name, i.id AS item_id, i.title AS item_title, i.kind AS item_kind, substr(i.body, 1, 200) AS item_excerpt, l.event, l.client_mark, l.reason, l.count").
		Join("JOIN guest_tokens AS t ON t.id = l.token_id AND t.owner_id = ?", owner).
		Join("LEFT JOIN items AS i ON i.id = l.item_id AND i.owner_id = t.owner_id").
		Where(where, arg)
	if p.Cursor != "" {
		key, err := app.DecodeCursor(p.Cursor, 2)
		if err != nil {
			return nil, "", err
		}
		at := time.Unix(0, key[0]).UTC()
		sel = sel.Where("(l.at < ? OR (l.at = ? AND l.id < ?))", at, at, key[1])
	}
	var rows []struct {
		AccessEntry `bun:",extend"`
		ID          int64 `bun:"id"`
	}
	if err := sel.OrderExpr("l.at DESC, l.id DESC").Limit(limit+1).Scan(ctx, &rows); err != nil && !isNoRows(err) {
		return nil, "", translate(err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next = app.EncodeCursor(last.At.UnixNano(), last.ID)
	}
	out := make([]AccessEntry, len(rows))
	for i := range rows {
		out[i] = rows[i].AccessEntry
	}
	return out, next, nil
}
