package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"
)

// StripMetadata copies an image from r to w without its metadata, leaving
// the compressed pixels untouched. What is kept is chosen by allowing what
// rendering needs rather than by removing known metadata, so that a new
// metadata container cannot slip through: colour profiles, colour and
// transparency information and animation control stay; EXIF, XMP, IPTC,
// comments, text, timestamps and unknown extras go, as does anything after
// the image's end marker (where phones append previews and motion videos).
//
// Orientation is the one EXIF field kept, rewritten into a minimal EXIF
// block, so that the picture still shows upright.
//
// contentType is one of the types Sniff returns; any other gives
// ErrUnsupported. A file whose structure is damaged gives ErrCorrupt. On
// error, w may have received part of the output. A WebP is read twice when r
// is an io.Seeker, and is otherwise held in memory, because its header
// carries the total size of what follows.
func StripMetadata(w io.Writer, r io.Reader, contentType string) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	var err error
	switch contentType {
	case typeJPEG:
		err = stripJPEG(bw, bufio.NewReaderSize(r, 32<<10))
	case typePNG:
		err = stripPNG(bw, bufio.NewReaderSize(r, 32<<10))
	case typeGIF:
		err = stripGIF(bw, bufio.NewReaderSize(r, 32<<10))
	case typeWebP:
		err = stripWebP(bw, r)
	default:
		return ErrUnsupported
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// JPEG

var (
	iccPrefix   = []byte("ICC_PROFILE\x00")
	jfifPrefix  = []byte("JFIF\x00")
	adobePrefix = []byte("Adobe")
)

// readJPEGMarker returns the next marker code. Stray bytes before it are
// skipped, as libjpeg and Go's decoder do, and so are fill bytes (0xFF).
func readJPEGMarker(r *bufio.Reader) (byte, error) {
	b, err := r.ReadByte()
	for err == nil && b != 0xFF {
		b, err = r.ReadByte()
	}
	for err == nil && b == 0xFF {
		b, err = r.ReadByte()
	}
	return b, err
}

// jpegHasLength tells whether a marker is followed by a length and payload.
func jpegHasLength(m byte) bool {
	return m != 0x01 && (m < 0xD0 || m > 0xD9)
}

// readJPEGLength reads a segment length and returns the payload size.
func readJPEGLength(r *bufio.Reader) (int, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < 2 {
		return 0, corrupt("jpeg: segment length %d", n)
	}
	return n - 2, nil
}

// keepJPEGApp decides the fate of an APPn or COM segment. JFIF and Adobe
// segments change how colours are decoded, and ICC_PROFILE how they are
// shown; every other application segment is metadata or a by-product
// (EXIF, XMP, IPTC, MPF previews, maker data).
func keepJPEGApp(m byte, payload []byte) bool {
	switch m {
	case 0xE0:
		return bytes.HasPrefix(payload, jfifPrefix)
	case 0xE2:
		return bytes.HasPrefix(payload, iccPrefix)
	case 0xEE:
		return bytes.HasPrefix(payload, adobePrefix)
	}
	return false
}

func writeJPEGSegment(w *bufio.Writer, m byte, payload []byte) error {
	if len(payload) > 0xFFFF-2 {
		return corrupt("jpeg: segment too long")
	}
	w.Write([]byte{0xFF, m})
	w.Write(binary.BigEndian.AppendUint16(nil, uint16(len(payload)+2)))
	_, err := w.Write(payload)
	return err
}

func stripJPEG(w *bufio.Writer, r *bufio.Reader) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return truncated(err)
	}
	if soi != [2]byte{0xFF, 0xD8} {
		return corrupt("jpeg: missing SOI")
	}
	w.Write(soi[:])
	var (
		inHeader = true // before the first scan, where viewers look for EXIF
		sawEXIF  bool
		payload  = make([]byte, 0xFFFF)
		next     = -1 // marker already read by the entropy-data copier
	)
	for {
		var m byte
		if next >= 0 {
			m, next = byte(next), -1
		} else {
			var err error
			if m, err = readJPEGMarker(r); err != nil {
				return truncated(err)
			}
		}
		switch {
		case m == 0xD9:
			// The image ends here; anything after EOI is dropped.
			_, err := w.Write([]byte{0xFF, 0xD9})
			return err
		case m == 0xD8 || m == 0x00:
			return corrupt("jpeg: unexpected marker %#x", m)
		case !jpegHasLength(m):
			w.Write([]byte{0xFF, m})
			continue
		}
		n, err := readJPEGLength(r)
		if err != nil {
			return truncated(err)
		}
		if (m >= 0xE0 && m <= 0xEF) || m == 0xFE {
			p := payload[:n]
			if _, err := io.ReadFull(r, p); err != nil {
				return truncated(err)
			}
			if m == 0xE1 && inHeader && !sawEXIF && bytes.HasPrefix(p, exifPrefix) {
				sawEXIF = true
				if o := exifOrientation(p); o != 1 {
					if err := writeJPEGSegment(w, 0xE1, append(bytes.Clone(exifPrefix), minimalEXIF(o)...)); err != nil {
						return err
					}
				}
			}
			if keepJPEGApp(m, p) {
				if err := writeJPEGSegment(w, m, p); err != nil {
					return err
				}
			}
			continue
		}
		w.Write([]byte{0xFF, m})
		w.Write(binary.BigEndian.AppendUint16(nil, uint16(n+2)))
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return truncated(err)
		}
		if m == 0xDA {
			inHeader = false
			mk, err := copyEntropyData(w, r)
			if err != nil {
				return err
			}
			next = int(mk)
		}
	}
}

// copyEntropyData copies the compressed data of a scan, byte for byte, up
// to the next marker, which it returns. Within a scan 0xFF is followed only
// by a stuffed zero or a restart marker.
func copyEntropyData(w *bufio.Writer, r *bufio.Reader) (byte, error) {
	for {
		chunk, err := r.ReadSlice(0xFF)
		if err == bufio.ErrBufferFull {
			if _, err := w.Write(chunk); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, truncated(err)
		}
		if _, err := w.Write(chunk[:len(chunk)-1]); err != nil {
			return 0, err
		}
		b, err := r.ReadByte()
		for err == nil && b == 0xFF {
			b, err = r.ReadByte()
		}
		if err != nil {
			return 0, truncated(err)
		}
		if b == 0x00 || (b >= 0xD0 && b <= 0xD7) {
			w.Write([]byte{0xFF, b})
			continue
		}
		return b, nil
	}
}

// PNG

// pngKept lists the ancillary chunks that affect rendering (colour,
// transparency, pixel aspect, animation). Critical chunks are always kept
// since a decoder cannot do without them.
var pngKept = map[string]bool{
	"tRNS": true, "cHRM": true, "gAMA": true, "iCCP": true, "sBIT": true,
	"sRGB": true, "cICP": true, "mDCv": true, "cLLi": true, "bKGD": true,
	"hIST": true, "pHYs": true, "sPLT": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

func validPNGType(t []byte) bool {
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func writePNGChunk(w *bufio.Writer, typ string, data []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	w.Write(hdr[:])
	w.Write(data)
	_, err := w.Write(crc.Sum(nil))
	return err
}

func stripPNG(w *bufio.Writer, r *bufio.Reader) error {
	sig := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(r, sig); err != nil {
		return truncated(err)
	}
	if !bytes.Equal(sig, pngSignature) {
		return corrupt("png: bad signature")
	}
	w.Write(sig)
	sawEXIF := false
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return truncated(err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if n > math.MaxInt32 || !validPNGType(hdr[4:]) {
			return corrupt("png: bad chunk header")
		}
		switch {
		case typ == "eXIf" && !sawEXIF && n <= maxEXIF:
			sawEXIF = true
			data := make([]byte, n)
			if _, err := io.ReadFull(r, data); err != nil {
				return truncated(err)
			}
			if o := exifOrientation(data); o != 1 {
				if err := writePNGChunk(w, "eXIf", minimalEXIF(o)); err != nil {
					return err
				}
			}
			if _, err := r.Discard(4); err != nil {
				return truncated(err)
			}
		case hdr[4]&0x20 == 0 || pngKept[typ]:
			// Whole chunks are copied, so their CRCs stay valid.
			w.Write(hdr[:])
			if _, err := io.CopyN(w, r, n+4); err != nil {
				return truncated(err)
			}
		default:
			sawEXIF = sawEXIF || typ == "eXIf"
			if _, err := r.Discard(int(n + 4)); err != nil {
				return truncated(err)
			}
		}
		if typ == "IEND" {
			return nil
		}
	}
}

// GIF

func readSubBlocks(w *bufio.Writer, r *bufio.Reader, keep bool) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return truncated(err)
		}
		if keep {
			w.WriteByte(n)
		}
		if n == 0 {
			return nil
		}
		if keep {
			_, err = io.CopyN(w, r, int64(n))
		} else {
			_, err = r.Discard(int(n))
		}
		if err != nil {
			return truncated(err)
		}
	}
}

func colorTableSize(packed byte) int64 {
	if packed&0x80 == 0 {
		return 0
	}
	return 3 << (packed&7 + 1)
}

func stripGIF(w *bufio.Writer, r *bufio.Reader) error {
	var hdr [13]byte // signature and logical screen descriptor
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return truncated(err)
	}
	if s := string(hdr[:6]); s != "GIF87a" && s != "GIF89a" {
		return corrupt("gif: bad signature")
	}
	w.Write(hdr[:])
	if _, err := io.CopyN(w, r, colorTableSize(hdr[10])); err != nil {
		return truncated(err)
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return truncated(err)
		}
		switch b {
		case 0x2C: // image descriptor, local colour table, LZW data
			var d [10]byte
			if _, err := io.ReadFull(r, d[:9]); err != nil {
				return truncated(err)
			}
			w.WriteByte(b)
			w.Write(d[:9])
			if _, err := io.CopyN(w, r, colorTableSize(d[8])+1); err != nil {
				return truncated(err)
			}
			if err := readSubBlocks(w, r, true); err != nil {
				return err
			}
		case 0x21:
			label, err := r.ReadByte()
			if err != nil {
				return truncated(err)
			}
			if err := stripGIFExtension(w, r, label); err != nil {
				return err
			}
		case 0x3B:
			// Trailer: anything after it is dropped.
			_, err := w.Write([]byte{b})
			return err
		default:
			return corrupt("gif: unexpected block %#x", b)
		}
	}
}

// stripGIFExtension keeps graphic control (timing, transparency) and plain
// text extensions, which are part of the picture, and the looping
// application extensions; comments and other application extensions (XMP
// among them) are dropped.
func stripGIFExtension(w *bufio.Writer, r *bufio.Reader, label byte) error {
	switch label {
	case 0xF9, 0x01:
		w.Write([]byte{0x21, label})
		return readSubBlocks(w, r, true)
	case 0xFF:
		n, err := r.ReadByte()
		if err != nil {
			return truncated(err)
		}
		if n == 0 {
			return nil
		}
		id := make([]byte, n)
		if _, err := io.ReadFull(r, id); err != nil {
			return truncated(err)
		}
		if s := string(id); s == "NETSCAPE2.0" || s == "ANIMEXTS1.0" {
			w.Write([]byte{0x21, label, n})
			w.Write(id)
			return readSubBlocks(w, r, true)
		}
	}
	return readSubBlocks(w, r, false)
}

// WebP

// webpKept lists the RIFF chunks that carry the picture; EXIF and XMP
// chunks and unknown ones are dropped.
var webpKept = map[string]bool{
	"VP8X": true, "ICCP": true, "ANIM": true, "ANMF": true,
	"ALPH": true, "VP8 ": true, "VP8L": true,
}

// VP8X flag bits.
const (
	vp8xXMP  = 1 << 2
	vp8xEXIF = 1 << 3
)

type webpChunk struct {
	fourCC  string
	off     int64 // payload position in the input
	size    uint32
	payload []byte // set for chunks written from memory
}

func stripWebP(w *bufio.Writer, r io.Reader) error {
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		data, err := io.ReadAll(io.LimitReader(r, 8+math.MaxUint32))
		if err != nil {
			return err
		}
		rs = bytes.NewReader(data)
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return err
	}
	var hdr [12]byte
	if _, err := io.ReadFull(rs, hdr[:]); err != nil {
		return truncated(err)
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return corrupt("webp: bad header")
	}
	end := start + 8 + int64(binary.LittleEndian.Uint32(hdr[4:]))
	if end > size {
		return corrupt("webp: file is truncated")
	}

	var (
		chunks  []webpChunk
		vp8x    = -1
		sawEXIF bool
	)
	for pos := start + 12; pos+8 <= end; {
		var ch [8]byte
		if _, err := rs.Seek(pos, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.ReadFull(rs, ch[:]); err != nil {
			return truncated(err)
		}
		c := webpChunk{fourCC: string(ch[:4]), off: pos + 8, size: binary.LittleEndian.Uint32(ch[4:])}
		if c.off+int64(c.size) > end {
			return corrupt("webp: chunk %q overruns the file", c.fourCC)
		}
		switch {
		case c.fourCC == "VP8X":
			if vp8x >= 0 || c.size != 10 {
				return corrupt("webp: bad VP8X chunk")
			}
			c.payload = make([]byte, 10)
			if _, err := io.ReadFull(rs, c.payload); err != nil {
				return truncated(err)
			}
			vp8x = len(chunks)
			chunks = append(chunks, c)
		case c.fourCC == "EXIF" && !sawEXIF:
			sawEXIF = true
			if c.size > maxEXIF {
				break
			}
			data := make([]byte, c.size)
			if _, err := io.ReadFull(rs, data); err != nil {
				return truncated(err)
			}
			if o := exifOrientation(data); o != 1 {
				p := minimalEXIF(o)
				chunks = append(chunks, webpChunk{fourCC: "EXIF", size: uint32(len(p)), payload: p})
			}
		case webpKept[c.fourCC]:
			chunks = append(chunks, c)
		}
		pos = c.off + int64(c.size) + int64(c.size&1)
	}

	// Orientation can only be declared in the extended format, whose VP8X
	// header comes first; a file that carried EXIF otherwise was already out
	// of spec, and viewers ignore it.
	if vp8x != 0 {
		kept := chunks[:0]
		for _, c := range chunks {
			if c.fourCC != "EXIF" {
				kept = append(kept, c)
			}
		}
		chunks = kept
	}
	hasEXIF := false
	for _, c := range chunks {
		hasEXIF = hasEXIF || c.fourCC == "EXIF"
	}
	for i := range chunks {
		if chunks[i].fourCC == "VP8X" {
			flags := chunks[i].payload[0] &^ (vp8xXMP | vp8xEXIF)
			if hasEXIF {
				flags |= vp8xEXIF
			}
			chunks[i].payload[0] = flags
		}
	}

	total := int64(4)
	for _, c := range chunks {
		total += 8 + int64(c.size) + int64(c.size&1)
	}
	if total > math.MaxUint32 {
		return corrupt("webp: file too large")
	}
	w.WriteString("RIFF")
	w.Write(binary.LittleEndian.AppendUint32(nil, uint32(total)))
	w.WriteString("WEBP")
	for _, c := range chunks {
		w.WriteString(c.fourCC)
		w.Write(binary.LittleEndian.AppendUint32(nil, c.size))
		if c.payload != nil {
			w.Write(c.payload)
		} else {
			if _, err := rs.Seek(c.off, io.SeekStart); err != nil {
				return err
			}
			if _, err := io.CopyN(w, rs, int64(c.size)); err != nil {
				return truncated(err)
			}
		}
		if c.size&1 == 1 {
			if err := w.WriteByte(0); err != nil {
				return err
			}
		}
	}
	return nil
}
