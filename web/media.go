package web

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/content"
	"hubshare/content/media"
)

// mediaFile serves a photo's bytes, checked exactly as the item page is:
// thumb and large to anyone who may open the photo, the original only to
// its owner and to those allowed to download (without metadata unless they
// may see it), under a neutral file name.
func (s *Server) mediaFile(c *fiber.Ctx) error {
	id, err := paramID(c, "id")
	if err != nil {
		return err
	}
	v := viewer(c)
	if v.Anonymous() {
		return notFound
	}
	acc, err := s.Content.View(c.UserContext(), id, v)
	if err != nil {
		return err
	}
	variant, ok := content.Variant(acc, c.Params("variant"))
	if !ok || acc.Item.Kind != content.KindPhoto {
		return notFound
	}
	obj, err := s.Content.OpenMedia(c.UserContext(), acc.Item, variant)
	if errors.Is(err, fs.ErrNotExist) {
		s.Logger.Error("photo file missing", "item", id, "variant", variant)
		return notFound
	}
	if err != nil {
		return err
	}
	ct := "image/jpeg"
	if variant == media.VariantOriginal || variant == media.VariantClean {
		if acc.Item.ContentType != nil {
			ct = *acc.Item.ContentType
		}
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="photo-`+strconv.FormatInt(id, 10)+extension(ct)+`"`)
		s.recordView(c, acc, acl.EventDownload)
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Response().SetBodyStream(obj, int(obj.Size()))
	return nil
}

func extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	}
	return ""
}

// maxFieldBytes bounds a non-file field of an upload form.
const maxFieldBytes = 8 << 10

// upload is a parsed multipart upload: the photos already ingested (files
// written, no rows yet) and the other fields.
type upload struct {
	photos []*media.Photo
	fields map[string]string
}

// readUpload streams a multipart body part by part: each file goes straight
// into the media pipeline, which enforces the size limit while reading, so
// an upload is never held whole in memory nor spooled to a temporary file.
// On error every photo already ingested is removed.
func (s *Server) readUpload(c *fiber.Ctx, maxFiles int) (up *upload, err error) {
	ct := c.Get(fiber.HeaderContentType)
	mt, params, perr := mime.ParseMediaType(ct)
	if perr != nil || mt != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return nil, app.Errorf(app.EMalformed, "Send the photo as multipart/form-data with a field named file.")
	}
	limit := int64(maxFiles)*s.Config.MaxUpload + 1<<20
	if n := c.Request().Header.ContentLength(); int64(n) > limit {
		return nil, app.Errorf(app.ETooLarge, "The upload is larger than the limit of %d MiB per photo.", s.Config.MaxUpload>>20)
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	up = &upload{fields: map[string]string{}}
	defer func() {
		if err != nil {
			for _, p := range up.photos {
				s.Content.DiscardPhoto(c.UserContext(), p)
			}
			if code := app.ErrorCode(err); code == app.ETooLarge || code == app.ENoSpace {
				// Read (and drop) a bounded part of what the client is still
				// sending, so that it is reading when the 413 or 507 arrives
				// rather than having its connection reset mid-upload.
				io.CopyN(io.Discard, body, s.Config.MaxUpload)
			}
		}
	}()
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, app.Wrap(err, app.EMalformed, "The upload was cut off or is not valid multipart/form-data.")
		}
		name := part.FormName()
		if name == "file" && part.FileName() != "" {
			if len(up.photos) >= maxFiles {
				return up, app.Errorf(app.EInvalid, "At most %d photos at once.", maxFiles)
			}
			p, err := s.Content.IngestPhoto(c.UserContext(), part)
			if err != nil {
				return up, err
			}
			up.photos = append(up.photos, p)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return up, app.Wrap(err, app.EMalformed, "The upload was cut off.")
		}
		if len(b) > maxFieldBytes {
			return up, app.Errorf(app.EInvalid, "The field %q is too long.", name)
		}
		up.fields[name] = string(b)
	}
	if len(up.photos) == 0 {
		return up, app.Errorf(app.EInvalid, "No photo in the upload: add a file in the field named file.")
	}
	return up, nil
}

// albumField parses the optional album_id field.
func albumField(v string) (*int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, app.Errorf(app.EInvalid, "album_id must be the id of one of your albums.")
	}
	return &id, nil
}

// save records the uploaded photos as items; photos not saved are removed.
func (s *Server) save(c *fiber.Ctx, owner int64, up *upload) ([]*content.Item, error) {
	album, err := albumField(up.fields["album_id"])
	var items []*content.Item
	for i, p := range up.photos {
		if err != nil {
			s.Content.DiscardPhoto(c.UserContext(), p)
			continue
		}
		var it *content.Item
		it, err = s.Content.SavePhoto(c.UserContext(), owner, p, up.fields["title"], album)
		if err != nil {
			for _, rest := range up.photos[i+1:] {
				s.Content.DiscardPhoto(c.UserContext(), rest)
			}
			return items, err
		}
		items = append(items, it)
	}
	return items, err
}

// maxFilesPerUpload bounds the photos of one web upload.
const maxFilesPerUpload = 50

func (s *Server) uploadForm(c *fiber.Ctx) error {
	up, err := s.readUpload(c, maxFilesPerUpload)
	if err != nil {
		return err
	}
	items, err := s.save(c, member(c).ID, up)
	if err != nil {
		return err
	}
	if len(items) == 1 {
		return c.Redirect("/items/"+strconv.FormatInt(items[0].ID, 10)+"/share", fiber.StatusSeeOther)
	}
	if items[0].AlbumID != nil {
		return c.Redirect("/items/"+strconv.FormatInt(*items[0].AlbumID, 10), fiber.StatusSeeOther)
	}
	return c.Redirect("/?done=saved", fiber.StatusSeeOther)
}

func (s *Server) apiUploadPhoto(c *fiber.Ctx) error {
	up, err := s.readUpload(c, 1)
	if err != nil {
		return err
	}
	items, err := s.save(c, apiMember(c).ID, up)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newItemView(items[0]))
}
