package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// DefaultMaxDecodeMemory is the decoding memory shared by all uploads when
// none is configured: enough for one 80-megapixel JPEG or a few phone
// photos at once, and small enough for a box with 1 GiB of memory.
const DefaultMaxDecodeMemory = 512 << 20

// DefaultMemoryWait is how long an upload waits for decoding memory that
// other uploads hold before it is refused with ErrBusy.
const DefaultMemoryWait = 5 * time.Second

var (
	// ErrTooMuchMemory reports an image that needs more decoding memory than
	// the whole budget, so it could never be decoded however long it waited.
	// The error is a *MemoryError, which says how much.
	ErrTooMuchMemory = errors.New("media: image needs more decoding memory than the budget")

	// ErrBusy reports that other uploads held the decoding memory an image
	// needs for longer than Limits.MemoryWait. Retrying later will work.
	ErrBusy = errors.New("media: decoding memory is in use by other uploads")
)

// MemoryError is the ErrTooMuchMemory of one image.
type MemoryError struct {
	Width, Height int
	// Format describes how the pixels are stored, e.g. "16-bit RGBA PNG".
	Format string
	// Need is the estimated decoding memory, Budget the whole budget, in bytes.
	Need, Budget int64
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("%v: %dx%d %s needs %d MiB, budget is %d MiB",
		ErrTooMuchMemory, e.Width, e.Height, e.Format, e.Need>>20, e.Budget>>20)
}

func (e *MemoryError) Is(target error) bool { return target == ErrTooMuchMemory }

// Budget is decoding memory in bytes, shared by every upload that uses it.
// An image takes its estimated peak (see decodeCost) before its pixels are
// decoded and gives it back when its variants are written, so the images
// being decoded at once never need more than the budget together.
// Requests are served in order, so a large image is not starved by a stream
// of small ones.
type Budget struct {
	size int64
	sem  *semaphore.Weighted
}

// NewBudget returns a budget of size bytes; a size of zero or less takes
// DefaultMaxDecodeMemory.
func NewBudget(size int64) *Budget {
	if size <= 0 {
		size = DefaultMaxDecodeMemory
	}
	return &Budget{size: size, sem: semaphore.NewWeighted(size)}
}

// Size returns the whole budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Acquire takes n bytes of the budget, waiting at most wait for other
// holders to give enough back. It returns ErrTooMuchMemory when n is more
// than the whole budget, ErrBusy when the wait runs out, and ctx's error
// when ctx ends first. release gives the bytes back; calling it more than
// once is harmless.
func (b *Budget) Acquire(ctx context.Context, n int64, wait time.Duration) (release func(), err error) {
	if n > b.size {
		return nil, ErrTooMuchMemory
	}
	if n <= 0 {
		return func() {}, nil
	}
	if !b.sem.TryAcquire(n) {
		if wait <= 0 {
			return nil, ErrBusy
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, ErrBusy
		}
	}
	var once sync.Once
	return func() { once.Do(func() { b.sem.Release(n) }) }, nil
}

var (
	defaultBudgetOnce sync.Once
	defaultBudget     *Budget
)

// sharedDefaultBudget is the budget of Ingest calls whose Limits name none,
// shared by all of them so that the default is safe too.
func sharedDefaultBudget() *Budget {
	defaultBudgetOnce.Do(func() { defaultBudget = NewBudget(DefaultMaxDecodeMemory) })
	return defaultBudget
}
