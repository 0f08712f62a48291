package media

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"image"
	"io"
)

// pngStreamable tells from its IHDR whether a PNG can be shrunk while it is
// decoded, row by row, instead of being decoded whole: 8- or 16-bit grey,
// grey with alpha, RGB or RGBA, not interlaced, and (checked by scanPNG)
// without tRNS or PLTE chunks. Those are the kinds large photos come in;
// the rest are decoded whole by image/png.
func pngStreamable(depth, colorType, interlace byte) bool {
	return (depth == 8 || depth == 16) && interlace == 0 &&
		(colorType == 0 || colorType == 2 || colorType == 4 || colorType == 6)
}

// shrinkPNG decodes a PNG that pngStreamable accepts and returns it divided
// by k on white, exactly as shrinkOnWhite(png.Decode(r), k) would, while
// holding only two rows of the full-size image. It checks what image/png
// checks (chunk order, checksums, the amount of pixel data), so that a file
// is refused here only if image/png would refuse it too.
func shrinkPNG(r io.Reader, k int) (_ *image.RGBA, size image.Point, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	sig := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(br, sig); err != nil {
		return nil, size, truncated(err)
	}
	if string(sig) != string(pngSignature) {
		return nil, size, corrupt("png: bad signature")
	}
	c := &pngChunkReader{r: br, crc: crc32.NewIEEE()}
	var (
		w, h               int
		depth, ct          byte
		out                *image.RGBA
		seenIHDR, seenIDAT bool
		chunkLen           uint32
		typ                string
		errOrder           = corrupt("png: chunk out of order")
		errNotStreamable   = corrupt("png: chunk changed since the header was read")
		ihdr               [13]byte
	)
	for {
		if chunkLen, typ, err = c.next(); err != nil {
			return nil, size, truncated(err)
		}
		switch {
		case typ == "IHDR":
			if seenIHDR {
				return nil, size, errOrder
			}
			seenIHDR = true
			if chunkLen != 13 {
				return nil, size, corrupt("png: bad IHDR length")
			}
			if err := c.read(ihdr[:]); err != nil {
				return nil, size, err
			}
			w, h = int(int32(binary.BigEndian.Uint32(ihdr[0:4]))), int(int32(binary.BigEndian.Uint32(ihdr[4:8])))
			depth, ct = ihdr[8], ihdr[9]
			if w <= 0 || h <= 0 || ihdr[10] != 0 || ihdr[11] != 0 || !pngStreamable(depth, ct, ihdr[12]) {
				return nil, size, errNotStreamable
			}
			if err := c.verify(); err != nil {
				return nil, size, err
			}
			continue
		case !seenIHDR:
			return nil, size, errOrder
		case typ == "PLTE" || typ == "tRNS":
			return nil, size, errNotStreamable
		case typ == "IDAT" && !seenIDAT:
			seenIDAT = true
			if out, err = shrinkRows(&idatReader{c: c, left: chunkLen}, w, h, depth, ct, k); err != nil {
				return nil, size, err
			}
			if err := c.verify(); err != nil { // of the last IDAT chunk
				return nil, size, err
			}
			continue
		case typ == "IEND":
			if !seenIDAT {
				return nil, size, errOrder
			}
			if chunkLen != 0 {
				return nil, size, corrupt("png: bad IEND length")
			}
			if err := c.verify(); err != nil {
				return nil, size, err
			}
			return out, image.Pt(w, h), nil
		}
		// Ancillary chunks, and IDAT chunks after the image data, which
		// image/png ignores too.
		if chunkLen > 0x7fffffff {
			return nil, size, corrupt("png: bad chunk length")
		}
		if err := c.skip(int64(chunkLen)); err != nil {
			return nil, size, err
		}
	}
}

// pngChunkReader reads chunks and keeps the running checksum of the current one.
type pngChunkReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	hdr [8]byte
}

func (c *pngChunkReader) next() (uint32, string, error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		return 0, "", err
	}
	c.crc.Reset()
	c.crc.Write(c.hdr[4:8])
	return binary.BigEndian.Uint32(c.hdr[:4]), string(c.hdr[4:8]), nil
}

func (c *pngChunkReader) read(p []byte) error {
	if _, err := io.ReadFull(c.r, p); err != nil {
		return truncated(err)
	}
	c.crc.Write(p)
	return nil
}

func (c *pngChunkReader) skip(n int64) error {
	if _, err := io.CopyN(c.crc, c.r, n); err != nil {
		return truncated(err)
	}
	return c.verify()
}

func (c *pngChunkReader) verify() error {
	var sum [4]byte
	if _, err := io.ReadFull(c.r, sum[:]); err != nil {
		return truncated(err)
	}
	if binary.BigEndian.Uint32(sum[:]) != c.crc.Sum32() {
		return corrupt("png: invalid checksum")
	}
	return nil
}

// idatReader reads the data of consecutive IDAT chunks, checking each
// chunk's checksum as it ends, as image/png does.
type idatReader struct {
	c    *pngChunkReader
	left uint32
}

func (d *idatReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for d.left == 0 {
		if err := d.c.verify(); err != nil {
			return 0, err
		}
		n, typ, err := d.c.next()
		if err != nil {
			return 0, truncated(err)
		}
		if typ != "IDAT" {
			return 0, corrupt("png: not enough pixel data")
		}
		d.left = n
	}
	if int(d.left) < 0 {
		return 0, corrupt("png: IDAT chunk length overflow")
	}
	n, err := d.c.r.Read(p[:min(len(p), int(d.left))])
	d.c.crc.Write(p[:n])
	d.left -= uint32(n)
	return n, err
}

// shrinkRows inflates and unfilters the rows one by one and adds each
// pixel, composited on white, into the sums of its k×k block.
func shrinkRows(idat *idatReader, w, h int, depth, ct byte, k int) (*image.RGBA, error) {
	zr, err := zlib.NewReader(idat)
	if err != nil {
		return nil, corrupt("png: %v", err)
	}
	defer zr.Close()
	channels := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[ct]
	bpp := channels * int(depth) / 8
	ow, oh := (w+k-1)/k, (h+k-1)/k
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	cr, pr := make([]byte, 1+w*bpp), make([]byte, 1+w*bpp)
	sum := make([]uint64, 3*ow)
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(zr, cr); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, corrupt("png: not enough pixel data")
			}
			return nil, corrupt("png: %v", err)
		}
		if err := unfilter(cr, pr, bpp); err != nil {
			return nil, err
		}
		addRow(sum, cr[1:], w, depth, ct, k)
		if (y+1)%k == 0 || y == h-1 {
			oy := y / k
			rows := y - oy*k + 1
			row := out.Pix[oy*out.Stride:]
			for ox := 0; ox < ow; ox++ {
				n := uint64((min((ox+1)*k, w) - ox*k) * rows)
				for c := 0; c < 3; c++ {
					row[4*ox+c] = uint8(((sum[3*ox+c] + n/2) / n) >> 8)
				}
				row[4*ox+3] = 0xff
			}
			clear(sum)
		}
		cr, pr = pr, cr
	}
	// As image/png: the zlib stream must end here, checksum included, with
	// no pixel data left over.
	var one [1]byte
	n := 0
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return nil, corrupt("png: no progress")
		}
		n, err = zr.Read(one[:])
	}
	if err != nil && err != io.EOF {
		return nil, corrupt("png: %v", err)
	}
	if n != 0 || idat.left != 0 {
		return nil, corrupt("png: too much pixel data")
	}
	return out, nil
}

// unfilter undoes the filter of the row cr (filter type first) against the
// previous row pr, which is all zeros before the first row.
func unfilter(cr, pr []byte, bpp int) error {
	cdat, pdat := cr[1:], pr[1:]
	switch cr[0] {
	case 0:
	case 1:
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2:
		for i, p := range pdat {
			cdat[i] += p
		}
	case 3:
		for i := 0; i < bpp; i++ {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4:
		for i := 0; i < bpp; i++ {
			cdat[i] += paeth(0, pdat[i], 0)
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += paeth(cdat[i-bpp], pdat[i], pdat[i-bpp])
		}
	default:
		return corrupt("png: bad filter type")
	}
	return nil
}

func paeth(a, b, c uint8) uint8 {
	pc := int(c)
	pa := int(b) - pc
	pb := int(a) - pc
	pc = absInt(pa + pb)
	pa = absInt(pa)
	pb = absInt(pb)
	if pa <= pb && pa <= pc {
		return a
	} else if pb <= pc {
		return b
	}
	return c
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// addRow adds one unfiltered row to the block sums, with the values that
// the image types image/png decodes into give through RGBA64At:
// premultiplied 16-bit colour, white added under what is transparent.
func addRow(sum []uint64, row []byte, w int, depth, ct byte, k int) {
	var px func(x int) (r, g, b, a uint64)
	switch {
	case ct == 0 && depth == 8: // *image.Gray
		px = func(x int) (uint64, uint64, uint64, uint64) {
			y := uint64(row[x]) * 0x101
			return y, y, y, 0xffff
		}
	case ct == 0: // *image.Gray16
		px = func(x int) (uint64, uint64, uint64, uint64) {
			y := uint64(row[2*x])<<8 | uint64(row[2*x+1])
			return y, y, y, 0xffff
		}
	case ct == 2 && depth == 8: // *image.RGBA, opaque
		px = func(x int) (uint64, uint64, uint64, uint64) {
			p := row[3*x:]
			return uint64(p[0]) * 0x101, uint64(p[1]) * 0x101, uint64(p[2]) * 0x101, 0xffff
		}
	case ct == 2: // *image.RGBA64, opaque
		px = func(x int) (uint64, uint64, uint64, uint64) {
			p := row[6*x:]
			return be16(p), be16(p[2:]), be16(p[4:]), 0xffff
		}
	case ct == 4 && depth == 8: // *image.NRGBA
		px = func(x int) (uint64, uint64, uint64, uint64) {
			y, a := uint64(row[2*x]), uint64(row[2*x+1])
			y = y * 0x101 * a / 0xff
			return y, y, y, a * 0x101
		}
	case ct == 4: // *image.NRGBA64
		px = func(x int) (uint64, uint64, uint64, uint64) {
			y, a := be16(row[4*x:]), be16(row[4*x+2:])
			y = y * a / 0xffff
			return y, y, y, a
		}
	case depth == 8: // *image.NRGBA
		px = func(x int) (uint64, uint64, uint64, uint64) {
			p := row[4*x:]
			a := uint64(p[3])
			return uint64(p[0]) * 0x101 * a / 0xff, uint64(p[1]) * 0x101 * a / 0xff, uint64(p[2]) * 0x101 * a / 0xff, a * 0x101
		}
	default: // *image.NRGBA64
		px = func(x int) (uint64, uint64, uint64, uint64) {
			p := row[8*x:]
			a := be16(p[6:])
			return be16(p) * a / 0xffff, be16(p[2:]) * a / 0xffff, be16(p[4:]) * a / 0xffff, a
		}
	}
	for x := 0; x < w; x++ {
		r, g, b, a := px(x)
		white := 0xffff - a
		i := 3 * (x / k)
		sum[i] += r + white
		sum[i+1] += g + white
		sum[i+2] += b + white
	}
}

func be16(p []byte) uint64 { return uint64(p[0])<<8 | uint64(p[1]) }
