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
		s.Logger.ErrorContext(c.UserContext(), "photo file missing", "item", id, "variant", variant)
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
	sent, err := sendObject(c, obj)
	if err == nil && !c.Request().Header.IsHead() {
		s.Metrics.MediaServed(variant, sent)
	}
	return err
}

// sendObject answers with a stored object, or with the one byte range a
// Range header asks for (206), through the store's reader: the ACL was
// checked for this very request, whatever store holds the bytes. A Range
// this does not serve (several ranges, another unit, bad syntax, or an
// If-Range it cannot judge) gets the whole object, as RFC 9110 allows; a
// range wholly past the end gets 416. It returns how many bytes of the
// object go out.
func sendObject(c *fiber.Ctx, obj media.Object) (int64, error) {
	size := obj.Size()
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	start, end, ok := byteRange(c.Get(fiber.HeaderRange), size)
	if c.Get(fiber.HeaderIfRange) != "" {
		ok = false
	}
	if !ok {
		c.Response().SetBodyStream(obj, int(size))
		return size, nil
	}
	if start < 0 {
		obj.Close()
		c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
		return 0, c.Status(fiber.StatusRequestedRangeNotSatisfiable).SendString("The requested range is past the end of the file.")
	}
	if _, err := obj.Seek(start, io.SeekStart); err != nil {
		obj.Close()
		return 0, err
	}
	n := end - start + 1
	c.Status(fiber.StatusPartialContent)
	c.Set(fiber.HeaderContentRange, "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
	c.Response().SetBodyStream(&rangeBody{Reader: io.LimitReader(obj, n), obj: obj}, int(n))
	return n, nil
}

// byteRange reads a Range header of one byte range against an object of
// size bytes: ok is false when the header is absent or not one that is
// served (the whole object goes out), and start is -1 when the range is
// unsatisfiable. end is inclusive.
func byteRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	if first == "" { // the last n bytes
		n, valid := num(last)
		if !valid {
			return 0, 0, false
		}
		if n == 0 || size == 0 {
			return -1, 0, true
		}
		return max(0, size-n), size - 1, true
	}
	start, valid := num(first)
	if !valid {
		return 0, 0, false
	}
	end = size - 1
	if last != "" {
		if end, valid = num(last); !valid || end < start {
			return 0, 0, false
		}
		end = min(end, size-1)
	}
	if start >= size {
		return -1, 0, true
	}
	return start, end, true
}

// rangeBody is the part of an object a range asks for; closing it closes
// the object.
type rangeBody struct {
	io.Reader
	obj media.Object
}

func (r *rangeBody) Close() error { return r.obj.Close() }

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
// written, no rows yet) with the names of their files, the files refused for
// what they are (too large, not an image, damaged), and the other fields.
type upload struct {
	photos  []*media.Photo
	names   []string
	refused []refusedFile
	fields  map[string]string
}

// refusedFile is a file of an upload that was not taken, and why.
type refusedFile struct {
	Name string
	Err  error
}

// fileRefusal tells an error about one file (its size or its content) from
// one about the whole request: only the first kind lets the others go on.
func fileRefusal(err error) bool {
	switch app.ErrorCode(err) {
	case app.ETooLarge, app.EUnsupported, app.EInvalid:
		return true
	}
	return false
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
	tooLarge := s.Content.TooLarge()
	if maxFiles > 1 {
		tooLarge = app.Errorf(app.ETooLarge, "The upload is larger than the limit of %d MiB per photo.", s.Config.MaxUpload>>20)
	}
	if n := c.Request().Header.ContentLength(); int64(n) > limit {
		return nil, tooLarge
	}
	var stream io.Reader = c.Context().RequestBodyStream()
	if stream == nil {
		stream = bytes.NewReader(c.Body())
	}
	// A refused file does not end the upload, so a body without a length
	// is bounded as a whole as well.
	total := &bodyLimit{r: stream, left: limit}
	var body io.Reader = total
	up = &upload{fields: map[string]string{}}
	defer func() {
		if total.exceeded && app.ErrorCode(err) == app.EMalformed {
			err = tooLarge
		}
		if err != nil {
			for _, p := range up.photos {
				s.Content.DiscardPhoto(c.UserContext(), p)
			}
			if code := app.ErrorCode(err); code == app.ETooLarge || code == app.EForbidden || code == app.ENoSpace {
				// Read (and drop) a bounded part of what the client is still
				// sending, so that it is reading when the 413, 507 (or the
				// 403 of an expired form) arrives rather than having its
				// connection reset mid-upload.
				io.CopyN(io.Discard, stream, s.Config.MaxUpload)
			}
		}
	}()
	// A form without an X-CSRF-Token header carries its token in a part
	// before any file: no file byte is accepted before the token is checked.
	csrfPending, _ := c.Locals(csrfPendingKey).(string)
	end := newEndWatch(body, params["boundary"])
	mr := multipart.NewReader(end, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			if !end.seen {
				// The reader also ends quietly when the body stops inside
				// the headers of a part.
				return up, errCutOff(io.ErrUnexpectedEOF)
			}
			break
		}
		if err != nil {
			return up, errCutOff(err)
		}
		name := part.FormName()
		if csrfPending != "" {
			if part.FileName() != "" {
				return up, errCSRF
			}
			if name == csrfField {
				b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes))
				if err != nil {
					return up, errCutOff(err)
				}
				if !csrfEqual(string(b), csrfPending) {
					return up, errCSRF
				}
				csrfPending = ""
				continue
			}
		}
		if name == "file" && part.FileName() != "" {
			if len(up.photos)+len(up.refused) >= maxFiles {
				return up, app.Errorf(app.EInvalid, "At most %d photos at once.", maxFiles)
			}
			pr := &partReader{r: part}
			p, err := s.Content.IngestPhoto(c.UserContext(), pr)
			if pr.err != nil {
				// The body ended (or broke) inside the file: whatever the
				// pipeline made of the short file, the request is at fault.
				if p != nil {
					s.Content.DiscardPhoto(c.UserContext(), p)
				}
				return up, errCutOff(pr.err)
			}
			if err != nil && fileRefusal(err) && maxFiles > 1 {
				// The other files of a form go on; a refused file is named
				// with its reason.
				up.refused = append(up.refused, refusedFile{Name: strings.Clone(part.FileName()), Err: err})
				continue
			}
			if err != nil {
				return up, err
			}
			up.photos = append(up.photos, p)
			up.names = append(up.names, strings.Clone(part.FileName()))
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return up, errCutOff(err)
		}
		if len(b) > maxFieldBytes {
			return up, app.Errorf(app.EInvalid, "The field %q is too long.", name)
		}
		up.fields[name] = string(b)
	}
	if csrfPending != "" {
		return up, errCSRF
	}
	if len(up.photos) == 0 && len(up.refused) == 0 {
		return up, app.Errorf(app.EInvalid, "No photo in the upload: add a file in the field named file.")
	}
	return up, nil
}

// bodyLimit fails a body that goes on past the limit of the whole upload.
type bodyLimit struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (b *bodyLimit) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.exceeded = true
		return 0, errors.New("upload over the limit")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// errCutOff is the answer to a multipart body that ends, or breaks, before
// its closing boundary.
func errCutOff(err error) error {
	return app.Wrap(err, app.EMalformed, "The upload was cut off before its end (or is not valid multipart/form-data): nothing was saved. Send it again.")
}

// endWatch passes a multipart body through and notes whether its closing
// delimiter ("--boundary--" at the start of a line) went by: only then did
// the body end where it should.
type endWatch struct {
	r     io.Reader
	delim []byte
	// tail holds the last len(delim)-1 bytes read (fewer at the start), for
	// a delimiter split across reads; scratch is where tail meets the next read.
	tail, scratch []byte
	seen          bool
}

func newEndWatch(r io.Reader, boundary string) *endWatch {
	delim := []byte("\n--" + boundary + "--")
	w := &endWatch{r: r, delim: delim, tail: make([]byte, 0, len(delim)), scratch: make([]byte, 0, 2*len(delim))}
	// The body's start counts as the start of a line.
	w.tail = append(w.tail, '\n')
	return w
}

func (w *endWatch) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n == 0 || w.seen {
		return n, err
	}
	k := len(w.delim) - 1
	w.scratch = append(append(w.scratch[:0], w.tail...), p[:min(n, k)]...)
	if bytes.Contains(w.scratch, w.delim) || bytes.Contains(p[:n], w.delim) {
		w.seen = true
		return n, err
	}
	if n >= k {
		w.tail = append(w.tail[:0], p[n-k:n]...)
	} else {
		// scratch is the old tail followed by all of p[:n].
		w.tail = append(w.tail[:0], w.scratch[max(0, len(w.scratch)-k):]...)
	}
	return n, err
}

// partReader remembers the first error of the part it reads other than its
// clean end: that error is the body's (cut off, connection lost), not the file's.
type partReader struct {
	r   io.Reader
	err error
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF && p.err == nil {
		p.err = err
	}
	return n, err
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

// defaultTitle is the title of a photo uploaded without one: the name of
// its file without the extension ("IMG_2041"), as the owner knows it.
func defaultTitle(filename string) string {
	name := strings.TrimSpace(filename)
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if r := []rune(strings.TrimSpace(name)); len(r) > content.MaxTitle {
		name = string(r[:content.MaxTitle])
	}
	return strings.TrimSpace(name)
}

// save records the uploaded photos as items; photos not saved are removed.
// A photo without a title is named after its file.
func (s *Server) save(c *fiber.Ctx, owner int64, up *upload) ([]*content.Item, error) {
	album, err := albumField(up.fields["album_id"])
	var items []*content.Item
	for i, p := range up.photos {
		if err != nil {
			s.Content.DiscardPhoto(c.UserContext(), p)
			continue
		}
		title := up.fields["title"]
		if strings.TrimSpace(title) == "" {
			title = defaultTitle(up.names[i])
		}
		var it *content.Item
		it, err = s.Content.SavePhoto(c.UserContext(), owner, p, title, album)
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
