package media

import (
	"image"
	"math"
)

// catmullRomSupport is the half-width of the Catmull-Rom kernel, the one
// x/image/draw.CatmullRom uses.
const catmullRomSupport = 2

func catmullRom(t float64) float64 {
	if t < 1 {
		return (1.5*t-2.5)*t*t + 1
	}
	return ((-0.5*t+2.5)*t-4)*t + 2
}

// taps are the weights of one destination column or row: source
// coordinates first, first+1, … with weights w, already normalised.
type taps struct {
	first int
	w     []float32
}

// kernelTaps computes the taps of every destination coordinate for scaling
// sn source pixels to dn, as x/image/draw's Kernel.Scale does: the kernel is
// widened by the scale when shrinking, so every source pixel counts.
func kernelTaps(dn, sn int) []taps {
	scale := float64(sn) / float64(dn)
	half, argScale := float64(catmullRomSupport), 1.0
	if scale > 1 {
		half *= scale
		argScale = 1 / scale
	}
	out := make([]taps, dn)
	for d := range out {
		center := (float64(d)+0.5)*scale - 0.5
		lo := max(0, int(math.Floor(center-half)))
		hi := min(sn, int(math.Ceil(center+half)))
		var ws []float64
		first, total := -1, 0.0
		for s := lo; s < hi; s++ {
			t := math.Abs((center - float64(s)) * argScale)
			if t >= catmullRomSupport {
				if first >= 0 {
					ws = append(ws, 0) // keep the taps contiguous
				}
				continue
			}
			if first < 0 {
				first = s
			}
			w := catmullRom(t)
			ws = append(ws, w)
			total += w
		}
		for len(ws) > 0 && ws[len(ws)-1] == 0 {
			ws = ws[:len(ws)-1]
		}
		if len(ws) == 0 { // not when shrinking; nearest pixel otherwise
			first, ws, total = min(sn-1, max(0, int(math.Round(center)))), []float64{1}, 1
		}
		t := taps{first: first, w: make([]float32, len(ws))}
		for i, w := range ws {
			t.w[i] = float32(w / total)
		}
		out[d] = t
	}
	return out
}

// maxTaps is the most source coordinates one destination coordinate uses.
func maxTaps(dn, sn int) int {
	scale := max(1, float64(sn)/float64(dn))
	return int(math.Ceil(2*catmullRomSupport*scale)) + 2
}

// resampleCost is what resample allocates besides its result: the taps,
// one source row and the ring of horizontally scaled rows, all as float32.
func resampleCost(sw, sh, dw, dh int) int64 {
	tx, ty := int64(maxTaps(dw, sw)), int64(maxTaps(dh, sh))
	return 4*(int64(dw)*tx+int64(dh)*ty) + 48*int64(dw+dh) + 12*int64(sw) + 12*ty*int64(dw)
}

// resample scales src to w×h with a Catmull-Rom filter on a white
// background. It is separable like x/image/draw's scaler but streams: the
// horizontal pass runs once per source row into a ring that holds only the
// rows the current destination row needs, instead of a buffer of every
// source row at the destination width, which for a large photo costs more
// than the photo itself.
func resample(src image.Image, w, h int) *image.RGBA {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	xs, ys := kernelTaps(w, sw), kernelTaps(h, sh)
	ringLen := 1
	for _, t := range ys {
		ringLen = max(ringLen, len(t.w))
	}
	ring := make([][]float32, ringLen)
	ringY := make([]int, ringLen)
	for i := range ring {
		ring[i] = make([]float32, 3*w)
		ringY[i] = -1
	}
	line := make([]float32, 3*sw)
	row := func(sy int) []float32 {
		slot := sy % ringLen
		if ringY[slot] == sy {
			return ring[slot]
		}
		readRowOnWhite(line, src, sb.Min.Y+sy)
		out := ring[slot]
		for dx, t := range xs {
			var r, g, b float32
			p := line[3*t.first:]
			for i, wt := range t.w {
				r += p[3*i] * wt
				g += p[3*i+1] * wt
				b += p[3*i+2] * wt
			}
			out[3*dx], out[3*dx+1], out[3*dx+2] = r, g, b
		}
		ringY[slot] = sy
		return out
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	acc := make([]float32, 3*w)
	for dy, t := range ys {
		clear(acc)
		for i, wt := range t.w {
			for j, v := range row(t.first + i) {
				acc[j] += v * wt
			}
		}
		pix := dst.Pix[dy*dst.Stride:]
		for dx := 0; dx < w; dx++ {
			pix[4*dx] = to8(acc[3*dx])
			pix[4*dx+1] = to8(acc[3*dx+1])
			pix[4*dx+2] = to8(acc[3*dx+2])
			pix[4*dx+3] = 0xff
		}
	}
	return dst
}

// to8 rounds a filtered value in 0..255 (which the filter's negative lobes
// can overshoot) to a byte.
func to8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// readRowOnWhite reads source row y as RGB in 0..255 composited on white.
func readRowOnWhite(line []float32, src image.Image, y int) {
	sb := src.Bounds()
	if m, ok := src.(*image.RGBA); ok {
		p := m.Pix[m.PixOffset(sb.Min.X, y):]
		for x := 0; x < sb.Dx(); x++ {
			white := float32(255 - p[4*x+3])
			line[3*x] = float32(p[4*x]) + white
			line[3*x+1] = float32(p[4*x+1]) + white
			line[3*x+2] = float32(p[4*x+2]) + white
		}
		return
	}
	s64, _ := src.(image.RGBA64Image)
	for x := 0; x < sb.Dx(); x++ {
		var r, g, b, a uint32
		if s64 != nil {
			c := s64.RGBA64At(sb.Min.X+x, y)
			r, g, b, a = uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
		} else {
			r, g, b, a = src.At(sb.Min.X+x, y).RGBA()
		}
		white := 0xffff - a
		line[3*x] = float32(r+white) / 257
		line[3*x+1] = float32(g+white) / 257
		line[3*x+2] = float32(b+white) / 257
	}
}
