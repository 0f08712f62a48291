package media

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"path/filepath"
	"sort"
	"testing"

	"github.com/bep/imagemeta"
)

// Values planted in the test files; none of them may reach a guest.
const (
	testMake  = "AcmeOptics"
	testModel = "AcmeOptics Roamer 7"
	testLens  = "Roamer 4.2mm f/1.8"
	testTaken = "2023:07:14 10:30:00"
	testXMP   = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.494N"/></rdf:RDF></x:xmpmeta>`
	xmpNS     = "http://ns.adobe.com/xap/1.0/"
	testIPTC  = "IPTC-SECRET-CAPTION"
	testNote  = "COMMENT-SECRET"
)

// The GPS position of the test files, as EXIF rationals: 48°51'29.64" N,
// 2°17'40.20" E.
var (
	testLat  = []uint32{48, 1, 51, 1, 2964, 100}
	testLong = []uint32{2, 1, 17, 1, 4020, 100}
)

type ifdEntry struct {
	tag   uint16
	typ   uint16
	count uint32
	data  []byte
}

func asciiEntry(tag uint16, s string) ifdEntry {
	d := append([]byte(s), 0)
	return ifdEntry{tag, 2, uint32(len(d)), d}
}

func shortEntry(tag, v uint16) ifdEntry {
	return ifdEntry{tag, 3, 1, binary.LittleEndian.AppendUint16(nil, v)}
}

func ratEntry(tag uint16, v ...uint32) ifdEntry {
	var d []byte
	for _, x := range v {
		d = binary.LittleEndian.AppendUint32(d, x)
	}
	return ifdEntry{tag, 5, uint32(len(v) / 2), d}
}

// rationalBytes is how testLat and testLong appear in the EXIF block.
func rationalBytes(v []uint32) []byte {
	return ratEntry(0, v...).data
}

// buildTIFF lays out a little-endian TIFF with IFD0 and, when given, the
// Exif and GPS sub-directories that IFD0 points to.
func buildTIFF(ifd0, exifIFD, gpsIFD []ifdEntry) []byte {
	size := func(es []ifdEntry) int {
		n := 2 + 12*len(es) + 4
		for _, e := range es {
			if len(e.data) > 4 {
				n += len(e.data) + len(e.data)&1
			}
		}
		return n
	}
	ifd0 = append([]ifdEntry(nil), ifd0...)
	if exifIFD != nil {
		ifd0 = append(ifd0, ifdEntry{0x8769, 4, 1, make([]byte, 4)})
	}
	if gpsIFD != nil {
		ifd0 = append(ifd0, ifdEntry{0x8825, 4, 1, make([]byte, 4)})
	}
	offExif := 8 + size(ifd0)
	offGPS := offExif + size(exifIFD)
	for i := range ifd0 {
		switch ifd0[i].tag {
		case 0x8769:
			ifd0[i].data = binary.LittleEndian.AppendUint32(nil, uint32(offExif))
		case 0x8825:
			ifd0[i].data = binary.LittleEndian.AppendUint32(nil, uint32(offGPS))
		}
	}
	out := []byte{'I', 'I', 42, 0, 8, 0, 0, 0}
	write := func(es []ifdEntry) {
		sort.Slice(es, func(i, j int) bool { return es[i].tag < es[j].tag })
		off := len(out)
		dataOff := off + 2 + 12*len(es) + 4
		var data []byte
		out = binary.LittleEndian.AppendUint16(out, uint16(len(es)))
		for _, e := range es {
			out = binary.LittleEndian.AppendUint16(out, e.tag)
			out = binary.LittleEndian.AppendUint16(out, e.typ)
			out = binary.LittleEndian.AppendUint32(out, e.count)
			if len(e.data) <= 4 {
				v := make([]byte, 4)
				copy(v, e.data)
				out = append(out, v...)
				continue
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(dataOff+len(data)))
			data = append(data, e.data...)
			if len(e.data)&1 == 1 {
				data = append(data, 0)
			}
		}
		out = append(out, 0, 0, 0, 0)
		out = append(out, data...)
	}
	write(ifd0)
	if exifIFD != nil {
		write(exifIFD)
	}
	if gpsIFD != nil {
		write(gpsIFD)
	}
	return out
}

// testEXIF returns an EXIF block (TIFF, without the "Exif" prefix) with a
// camera, a date, a lens and a GPS position.
func testEXIF(orientation uint16) []byte {
	return buildTIFF(
		[]ifdEntry{
			asciiEntry(0x010F, testMake),
			asciiEntry(0x0110, testModel),
			shortEntry(0x0112, orientation),
			asciiEntry(0x0132, "2024:01:01 00:00:00"),
		},
		[]ifdEntry{
			asciiEntry(0x9003, testTaken),
			asciiEntry(0x9011, "+02:00"),
			asciiEntry(0xA434, testLens),
		},
		[]ifdEntry{
			{0x0000, 1, 4, []byte{2, 3, 0, 0}},
			asciiEntry(0x0001, "N"),
			ratEntry(0x0002, testLat...),
			asciiEntry(0x0003, "E"),
			ratEntry(0x0004, testLong...),
		},
	)
}

// testICC returns an RGB display profile of n bytes (at least 128): a valid
// header followed by a recognisable pattern.
func testICC(n int) []byte {
	p := make([]byte, n)
	binary.BigEndian.PutUint32(p[0:], uint32(n))
	copy(p[4:], "test")
	copy(p[12:], "mntrRGB XYZ ")
	copy(p[36:], "acsp")
	for i := 128; i < n; i++ {
		p[i] = byte(i*7 + i/251)
	}
	copy(p[100:], "ICC-TEST-PROFILE")
	return p
}

func jpegSegment(m byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, m, byte(n >> 8), byte(n)}, payload...)
}

// quadrantImage is w×h blue with a red square in the top-left corner, so
// that a wrong turn shows up in any variant.
func quadrantImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/3 && y < h/3 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

const jpegTrailer = "TRAILER-SECRET-MOTION-PHOTO"

// jpegWithMeta encodes img and adds EXIF (with GPS and the given
// orientation), XMP, IPTC, a comment, the colour profile and data after EOI.
func jpegWithMeta(tb testing.TB, img image.Image, orientation uint16, icc []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		tb.Fatal(err)
	}
	enc := buf.Bytes()
	out := []byte{0xFF, 0xD8}
	out = append(out, jpegSegment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))...)
	out = append(out, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), testEXIF(orientation)...))...)
	out = append(out, jpegSegment(0xE1, append([]byte(xmpNS+"\x00"), testXMP...))...)
	if icc != nil {
		count := (len(icc) + iccChunk - 1) / iccChunk
		for i := 0; i < count; i++ {
			part := icc[i*iccChunk : min(len(icc), (i+1)*iccChunk)]
			p := append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(count))
			out = append(out, jpegSegment(0xE2, append(p, part...))...)
		}
	}
	iptc := append([]byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x17"), "\x1c\x02\x78\x00\x13"+testIPTC...)
	out = append(out, jpegSegment(0xED, iptc)...)
	out = append(out, jpegSegment(0xFE, []byte(testNote))...)
	out = append(out, enc[2:]...)
	return append(out, jpegTrailer...)
}

func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// halfTransparent is w×h, transparent on the left half and opaque green on
// the right, to check compositing onto white.
func halfTransparent(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := w / 2; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{0, 200, 0, 255})
		}
	}
	return img
}

// pngWithMeta encodes img and adds text chunks, EXIF, a timestamp, a private
// chunk and a colour profile.
func pngWithMeta(tb testing.TB, img image.Image, orientation uint16, icc []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	enc := buf.Bytes()
	ihdrEnd := 8 + 8 + 13 + 4
	out := append([]byte(nil), enc[:ihdrEnd]...)
	out = append(out, pngChunk("iCCP", append([]byte("test\x00\x00"), zlibBytes(icc)...))...)
	out = append(out, pngChunk("tEXt", []byte("Comment\x00"+testNote))...)
	out = append(out, pngChunk("zTXt", append([]byte("Author\x00\x00"), zlibBytes([]byte(testNote))...))...)
	out = append(out, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+testXMP))...)
	out = append(out, pngChunk("eXIf", testEXIF(orientation))...)
	out = append(out, pngChunk("tIME", []byte{0x07, 0xE7, 7, 14, 10, 30, 0})...)
	out = append(out, pngChunk("prVt", []byte(testIPTC))...)
	out = append(out, enc[ihdrEnd:]...)
	return append(out, jpegTrailer...)
}

// gifWithMeta encodes a two-frame looping GIF and adds a comment and an XMP
// application extension.
func gifWithMeta(tb testing.TB) []byte {
	tb.Helper()
	pal := color.Palette{color.Transparent, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.White}
	frame := func(c uint8) *image.Paletted {
		m := image.NewPaletted(image.Rect(0, 0, 12, 8), pal)
		for i := range m.Pix {
			m.Pix[i] = c
		}
		m.Pix[0] = 0
		return m
	}
	var buf bytes.Buffer
	g := &gif.GIF{Image: []*image.Paletted{frame(1), frame(2)}, Delay: []int{10, 10}, LoopCount: 0}
	if err := gif.EncodeAll(&buf, g); err != nil {
		tb.Fatal(err)
	}
	enc := buf.Bytes()
	at := 13 + int(colorTableSize(enc[10]))
	out := append([]byte(nil), enc[:at]...)
	out = append(out, 0x21, 0xFE, byte(len(testNote)))
	out = append(out, testNote...)
	out = append(out, 0)
	// XMP is stored raw, so it has to be split into sub-blocks here.
	out = append(out, 0x21, 0xFF, 11)
	out = append(out, "XMP DataXMP"...)
	xmp := []byte(xmpNS + testXMP)
	for len(xmp) > 0 {
		n := min(255, len(xmp))
		out = append(out, byte(n))
		out = append(out, xmp[:n]...)
		xmp = xmp[n:]
	}
	out = append(out, 0)
	out = append(out, enc[at:]...)
	return append(out, jpegTrailer...)
}

// vp8l encodes a w×h single-colour lossless WebP bitstream. Each of the five
// prefix codes has a single symbol, so no bits are spent per pixel.
func vp8l(w, h int, c color.NRGBA) []byte {
	var (
		out  []byte
		acc  uint64
		nacc uint
	)
	put := func(v uint64, bits uint) {
		acc |= v << nacc
		nacc += bits
		for nacc >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nacc -= 8
		}
	}
	put(0x2F, 8)
	put(uint64(w-1), 14)
	put(uint64(h-1), 14)
	put(0, 1) // alpha hint
	put(0, 3) // version
	put(0, 1) // no transform
	put(0, 1) // no colour cache
	put(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		put(1, 1) // simple code
		put(0, 1) // one symbol
		put(1, 1) // 8-bit symbol
		put(uint64(sym), 8)
	}
	if nacc > 0 {
		out = append(out, byte(acc))
	}
	return out
}

func riffChunk(fourCC string, data []byte) []byte {
	out := append([]byte(fourCC), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	out = append(out, data...)
	if len(data)&1 == 1 {
		out = append(out, 0)
	}
	return out
}

func riff(chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(body)))...)
	out = append(out, "WEBP"...)
	return append(out, body...)
}

var webpColor = color.NRGBA{10, 200, 30, 255}

// webpWithMeta builds an extended WebP (w×h, lossless) with a colour
// profile, EXIF, XMP and an unknown chunk.
func webpWithMeta(w, h int, orientation uint16, icc []byte) []byte {
	vp8x := make([]byte, 10)
	vp8x[0] = 0x20 | vp8xEXIF | vp8xXMP
	vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return append(riff(
		riffChunk("VP8X", vp8x),
		riffChunk("ICCP", icc),
		riffChunk("VP8L", vp8l(w, h, webpColor)),
		riffChunk("EXIF", testEXIF(orientation)),
		riffChunk("XMP ", []byte(testXMP)),
		riffChunk("ABCD", []byte(testIPTC)),
	), jpegTrailer...)
}

// storeFiles lists the regular files under a store's root.
func storeFiles(tb testing.TB, root string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

func newTestStore(tb testing.TB) (*FSStore, string) {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "store")
	st, err := NewFSStore(root)
	if err != nil {
		tb.Fatal(err)
	}
	return st, root
}

// exifTags reads every EXIF tag of a JPEG with imagemeta, as an independent
// reader: tag name to value, and the directories the tags were found in.
func exifTags(t *testing.T, jpegBytes []byte) (tags map[string]any, dirs map[string]bool) {
	t.Helper()
	tags, dirs = map[string]any{}, map[string]bool{}
	_, err := imagemeta.Decode(imagemeta.Options{
		R:               bytes.NewReader(jpegBytes),
		ImageFormat:     imagemeta.JPEG,
		Sources:         imagemeta.EXIF,
		ShouldHandleTag: func(imagemeta.TagInfo) bool { return true },
		HandleTag: func(ti imagemeta.TagInfo) error {
			tags[ti.Tag] = ti.Value
			dirs[ti.Namespace] = true
			return nil
		},
	})
	if err != nil {
		t.Fatalf("imagemeta: %v", err)
	}
	return tags, dirs
}
