package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// S3PartSize is the size of the parts an S3Store uploads, and so the memory
// one object being written holds at most: objects up to this size are sent
// in one PUT at Commit, larger ones as a multipart upload, a part at a time.
const S3PartSize = 8 << 20

// s3ProbeTimeout bounds the write probe of a health check.
const s3ProbeTimeout = 5 * time.Second

// s3TempDir is the folder, under the store's prefix, of its temporary
// objects (the health check's probes). "tmp" has three characters, so no
// key's shard can collide with it.
const s3TempDir = "tmp/"

// S3Store is a Store in an S3 bucket, under a prefix. An object being
// written is invisible under its key until Commit: a small one is sent in
// one PUT at Commit, a larger one as a multipart upload whose completion is
// the Commit. A failed or aborted write aborts its multipart upload; one
// left by a crash is aborted by SweepTemp once it is older than the sweep
// age, as are the health check's probe objects. It is safe for concurrent
// use.
type S3Store struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string // "" or ending in "/"
}

var (
	_ Store     = (*S3Store)(nil)
	_ Inventory = (*S3Store)(nil)
)

// NewS3Store uses bucket through client, with every key under prefix. It
// checks that the bucket exists (and so that the endpoint answers and the
// credentials are accepted).
func NewS3Store(ctx context.Context, client *minio.Client, bucket, prefix string) (*S3Store, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	ok, err := client.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("media: bucket %s: %w", bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("media: bucket %s does not exist: create it first", bucket)
	}
	return &S3Store{client: client, core: minio.Core{Client: client}, bucket: bucket, prefix: prefix}, nil
}

// String names the store for logs: the bucket and prefix, no credentials.
func (s *S3Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3Store) name(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return s.prefix + key, nil
}

// s3Missing reports an S3 answer meaning there is no such object.
func s3Missing(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound
}

// Create implements Store. Nothing is sent before the first part is full
// or Commit is called.
func (s *S3Store) Create(ctx context.Context, key string) (Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	return &s3Pending{s: s, ctx: ctx, key: key, name: name}, nil
}

// Open implements Store. The object is read with one GET from where the
// last Seek left it, so a range costs one request.
func (s *S3Store) Open(ctx context.Context, key string) (Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	o, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("media: open %s: %w", key, err)
	}
	info, err := o.Stat()
	if err != nil {
		o.Close()
		if s3Missing(err) {
			return nil, fmt.Errorf("media: open %s: %w", key, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("media: open %s: %w", key, err)
	}
	return &s3Object{Object: o, size: info.Size, mod: info.LastModified}, nil
}

// Delete implements Store. S3 does not report a missing object.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil && !s3Missing(err) {
		return fmt.Errorf("media: delete %s: %w", key, err)
	}
	return nil
}

// Path implements Store: objects are not local files.
func (s *S3Store) Path(string) (string, bool) { return "", false }

// Walk implements Inventory. Objects whose name under the prefix is not a
// valid key (the temporary objects, anything else in the bucket) are
// skipped, so the sweep cannot be led to delete them.
func (s *S3Store) Walk(ctx context.Context, fn func(ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing when fn stops the walk
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("media: walk: %w", o.Err)
		}
		key := strings.TrimPrefix(o.Key, s.prefix)
		if !validKey(key) {
			continue
		}
		if err := fn(ObjectInfo{Key: key, Size: o.Size, ModTime: o.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// SweepTemp implements Inventory: it removes probe objects last modified
// before before, and aborts the multipart uploads under the prefix started
// before before, which a crash or a kill left unfinished (an upload in
// progress sends a part at least every few seconds and takes far less than
// the sweep age). The bytes of aborted uploads are not counted.
func (s *S3Store) SweepTemp(ctx context.Context, before time.Time) (files int, bytes int64, err error) {
	var errs []error
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + s3TempDir, Recursive: true}) {
		if o.Err != nil {
			return files, bytes, fmt.Errorf("media: sweep temporary objects: %w", o.Err)
		}
		if !strings.HasPrefix(o.Key, s.prefix+s3TempDir+tempProbePrefix) || !o.LastModified.Before(before) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil && !s3Missing(err) {
			errs = append(errs, err)
			continue
		}
		files++
		bytes += o.Size
	}
	var uploads []minio.ObjectMultipartInfo
	for keyMarker, idMarker := "", ""; ; {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, s.prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			errs = append(errs, err)
			break
		}
		uploads = append(uploads, res.Uploads...)
		if !res.IsTruncated || res.NextKeyMarker == "" && res.NextUploadIDMarker == "" {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	for _, u := range uploads {
		if !u.Initiated.Before(before) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchUpload {
			errs = append(errs, err)
			continue
		}
		files++
	}
	if len(errs) > 0 {
		return files, bytes, fmt.Errorf("media: sweep temporary objects: %w", errors.Join(errs...))
	}
	return files, bytes, nil
}

// Probe checks that the store can be written now: it puts a small object
// under the temporary folder and removes it (a probe that could not be
// removed is swept later). A bucket that refuses writes, an endpoint that
// does not answer within s3ProbeTimeout or credentials no longer accepted
// fail.
func (s *S3Store) Probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), s3ProbeTimeout)
	defer cancel()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("media: write probe: %w", err)
	}
	name := s.prefix + s3TempDir + tempProbePrefix + hex.EncodeToString(b[:])
	if _, err := s.core.PutObject(ctx, s.bucket, name, bytes.NewReader(make([]byte, probeSize)), probeSize, "", "", minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("media: write probe: %w", err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("media: remove probe: %w", err)
	}
	return nil
}

type s3Object struct {
	*minio.Object
	size int64
	mod  time.Time
}

func (o *s3Object) Size() int64        { return o.size }
func (o *s3Object) ModTime() time.Time { return o.mod }

// s3FirstBuffer is what a new object buffers before it is known to be
// large: the small variants never take a whole part's memory.
const s3FirstBuffer = 256 << 10

type s3Pending struct {
	s         *S3Store
	ctx       context.Context
	key, name string
	buf       []byte
	uploadID  string
	parts     []minio.CompletePart
	done      bool
	err       error // the first failure; the upload is then aborted
}

func (p *s3Pending) Write(b []byte) (int, error) {
	if p.done {
		return 0, errFinished
	}
	if p.err != nil {
		return 0, p.err
	}
	written := 0
	for len(b) > 0 {
		if len(p.buf) == cap(p.buf) {
			switch {
			case p.buf == nil:
				p.buf = make([]byte, 0, s3FirstBuffer)
			case cap(p.buf) < S3PartSize:
				p.buf = append(make([]byte, 0, S3PartSize), p.buf...)
			default:
				if err := p.sendPart(); err != nil {
					return written, p.fail(err)
				}
			}
		}
		n := min(len(b), cap(p.buf)-len(p.buf))
		p.buf = append(p.buf, b[:n]...)
		b = b[n:]
		written += n
	}
	return written, nil
}

// sendPart uploads the buffer as the next part, starting the multipart
// upload with the first one.
func (p *s3Pending) sendPart() error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	if p.uploadID == "" {
		id, err := p.s.core.NewMultipartUpload(p.ctx, p.s.bucket, p.name, minio.PutObjectOptions{})
		if err != nil {
			return fmt.Errorf("media: create %s: %w", p.key, err)
		}
		p.uploadID = id
	}
	n := len(p.parts) + 1
	part, err := p.s.core.PutObjectPart(p.ctx, p.s.bucket, p.name, p.uploadID, n, bytes.NewReader(p.buf), int64(len(p.buf)), minio.PutObjectPartOptions{})
	if err != nil {
		return fmt.Errorf("media: write %s: %w", p.key, err)
	}
	p.parts = append(p.parts, minio.CompletePart{PartNumber: n, ETag: part.ETag})
	p.buf = p.buf[:0]
	return nil
}

// fail records err and aborts the multipart upload, so that nothing is
// kept of an object that will never be committed.
func (p *s3Pending) fail(err error) error {
	p.err = err
	p.abortUpload()
	return err
}

func (p *s3Pending) abortUpload() error {
	if p.uploadID == "" {
		return nil
	}
	id := p.uploadID
	p.uploadID = ""
	// Aborting is cleaning up: it goes on when the request was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), time.Minute)
	defer cancel()
	if err := p.s.core.AbortMultipartUpload(ctx, p.s.bucket, p.name, id); err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchUpload {
		return fmt.Errorf("media: abort %s: %w", p.key, err)
	}
	return nil
}

func (p *s3Pending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.buf = nil
	return p.abortUpload()
}

func (p *s3Pending) Commit() (err error) {
	if p.done {
		return errFinished
	}
	p.done = true
	defer func() { p.buf = nil }()
	if p.err != nil {
		return p.err
	}
	if err := p.ctx.Err(); err != nil {
		p.abortUpload()
		return err
	}
	if p.uploadID == "" {
		if _, err := p.s.core.PutObject(p.ctx, p.s.bucket, p.name, bytes.NewReader(p.buf), int64(len(p.buf)), "", "", minio.PutObjectOptions{}); err != nil {
			return fmt.Errorf("media: commit %s: %w", p.key, err)
		}
		return nil
	}
	if len(p.buf) > 0 {
		if err := p.sendPart(); err != nil {
			p.abortUpload()
			return err
		}
	}
	if _, err := p.s.core.CompleteMultipartUpload(p.ctx, p.s.bucket, p.name, p.uploadID, p.parts, minio.PutObjectOptions{}); err != nil {
		p.abortUpload()
		return fmt.Errorf("media: commit %s: %w", p.key, err)
	}
	p.uploadID = ""
	return nil
}
