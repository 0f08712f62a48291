package media

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"
)

// uniformPNG writes a w×h PNG of one colour without ever holding the image:
// colour type ct (0 grey, 2 RGB, 6 RGBA), bit depth 8 or 16, optionally
// Adam7-interlaced. An 8900×8900 one at 16 bits compresses to under a
// megabyte.
func uniformPNG(tb testing.TB, w, h int, ct, depth byte, interlaced bool) []byte {
	tb.Helper()
	chans := map[byte]int{0: 1, 2: 3, 6: 4}[ct]
	bpp := chans * int(depth) / 8
	var out bytes.Buffer
	out.Write(pngSignature)
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	chunk("IHDR", append(ihdr, depth, ct, 0, 0, il))

	var idat bytes.Buffer
	level := zlib.DefaultCompression
	if interlaced {
		level = zlib.BestSpeed // seven passes, and its size does not matter
	}
	zw, _ := zlib.NewWriterLevel(&idat, level)
	pixel := make([]byte, bpp)
	for i := range pixel {
		pixel[i] = byte(0x40 + 0x20*i)
	}
	if ct == 6 {
		pixel[bpp-1] = 0xFF // opaque, and alpha 0xFFFF at 16 bits
		if depth == 16 {
			pixel[bpp-2] = 0xFF
		}
	}
	writeRows := func(pw, ph int) {
		if pw == 0 || ph == 0 {
			return
		}
		row := make([]byte, 1+pw*bpp)
		for x := 0; x < pw; x++ {
			copy(row[1+x*bpp:], pixel)
		}
		for y := 0; y < ph; y++ {
			zw.Write(row)
		}
	}
	if !interlaced {
		writeRows(w, h)
	} else {
		for _, p := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
			writeRows((w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3])
		}
	}
	zw.Close()
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

var (
	hugePNGOnce             sync.Once
	hugePNG, hugeInterlaced []byte
)

// hugePNG16 is the image of the decoding-memory report: 8900×8900 pixels,
// 16 bits per channel with alpha, under a megabyte; and the same interlaced,
// which image/png can only decode whole.
func hugePNG16(tb testing.TB) (plain, interlaced []byte) {
	hugePNGOnce.Do(func() {
		hugePNG = uniformPNG(tb, 8900, 8900, 6, 16, false)
		hugeInterlaced = uniformPNG(tb, 8900, 8900, 6, 16, true)
	})
	return hugePNG, hugeInterlaced
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// fill sets every pixel of img to c.
func fill(img interface {
	image.Image
	Set(x, y int, c color.Color)
}, c color.Color) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, c)
		}
	}
}

// costOf is decodeCost from the file's own header, as Ingest computes it.
func costOf(tb testing.TB, b []byte) (need, decodeOnly int64, format string) {
	tb.Helper()
	ct, err := Sniff(b)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := decodeConfig(bytes.NewReader(b), ct)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := scanHeader(bufio.NewReader(bytes.NewReader(b)), ct)
	if err != nil {
		tb.Fatal(err)
	}
	var frame jpegFrame
	if ct == typeJPEG {
		frame, _ = scanJPEGFrame(bufio.NewReader(bytes.NewReader(b)))
	}
	o := metadataFromEXIF(info.exif).Orientation
	need, format = decodeCost(ct, cfg, info, frame, int64(len(b)), o)
	return need, need - pipelineCost(cfg.Width, cfg.Height, o), format
}

// allocated returns the bytes fn allocates on the heap, freed or not.
func allocated(fn func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

func TestDecodeCostOfPNGTypes(t *testing.T) {
	const w, h = 64, 48
	rect := image.Rect(0, 0, w, h)
	translucent := color.NRGBA64{0x1000, 0x2000, 0x3000, 0x8000}
	for _, c := range []struct {
		name string
		img  func() image.Image
		bpp  int64
		want image.Image // decoded type
	}{
		{"gray", func() image.Image { m := image.NewGray(rect); fill(m, color.Gray{9}); return m }, 1, &image.Gray{}},
		{"gray16", func() image.Image { m := image.NewGray16(rect); fill(m, color.Gray16{999}); return m }, 2, &image.Gray16{}},
		{"paletted", func() image.Image { return image.NewPaletted(rect, palette.Plan9) }, 1, &image.Paletted{}},
		{"rgb8", func() image.Image { m := image.NewRGBA(rect); fill(m, color.RGBA{1, 2, 3, 255}); return m }, 4, &image.RGBA{}},
		{"rgba8", func() image.Image { m := image.NewNRGBA(rect); fill(m, color.NRGBA{1, 2, 3, 4}); return m }, 4, &image.NRGBA{}},
		{"rgb16", func() image.Image { m := image.NewRGBA64(rect); fill(m, color.RGBA64{1, 2, 3, 0xFFFF}); return m }, 8, &image.RGBA64{}},
		{"rgba16", func() image.Image { m := image.NewNRGBA64(rect); fill(m, translucent); return m }, 8, &image.NRGBA64{}},
	} {
		b := encodePNG(t, c.img())
		_, decodeOnly, format := costOf(t, b)
		rows := 2 * (8*int64(w) + 1)
		if decodeOnly != c.bpp*w*h+rows {
			t.Errorf("%s: decoding costs %d, want %d B/px × %d px + %d", c.name, decodeOnly, c.bpp, w*h, rows)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprintf("%T", img), fmt.Sprintf("%T", c.want); got != want {
			t.Errorf("%s decodes as %s, the estimate assumed %s", c.name, got, want)
		}
		if pix := pixBytes(img); pix != c.bpp*w*h {
			t.Errorf("%s: decoded pixels take %d bytes, estimated %d", c.name, pix, c.bpp*w*h)
		}
		t.Logf("%s: %s, %d bytes", c.name, format, decodeOnly)
	}

	plain, interlaced := hugePNG16(t)
	need, decodeOnly, format := costOf(t, interlaced)
	if decodeOnly < 2*8900*8900*8 || format != "16-bit colour PNG" {
		t.Errorf("interlaced 8900×8900 16-bit PNG: %d bytes to decode (%s), want at least twice %d", decodeOnly, format, 8900*8900*8)
	}
	if need <= DefaultMaxDecodeMemory {
		t.Errorf("interlaced 8900×8900 16-bit PNG fits the default budget: %d", need)
	}
	// Shrunk while decoded: two rows of 8900 pixels, not the whole image.
	if need, decodeOnly, _ = costOf(t, plain); decodeOnly > 2<<20 || need > 160<<20 {
		t.Errorf("8900×8900 16-bit PNG: %d bytes to decode, %d in all", decodeOnly, need)
	}
}

// decoderSlack is what the decoders allocate whatever the image size
// (Huffman and quantisation tables, read buffers).
const decoderSlack = 96 << 10

// TestDecodeCostCoversDecoders measures what the decoders allocate on
// images of every kind the estimate distinguishes, including the JPEG
// variants image/jpeg's own test files cover (progressive, every chroma
// subsampling, CMYK, RGB, grey) and an interlaced PNG.
func TestDecodeCostCoversDecoders(t *testing.T) {
	files := map[string][]byte{
		"interlaced rgba16 png": uniformPNG(t, 601, 403, 6, 16, true),
		"interlaced gray png":   uniformPNG(t, 777, 555, 0, 8, true),
		"rgb16 png":             uniformPNG(t, 700, 500, 2, 16, false),
		"lossless webp":         riff(riffChunk("VP8L", vp8l(900, 700, webpColor))),
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, quadrantImage(1001, 777), nil)
	files["baseline 4:2:0 jpeg"] = buf.Bytes()
	buf = bytes.Buffer{}
	g := image.NewGray(image.Rect(0, 0, 999, 333))
	jpeg.Encode(&buf, g, nil)
	files["gray jpeg"] = buf.Bytes()
	buf = bytes.Buffer{}
	gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, 800, 600), palette.Plan9), nil)
	files["gif"] = buf.Bytes()
	// image/jpeg's test images: the encoder in the standard library makes
	// neither progressive nor CMYK files.
	goroot, _ := exec.Command("go", "env", "GOROOT").Output()
	dir := filepath.Join(strings.TrimSpace(string(goroot)), "src", "image", "testdata")
	if names, err := filepath.Glob(filepath.Join(dir, "video-00*.jpeg")); err == nil && len(names) > 0 {
		for _, n := range names {
			if strings.Contains(n, "truncated") {
				continue
			}
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(n)] = b
		}
	} else {
		t.Logf("no %s: JPEG variants not covered", dir)
	}

	// x/image's WebP test images: lossy, lossy with alpha, and lossless with
	// every transform.
	xdir, _ := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if names, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(xdir)), "testdata", "*.webp")); err == nil && len(names) > 0 {
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(n)] = b
		}
	} else {
		t.Logf("no x/image test files: WebP variants not covered")
	}

	seen := map[string]bool{}
	for name, b := range files {
		_, decodeOnly, format := costOf(t, b)
		seen[format] = true
		ct, _ := Sniff(b)
		var derr error
		got := allocated(func() { _, derr = decode(bytes.NewReader(b), ct) })
		if derr != nil {
			t.Errorf("%s: %v", name, derr)
			continue
		}
		if got > decodeOnly+decoderSlack {
			t.Errorf("%s (%s): decoding allocated %d bytes, estimated %d", name, format, got, decodeOnly)
		}
		t.Logf("%-42s %-24s allocated %9d estimated %9d", name, format, got, decodeOnly)
	}
	t.Logf("formats: %v", seen)
}

// TestIngestAllocatesWithinCost holds the whole estimate, pipeline included,
// against what Ingest allocates on images large enough for the per-pixel
// costs to dominate: everything allocated counts, even what was freed on
// the way, so the estimate is above the peak with room to spare.
func TestIngestAllocatesWithinCost(t *testing.T) {
	if testing.Short() {
		t.Skip("large images")
	}
	st, _ := newTestStore(t)
	var buf bytes.Buffer
	jpeg.Encode(&buf, quadrantImage(4000, 3000), &jpeg.Options{Quality: 80})
	phone := buf.Bytes()
	for name, b := range map[string][]byte{
		"4000×3000 jpeg":         phone,
		"4000×3000 jpeg, turned": jpegWithMeta(t, quadrantImage(4000, 3000), 6, nil),
		"3000×2000 rgba16 png":   uniformPNG(t, 3000, 2000, 6, 16, false),
		"3300×3300 gray png":     uniformPNG(t, 3300, 3300, 0, 8, true),
		"6000×500 rgb png":       uniformPNG(t, 6000, 500, 2, 8, false),
		"3000×2000 webp":         riff(riffChunk("VP8L", vp8l(3000, 2000, webpColor))),
		"1600×1200 gif": func() []byte {
			var g bytes.Buffer
			gif.Encode(&g, image.NewPaletted(image.Rect(0, 0, 1600, 1200), palette.Plan9), nil)
			return g.Bytes()
		}(),
	} {
		need, _, format := costOf(t, b)
		var err error
		got := allocated(func() {
			_, err = Ingest(context.Background(), st, bytes.NewReader(b), 1<<30, Limits{Memory: NewBudget(1 << 40)})
		})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got > need {
			t.Errorf("%s (%s): ingest allocated %d MiB, estimated %d MiB", name, format, got>>20, need>>20)
		}
		t.Logf("%-24s %-20s allocated %4d MiB, estimated %4d MiB", name, format, got>>20, need>>20)
	}
}

func TestIngestRefusesImageOverWholeBudgetBeforeDecoding(t *testing.T) {
	st, root := newTestStore(t)
	b := NewBudget(DefaultMaxDecodeMemory)
	_, src := hugePNG16(t)
	var err error
	got := allocated(func() {
		_, err = Ingest(context.Background(), st, bytes.NewReader(src), 50<<20, Limits{Memory: b})
	})
	var me *MemoryError
	if !errors.As(err, &me) || !errors.Is(err, ErrTooMuchMemory) {
		t.Fatalf("err = %v, want a MemoryError", err)
	}
	if me.Width != 8900 || me.Height != 8900 || me.Format != "16-bit colour PNG" || me.Need < 2*8900*8900*8 || me.Budget != DefaultMaxDecodeMemory {
		t.Errorf("error says %+v", me)
	}
	if got > 16<<20 {
		t.Errorf("allocated %d MiB to refuse the image", got>>20)
	}
	if files := storeFiles(t, root); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}
	assertBudgetFree(t, b)
}

// assertBudgetFree checks that nothing holds any of b: the whole of it can
// be taken at once without waiting.
func assertBudgetFree(t *testing.T, b *Budget) {
	t.Helper()
	release, err := b.Acquire(context.Background(), b.Size(), -1)
	if err != nil {
		t.Fatalf("budget still held: %v", err)
	}
	release()
}

// gatedStore blocks the creation of every large variant until gate is
// closed, so that ingests hold their budget for as long as a test wants.
type gatedStore struct {
	Store
	gate    chan struct{}
	holding chan struct{}
}

func (g gatedStore) Create(ctx context.Context, key string) (Pending, error) {
	if strings.HasSuffix(key, "/"+VariantLarge) {
		g.holding <- struct{}{}
		<-g.gate
	}
	return g.Store.Create(ctx, key)
}

func TestIngestConcurrentBeyondBudget(t *testing.T) {
	st, root := newTestStore(t)
	src := uniformPNG(t, 2000, 1500, 6, 16, false)
	need, _, _ := costOf(t, src)
	const fits, total = 3, 7
	b := NewBudget(fits*need + need/2)
	g := gatedStore{Store: st, gate: make(chan struct{}), holding: make(chan struct{}, total)}
	lim := Limits{Memory: b, MemoryWait: 20 * time.Millisecond}

	errs := make(chan error, total)
	for i := 0; i < total; i++ {
		go func() {
			_, err := Ingest(context.Background(), g, bytes.NewReader(src), 1<<30, lim)
			errs <- err
		}()
	}
	// The three that got their share are held at the gate, so the others
	// can only run out of waiting, whenever that is.
	for i := 0; i < fits; i++ {
		<-g.holding
	}
	for i := 0; i < total-fits; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrBusy) {
				t.Errorf("upload beyond the budget: %v, want ErrBusy", err)
			}
		case <-g.holding:
			close(g.gate)
			t.Fatalf("%d uploads decoding at once, the budget has room for %d", fits+1, fits)
		}
	}
	close(g.gate)
	for i := 0; i < fits; i++ {
		if err := <-errs; err != nil {
			t.Errorf("upload within the budget: %v", err)
		}
	}
	assertBudgetFree(t, b)
	if n := len(storeFiles(t, root)); n != fits*len(Variants) {
		t.Errorf("%d files stored, want %d", n, fits*len(Variants))
	}

	// A waiter gets the share that a holder gives back during its wait.
	release, err := b.Acquire(context.Background(), b.Size(), -1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Ingest(context.Background(), st, bytes.NewReader(src), 1<<30, Limits{Memory: b, MemoryWait: time.Hour})
		done <- err
	}()
	release()
	if err := <-done; err != nil {
		t.Errorf("waiting upload: %v", err)
	}
}

// panicStore panics while the large variant is written, as a bug in the
// variant pipeline would.
type panicStore struct{ Store }

func (p panicStore) Create(ctx context.Context, key string) (Pending, error) {
	if strings.HasSuffix(key, "/"+VariantLarge) {
		panic("variant pipeline bug")
	}
	return p.Store.Create(ctx, key)
}

func TestIngestGivesBudgetBack(t *testing.T) {
	st, _ := newTestStore(t)
	src := uniformPNG(t, 1200, 900, 2, 16, false)
	need, _, _ := costOf(t, src)
	// Room for one such image only: an ingest that kept its share would
	// make the next one fail at once, since it does not wait.
	b := NewBudget(need + need/2)
	lim := Limits{Memory: b, MemoryWait: -1}
	ingest := func(st Store, r []byte) error {
		_, err := Ingest(context.Background(), st, bytes.NewReader(r), 1<<30, lim)
		return err
	}

	if err := ingest(st, src); err != nil {
		t.Fatalf("success: %v", err)
	}
	assertBudgetFree(t, b)

	// Damage after the header: decoding fails once the share is taken.
	damaged := append([]byte(nil), src...)
	for i := len(damaged) / 2; i < len(damaged)-20; i++ {
		damaged[i] ^= 0x5A
	}
	if err := ingest(st, damaged); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged: %v, want ErrCorrupt", err)
	}
	assertBudgetFree(t, b)

	if err := ingest(failingStore{st, VariantLarge}, src); err == nil {
		t.Fatal("failing store: no error")
	}
	assertBudgetFree(t, b)

	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("no panic")
			}
		}()
		ingest(panicStore{st}, src)
	}()
	assertBudgetFree(t, b)

	if err := ingest(st, src); err != nil {
		t.Errorf("after the failures: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	hold, _ := b.Acquire(ctx, b.Size(), -1)
	go cancel()
	if _, err := Ingest(ctx, st, bytes.NewReader(src), 1<<30, Limits{Memory: b, MemoryWait: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: %v", err)
	}
	hold()
	assertBudgetFree(t, b)
}

func TestBudgetAcquire(t *testing.T) {
	b := NewBudget(100)
	if _, err := b.Acquire(context.Background(), 101, time.Hour); !errors.Is(err, ErrTooMuchMemory) {
		t.Errorf("over the whole budget: %v", err)
	}
	r1, err := b.Acquire(context.Background(), 60, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(context.Background(), 41, -1); !errors.Is(err, ErrBusy) {
		t.Errorf("over what is left: %v", err)
	}
	r2, err := b.Acquire(context.Background(), 40, -1)
	if err != nil {
		t.Fatalf("what is left: %v", err)
	}
	r1()
	r1() // a second release gives nothing back twice
	if _, err := b.Acquire(context.Background(), 61, -1); !errors.Is(err, ErrBusy) {
		t.Errorf("double release counted: %v", err)
	}
	r2()
	if NewBudget(0).Size() != DefaultMaxDecodeMemory {
		t.Error("zero size does not take the default")
	}
}

// TestShrinkMatchesDirectScaling checks the variant pipeline against
// x/image/draw's Catmull-Rom scaler, which it replaces: the streaming
// resampler gives the same pixels to rounding, and the box shrink before it
// changes nothing visible: colours, white under transparency and the
// position of edges agree with scaling the full image directly.
func TestShrinkMatchesDirectScaling(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 3500, 3300))
	rnd := rand.New(rand.NewPCG(3, 4))
	for y := 0; y < 3300; y++ {
		for x := 0; x < 3500; x++ {
			c := color.NRGBA{0, 0, 255, 255}
			switch {
			case x < 1000 && y < 1200:
				c = color.NRGBA{255, 0, 0, 255}
			case x > 2500:
				c = color.NRGBA{0, 128, 0, 128}
			case y > 3000: // noise, where any filter difference would show
				c = color.NRGBA{uint8(rnd.IntN(256)), uint8(rnd.IntN(256)), uint8(rnd.IntN(256)), uint8(rnd.IntN(256))}
			}
			src.SetNRGBA(x, y, c)
		}
	}
	lw, lh := fit(3500, 3300, largeBox)
	k := shrinkFactor(3500, 3300, lw, lh)
	if k != 2 {
		t.Fatalf("factor %d", k)
	}
	reference := whiteCanvas(image.Rect(0, 0, lw, lh))
	xdraw.CatmullRom.Scale(reference, reference.Rect, src, src.Rect, xdraw.Over, nil)
	// differ returns the largest difference of a channel, and how many
	// channels differ by more than rounding.
	differ := func(a, b *image.RGBA) (worst, over int) {
		for i := range a.Pix {
			d := abs(int(a.Pix[i]) - int(b.Pix[i]))
			worst = max(worst, d)
			if d > 1 {
				over++
			}
		}
		return worst, over
	}
	// x/image/draw clamps the filtered premultiplied colour before it is
	// laid on white, the resampler after: where the filter overshoots at
	// an edge in alpha the two differ slightly; everywhere else they agree
	// to rounding.
	if d, over := differ(reference, resizeOnWhite(src, lw, lh)); d > 16 || over > len(reference.Pix)/1000 {
		t.Errorf("resampler and x/image/draw differ by up to %d, by more than 1 in %d places", d, over)
	}
	thumbRef := whiteCanvas(image.Rect(0, 0, 400, 377))
	xdraw.CatmullRom.Scale(thumbRef, thumbRef.Rect, reference, reference.Rect, xdraw.Src, nil)
	if d, over := differ(thumbRef, resizeOnWhite(reference, 400, 377)); d > 1 {
		t.Errorf("thumb: resampler and x/image/draw differ by up to %d (%d places)", d, over)
	}

	shrunk := resizeOnWhite(shrinkOnWhite(src, k), lw, lh)
	// At an edge the two filters differ by a fraction of a pixel.
	if d, _ := differ(reference, shrunk); d > 64 {
		t.Errorf("shrunk and direct scaling differ by %d", d)
	}
	for _, p := range []image.Point{{100, 100}, {1200, 800}, {1550, 1000}, {800, 1300}} {
		if d, s := reference.RGBAAt(p.X, p.Y), shrunk.RGBAAt(p.X, p.Y); abs(int(d.R)-int(s.R)) > 1 || abs(int(d.G)-int(s.G)) > 1 || abs(int(d.B)-int(s.B)) > 1 {
			t.Errorf("at %v: direct %v, shrunk %v", p, d, s)
		}
	}
}

// TestIngestHugePNGWithinBudget is the report's image: decoded whole it
// takes 604 MiB, more than the default budget; shrunk while it is decoded
// it is accepted, and the ingest allocates a fraction of that.
func TestIngestHugePNGWithinBudget(t *testing.T) {
	st, _ := newTestStore(t)
	src, _ := hugePNG16(t)
	need, _, _ := costOf(t, src)
	b := NewBudget(DefaultMaxDecodeMemory)
	var (
		p   *Photo
		err error
	)
	got := allocated(func() {
		p, err = Ingest(context.Background(), st, bytes.NewReader(src), 50<<20, Limits{Memory: b})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allocated %d MiB, estimated %d MiB", got>>20, need>>20)
	if got > need || got > 200<<20 {
		t.Errorf("allocated %d MiB (estimated %d MiB) for an image of 604 MiB", got>>20, need>>20)
	}
	if p.Width != 8900 || p.Height != 8900 {
		t.Errorf("photo is %dx%d", p.Width, p.Height)
	}
	large := decodeJPEG(t, readObject(t, st, VariantKey(p.Key, VariantLarge)))
	if large.Bounds().Size() != image.Pt(1600, 1600) {
		t.Errorf("large variant is %v", large.Bounds().Size())
	}
	// uniformPNG's colour: 0x4060, 0x80A0, 0xC0E0 at 16 bits.
	assertColour(t, "large variant", large.At(800, 800), color.RGBA{0x40, 0x80, 0xC0, 0xFF})
	assertBudgetFree(t, b)
}

// rawPNG writes a PNG of the given rows (unfiltered pixel bytes), filtering
// row y with filter y%5, so that every filter type is undone by the reader.
func rawPNG(w, h int, ct, depth byte, rows [][]byte, chunksBeforeIDAT ...[]byte) []byte {
	var out bytes.Buffer
	out.Write(pngSignature)
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	chunk("IHDR", append(ihdr, depth, ct, 0, 0, 0))
	for _, c := range chunksBeforeIDAT {
		out.Write(c)
	}
	bpp := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[ct] * int(depth) / 8
	var idat bytes.Buffer
	zw := zlib.NewWriter(&idat)
	prev := make([]byte, len(rows[0]))
	for y, row := range rows {
		f := byte(y % 5)
		line := []byte{f}
		for i := range row {
			var left, up, upLeft byte
			if i >= bpp {
				left, upLeft = row[i-bpp], prev[i-bpp]
			}
			up = prev[i]
			var pred byte
			switch f {
			case 1:
				pred = left
			case 2:
				pred = up
			case 3:
				pred = byte((int(left) + int(up)) / 2)
			case 4:
				pred = paeth(left, up, upLeft)
			}
			line = append(line, row[i]-pred)
		}
		zw.Write(line)
		prev = row
	}
	zw.Close()
	// Two IDAT chunks, to cross a chunk boundary in the image data.
	d := idat.Bytes()
	chunk("IDAT", d[:len(d)/2])
	chunk("IDAT", d[len(d)/2:])
	chunk("IEND", nil)
	return out.Bytes()
}

// TestShrinkPNGMatchesDecoder holds shrinkPNG to image/png followed by
// shrinkOnWhite, byte for byte, on random pixels of every kind it accepts.
func TestShrinkPNGMatchesDecoder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, ct := range []byte{0, 2, 4, 6} {
		for _, depth := range []byte{8, 16} {
			for _, size := range []image.Point{{37, 23}, {64, 64}, {5, 41}} {
				bpp := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[ct] * int(depth) / 8
				rows := make([][]byte, size.Y)
				for y := range rows {
					rows[y] = make([]byte, size.X*bpp)
					for i := range rows[y] {
						rows[y][i] = byte(rnd.IntN(256))
						if y%7 == 3 { // some runs too
							rows[y][i] = byte(i / bpp)
						}
					}
				}
				b := rawPNG(size.X, size.Y, ct, depth, rows, pngChunk("tEXt", []byte("Comment\x00hello")))
				ref, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("ct %d depth %d: image/png: %v", ct, depth, err)
				}
				for _, k := range []int{2, 3, 5} {
					want := shrinkOnWhite(ref, k)
					got, dims, err := shrinkPNG(bytes.NewReader(b), k)
					if err != nil {
						t.Fatalf("ct %d depth %d %v k %d: %v", ct, depth, size, k, err)
					}
					if dims != size || got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
						t.Errorf("ct %d depth %d %v k %d: shrunk while decoding differs from decoded then shrunk", ct, depth, size, k)
					}
				}
			}
		}
	}
}

// TestShrinkPNGRefusesWhatDecoderRefuses damages a PNG in every way that
// matters (truncation anywhere, a changed byte anywhere) and checks that
// shrinkPNG fails exactly when image/png does.
func TestShrinkPNGRefusesWhatDecoderRefuses(t *testing.T) {
	rows := make([][]byte, 20)
	for y := range rows {
		rows[y] = bytes.Repeat([]byte{byte(y), 0x80, 0x40, 0xFF}, 30)
	}
	good := rawPNG(30, 20, 6, 8, rows, pngChunk("tEXt", []byte("a\x00b")))
	check := func(what string, b []byte) {
		_, refErr := png.Decode(bytes.NewReader(b))
		_, _, err := shrinkPNG(bytes.NewReader(b), 2)
		if (err == nil) != (refErr == nil) {
			t.Errorf("%s: shrinkPNG %v, image/png %v", what, err, refErr)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v is not ErrCorrupt", what, err)
		}
	}
	check("intact", good)
	for n := 0; n < len(good); n++ {
		check(fmt.Sprintf("cut at %d", n), good[:n])
	}
	for i := len(pngSignature); i < len(good); i++ {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		check(fmt.Sprintf("byte %d changed", i), b)
	}
	// Too much pixel data: one row more than the header says.
	extra := rawPNG(30, 21, 6, 8, append(rows, rows[0]))
	binary.BigEndian.PutUint32(extra[16:], 20)
	binary.BigEndian.PutUint32(extra[29:], crc32.ChecksumIEEE(extra[12:29]))
	check("extra row", extra)
}

func pixBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.Gray16:
		return int64(len(m.Pix))
	case *image.Paletted:
		return int64(len(m.Pix))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.RGBA64:
		return int64(len(m.Pix))
	case *image.NRGBA64:
		return int64(len(m.Pix))
	}
	return -1
}

// TestDecodeCostSeesSegmentsAfterTheScan puts an Adobe segment that makes
// image/jpeg convert to RGB after the image data, where a header scan would
// miss it: the estimate counts the RGBA copy all the same.
func TestDecodeCostSeesSegmentsAfterTheScan(t *testing.T) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, quadrantImage(600, 400), nil)
	plain := buf.Bytes()
	adobe := jpegSegment(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00"))
	late := append(append(append([]byte(nil), plain[:len(plain)-2]...), adobe...), 0xFF, 0xD9)

	_, base, format := costOf(t, plain)
	if format != "JPEG" {
		t.Fatalf("plain: %s", format)
	}
	_, withRGB, format := costOf(t, late)
	if format != "RGB JPEG" || withRGB < base+4*600*400 {
		t.Errorf("late Adobe segment: %s, %d bytes, plain %d", format, withRGB, base)
	}
	var img image.Image
	var err error
	got := allocated(func() { img, err = jpeg.Decode(bytes.NewReader(late)) })
	if _, ok := img.(*image.RGBA); err != nil || !ok {
		t.Fatalf("image/jpeg gives %T, %v; the test needs the RGB conversion", img, err)
	}
	if got > withRGB+decoderSlack {
		t.Errorf("decoding allocated %d, estimated %d", got, withRGB)
	}
}
