package media

import (
	"image"
	"image/color"
	"image/jpeg"
	"io"

	xdraw "golang.org/x/image/draw"
)

// Variant box sizes and JPEG qualities.
const (
	thumbBox     = 400
	thumbQuality = 82
	largeBox     = 1600
	largeQuality = 85
)

// iccChunk is the most profile data one APP2 segment can hold: 65535 minus
// the length field (2) and the "ICC_PROFILE\0" header with its sequence
// number and count (14).
const iccChunk = 0xFFFF - 2 - 14

// fit returns the size of w×h scaled down to fit in a box×box square,
// keeping the aspect ratio; images that already fit are never enlarged.
func fit(w, h, box int) (int, int) {
	if w <= box && h <= box {
		return w, h
	}
	if w >= h {
		return box, max(1, int((int64(h)*int64(box)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(box)+int64(h)/2)/int64(h))), box
}

// resizeOnWhite scales src to w×h on a white background: JPEG has no alpha,
// and white is what a transparent photo shows on the site's pages.
func resizeOnWhite(src image.Image, w, h int) *image.RGBA {
	sb := src.Bounds()
	if sb.Dx() != w || sb.Dy() != h {
		return resample(src, w, h)
	}
	dst := whiteCanvas(image.Rect(0, 0, w, h))
	xdraw.Draw(dst, dst.Bounds(), src, sb.Min, xdraw.Over)
	return dst
}

// shrinkOnWhite divides src by k on a white background, averaging each k×k
// block (the blocks along the right and bottom edges may be smaller). It is
// the cheap first step of a large reduction, after which the Catmull-Rom
// filter needs k times fewer taps a pixel; a box average is as good an
// anti-aliasing filter as any at whole factors. shrinkPNG does the same
// while decoding.
func shrinkOnWhite(src image.Image, k int) *image.RGBA {
	sb := src.Bounds()
	w, h := sb.Dx(), sb.Dy()
	ow, oh := (w+k-1)/k, (h+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	s64, _ := src.(image.RGBA64Image)
	at := func(x, y int) color.RGBA64 {
		if s64 != nil {
			return s64.RGBA64At(x, y)
		}
		r, g, b, a := src.At(x, y).RGBA()
		return color.RGBA64{uint16(r), uint16(g), uint16(b), uint16(a)}
	}
	sum := make([]uint64, 3*ow)
	for oy := 0; oy < oh; oy++ {
		clear(sum)
		y0, y1 := sb.Min.Y+oy*k, min(sb.Min.Y+(oy+1)*k, sb.Max.Y)
		for y := y0; y < y1; y++ {
			for ox := 0; ox < ow; ox++ {
				x0, x1 := sb.Min.X+ox*k, min(sb.Min.X+(ox+1)*k, sb.Max.X)
				var r, g, b uint64
				for x := x0; x < x1; x++ {
					// Premultiplied, so white shows through by 1-alpha.
					c := at(x, y)
					white := uint64(0xffff - c.A)
					r += uint64(c.R) + white
					g += uint64(c.G) + white
					b += uint64(c.B) + white
				}
				sum[3*ox] += r
				sum[3*ox+1] += g
				sum[3*ox+2] += b
			}
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := 0; ox < ow; ox++ {
			n := uint64((min(sb.Min.X+(ox+1)*k, sb.Max.X) - (sb.Min.X + ox*k)) * (y1 - y0))
			for c := 0; c < 3; c++ {
				row[4*ox+c] = uint8(((sum[3*ox+c] + n/2) / n) >> 8)
			}
			row[4*ox+3] = 0xff
		}
	}
	return dst
}

// flattenOnWhite places a frame that covers only part of its picture (GIF
// allows this) on a white picture of the full size: the uncovered part is
// background, shown white as transparency is everywhere else.
func flattenOnWhite(frame image.Image, picture image.Rectangle) *image.RGBA {
	dst := whiteCanvas(picture)
	xdraw.Draw(dst, frame.Bounds(), frame, frame.Bounds().Min, xdraw.Over)
	return dst
}

func whiteCanvas(r image.Rectangle) *image.RGBA {
	dst := image.NewRGBA(r)
	xdraw.Draw(dst, r, image.White, image.Point{}, xdraw.Src)
	return dst
}

// orient turns pixels stored in EXIF orientation o into upright pixels.
// Variants carry no EXIF, so the turn has to be in the pixels themselves.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 2: // mirrored
				sx, sy = w-1-x, y
			case 3: // upside down
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored upside down
				sx, sy = x, h-1-y
			case 5: // mirrored, turned left
				sx, sy = y, x
			case 6: // stored turned left: turn right
				sx, sy = y, h-1-x
			case 7: // mirrored, turned right
				sx, sy = w-1-y, h-1-x
			case 8: // stored turned right: turn left
				sx, sy = w-1-y, x
			}
			si := src.PixOffset(src.Rect.Min.X+sx, src.Rect.Min.Y+sy)
			di := dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}

// iccSegments encodes a colour profile as the APP2 segments a JPEG carries
// it in. Only RGB display profiles are used: the variants are always
// encoded as RGB, and a CMYK or grey profile would misdescribe them.
func iccSegments(icc []byte) []byte {
	if len(icc) < 128 || len(icc) > maxICC || string(icc[36:40]) != "acsp" || string(icc[16:20]) != "RGB " {
		return nil
	}
	count := (len(icc) + iccChunk - 1) / iccChunk
	var out []byte
	for i := 0; i < count; i++ {
		part := icc[i*iccChunk : min(len(icc), (i+1)*iccChunk)]
		n := 2 + len(iccPrefix) + 2 + len(part)
		out = append(out, 0xFF, 0xE2, byte(n>>8), byte(n))
		out = append(out, iccPrefix...)
		out = append(out, byte(i+1), byte(count))
		out = append(out, part...)
	}
	return out
}

// afterSOI inserts segments right after the SOI marker of the JPEG stream
// written through it, since image/jpeg has no way to add segments.
type afterSOI struct {
	w      io.Writer
	insert []byte
	seen   int // bytes of SOI passed through so far
}

func (a *afterSOI) Write(p []byte) (int, error) {
	n := 0
	if a.seen < 2 {
		k := min(2-a.seen, len(p))
		if _, err := a.w.Write(p[:k]); err != nil {
			return 0, err
		}
		a.seen += k
		n = k
		if a.seen == 2 && len(a.insert) > 0 {
			if _, err := a.w.Write(a.insert); err != nil {
				return n, err
			}
		}
	}
	if n == len(p) {
		return n, nil
	}
	m, err := a.w.Write(p[n:])
	return n + m, err
}

func encodeJPEG(w io.Writer, img image.Image, quality int, icc []byte) error {
	return jpeg.Encode(&afterSOI{w: w, insert: iccSegments(icc)}, img, &jpeg.Options{Quality: quality})
}
