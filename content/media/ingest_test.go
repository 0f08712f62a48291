package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

const testMaxBytes = 10 << 20

func TestIngestJPEGWithGPSAndOrientation(t *testing.T) {
	ctx := context.Background()
	eachStore(t, func(t *testing.T, st Store) {
		icc := testICC(70000) // two APP2 segments
		src := jpegWithMeta(t, quadrantImage(60, 40), 6, icc)

		p, err := Ingest(ctx, st, bytes.NewReader(src), testMaxBytes, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Width != 40 || p.Height != 60 {
			t.Errorf("size %dx%d, want 40x60 (turned by orientation 6)", p.Width, p.Height)
		}
		if p.ContentType != "image/jpeg" || p.Size != int64(len(src)) {
			t.Errorf("type %q size %d", p.ContentType, p.Size)
		}
		if !validKey(VariantKey(p.Key, VariantThumb)) {
			t.Errorf("base key %q", p.Key)
		}
		assertTestMetadata(t, p.Meta, 6)
		if got := len(leftovers(t, st)); got != 4 {
			t.Errorf("%d files in the store, want 4", got)
		}
		if orig := readObject(t, st, VariantKey(p.Key, VariantOriginal)); !bytes.Equal(orig, src) {
			t.Error("original was not stored byte for byte")
		}

		for _, v := range []string{VariantThumb, VariantLarge, VariantClean} {
			b := readObject(t, st, VariantKey(p.Key, v))
			assertNoSecrets(t, v, b)
			if bytes.Contains(b, []byte{0xFF, 0xED}) && bytes.Contains(b, []byte("8BIM")) {
				t.Errorf("%s: IPTC APP13 present", v)
			}
			tags, dirs := exifTags(t, b)
			if dirs["IFD0/GPSInfoIFD"] {
				t.Errorf("%s: GPS directory present", v)
			}
			for _, f := range []string{"GPSLatitude", "GPSLongitude", "Make", "DateTimeOriginal"} {
				if _, ok := tags[f]; ok {
					t.Errorf("%s: EXIF %s present", v, f)
				}
			}
			info, err := scanHeader(bufio.NewReader(bytes.NewReader(b)), "image/jpeg")
			if err != nil || !bytes.Equal(info.icc, icc) {
				t.Errorf("%s: colour profile missing or changed (%d bytes)", v, len(info.icc))
			}
		}

		large := decodeJPEG(t, readObject(t, st, VariantKey(p.Key, VariantLarge)))
		if large.Bounds().Dx() != 40 || large.Bounds().Dy() != 60 {
			t.Errorf("large is %v; small images are never enlarged", large.Bounds())
		}
		// The red corner was stored top-left; turned right it is top-right.
		assertColour(t, "large top-right", large.At(37, 2), color.RGBA{255, 0, 0, 255})
		assertColour(t, "large top-left", large.At(2, 2), color.RGBA{0, 0, 255, 255})
		assertColour(t, "large bottom-left", large.At(2, 57), color.RGBA{0, 0, 255, 255})
		if tags, _ := exifTags(t, readObject(t, st, VariantKey(p.Key, VariantLarge))); len(tags) != 0 {
			t.Errorf("large has EXIF (%v): viewers would turn it twice", tags)
		}

		clean := readObject(t, st, VariantKey(p.Key, VariantClean))
		if tags, _ := exifTags(t, clean); fmt.Sprint(tags["Orientation"]) != "6" {
			t.Errorf("clean orientation %v (tags %v)", tags["Orientation"], tags)
		}
		assertSamePixels(t, decodeJPEG(t, src), decodeJPEG(t, clean))
	})
}

func decodeJPEG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func assertColour(t *testing.T, what string, c color.Color, want color.RGBA) {
	t.Helper()
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) int { return int(a>>8) - int(b) }
	if abs(d(r, want.R)) > 40 || abs(d(g, want.G)) > 40 || abs(d(b, want.B)) > 40 {
		t.Errorf("%s: colour %d,%d,%d, want about %v", what, r>>8, g>>8, b>>8, want)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestIngestScalesDown(t *testing.T) {
	st, _ := newTestStore(t)
	var buf bytes.Buffer
	jpeg.Encode(&buf, quadrantImage(2000, 1000), nil)
	p, err := Ingest(context.Background(), st, &buf, testMaxBytes, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]image.Point{VariantLarge: {1600, 800}, VariantThumb: {400, 200}} {
		img := decodeJPEG(t, readObject(t, st, VariantKey(p.Key, v)))
		if img.Bounds().Size() != want {
			t.Errorf("%s is %v, want %v", v, img.Bounds().Size(), want)
		}
	}
}

func TestIngestPNGWithAlpha(t *testing.T) {
	st, _ := newTestStore(t)
	icc := testICC(4000)
	src := pngWithMeta(t, halfTransparent(30, 20), 8, icc)
	p, err := Ingest(context.Background(), st, bytes.NewReader(src), testMaxBytes, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 20 || p.Height != 30 || p.ContentType != "image/png" {
		t.Errorf("photo %+v", p)
	}
	// Transparent pixels become white, not black. Turned left, the
	// transparent left half ends up at the bottom.
	large := decodeJPEG(t, readObject(t, st, VariantKey(p.Key, VariantLarge)))
	assertColour(t, "top", large.At(10, 3), color.RGBA{0, 200, 0, 255})
	assertColour(t, "bottom", large.At(10, 27), color.RGBA{255, 255, 255, 255})

	clean := readObject(t, st, VariantKey(p.Key, VariantClean))
	assertNoSecrets(t, "clean PNG", clean)
	types, _ := pngChunks(t, clean)
	if strings.Join(types, ",") != "IHDR,iCCP,eXIf,IDAT,IEND" {
		t.Errorf("clean PNG chunks %v", types)
	}
	if md, _ := ReadMetadata(bytes.NewReader(clean)); md != (Metadata{Orientation: 8}) {
		t.Errorf("clean PNG metadata %+v", md)
	}
	for _, v := range []string{VariantLarge, VariantThumb} {
		info, _ := scanHeader(bufio.NewReader(bytes.NewReader(readObject(t, st, VariantKey(p.Key, v)))), "image/jpeg")
		if !bytes.Equal(info.icc, icc) {
			t.Errorf("%s: PNG colour profile not carried over", v)
		}
	}
}

func TestIngestGIFAndWebP(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		p, err := Ingest(context.Background(), st, bytes.NewReader(gifWithMeta(t)), testMaxBytes, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Width != 12 || p.Height != 8 || p.ContentType != "image/gif" {
			t.Errorf("gif photo %+v", p)
		}
		g, err := gif.DecodeAll(bytes.NewReader(readObject(t, st, VariantKey(p.Key, VariantClean))))
		if err != nil || len(g.Image) != 2 {
			t.Errorf("clean GIF: %v", err)
		}

		icc := testICC(1001)
		p, err = Ingest(context.Background(), st, bytes.NewReader(webpWithMeta(6, 4, 6, icc)), testMaxBytes, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Width != 4 || p.Height != 6 || p.ContentType != "image/webp" || p.Meta.Camera != testModel {
			t.Errorf("webp photo %+v", p)
		}
		clean := readObject(t, st, VariantKey(p.Key, VariantClean))
		assertNoSecrets(t, "clean WebP", clean)
		if _, err := webp.Decode(bytes.NewReader(clean)); err != nil {
			t.Errorf("clean WebP: %v", err)
		}
		large := readObject(t, st, VariantKey(p.Key, VariantLarge))
		img := decodeJPEG(t, large)
		if img.Bounds().Dx() != 4 || img.Bounds().Dy() != 6 {
			t.Errorf("large WebP variant %v", img.Bounds())
		}
		assertColour(t, "webp large", img.At(1, 1), color.RGBA{webpColor.R, webpColor.G, webpColor.B, 255})
	})
}

// endless yields a prefix and then zeros forever, counting what was read.
type endless struct {
	prefix []byte
	n      int64
}

func (e *endless) Read(p []byte) (int, error) {
	k := 0
	if int64(len(e.prefix)) > e.n {
		k = copy(p, e.prefix[e.n:])
	}
	clear(p[k:])
	e.n += int64(len(p))
	return len(p), nil
}

func TestIngestTooLarge(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		var buf bytes.Buffer
		jpeg.Encode(&buf, quadrantImage(64, 64), nil)
		const limit = 200 << 10
		body := &endless{prefix: buf.Bytes()}
		_, err := Ingest(context.Background(), st, body, limit, Limits{})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if body.n > limit+64<<10 {
			t.Errorf("read %d bytes of a body limited to %d", body.n, limit)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}

		// Exactly at the limit is fine; one byte more is not.
		exact := buf.Bytes()
		if _, err := Ingest(context.Background(), st, bytes.NewReader(exact), int64(len(exact)), Limits{}); err != nil {
			t.Errorf("body of exactly maxBytes: %v", err)
		}
		if _, err := Ingest(context.Background(), st, bytes.NewReader(exact), int64(len(exact)-1), Limits{}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("one byte over: %v", err)
		}
		// Too large within the header.
		if _, err := Ingest(context.Background(), st, bytes.NewReader(exact), 10, Limits{}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("tiny limit: %v", err)
		}
	})
}

func TestIngestRefusesText(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		_, err := Ingest(context.Background(), st, strings.NewReader("Dear guest, this file is called photo.jpg but it is text.\n"), testMaxBytes, Limits{})
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err = %v", err)
		}
		if _, err := Ingest(context.Background(), st, strings.NewReader(""), testMaxBytes, Limits{}); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("empty body: %v", err)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}
	})
}

// pngBomb is a PNG header claiming w×h pixels, followed by an IDAT chunk
// that promises 2 GB and an endless stream of zeros.
func pngBomb(w, h uint32) *endless {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b := append([]byte(nil), pngSignature...)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = append(b, ihdr...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	b = binary.BigEndian.AppendUint32(b, 0x7FFFFFFF)
	b = append(b, "IDAT"...)
	return &endless{prefix: b}
}

func TestIngestPixelBombRefusedFromHeader(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		body := pngBomb(100000, 100000)
		_, err := Ingest(context.Background(), st, body, 1<<40, Limits{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("err = %v, want ErrTooManyPixels", err)
		}
		if body.n > 64<<10 {
			t.Errorf("read %d bytes to judge a header", body.n)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("allocated %d bytes to refuse a header", alloc)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}

		for _, c := range []struct {
			w, h uint32
			lim  Limits
		}{
			{10000, 10000, Limits{}},            // 100 MP with sides in range
			{20001, 1, Limits{}},                // one side too long
			{100, 100, Limits{MaxPixels: 9999}}, // custom limits
			{101, 10, Limits{MaxSide: 100}},
		} {
			if _, err := Ingest(context.Background(), st, pngBomb(c.w, c.h), 1<<40, c.lim); !errors.Is(err, ErrTooManyPixels) {
				t.Errorf("%dx%d %+v: %v", c.w, c.h, c.lim, err)
			}
		}
	})
}

func TestIngestDamagedImageLeavesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		var buf bytes.Buffer
		jpeg.Encode(&buf, quadrantImage(64, 64), nil)
		half := buf.Bytes()[:buf.Len()/2]
		if _, err := Ingest(context.Background(), st, bytes.NewReader(half), testMaxBytes, Limits{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated JPEG: %v", err)
		}
		var p bytes.Buffer
		png.Encode(&p, quadrantImage(8, 8))
		bad := p.Bytes()
		bad[20] ^= 0xFF // IHDR CRC no longer matches
		if _, err := Ingest(context.Background(), st, bytes.NewReader(bad), testMaxBytes, Limits{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("bad IHDR: %v", err)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}
	})
}

// failingStore makes Create fail for one variant, to check that what was
// already written is removed.
type failingStore struct {
	Store
	variant string
}

func (f failingStore) Create(ctx context.Context, key string) (Pending, error) {
	if strings.HasSuffix(key, "/"+f.variant) {
		return nil, errors.New("disk full")
	}
	return f.Store.Create(ctx, key)
}

func TestIngestRemovesPartialPhoto(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		for _, v := range []string{VariantLarge, VariantThumb, VariantClean} {
			_, err := Ingest(context.Background(), failingStore{st, v}, bytes.NewReader(jpegWithMeta(t, quadrantImage(20, 20), 6, nil)), testMaxBytes, Limits{})
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("%s: err = %v", v, err)
			}
			if files := leftovers(t, st); len(files) != 0 {
				t.Errorf("%s: left behind: %v", v, files)
			}
		}
	})
}

func TestIngestCancelled(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Ingest(ctx, st, bytes.NewReader(jpegWithMeta(t, quadrantImage(20, 20), 1, nil)), testMaxBytes, Limits{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
		// Cancelled while the body streams in.
		ctx, cancel = context.WithCancel(context.Background())
		var buf bytes.Buffer
		jpeg.Encode(&buf, quadrantImage(64, 64), nil)
		body := &cancelAfter{r: &endless{prefix: buf.Bytes()}, n: 100 << 10, cancel: cancel}
		if _, err := Ingest(ctx, st, body, 1<<40, Limits{}); !errors.Is(err, context.Canceled) {
			t.Errorf("mid-stream: %v", err)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}
	})
}

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestDeletePhoto(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		p, err := Ingest(context.Background(), st, bytes.NewReader(gifWithMeta(t)), testMaxBytes, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := DeletePhoto(context.Background(), st, p.Key); err != nil {
			t.Fatal(err)
		}
		if files := leftovers(t, st); len(files) != 0 {
			t.Errorf("left behind: %v", files)
		}
		if err := DeletePhoto(context.Background(), st, p.Key); err != nil {
			t.Errorf("second delete: %v", err)
		}
	})
}

func TestOrientMatchesEXIFDefinitions(t *testing.T) {
	// A 3×2 image with distinct pixels; for each orientation, where the
	// stored top-left pixel (marked 1) must be shown.
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		src.Pix[4*i] = byte(i + 1)
	}
	want := map[int]image.Point{
		1: {0, 0}, 2: {2, 0}, 3: {2, 1}, 4: {0, 1},
		5: {0, 0}, 6: {1, 0}, 7: {1, 2}, 8: {0, 2},
	}
	for o, at := range want {
		dst := orient(src, o)
		if o >= 5 && dst.Rect.Size() != (image.Point{2, 3}) || o < 5 && dst.Rect.Size() != (image.Point{3, 2}) {
			t.Errorf("orientation %d: size %v", o, dst.Rect.Size())
			continue
		}
		if got := dst.RGBAAt(at.X, at.Y).R; got != 1 {
			t.Errorf("orientation %d: pixel at %v is %d, want the stored top-left", o, at, got)
		}
	}
	// Orientation 6: the stored top row becomes the right column.
	dst := orient(src, 6)
	for x := range 3 {
		if got := dst.RGBAAt(1, x).R; got != byte(x+1) {
			t.Errorf("orientation 6: right column row %d is %d", x, got)
		}
	}
}

func TestIngestGIFFrameSmallerThanPicture(t *testing.T) {
	st, _ := newTestStore(t)
	pal := color.Palette{color.RGBA{255, 0, 0, 255}}
	frame := image.NewPaletted(image.Rect(4, 4, 8, 8), pal)
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: pal, Width: 12, Height: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Ingest(context.Background(), st, &buf, testMaxBytes, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 12 || p.Height != 10 {
		t.Errorf("size %dx%d", p.Width, p.Height)
	}
	large := decodeJPEG(t, readObject(t, st, VariantKey(p.Key, VariantLarge)))
	assertColour(t, "frame", large.At(6, 6), color.RGBA{255, 0, 0, 255})
	assertColour(t, "background", large.At(1, 1), color.RGBA{255, 255, 255, 255})
}
