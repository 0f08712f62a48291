package media

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ErrNoSpace reports that the storage is full, or so nearly full that new
// content is refused to keep room for deletions.
var ErrNoSpace = errors.New("media: out of storage space")

// IsNoSpace reports whether err means the storage is full: ErrNoSpace, or a
// write that failed with ENOSPC or a quota error.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// DefaultReserve is the size of the space reserve: enough for many
// deletions, sign-ins and access-log batches in the SQLite journal.
const DefaultReserve = 8 << 20

// Reserve keeps a file of a fixed size on the data filesystem so that, once
// that filesystem fills up, there is room left for what must keep working:
// deleting items to free space, signing in, recording views.
//
// While the free space outside the reserve is at least its size, nothing
// happens. When it falls below that, or a write fails with ENOSPC, the
// reserve file is deleted (its space becomes free) and Admit refuses new
// content with ErrNoSpace; only deletions and small writes use the freed
// space, which nothing else on the machine can have taken. Once the free
// space reaches twice the reserve (the reserve plus as much again), Admit
// writes the reserve again and lets new content in.
//
// A Reserve is safe for concurrent use. A nil *Reserve admits everything.
type Reserve struct {
	path string
	size int64
	// free reports the bytes available to the service on the filesystem
	// holding dir.
	free func(dir string) (uint64, error)

	mu   sync.Mutex
	held bool
}

// NewReserve keeps a reserve of size bytes in the file at path, writing it
// now if it can (and otherwise as soon as there is room). Only a size that
// is not positive is an error: a disk that is full or read-only at start is
// the state the reserve exists for, reported by Held and by the writes.
func NewReserve(path string, size int64) (*Reserve, error) {
	if size <= 0 {
		return nil, errors.New("media: reserve size must be positive")
	}
	r := &Reserve{path: path, size: size, free: freeSpace}
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Size() >= size {
		r.held = true
		return r, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refill()
	return r, nil
}

// Size returns the size of the reserve in bytes.
func (r *Reserve) Size() int64 {
	if r == nil {
		return 0
	}
	return r.size
}

// Held reports whether the reserve file is in place (the storage is not
// low).
func (r *Reserve) Held() bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// Release deletes the reserve file, so that its space can be used; it
// reports whether there was one. Call it when a write fails with ENOSPC.
func (r *Reserve) Release() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.release()
}

func (r *Reserve) release() bool {
	if !r.held {
		return false
	}
	r.held = false
	if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return true
}

// Admit decides whether new content (an upload, a post) may be written: it
// returns nil when there is room, and an error wrapping ErrNoSpace when the
// storage is low. It releases the reserve when the free space has fallen
// below its size, and writes it again when space has come back.
func (r *Reserve) Admit() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	free, err := r.free(filepath.Dir(r.path))
	if err != nil {
		// Without a measure, let the writes themselves find out.
		return nil
	}
	if r.held {
		if free >= uint64(r.size) {
			return nil
		}
		r.release()
		return fmt.Errorf("%w: %d bytes free", ErrNoSpace, free)
	}
	if free < 2*uint64(r.size) {
		return fmt.Errorf("%w: %d bytes free", ErrNoSpace, free)
	}
	if err := r.refill(); IsNoSpace(err) {
		return err
	}
	// Any other failure (a read-only disk) is for the writes to report.
	return nil
}

// refill writes the reserve file; r.mu is held. The bytes are random so that
// a compressing or deduplicating filesystem really sets the space aside.
func (r *Reserve) refill() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("media: write the space reserve: %w", err)
	}
	tmp := r.path + ".new"
	err := writeFill(tmp, r.size)
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("media: write the space reserve: %w", err)
	}
	r.held = true
	return nil
}

func writeFill(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{})
	buf := make([]byte, 64<<10)
	for left := size; left > 0 && err == nil; left -= int64(len(buf)) {
		rng.Read(buf)
		_, err = f.Write(buf[:min(int64(len(buf)), left)])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
