package content

import (
	"context"
	"database/sql"
	"errors"

	"hubshare/app"
)

// ItemsPage lists one page of owner's items, newest first, and the cursor of
// the next page ("" after the last).
func (s *Service) ItemsPage(ctx context.Context, owner int64, p app.Page) ([]Item, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	q := s.DB.NewSelect().Model((*Item)(nil)).Where("i.owner_id = ?", owner)
	if p.Cursor != "" {
		key, err := app.DecodeCursor(p.Cursor, 1)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("i.id < ?", key[0])
	}
	items := []Item{}
	if err := q.Order("i.id DESC").Limit(limit+1).Scan(ctx, &items); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", translate(err)
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = app.EncodeCursor(items[limit-1].ID)
	}
	return items, next, nil
}
