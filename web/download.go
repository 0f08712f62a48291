package web

import (
	"archive/zip"
	"bufio"
	"context"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/content"
)

// downloadTimeout bounds how long one album download may stream.
const downloadTimeout = 30 * time.Minute

// albumDownload streams a ZIP of the album's photos that the viewer may
// download — originals, without their metadata unless the viewer may see
// it — under neutral names. Nothing to download is "not found".
func (s *Server) albumDownload(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	v := viewer(c)
	acc, err := s.Content.View(c.UserContext(), id, v)
	if err != nil {
		return err
	}
	if acc.Item.Kind != content.KindAlbum {
		return notFound
	}
	files, err := s.Content.AlbumDownloads(c.UserContext(), acc, v)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return notFound
	}
	s.recordView(c, acc, acl.EventDownload)
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="album-`+strconv.FormatInt(id, 10)+`.zip"`)
	logger, rctx := s.Logger, c.UserContext()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), downloadTimeout)
		defer cancel()
		zw := zip.NewWriter(w)
		for _, f := range files {
			if err := s.zipPhoto(ctx, zw, f); err != nil {
				// The status is sent: all that is left is to cut the archive
				// short, which the client sees as a broken download.
				logger.ErrorContext(rctx, "album download cut short", "album", id, "photo", f.Photo.ID, "err", err)
				return
			}
		}
		if err := zw.Close(); err != nil {
			logger.WarnContext(rctx, "album download not finished", "album", id, "err", err)
		}
	})
	return nil
}

func (s *Server) zipPhoto(ctx context.Context, zw *zip.Writer, f content.Download) error {
	obj, err := s.Content.OpenMedia(ctx, &f.Photo, f.Variant)
	if err != nil {
		return err
	}
	defer obj.Close()
	ct := ""
	if f.Photo.ContentType != nil {
		ct = *f.Photo.ContentType
	}
	// Photos are compressed already: stored as they are, they stream at
	// disk speed.
	w, err := zw.CreateHeader(&zip.FileHeader{
		Name:     "photo-" + strconv.FormatInt(f.Photo.ID, 10) + extension(ct),
		Method:   zip.Store,
		Modified: f.Photo.CreatedAt,
	})
	if err != nil {
		return err
	}
	n, err := io.Copy(w, obj)
	s.Metrics.MediaServed(f.Variant, n)
	return err
}
