package media

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"io"
)

// decodeCost estimates, in bytes, the most memory that decoding an image
// and making its variants allocates: the decoded image in the Go type its
// decoder returns (with the decoder's own working buffers), and the working
// images of the variant pipeline. It is computed from the header alone and
// errs on the high side, since it is what the Budget is charged; the tests
// hold it against what a real ingest allocates.
func decodeCost(ct string, cfg image.Config, info headerInfo, frame jpegFrame, fileSize int64, orientation int) (need int64, format string) {
	w, h := int64(cfg.Width), int64(cfg.Height)
	px := w * h
	switch ct {
	case typePNG:
		need, format = pngCost(cfg, info, px)
		if streamsPNG(cfg, info) {
			// Two rows and the inflater; the shrunk copy is counted below.
			need = 2*(8*w+1) + 1<<20
		}
	case typeJPEG:
		need, format = jpegCost(frame, w, h)
	case typeGIF:
		// The first frame as a paletted image, and the white canvas a frame
		// smaller than the picture is flattened onto.
		need, format = px+4*px, "GIF"
	case typeWebP:
		need, format = webpCost(cfg, w, h, fileSize)
	default:
		need, format = 8*px, ct
	}
	return need + pipelineCost(cfg.Width, cfg.Height, orientation), format
}

// pipelineCost is what makeVariants allocates besides the decoded image:
// the shrunk copy, the variant canvases with the resampler's buffers, the
// upright copies, plus a fixed allowance for the header data, the read and
// encode buffers.
func pipelineCost(w, h, orientation int) int64 {
	const fixed = 8 << 20
	lw, lh := fit(w, h, largeBox)
	sw, sh := shrunkSize(w, h, lw, lh)
	var n int64
	if sw != w || sh != h {
		n += 4 * int64(sw) * int64(sh)
	}
	n += 4*int64(lw)*int64(lh) + resampleCost(sw, sh, lw, lh)
	tw, th := fit(lw, lh, thumbBox)
	if tw != lw || th != lh {
		n += 4*int64(tw)*int64(th) + resampleCost(lw, lh, tw, th)
	}
	if orientation >= 2 && orientation <= 8 {
		n += 4*int64(lw)*int64(lh) + 4*int64(tw)*int64(th)
	}
	return n + fixed
}

// pngCost follows image/png: the image type is the one the header's colour
// model names, rows are decoded into it two at a time, and an interlaced
// image is decoded pass by pass into images of its own type that are then
// merged into the full one (the passes add up to one more full image).
func pngCost(cfg image.Config, info headerInfo, px int64) (int64, string) {
	bpp, format := int64(8), "16-bit colour PNG"
	switch cfg.ColorModel {
	case color.GrayModel:
		bpp, format = 1, "8-bit greyscale PNG"
	case color.Gray16Model:
		bpp, format = 2, "16-bit greyscale PNG"
	case color.RGBAModel, color.NRGBAModel:
		bpp, format = 4, "8-bit colour PNG"
	case color.RGBA64Model, color.NRGBA64Model:
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bpp, format = 1, "palette PNG"
		}
	}
	need := bpp * px
	if info.pngInterlaced {
		need *= 2
	}
	rows := 2 * (8*int64(cfg.Width) + 1)
	return need + rows, format
}

// jpegFrame is what a JPEG's frame header and the segments around it say
// about the memory image/jpeg needs to decode it.
type jpegFrame struct {
	seen        bool
	progressive bool
	comps       []jpegComp
	// jfif and adobeRGB decide, as in image/jpeg, whether three components
	// are RGB, which costs a conversion to *image.RGBA.
	jfif, notJFIF bool
	adobeRGB      bool
}

type jpegComp struct {
	id   byte
	h, v int
}

// jpegCost follows image/jpeg: the decoded planes are padded to whole MCUs;
// a progressive image also keeps every component's coefficients (an int32
// per sample) until the last scan; four components are combined into a
// CMYK copy, and RGB ones converted into an RGBA copy. Without a frame
// header the worst case is assumed: the decoder would fail on such a file
// anyway, but the budget must not trust that.
func jpegCost(f jpegFrame, w, h int64) (int64, string) {
	if !f.seen || len(f.comps) == 0 {
		return 24 * w * h, "JPEG"
	}
	hmax, vmax := 1, 1
	for _, c := range f.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	mw, mh := int64(8*hmax), int64(8*vmax)
	padded := ((w + mw - 1) / mw * mw) * ((h + mh - 1) / mh * mh)
	var samples int64
	for _, c := range f.comps {
		samples += padded * int64(c.h*c.v) / int64(hmax*vmax)
	}
	need, format := samples, "JPEG"
	if f.progressive {
		need += 4 * samples
		format = "progressive JPEG"
	}
	switch {
	case len(f.comps) == 4:
		need += 4 * w * h
		format = "CMYK " + format
	case f.rgb():
		need += 4 * w * h
		format = "RGB " + format
	}
	return need, format
}

// webpCost follows x/image/webp: a lossy image is YCbCr 4:2:0 padded to
// 16-pixel macroblocks, with its compressed partitions copied into memory;
// alpha takes a plane, decoded (when compressed) through a lossless image;
// a lossless image is four bytes a pixel, and once more for the colour
// indexing transform.
func webpCost(cfg image.Config, w, h, fileSize int64) (int64, string) {
	mb := ((w + 15) / 16 * 16) * ((h + 15) / 16 * 16)
	perMB := mb / 16 // filter parameters and state, a few bytes a macroblock
	switch cfg.ColorModel {
	case color.YCbCrModel:
		return mb*3/2 + perMB + fileSize, "WebP"
	case color.NYCbCrAModel:
		return mb*3/2 + perMB + w*h + 8*w*h + fileSize, "WebP with alpha"
	}
	return 8*w*h + fileSize, "lossless WebP"
}

// shrunkSize is the size of the box-filtered copy that the large variant is
// scaled from: the source divided by the largest whole factor that keeps it
// at least lw×lh, so that the Catmull-Rom filter works on at most twice the
// variant's size.
func shrunkSize(w, h, lw, lh int) (int, int) {
	k := shrinkFactor(w, h, lw, lh)
	return (w + k - 1) / k, (h + k - 1) / k
}

// streamsPNG tells whether makeVariants shrinks a PNG while decoding it
// (see shrinkPNG) rather than decoding it whole first.
func streamsPNG(cfg image.Config, info headerInfo) bool {
	lw, lh := fit(cfg.Width, cfg.Height, largeBox)
	return info.pngStreamable && shrinkFactor(cfg.Width, cfg.Height, lw, lh) > 1
}

func shrinkFactor(w, h, lw, lh int) int {
	return max(1, min(w/lw, h/lh))
}

// scanJPEGFrame walks the segments of a JPEG, through the entropy-coded
// data, and collects what decides its decoding memory. image/jpeg reads
// APP0 and APP14 segments wherever they are, even between scans, and they
// can turn a YCbCr image into an RGB one that needs a converted copy, so
// the walk goes on to the end unless the answer is settled.
func scanJPEGFrame(r *bufio.Reader) (jpegFrame, error) {
	var f jpegFrame
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return f, err
	}
	for {
		if err := skipToFF(r); err != nil {
			return f, err
		}
		m, err := readJPEGMarker(r)
		if err != nil {
			return f, err
		}
		switch {
		case m == 0xD9:
			return f, nil
		case m == 0x00 || !jpegHasLength(m):
			// Stuffed 0xFF in entropy-coded data, restart and standalone markers.
			continue
		}
		n, err := readJPEGLength(r)
		if err != nil {
			return f, err
		}
		switch {
		case m == 0xDA && f.seen && (len(f.comps) != 3 || f.rgb()):
			return f, nil
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC, m == 0xE0, m == 0xEE:
			p := make([]byte, n)
			if _, err := io.ReadFull(r, p); err != nil {
				return f, err
			}
			f.add(m, p)
		default:
			if _, err := r.Discard(n); err != nil {
				return f, err
			}
		}
	}
}

// skipToFF skips entropy-coded data up to the next 0xFF, a buffer at a
// time rather than a byte at a time.
func skipToFF(r *bufio.Reader) error {
	for {
		buf, err := r.Peek(max(1, r.Buffered()))
		if len(buf) == 0 {
			return err
		}
		if i := bytes.IndexByte(buf, 0xFF); i >= 0 {
			_, err := r.Discard(i)
			return err
		}
		if _, err := r.Discard(len(buf)); err != nil {
			return err
		}
	}
}

// add records one segment. As in image/jpeg, the first frame header counts,
// and the last APP0 decides JFIF; but an APP14 that says RGB counts
// wherever it is, and one APP0 that is not JFIF is enough to count the
// conversion, since the estimate must not be below what the decoder does.
func (f *jpegFrame) add(m byte, p []byte) {
	switch {
	case m == 0xE0:
		if len(p) >= 5 {
			isJFIF := string(p[:5]) == "JFIF\x00"
			f.notJFIF = f.notJFIF || !isJFIF
			f.jfif = isJFIF && !f.notJFIF
		}
	case m == 0xEE:
		if len(p) >= 12 && string(p[:5]) == "Adobe" && p[11] == 0 {
			f.adobeRGB = true
		}
	case !f.seen && len(p) >= 6:
		n := int(p[5])
		if n < 1 || n > 4 || len(p) < 6+3*n {
			return
		}
		f.seen = true
		f.progressive = m == 0xC2
		for i := 0; i < n; i++ {
			c := p[6+3*i:]
			f.comps = append(f.comps, jpegComp{id: c[0], h: max(1, int(c[1]>>4)), v: max(1, int(c[1]&15))})
		}
	}
}

// rgb tells whether image/jpeg takes three components for RGB.
func (f *jpegFrame) rgb() bool {
	return len(f.comps) == 3 && !f.jfif && (f.adobeRGB || f.comps[0].id == 'R' && f.comps[1].id == 'G' && f.comps[2].id == 'B')
}
