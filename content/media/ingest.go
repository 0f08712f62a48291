package media

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// Variant names. Each photo is stored under VariantKey(base, name) for every
// one of them. Thumb and large are always JPEG; original and clean have the
// type of the upload.
const (
	// VariantOriginal is the upload exactly as received, for the owner.
	VariantOriginal = "original"
	// VariantClean is the original without metadata, for guests allowed to
	// download but not to see metadata.
	VariantClean = "clean"
	// VariantLarge fits in 1600×1600, for viewing in the browser.
	VariantLarge = "large"
	// VariantThumb fits in 400×400, for galleries.
	VariantThumb = "thumb"
)

// Variants lists every variant Ingest writes: the files of one photo.
var Variants = []string{VariantOriginal, VariantClean, VariantLarge, VariantThumb}

// VariantKey returns the storage key of one variant of the photo whose base
// key is base.
func VariantKey(base, variant string) string {
	return base + "/" + variant
}

// Photo describes a photo stored by Ingest.
type Photo struct {
	// Key is the base key, chosen at random by the server; see VariantKey.
	Key         string
	ContentType string // of the original, as sniffed
	// Width and Height are as the photo is shown, after orientation.
	Width, Height int
	Size          int64 // bytes of the original
	Meta          Metadata
	// Stored is the bytes written to the store, every variant included.
	Stored int64
}

// Ingest stores an uploaded photo and makes its variants.
//
// The body is streamed to the store as the original and never held whole in
// memory. It is refused with ErrTooLarge as soon as more than maxBytes have
// arrived; with ErrUnsupported when its first bytes are not a JPEG, PNG, GIF
// or WebP; and with ErrTooManyPixels, while still streaming, as soon as the
// image header shows it breaks lim, so that no pixel is decoded. Only then is
// the stored original decoded, once, to make the thumb and large variants,
// turned upright and without metadata but with the colour profile; and the
// clean variant is copied from it without metadata.
//
// On any error nothing is left in the store for this photo.
//
// Decoding memory is budgeted in bytes: before any pixel is decoded, the
// image's peak need is estimated from its header (pixels times the bytes a
// pixel takes in the decoded Go type, plus the variant pipeline's working
// images) and taken from lim.Memory, shared with the other uploads, until
// the variants are written. An image that needs more than the whole budget
// is refused with a *MemoryError (ErrTooMuchMemory); one that cannot get its
// share within lim.MemoryWait with ErrBusy.
func Ingest(ctx context.Context, st Store, r io.Reader, maxBytes int64, lim Limits) (_ *Photo, err error) {
	if maxBytes <= 0 {
		return nil, errors.New("media: maxBytes must be positive")
	}
	lim = lim.withDefaults()
	base, err := newBaseKey()
	if err != nil {
		return nil, err
	}
	in := &ingestion{ctx: ctx, st: st, base: base}
	defer func() {
		if err != nil {
			in.removeAll()
		}
	}()

	body := &limitedReader{r: r, left: maxBytes + 1}
	src := &ctxReader{ctx: ctx, r: body}
	ct, size, cfg, err := in.storeOriginal(src, body, lim)
	if err != nil {
		return nil, err
	}
	p, err := in.makeVariants(ct, cfg, size, lim)
	if err != nil {
		return nil, err
	}
	p.Size, p.Stored = size, in.stored
	return p, nil
}

// DeletePhoto removes every variant of a photo. Variants already missing
// are not an error, so an interrupted deletion can be retried.
func DeletePhoto(ctx context.Context, st Store, base string) error {
	var errs []error
	for _, v := range Variants {
		errs = append(errs, st.Delete(ctx, VariantKey(base, v)))
	}
	return errors.Join(errs...)
}

// newBaseKey picks a random key: 128 bits, so keys cannot be guessed from
// one another, spread over shard directories by their first two letters.
func newBaseKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("media: random key: %w", err)
	}
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return id[:2] + "/" + id, nil
}

type ingestion struct {
	ctx     context.Context
	st      Store
	base    string
	written []string
	stored  int64 // bytes committed to the store
}

// removeAll deletes what this ingestion stored. It runs even when ctx has
// been cancelled, since cancellation is one of the reasons to clean up.
func (in *ingestion) removeAll() {
	ctx := context.WithoutCancel(in.ctx)
	for _, k := range in.written {
		_ = in.st.Delete(ctx, k)
	}
}

// write stores one object; the key is remembered before Commit so that a
// store whose Commit fails half-way is cleaned up too.
func (in *ingestion) write(variant string, fill func(io.Writer) error) error {
	key := VariantKey(in.base, variant)
	p, err := in.st.Create(in.ctx, key)
	if err != nil {
		return err
	}
	defer p.Abort()
	cw := &countingWriter{w: p}
	if err := fill(cw); err != nil {
		return err
	}
	if err := in.ctx.Err(); err != nil {
		return err
	}
	in.written = append(in.written, key)
	if err := p.Commit(); err != nil {
		return err
	}
	in.stored += cw.n
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// storeOriginal streams the upload into the store. The image header is
// decoded from the stream as it passes, so an image over the limits is
// refused before the rest of the body is even read.
func (in *ingestion) storeOriginal(src io.Reader, body *limitedReader, lim Limits) (ct string, size int64, cfg image.Config, err error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(src, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", 0, cfg, err
	}
	head = head[:n]
	if ct, err = Sniff(head); err != nil {
		return "", 0, cfg, err
	}
	err = in.write(VariantOriginal, func(w io.Writer) error {
		sink := &stickyWriter{w: w}
		sink.Write(head)
		// Everything the header decoder reads is copied to the store.
		cfg, err = decodeConfig(io.MultiReader(bytes.NewReader(head), io.TeeReader(src, sink)), ct)
		switch {
		case body.exceeded:
			return ErrTooLarge
		case sink.err != nil:
			return sink.err
		case err != nil:
			if cerr := in.ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("%w: reading the image header: %v", ErrCorrupt, err)
		}
		if err := lim.check(cfg.Width, cfg.Height); err != nil {
			return err
		}
		if _, err := io.Copy(sink, src); err != nil {
			return err
		}
		return sink.err
	})
	return ct, body.n, cfg, err
}

func decodeConfig(r io.Reader, ct string) (image.Config, error) {
	switch ct {
	case typeJPEG:
		return jpeg.DecodeConfig(r)
	case typePNG:
		return png.DecodeConfig(r)
	case typeGIF:
		return gif.DecodeConfig(r)
	case typeWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, ErrUnsupported
}

func decode(r io.Reader, ct string) (image.Image, error) {
	switch ct {
	case typeJPEG:
		return jpeg.Decode(r)
	case typePNG:
		return png.Decode(r)
	case typeGIF:
		return gif.Decode(r)
	case typeWebP:
		return webp.Decode(r)
	}
	return nil, ErrUnsupported
}

// makeVariants reads the stored original back and writes the clean, large
// and thumb variants from it.
func (in *ingestion) makeVariants(ct string, cfg image.Config, size int64, lim Limits) (*Photo, error) {
	obj, err := in.st.Open(in.ctx, VariantKey(in.base, VariantOriginal))
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	br := bufio.NewReaderSize(obj, 64<<10)
	info, err := scanHeader(br, ct)
	if err != nil {
		return nil, err
	}
	meta := metadataFromEXIF(info.exif)

	rewind := func() error {
		_, err := obj.Seek(0, io.SeekStart)
		br.Reset(obj)
		return err
	}
	var frame jpegFrame
	if ct == typeJPEG {
		if err := rewind(); err != nil {
			return nil, err
		}
		// Lenient like scanHeader: whatever the walk found before damage
		// is used, and jpegCost assumes the worst without a frame header.
		if frame, err = scanJPEGFrame(br); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
	}
	need, format := decodeCost(ct, cfg, info, frame, size, meta.Orientation)
	release, err := lim.Memory.Acquire(in.ctx, need, lim.MemoryWait)
	if err != nil {
		if errors.Is(err, ErrTooMuchMemory) {
			return nil, &MemoryError{Width: cfg.Width, Height: cfg.Height, Format: format, Need: need, Budget: lim.Memory.Size()}
		}
		return nil, err
	}
	// Given back on every return, and on a panic too, once the full-size
	// and variant pixels are no longer referenced.
	defer release()

	if err := rewind(); err != nil {
		return nil, err
	}
	// Scale before turning: the boxes are square, so the result is the same,
	// and only the small image has to be copied pixel by pixel. A large
	// image is first shrunk by a whole factor; a PNG that allows it is
	// shrunk while it is decoded, so that it is never held at full size.
	lw, lh := fit(cfg.Width, cfg.Height, largeBox)
	k := shrinkFactor(cfg.Width, cfg.Height, lw, lh)
	streamed := ct == typePNG && streamsPNG(cfg, info)
	var (
		img  image.Image
		dims image.Point // of the decoded image, before any shrink
	)
	if streamed {
		img, dims, err = shrinkPNG(&ctxReader{ctx: in.ctx, r: br}, k)
	} else if img, err = decode(br, ct); err == nil {
		dims = img.Bounds().Size()
	}
	if err != nil {
		if cerr := in.ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if screen := image.Rect(0, 0, cfg.Width, cfg.Height); dims != screen.Size() || !streamed && img.Bounds() != screen {
		if ct != typeGIF || !img.Bounds().In(screen) {
			return nil, corrupt("decoded bounds %v differ from header %dx%d", img.Bounds(), cfg.Width, cfg.Height)
		}
		img = flattenOnWhite(img, screen)
	}
	if !streamed && k > 1 {
		img = shrinkOnWhite(img, k)
	}
	large := resizeOnWhite(img, lw, lh)
	img = nil // let the full-size pixels go before encoding
	thumb := large
	if tw, th := fit(large.Rect.Dx(), large.Rect.Dy(), thumbBox); tw != large.Rect.Dx() || th != large.Rect.Dy() {
		thumb = resizeOnWhite(large, tw, th)
	}
	if err := in.ctx.Err(); err != nil {
		return nil, err
	}
	large, thumb = orient(large, meta.Orientation), orient(thumb, meta.Orientation)
	if err := in.write(VariantLarge, func(w io.Writer) error {
		return encodeJPEG(w, large, largeQuality, info.icc)
	}); err != nil {
		return nil, err
	}
	if err := in.write(VariantThumb, func(w io.Writer) error {
		return encodeJPEG(w, thumb, thumbQuality, info.icc)
	}); err != nil {
		return nil, err
	}

	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := in.write(VariantClean, func(w io.Writer) error {
		return StripMetadata(w, &ctxReadSeeker{ctx: in.ctx, ReadSeeker: obj}, ct)
	}); err != nil {
		return nil, err
	}

	p := &Photo{Key: in.base, ContentType: ct, Width: cfg.Width, Height: cfg.Height, Meta: meta}
	if meta.Orientation >= 5 {
		p.Width, p.Height = p.Height, p.Width
	}
	return p, nil
}

// limitedReader passes through at most left-1 bytes and fails with
// ErrTooLarge on the next one, so the excess is noticed as soon as it
// arrives and the rest of a huge body is never read.
type limitedReader struct {
	r        io.Reader
	left     int64 // maxBytes+1 minus bytes read
	n        int64 // bytes read
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.n += int64(n)
	if l.left <= 0 {
		l.exceeded = true
		return n, ErrTooLarge
	}
	return n, err
}

// ctxReader stops a long copy when the request is cancelled (the client
// went away or the server is shutting down).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxReadSeeker struct {
	ctx context.Context
	io.ReadSeeker
}

func (c *ctxReadSeeker) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.ReadSeeker.Read(p)
}

// stickyWriter remembers the first write error, so that a store failure
// seen through the header decoder is reported as itself rather than as a
// damaged image.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}
