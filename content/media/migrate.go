package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// MigrateResult counts what Migrate did.
type MigrateResult struct {
	Copied   int   // objects written to the destination and verified
	Present  int   // objects the destination already held, byte for byte
	Vanished int   // objects deleted from the source while the copy ran
	Bytes    int64 // copied
}

// Migrate copies every object of src to dst under the same key. Each copy
// is read back from dst and its SHA-256 compared with the source's; an
// object dst already holds with the same size and checksum is left as it
// is, so Migrate can be run again after an interruption, or after more
// uploads, and copies only what is missing or differs. A copy that does not
// verify is removed from dst and reported. progress, if set, is called
// after each object. src must list its objects (implement Inventory).
func Migrate(ctx context.Context, src, dst Store, progress func(key string, res MigrateResult)) (MigrateResult, error) {
	var res MigrateResult
	inv, ok := src.(Inventory)
	if !ok {
		return res, errors.New("media: the source store cannot list its objects")
	}
	err := inv.Walk(ctx, func(o ObjectInfo) error {
		switch err := migrateOne(ctx, src, dst, o, &res); {
		case errors.Is(err, fs.ErrNotExist):
			res.Vanished++
		case err != nil:
			return err
		}
		if progress != nil {
			progress(o.Key, res)
		}
		return nil
	})
	return res, err
}

func migrateOne(ctx context.Context, from, dst Store, o ObjectInfo, res *MigrateResult) error {
	if sum, size, err := checksum(ctx, dst, o.Key); err == nil && size == o.Size {
		want, _, err := checksum(ctx, from, o.Key)
		if err != nil {
			return err
		}
		if bytes.Equal(sum, want) {
			res.Present++
			return nil
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	in, err := from.Open(ctx, o.Key)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := dst.Create(ctx, o.Key)
	if err != nil {
		return err
	}
	defer out.Abort()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err != nil {
		return fmt.Errorf("media: copy %s: %w", o.Key, err)
	}
	if err := out.Commit(); err != nil {
		return fmt.Errorf("media: copy %s: %w", o.Key, err)
	}
	got, size, err := checksum(ctx, dst, o.Key)
	if err != nil {
		return fmt.Errorf("media: verify %s: %w", o.Key, err)
	}
	if size != n || !bytes.Equal(got, h.Sum(nil)) {
		_ = dst.Delete(context.WithoutCancel(ctx), o.Key)
		return fmt.Errorf("media: verify %s: the copy (%d bytes) differs from the source (%d bytes)", o.Key, size, n)
	}
	res.Copied++
	res.Bytes += n
	return nil
}

// checksum reads an object whole and returns its SHA-256 and size.
func checksum(ctx context.Context, st Store, key string) ([]byte, int64, error) {
	o, err := st.Open(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer o.Close()
	h := sha256.New()
	n, err := io.Copy(h, &ctxReader{ctx: ctx, r: o})
	if err != nil {
		return nil, 0, fmt.Errorf("media: read %s: %w", key, err)
	}
	return h.Sum(nil), n, nil
}
