package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store keeps the bytes of photos and their variants under opaque keys. It
// is an interface so that an object store can replace the local disk.
type Store interface {
	// Create returns a writer for a new object. Nothing is visible under key
	// until Commit; Abort, or a failing Commit, leaves nothing behind.
	Create(ctx context.Context, key string) (Pending, error)
	// Open returns the object stored under key. A missing object gives an
	// error wrapping fs.ErrNotExist.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key. A missing object is not an error,
	// so clean-up can be retried.
	Delete(ctx context.Context, key string) error
	// Path returns the local file that holds key when the store is on disk,
	// so the HTTP layer can hand it to sendfile; ok is false otherwise.
	Path(key string) (path string, ok bool)
}

// Pending is an object being written. Exactly one of Commit or Abort ends
// it; calling Abort after Commit does nothing, so it can be deferred.
type Pending interface {
	io.Writer
	Commit() error
	Abort() error
}

// Object is a stored object opened for reading. Size and ModTime let the
// HTTP layer answer range and conditional requests without reading it.
type Object interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// ErrInvalidKey reports a key that does not match the strict pattern keys
// are made from. Keys are chosen by the server, so this means a bug or a
// forged request, never a user mistake.
var ErrInvalidKey = errors.New("media: invalid storage key")

// validKey admits a two-character shard of [a-z0-9] followed by one or two
// segments (photo id, then variant) of at most 128 bytes of [a-z0-9_.-],
// each starting with a letter or digit, so "." and ".." can never appear
// and keys cannot leave the root. It is a byte loop, not a regular
// expression, since it runs on every open.
func validKey(key string) bool {
	if len(key) < 4 || !keyStart(key[0]) || !keyStart(key[1]) || key[2] != '/' {
		return false
	}
	segments, seg := 0, 0 // seg: length of the current segment
	for i := 2; i < len(key); i++ {
		b := key[i]
		switch {
		case b == '/':
			if i > 2 && seg == 0 {
				return false
			}
			segments++
			seg = 0
		case seg == 0 && !keyStart(b):
			return false
		case seg > 0 && !keyStart(b) && b != '_' && b != '.' && b != '-':
			return false
		default:
			seg++
		}
		if seg > 128 || segments > 2 {
			return false
		}
	}
	return seg > 0
}

func keyStart(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }

// DefaultSweepAge is how old a temporary file, or a stored object that no
// photo refers to, must be before a sweep removes it. It is far longer than
// any upload takes, so nothing still being written is ever removed.
const DefaultSweepAge = time.Hour

// Temporary files are named with one of these prefixes; the sweep removes
// only files it recognises.
const (
	tempUploadPrefix = "upload-"
	tempProbePrefix  = "probe-"
)

// FSStore is a Store on the local disk. Objects are written to a temporary
// file, synced and renamed into place, so a reader never sees a partial
// object and a crash never leaves one under a key. A crash can leave a
// temporary file, which SweepTemp reclaims. It is safe for concurrent use.
type FSStore struct {
	root string
	tmp  string
}

var (
	_ Store     = (*FSStore)(nil)
	_ Inventory = (*FSStore)(nil)
)

// Inventory is what the sweep of a crash's leftovers needs from a store:
// its temporary files and the list of what it holds.
type Inventory interface {
	// SweepTemp removes temporary files (and, in an object store, unfinished
	// uploads) last modified before before and reports how many it removed
	// and their bytes.
	SweepTemp(ctx context.Context, before time.Time) (files int, bytes int64, err error)
	// Walk calls fn for every stored object, in no particular order. An
	// error from fn stops the walk and is returned.
	Walk(ctx context.Context, fn func(ObjectInfo) error) error
}

// ObjectInfo describes a stored object seen by Walk.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// NewFSStore opens (creating if needed, mode 0700) a store rooted at root.
// Temporary files left by a crash more than DefaultSweepAge ago are removed.
func NewFSStore(root string) (*FSStore, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("media: store root: %w", err)
	}
	s := &FSStore{root: abs, tmp: filepath.Join(abs, "tmp")}
	// "tmp" has three characters, so no key's shard can collide with it.
	if err := os.MkdirAll(s.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("media: store root: %w", err)
	}
	if _, _, err := s.SweepTemp(context.Background(), time.Now().Add(-DefaultSweepAge)); err != nil {
		return nil, err
	}
	return s, nil
}

// SweepTemp implements Inventory. A temporary file is written without
// pause while its upload runs, so one not modified for a long time belongs
// to an upload that ended without cleaning up: a crash or a kill.
func (s *FSStore) SweepTemp(_ context.Context, before time.Time) (files int, bytes int64, err error) {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return 0, 0, fmt.Errorf("media: sweep temporary files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempUploadPrefix) && !strings.HasPrefix(e.Name(), tempProbePrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(s.tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		files++
		bytes += info.Size()
	}
	if len(errs) > 0 {
		return files, bytes, fmt.Errorf("media: sweep temporary files: %w", errors.Join(errs...))
	}
	return files, bytes, nil
}

// Walk implements Inventory. Files whose path is not a valid key (there
// should be none) are skipped, never reported, so the sweep cannot be led
// to delete anything outside the keys it made.
func (s *FSStore) Walk(ctx context.Context, fn func(ObjectInfo) error) error {
	return filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by a concurrent Delete
			}
			return fmt.Errorf("media: walk: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p == s.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return nil
		}
		key := filepath.ToSlash(rel)
		if !validKey(key) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed by a concurrent Delete
		}
		return fn(ObjectInfo{Key: key, Size: info.Size(), ModTime: info.ModTime()})
	})
}

// probeSize is what Probe writes: one page, enough to need a free block.
const probeSize = 4096

// Probe checks that the store can be written now: it writes a small
// temporary file and removes it. A full or read-only disk fails.
func (s *FSStore) Probe() error {
	f, err := os.CreateTemp(s.tmp, tempProbePrefix+"*")
	if err != nil {
		return fmt.Errorf("media: write probe: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, probeSize))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("media: write probe: %w", err)
	}
	return nil
}

func (s *FSStore) path(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Create implements Store.
func (s *FSStore) Create(ctx context.Context, key string) (Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dst, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.tmp, tempUploadPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("media: create %s: %w", key, err)
	}
	return &fsPending{store: s, ctx: ctx, f: f, dst: dst}, nil
}

// Open implements Store.
func (s *FSStore) Open(ctx context.Context, key string) (Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("media: open %s: %w", key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("media: open %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		// A photo's directory shares its prefix with its variant keys; it is
		// not an object.
		f.Close()
		return nil, fmt.Errorf("media: open %s: %w", key, fs.ErrNotExist)
	}
	return &fsObject{File: f, size: info.Size(), mod: info.ModTime()}, nil
}

// Delete implements Store. Directories left empty are removed too, so a
// deleted photo leaves no trace on disk.
func (s *FSStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(key)
	if err != nil {
		return err
	}
	info, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("media: delete %s: %w", key, err)
	}
	if info.IsDir() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		// Fails harmlessly while other objects still live there.
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Path implements Store.
func (s *FSStore) Path(key string) (string, bool) {
	p, err := s.path(key)
	if err != nil {
		return "", false
	}
	return p, true
}

type fsObject struct {
	*os.File
	size int64
	mod  time.Time
}

func (o *fsObject) Size() int64        { return o.size }
func (o *fsObject) ModTime() time.Time { return o.mod }

var errFinished = errors.New("media: pending object already committed or aborted")

type fsPending struct {
	store *FSStore
	ctx   context.Context // a cancelled request commits nothing
	f     *os.File
	dst   string
	done  bool
}

func (p *fsPending) Write(b []byte) (int, error) {
	if p.done {
		return 0, errFinished
	}
	return p.f.Write(b)
}

func (p *fsPending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.f.Close()
	if err := os.Remove(p.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: abort: %w", err)
	}
	return nil
}

func (p *fsPending) Commit() (err error) {
	if p.done {
		return errFinished
	}
	p.done = true
	tmp := p.f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := p.ctx.Err(); err != nil {
		p.f.Close()
		return err
	}
	// The data must be on disk before the rename makes it visible, or a
	// crash could leave an empty or partial file under the key.
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return fmt.Errorf("media: commit: %w", err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("media: commit: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("media: commit: %w", err)
	}
	dir := filepath.Dir(p.dst)
	// A concurrent Delete may remove a directory that has just become
	// empty, between our MkdirAll and Rename; trying again recreates it.
	for attempt := 0; ; attempt++ {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			if err = os.Rename(tmp, p.dst); err == nil {
				break
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return fmt.Errorf("media: commit: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		_ = os.Remove(p.dst)
		return fmt.Errorf("media: commit: %w", err)
	}
	return nil
}

// syncDir makes a rename durable: without it a crash can forget the new
// directory entry even though the file's data was synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
