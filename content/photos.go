package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
//
// The size check wins: a file refused for what it holds is still measured
// (read and dropped up to the limit), so that a file over the limit is
// refused as too large whatever it is, with the same answer on every route.
// The refusals wrap the media errors (errors.Is(err, media.ErrCorrupt)).
func (s *Service) IngestPhoto(ctx context.Context, body io.Reader) (*media.Photo, error) {
	cr := &countingReader{r: body}
	p, err := media.Ingest(ctx, s.Media, cr, s.MaxUpload, media.Limits{})
	if err != nil && (errors.Is(err, media.ErrUnsupported) || errors.Is(err, media.ErrCorrupt) || errors.Is(err, media.ErrTooManyPixels)) {
		io.CopyN(io.Discard, cr, s.MaxUpload+1-cr.n)
		if cr.n > s.MaxUpload {
			err = media.ErrTooLarge
		}
	}
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, media.ErrTooLarge):
		return nil, s.TooLarge()
	case errors.Is(err, media.ErrUnsupported):
		return nil, app.Wrap(media.ErrUnsupported, app.EUnsupported, "The file is not a JPEG, PNG, GIF or WebP image.")
	case errors.Is(err, media.ErrCorrupt):
		return nil, app.Wrap(media.ErrCorrupt, app.EUnsupported, "The image is damaged or in a form that cannot be read.")
	case errors.Is(err, media.ErrTooManyPixels):
		return nil, app.Wrap(media.ErrTooManyPixels, app.EInvalid, fmt.Sprintf("The image has too many pixels (at most %d megapixels, %d pixels a side).",
			media.DefaultMaxPixels/1_000_000, media.DefaultMaxSide))
	}
	return nil, err
}

// TooLarge is the answer to a photo over the size limit, wherever it is noticed.
func (s *Service) TooLarge() error {
	return app.Wrap(media.ErrTooLarge, app.ETooLarge, fmt.Sprintf("The photo is larger than the limit of %d MiB.", s.MaxUpload>>20))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

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
	_, err := s.EditItem(ctx, owner, photo, ItemEdit{SetAlbum: true, AlbumID: albumID})
	return err
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

// Download is one file of an album's download: the photo and the stored
// variant the viewer gets (the original, or its clean copy without metadata).
type Download struct {
	Photo   Item
	Variant string
}

// AlbumDownloads lists the photos of an album that the viewer may both see
// and download, oldest first, each with the variant to send. An empty list
// means there is nothing to download.
func (s *Service) AlbumDownloads(ctx context.Context, album *Access, v Viewer) ([]Download, error) {
	if album.Item.Kind != KindAlbum {
		return nil, errNoItem
	}
	photos, err := s.AlbumPhotos(ctx, album, v)
	if err != nil {
		return nil, err
	}
	out := []Download{}
	for i := range photos {
		// Each photo is checked as its own page would be: a photo may reach
		// the viewer through other tokens than the album, with other rights.
		acc, err := s.View(ctx, photos[i].ID, v)
		if app.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if variant, ok := Variant(acc, media.VariantOriginal); ok {
			out = append(out, Download{Photo: *acc.Item, Variant: variant})
		}
	}
	return out, nil
}
