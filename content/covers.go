package content

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"hubshare/acl"
)

// Cover returns the photo that an album shows as its cover to the viewer
// who opened it (album is that viewer's Access, as View gives it): the
// album's chosen cover when the viewer may see that photo in the album,
// else the first photo of the album the viewer may see — the photos of
// AlbumPhotos, in its order. ok is false when the viewer may see no photo of
// the album. It is one query however large the album.
func (s *Service) Cover(ctx context.Context, album *Access, v Viewer) (id int64, ok bool, err error) {
	if album.Item.Kind != KindAlbum {
		return 0, false, nil
	}
	chosen := int64(0)
	if album.Item.CoverID != nil {
		chosen = *album.Item.CoverID
	}
	q := s.DB.NewSelect().TableExpr("items AS i").Column("i.id").
		Where("i.album_id = ?", album.Item.ID).Where("i.kind = ?", KindPhoto)
	switch {
	case album.Owner, album.Public:
		// The owner sees every photo; so does anyone on a public album (no
		// deny entry can name a viewer without an identity).
	default:
		principal := album.TokenID
		if principal == 0 && v.Member != nil {
			principal = v.Member.ID
		}
		if principal == 0 {
			return 0, false, fmt.Errorf("album access without an identity")
		}
		q = q.Where("NOT "+acl.DeniedSQL("i", "?0"), principal)
	}
	err = q.OrderExpr("CASE WHEN i.id = ? THEN 0 ELSE 1 END, i.id", chosen).Limit(1).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, translate(err)
	}
	return id, true, nil
}
