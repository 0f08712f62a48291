package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/maypok86/otter/v2"
)

// An ObjectCache keeps small objects of a store in memory, whole: the
// thumbnails a gallery asks for many at a time, which would otherwise cost
// an open, a stat and a read of the disk each (or a round trip to the object
// store). Objects are never changed under their key (every photo gets new
// random keys), so a kept object is the stored one for as long as it is
// kept; a deleted photo's objects are forgotten (Forget), and a request
// reaches one only after the photo's ACL let it, whatever is kept.
type ObjectCache struct {
	objects   *otter.Cache[string, *keptObject]
	maxObject int64
}

// keptObject is the bytes of one object and its modification time.
type keptObject struct {
	data []byte
	mod  time.Time
}

// NewObjectCache keeps objects of at most maxObject bytes, and at most
// budget bytes in all.
func NewObjectCache(budget, maxObject int64) *ObjectCache {
	return &ObjectCache{
		objects: otter.Must(&otter.Options[string, *keptObject]{
			MaximumWeight: uint64(budget),
			Weigher:       func(key string, o *keptObject) uint32 { return uint32(64 + len(key) + len(o.data)) },
		}),
		maxObject: maxObject,
	}
}

// Open opens the object under key: from memory when it is kept, otherwise
// from st, keeping it when it is small enough. kept tells whether it came
// from memory.
func (c *ObjectCache) Open(ctx context.Context, st Store, key string) (obj Object, kept bool, err error) {
	if o, ok := c.objects.GetIfPresent(key); ok {
		return o.open(), true, nil
	}
	obj, err = st.Open(ctx, key)
	if err != nil || obj.Size() > c.maxObject {
		return obj, false, err
	}
	defer obj.Close()
	data := make([]byte, obj.Size())
	if _, err := io.ReadFull(obj, data); err != nil {
		return nil, false, fmt.Errorf("media: read %s: %w", key, err)
	}
	o := &keptObject{data: data, mod: obj.ModTime()}
	c.objects.Set(key, o)
	return o.open(), false, nil
}

// Forget drops the object under key, once it is deleted.
func (c *ObjectCache) Forget(key string) { c.objects.Invalidate(key) }

// ForgetPhoto drops the objects of a photo's variants (see DeletePhoto).
func (c *ObjectCache) ForgetPhoto(base string) {
	for _, v := range Variants {
		c.Forget(VariantKey(base, v))
	}
}

func (o *keptObject) open() Object { return &memObject{Reader: bytes.NewReader(o.data), mod: o.mod} }

// memObject reads a kept object; its bytes are shared and never written.
type memObject struct {
	*bytes.Reader
	mod time.Time
}

func (m *memObject) Close() error       { return nil }
func (m *memObject) ModTime() time.Time { return m.mod }
