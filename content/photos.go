package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"hubshare/app"
	"hubshare/content/media"
)

// PhotoUpload is one photo being uploaded.
type PhotoUpload struct {
	Title   string
	AlbumID *int64
	// Body is the file, streamed; it is never held whole in memory.
	Body io.Reader
}

// IngestPhoto streams one upload into the media store and makes its
// variants. Nothing is written to the database yet: SavePhoto does that once
// the title and album (which may follow the file in a form) are known, and
// DiscardPhoto removes the files if it cannot.
func (s *Service) IngestPhoto(ctx context.Context, body io.Reader) (*media.Photo, error) {
	p, err := media.Ingest(ctx, s.Media, body, s.MaxUpload, s.Limits)
	var me *media.MemoryError
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, media.ErrTooLarge):
		return nil, app.Errorf(app.ETooLarge, "The photo is larger than the limit of %d MiB.", s.MaxUpload>>20)
	case errors.Is(err, media.ErrUnsupported):
		return nil, app.Errorf(app.EUnsupported, "The file is not a JPEG, PNG, GIF or WebP image.")
	case errors.Is(err, media.ErrCorrupt):
		return nil, app.Errorf(app.EUnsupported, "The image is damaged or in a form that cannot be read.")
	case errors.Is(err, media.ErrTooManyPixels):
		return nil, app.Errorf(app.EInvalid, "The image has too many pixels (at most %d megapixels, %d pixels a side).",
			media.DefaultMaxPixels/1_000_000, media.DefaultMaxSide)
	case errors.As(err, &me):
		// 422 like too many pixels: the file is small and well formed, its
		// pixel size and depth break the server's rule, and retrying or a
		// smaller upload limit would not help.
		hint := "fewer pixels"
		if strings.HasPrefix(me.Format, "16-bit") {
			hint += " or 8 bits per channel"
		}
		return nil, app.Wrap(err, app.EInvalid, fmt.Sprintf(
			"The image is too big to process: %d×%d pixels as a %s need about %d MiB of memory, more than this server's limit of %d MiB. Save it with %s.",
			me.Width, me.Height, me.Format, (me.Need+1<<20-1)>>20, me.Budget>>20, hint))
	case errors.Is(err, media.ErrBusy):
		return nil, &app.Error{Code: app.EUnavailable, RetryAfter: BusyRetryAfter, Err: err,
			Message: "The server is busy processing other photos. Please try again in a few seconds."}
	}
	return nil, err
}

// BusyRetryAfter is the Retry-After of an upload refused because other
// uploads hold the decoding memory: about the time a large photo takes.
const BusyRetryAfter = 5 * time.Second

// DiscardPhoto removes the files of a photo that did not become an item.
func (s *Service) DiscardPhoto(ctx context.Context, p *media.Photo) error {
	return media.DeletePhoto(context.WithoutCancel(ctx), s.Media, p.Key)
}

// SavePhoto records an ingested photo as a private item of owner, in one of
// owner's albums if albumID is set. On failure the files are removed, so a
// refused upload leaves no row and no file behind.
func (s *Service) SavePhoto(ctx context.Context, owner int64, p *media.Photo, title string, albumID *int64) (_ *Item, err error) {
	defer func() {
		if err != nil {
			s.DiscardPhoto(ctx, p)
		}
	}()
	title, err = app.CleanText("The title", title, MaxTitle, false)
	if err != nil {
		return nil, err
	}
	if albumID != nil {
		al, err := s.Item(ctx, owner, *albumID)
		if err != nil || al.Kind != KindAlbum {
			return nil, app.Errorf(app.EInvalid, "Album %d is not one of your albums.", *albumID)
		}
	}
	key, ct := p.Key, p.ContentType
	w, h, size := p.Width, p.Height, p.Size
	meta, err := json.Marshal(p.Meta)
	if err != nil {
		return nil, err
	}
	return s.insert(ctx, s.DB, &Item{OwnerID: owner, Kind: KindPhoto, Title: title, AlbumID: albumID,
		MediaKey: &key, ContentType: &ct, Width: &w, Height: &h, SizeBytes: &size, Meta: string(meta)})
}

// PhotoMeta decodes the stored metadata of a photo; nil when there is none.
func PhotoMeta(it *Item) *media.Metadata {
	if it.Meta == "" {
		return nil
	}
	var m media.Metadata
	if json.Unmarshal([]byte(it.Meta), &m) != nil || (m.TakenAt == nil && m.Camera == "" && m.Lens == "" && m.Latitude == nil) {
		return nil
	}
	return &m
}

// MoveToAlbum puts one of owner's photos into one of owner's albums (nil
// takes it out).
func (s *Service) MoveToAlbum(ctx context.Context, owner, photo int64, albumID *int64) error {
	it, err := s.Item(ctx, owner, photo)
	if err != nil {
		return err
	}
	if it.Kind != KindPhoto {
		return app.Errorf(app.EInvalid, "Only photos go into albums.")
	}
	if albumID != nil {
		al, err := s.Item(ctx, owner, *albumID)
		if err != nil || al.Kind != KindAlbum {
			return app.Errorf(app.EInvalid, "Album %d is not one of your albums.", *albumID)
		}
	}
	_, err = s.DB.NewUpdate().Model((*Item)(nil)).Set("album_id = ?", albumID).Set("updated_at = ?", s.now()).
		Where("id = ? AND owner_id = ?", photo, owner).Exec(ctx)
	return translate(err)
}

// Variant chooses which stored file a viewer gets for a requested variant:
// thumb and large for anyone who may open the photo; the original only for
// the owner and for tokens (or members) allowed to download — without
// metadata unless they may see it. ok is false when the viewer may not have it.
func Variant(acc *Access, requested string) (variant string, ok bool) {
	switch requested {
	case media.VariantThumb, media.VariantLarge:
		return requested, true
	case media.VariantOriginal:
		switch {
		case acc.Owner, acc.CanDownload && acc.ShowMetadata:
			return media.VariantOriginal, true
		case acc.CanDownload:
			return media.VariantClean, true
		}
	}
	return "", false
}

// OpenMedia opens the stored file of a variant of a photo.
func (s *Service) OpenMedia(ctx context.Context, it *Item, variant string) (media.Object, error) {
	if it.Kind != KindPhoto || it.MediaKey == nil {
		return nil, errNoItem
	}
	return s.Media.Open(ctx, media.VariantKey(*it.MediaKey, variant))
}
