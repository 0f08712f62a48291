package content

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
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
	if err := s.admit(); err != nil {
		return nil, err
	}
	defer s.Metrics.UploadStarted()()
	cr := &countingReader{r: body}
	p, err := media.Ingest(ctx, s.Media, cr, s.MaxUpload, s.Limits)
	if err != nil && (errors.Is(err, media.ErrUnsupported) || errors.Is(err, media.ErrCorrupt) || errors.Is(err, media.ErrTooManyPixels)) {
		// Too large wins: a file refused for its content is still measured
		// up to the limit, so both upload routes give the same answer.
		io.CopyN(io.Discard, cr, s.MaxUpload+1-cr.n)
		if cr.n > s.MaxUpload {
			err = media.ErrTooLarge
		}
	}
	var me *media.MemoryError
	switch {
	case err == nil:
		s.Metrics.MediaStored(p.Stored)
		return p, nil
	case media.IsNoSpace(err):
		// Deletions need the reserve more than uploads do.
		s.Space.Release()
		return nil, app.Wrap(err, app.ENoSpace, app.NoSpaceMessage)
	case errors.Is(err, media.ErrTooLarge):
		return nil, s.TooLarge()
	case errors.Is(err, media.ErrUnsupported):
		return nil, app.Wrap(media.ErrUnsupported, app.EUnsupported, "The file is not a JPEG, PNG, GIF or WebP image.")
	case errors.Is(err, media.ErrCorrupt):
		return nil, app.Wrap(media.ErrCorrupt, app.EUnsupported, "The image is damaged or in a form that cannot be read.")
	case errors.Is(err, media.ErrTooManyPixels):
		return nil, app.Wrap(media.ErrTooManyPixels, app.EInvalid, fmt.Sprintf("The image has too many pixels (at most %d megapixels, %d pixels a side).",
			media.DefaultMaxPixels/1_000_000, media.DefaultMaxSide))
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
	return s.deletePhoto(ctx, p.Key)
}

// Small photo files are kept in memory once opened (media.ObjectCache): a
// gallery asks for its thumbnails many at a time, and each would otherwise
// cost an open, a stat and a read of the disk, or a round trip to an object
// store. mediaCacheObject is the largest file kept (a thumbnail is about 20
// KiB; large variants and originals are read from the store each time), and
// mediaCacheBytes bounds them all.
const (
	mediaCacheBytes  = 16 << 20
	mediaCacheObject = 128 << 10
)

// deletePhoto deletes the files of a photo and forgets what is kept of them.
func (s *Service) deletePhoto(ctx context.Context, base string) error {
	s.objects.ForgetPhoto(base)
	return media.DeletePhoto(context.WithoutCancel(ctx), s.Media, base)
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
	it := &Item{OwnerID: owner, Kind: KindPhoto, Title: title, AlbumID: albumID,
		MediaKey: &key, ContentType: &ct, Width: &w, Height: &h, SizeBytes: &size, Meta: string(meta)}
	if albumID == nil {
		return s.insert(ctx, s.DB, it)
	}
	// A photo saved into an album reaches whoever the album is shared with.
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := s.insert(ctx, tx, it); err != nil {
			return err
		}
		return s.ACL.ItemsAdded(ctx, tx, owner, []int64{it.ID})
	})
	if err != nil {
		return nil, err
	}
	return it, nil
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
	// The constants, never requested itself: a caller's string (a Fiber
	// parameter) may not outlive the request, and metrics keep the variant.
	switch requested {
	case media.VariantThumb:
		return media.VariantThumb, true
	case media.VariantLarge:
		return media.VariantLarge, true
	case media.VariantOriginal:
		switch {
		case acc.Owner, acc.Download && acc.Metadata:
			return media.VariantOriginal, true
		case acc.Download:
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
	obj, kept, err := s.objects.Open(ctx, s.Media, media.VariantKey(*it.MediaKey, variant))
	if err == nil {
		s.Metrics.MediaOpened(kept)
	}
	return obj, err
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
	if album.Owner {
		// The owner gets every original of their own album.
		for i := range photos {
			out = append(out, Download{Photo: photos[i], Variant: media.VariantOriginal})
		}
		return out, nil
	}
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

// SweepResult counts what SweepMedia removed.
type SweepResult struct {
	TempFiles   int   // temporary files of uploads that never finished
	OrphanFiles int   // stored objects no photo refers to
	Bytes       int64 // freed, both kinds together
}

// sweepBatch bounds the keys looked up in one query (a variable for tests).
var sweepBatch = 500

// sweepQueryTimeout is how long one lookup of the sweep may take.
const sweepQueryTimeout = 30 * time.Second

// SweepMedia removes what a crash or a kill left in the media store:
// temporary files, and stored objects that no photo row refers to, when they
// were last modified more than minAge ago. A photo's files are all written
// before its row, so a younger object may belong to an upload in progress:
// minAge must be longer than any upload takes (media.DefaultSweepAge).
// A store that cannot list what it holds is left alone.
func (s *Service) SweepMedia(ctx context.Context, minAge time.Duration) (SweepResult, error) {
	var res SweepResult
	inv, ok := s.Media.(media.Inventory)
	if !ok {
		return res, nil
	}
	before := s.Clock.Now().Add(-minAge)
	n, b, err := inv.SweepTemp(ctx, before)
	res.TempFiles, res.Bytes = n, b
	if err != nil {
		return res, err
	}
	// The files first, then the rows: a row always comes after its files, so
	// every row of a listed file that is old enough is already visible. The
	// walk is handled in batches so that memory stays bounded.
	var batch []string
	files := map[string][]media.ObjectInfo{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var used []string
		qctx, cancel := context.WithTimeout(ctx, sweepQueryTimeout)
		err := s.DB.NewSelect().Model((*Item)(nil)).Column("media_key").
			Where("media_key IN (?)", bun.List(batch)).Scan(qctx, &used)
		cancel()
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return translate(err)
		}
		for _, k := range used {
			delete(files, k)
		}
		for _, base := range batch {
			for _, o := range files[base] {
				s.objects.Forget(o.Key)
				if err := s.Media.Delete(ctx, o.Key); err != nil {
					return fmt.Errorf("sweep %s: %w", o.Key, err)
				}
				res.OrphanFiles++
				res.Bytes += o.Size
			}
		}
		batch = batch[:0]
		clear(files)
		return nil
	}
	err = inv.Walk(ctx, func(o media.ObjectInfo) error {
		if !o.ModTime.Before(before) {
			return nil
		}
		base := o.Key[:strings.LastIndexByte(o.Key, '/')]
		if _, seen := files[base]; !seen {
			if len(batch) == sweepBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			batch = append(batch, base)
		}
		files[base] = append(files[base], o)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, err
	}
	return res, nil
}

// StorageProblem says why new content cannot be stored now, in words fit
// for a health check, or returns "" when it can: the data storage is low
// (see media.Reserve), the database's last write failed for lack of space,
// or a probe write to the media store fails.
func (s *Service) StorageProblem() string {
	if err := s.Space.Admit(); err != nil {
		return "the data storage is out of space"
	}
	if err := database.WriteProblem(s.DB); err != nil {
		return "the database is out of storage space"
	}
	if p, ok := s.Media.(interface{ Probe() error }); ok {
		if err := p.Probe(); err != nil {
			if media.IsNoSpace(err) {
				return "the media store is out of storage space"
			}
			return "the media store cannot be written"
		}
	}
	return ""
}
