// Package media stores photos and makes their variants: type sniffing from
// the bytes, dimension limits before decoding, orientation, thumbnails and
// large variants made once at upload, and metadata stripping for guests.
package media

import (
	"errors"
	"fmt"
	"io"
	"time"

	// The decoders register themselves with package image so that callers
	// elsewhere in the service can use image.Decode on what is stored here.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"
)

var (
	// ErrUnsupported reports bytes that are not a JPEG, PNG, GIF or WebP
	// image. The judgement is made from the bytes alone, so a renamed text
	// file is refused however it is called.
	ErrUnsupported = errors.New("media: not a JPEG, PNG, GIF or WebP image")

	// ErrTooManyPixels reports an image whose header claims more pixels, or a
	// longer side, than the Limits allow. It is returned before any pixel is
	// decoded, so a decompression bomb costs only its header.
	ErrTooManyPixels = errors.New("media: image has too many pixels")

	// ErrTooLarge reports an upload with more bytes than allowed. It is
	// returned as soon as the excess byte arrives, not after the whole body
	// has been read.
	ErrTooLarge = errors.New("media: upload is too large")

	// ErrCorrupt reports bytes that announce a supported format but cannot be
	// read as one: truncated or damaged files, or a variant the decoders
	// lack, such as animated WebP.
	ErrCorrupt = errors.New("media: image data is damaged or cannot be decoded")
)

// Default limits, sized so that one decoded image stays well under a
// gigabyte of memory (a JPEG costs about 1.5 to 3 bytes per pixel to decode,
// a progressive one several times more).
const (
	DefaultMaxPixels = 80_000_000
	DefaultMaxSide   = 20000
)

// Limits bounds the images accepted by Ingest. They are checked against the
// image header only, before decoding. A zero field takes its default.
type Limits struct {
	// MaxPixels caps width*height; it is what bounds decoding memory.
	MaxPixels int64
	// MaxSide caps the longer side, so that a 1-pixel-high strip of
	// MaxPixels width is refused too.
	MaxSide int
	// Memory is the decoding memory shared with other uploads; nil shares
	// one budget of DefaultMaxDecodeMemory among all such Limits.
	Memory *Budget
	// MemoryWait is how long an image waits for Memory before ErrBusy;
	// zero takes DefaultMemoryWait, a negative value does not wait.
	MemoryWait time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultMaxSide
	}
	if l.Memory == nil {
		l.Memory = sharedDefaultBudget()
	}
	if l.MemoryWait == 0 {
		l.MemoryWait = DefaultMemoryWait
	}
	return l
}

// check refuses dimensions over the limits; non-positive ones are damage.
func (l Limits) check(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: image header claims %dx%d pixels", ErrCorrupt, w, h)
	}
	if w > l.MaxSide || h > l.MaxSide || int64(w)*int64(h) > l.MaxPixels {
		return fmt.Errorf("%w: %dx%d", ErrTooManyPixels, w, h)
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// truncated turns the end of input in the middle of a structure into
// ErrCorrupt, and leaves real I/O errors as they are.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("file is truncated")
	}
	return err
}
