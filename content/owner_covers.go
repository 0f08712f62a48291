package content

import (
	"context"
	"database/sql"
	"errors"
)

// Covers returns the cover photo of each of owner's albums that has one:
// the chosen cover, else the album's first photo. One query for the whole
// home page.
func (s *Service) Covers(ctx context.Context, owner int64) (map[int64]int64, error) {
	var rows []struct {
		Album int64  `bun:"album"`
		Photo *int64 `bun:"photo"`
	}
	err := s.DB.NewRaw(`SELECT a.id AS album,
  COALESCE(a.cover_id, (SELECT min(p.id) FROM items AS p WHERE p.album_id = a.id AND p.kind = ? AND p.owner_id = a.owner_id)) AS photo
FROM items AS a WHERE a.owner_id = ? AND a.kind = ?`, KindPhoto, owner, KindAlbum).Scan(ctx, &rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		if r.Photo != nil {
			out[r.Album] = *r.Photo
		}
	}
	return out, nil
}

// Cover is the cover of one album among its photos (oldest first): the
// chosen one, else the first; 0 for an empty album.
func Cover(album *Item, photos []Item) int64 {
	if album.CoverID != nil {
		for i := range photos {
			if photos[i].ID == *album.CoverID {
				return photos[i].ID
			}
		}
	}
	if len(photos) > 0 {
		return photos[0].ID
	}
	return 0
}

// Albums lists owner's albums by title, for the pickers of the owner's pages.
func (s *Service) Albums(ctx context.Context, owner int64) ([]Item, error) {
	albums := []Item{}
	err := s.DB.NewSelect().Model(&albums).Column("i.id", "i.title", "i.cover_id").
		Where("i.owner_id = ? AND i.kind = ?", owner, KindAlbum).Order("i.title", "i.id").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err)
	}
	for i := range albums {
		albums[i].Kind, albums[i].OwnerID = KindAlbum, owner
	}
	return albums, nil
}
