package media

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/rwcarlsen/goexif/exif"
	"github.com/rwcarlsen/goexif/tiff"
)

// Metadata is what the owner (or a guest whose link has show_metadata) may
// see about a photo. Absent values are nil or empty.
type Metadata struct {
	// TakenAt is when the picture was taken. EXIF stores a wall-clock time;
	// without an offset tag it is given in UTC with the same clock reading.
	TakenAt *time.Time
	// Camera is the make and model, e.g. "Canon EOS 5D".
	Camera string
	// Lens is the lens model when the camera records it.
	Lens string
	// Latitude and Longitude are in decimal degrees, south and west negative.
	Latitude, Longitude *float64
	// Orientation is the EXIF orientation, 1 (upright) to 8; it is 1 when
	// the file has none.
	Orientation int
}

const (
	// maxICC is the largest colour profile that fits in the APP2 segments
	// of a JPEG; larger ones are not carried into variants.
	maxICC = 255 * iccChunk
	// maxEXIF bounds the EXIF block read from PNG and WebP files, where the
	// format sets no limit of its own (a JPEG's is 64 KiB).
	maxEXIF = 1 << 20
)

// headerInfo is what a photo's header holds that survives into its
// variants: the EXIF block (a TIFF structure, without the "Exif" prefix) for
// orientation and owner-visible metadata, and the colour profile.
type headerInfo struct {
	exif []byte
	icc  []byte
	// pngInterlaced and pngStreamable tell how much memory decoding takes;
	// see decodeCost and shrinkPNG.
	pngInterlaced, pngStreamable bool
}

// ReadMetadata reads the EXIF metadata of a JPEG, PNG or WebP image. The
// format is sniffed from the bytes. A file without metadata, or with
// metadata too damaged to read, gives an empty Metadata and no error; bytes
// that are not a supported image give ErrUnsupported.
func ReadMetadata(r io.Reader) (Metadata, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Metadata{}, err
	}
	ct, err := Sniff(head)
	if err != nil {
		return Metadata{}, err
	}
	info, err := scanHeader(br, ct)
	if err != nil {
		return Metadata{}, err
	}
	return metadataFromEXIF(info.exif), nil
}

// scanHeader collects the EXIF block and colour profile of an image. It is
// lenient: a damaged or truncated structure ends the scan with what was
// found so far, because decoding, not this scan, decides whether the image
// is usable. Only read errors other than end of input are returned.
func scanHeader(r *bufio.Reader, contentType string) (headerInfo, error) {
	var (
		info headerInfo
		err  error
	)
	switch contentType {
	case typeJPEG:
		err = scanJPEG(r, &info)
	case typePNG:
		err = scanPNG(r, &info)
	case typeWebP:
		err = scanWebP(r, &info)
	case typeGIF:
		// GIF has no EXIF, and colour profiles in GIF are too rare to carry.
	default:
		return info, ErrUnsupported
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrCorrupt) {
		return info, err
	}
	return info, nil
}

func scanJPEG(r *bufio.Reader, info *headerInfo) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil {
		return err
	}
	if soi != [2]byte{0xFF, 0xD8} {
		return corrupt("jpeg: missing SOI")
	}
	var icc iccCollector
	defer func() { info.icc = icc.profile() }()
	for {
		m, err := readJPEGMarker(r)
		if err != nil {
			return err
		}
		if !jpegHasLength(m) {
			if m == 0xD8 || m == 0xD9 {
				return nil
			}
			continue
		}
		n, err := readJPEGLength(r)
		if err != nil {
			return err
		}
		switch m {
		case 0xDA:
			// Viewers take metadata from before the first scan only.
			return nil
		case 0xE1, 0xE2:
			payload := make([]byte, n)
			if _, err := io.ReadFull(r, payload); err != nil {
				return err
			}
			if m == 0xE1 && info.exif == nil && bytes.HasPrefix(payload, exifPrefix) {
				info.exif = payload[len(exifPrefix):]
			}
			if m == 0xE2 {
				icc.add(payload)
			}
		default:
			if _, err := r.Discard(n); err != nil {
				return err
			}
		}
	}
}

// iccCollector reassembles a profile split over numbered APP2 segments;
// an incomplete or inconsistent set is dropped rather than guessed at.
type iccCollector struct {
	count  int
	chunks map[int][]byte
	bad    bool
}

func (c *iccCollector) add(payload []byte) {
	if !bytes.HasPrefix(payload, iccPrefix) || len(payload) < len(iccPrefix)+2 {
		return
	}
	seq, count := int(payload[len(iccPrefix)]), int(payload[len(iccPrefix)+1])
	if c.chunks == nil {
		c.chunks = map[int][]byte{}
		c.count = count
	}
	if count != c.count || seq < 1 || seq > count || c.chunks[seq] != nil {
		c.bad = true
		return
	}
	c.chunks[seq] = payload[len(iccPrefix)+2:]
}

func (c *iccCollector) profile() []byte {
	if c.bad || c.count == 0 || len(c.chunks) != c.count {
		return nil
	}
	var p []byte
	for i := 1; i <= c.count; i++ {
		p = append(p, c.chunks[i]...)
	}
	return p
}

func scanPNG(r *bufio.Reader, info *headerInfo) error {
	sig := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(r, sig); err != nil {
		return err
	}
	if !bytes.Equal(sig, pngSignature) {
		return corrupt("png: bad signature")
	}
	var (
		hdr [8]byte
		// Only the first EXIF block counts, as in StripMetadata, so that the
		// orientation applied here is the one the clean copy keeps.
		sawEXIF, sawICC bool
	)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		if n > math.MaxInt32 {
			return corrupt("png: chunk too long")
		}
		typ := string(hdr[4:])
		wanted := typ == "eXIf" && !sawEXIF || typ == "iCCP" && !sawICC
		sawEXIF = sawEXIF || typ == "eXIf"
		sawICC = sawICC || typ == "iCCP"
		switch {
		case typ == "IEND":
			return nil
		case typ == "IHDR" && n == 13:
			var ihdr [13 + 4]byte
			if _, err := io.ReadFull(r, ihdr[:]); err != nil {
				return err
			}
			info.pngInterlaced = ihdr[12] != 0
			info.pngStreamable = pngStreamable(ihdr[8], ihdr[9], ihdr[12])
			continue
		case typ == "PLTE" || typ == "tRNS":
			info.pngStreamable = false
		case wanted && n <= readLimit(typ):
			payload := make([]byte, n)
			if _, err := io.ReadFull(r, payload); err != nil {
				return err
			}
			if typ == "eXIf" {
				info.exif = bytes.TrimPrefix(payload, exifPrefix)
			} else {
				info.icc = inflateICCP(payload)
			}
			n = 0
		}
		if _, err := r.Discard(int(n) + 4); err != nil { // data and CRC
			return err
		}
	}
}

// readLimit is the largest EXIF or ICC chunk read into memory; StripMetadata
// uses the same EXIF limit, so both agree on which block holds the
// orientation.
func readLimit(typ string) int64 {
	if typ == "eXIf" || typ == "EXIF" {
		return maxEXIF
	}
	return maxICC
}

// inflateICCP decompresses an iCCP chunk (name, NUL, method 0, zlib data),
// refusing to inflate past maxICC so a zip bomb costs nothing.
func inflateICCP(payload []byte) []byte {
	i := bytes.IndexByte(payload, 0)
	if i < 1 || i > 79 || i+2 > len(payload) || payload[i+1] != 0 {
		return nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(payload[i+2:]))
	if err != nil {
		return nil
	}
	defer zr.Close()
	icc, err := io.ReadAll(io.LimitReader(zr, maxICC+1))
	if err != nil || len(icc) > maxICC {
		return nil
	}
	return icc
}

func scanWebP(r *bufio.Reader, info *headerInfo) error {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	if string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WEBP" {
		return corrupt("webp: bad header")
	}
	left := int64(binary.LittleEndian.Uint32(hdr[4:])) - 4
	var (
		ch              [8]byte
		sawEXIF, sawICC bool
		// Only the extended format may carry EXIF; StripMetadata drops it
		// from simple files, so it must not turn their variants either.
		extended, first = false, true
	)
	for left >= 8 {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		padded := n + n&1
		left -= 8 + padded
		typ := string(ch[:4])
		if first {
			extended, first = typ == "VP8X", false
		}
		wanted := typ == "EXIF" && !sawEXIF && extended || typ == "ICCP" && !sawICC
		sawEXIF = sawEXIF || typ == "EXIF"
		sawICC = sawICC || typ == "ICCP"
		if wanted && n <= readLimit(typ) {
			payload := make([]byte, n)
			if _, err := io.ReadFull(r, payload); err != nil {
				return err
			}
			if typ == "EXIF" {
				info.exif = bytes.TrimPrefix(payload, exifPrefix)
			} else {
				info.icc = payload
			}
			padded -= n
		}
		if _, err := r.Discard(int(padded)); err != nil {
			return err
		}
	}
	return nil
}

// metadataFromEXIF reads the owner-visible fields of an EXIF block with
// goexif. Orientation comes from this package's own reader, so that the
// value shown agrees with the way the variants were turned.
func metadataFromEXIF(block []byte) (md Metadata) {
	md.Orientation = exifOrientation(block)
	if len(block) == 0 || !safeForGoexif(block) {
		return md
	}
	defer func() {
		// goexif is not hardened against hostile input; a panic in it must
		// cost the owner their metadata, not the server an upload.
		if recover() != nil {
			md = Metadata{Orientation: md.Orientation}
		}
	}()
	// goexif returns what it could read together with an error when one
	// sub-directory is damaged; the readable part is still worth showing.
	x, _ := exif.Decode(bytes.NewReader(block))
	if x == nil {
		return md
	}
	str := func(name exif.FieldName) string {
		tag, err := x.Get(name)
		if err != nil {
			return ""
		}
		s, err := tag.StringVal()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(strings.Trim(s, "\x00"))
	}
	maker, model := str(exif.Make), str(exif.Model)
	switch {
	case maker == "" || strings.HasPrefix(strings.ToLower(model), strings.ToLower(maker)):
		md.Camera = model
	case model == "":
		md.Camera = maker
	default:
		md.Camera = maker + " " + model
	}
	md.Lens = str(exif.LensModel)

	loadOffsetTags(x)
	for _, f := range [][2]exif.FieldName{
		{exif.DateTimeOriginal, "OffsetTimeOriginal"},
		{exif.DateTimeDigitized, "OffsetTimeDigitized"},
		{exif.DateTime, "OffsetTime"},
	} {
		if t, ok := parseEXIFTime(str(f[0]), str(f[1])); ok {
			md.TakenAt = &t
			break
		}
	}

	if lat, long, err := x.LatLong(); err == nil && validCoord(lat, 90) && validCoord(long, 180) {
		md.Latitude, md.Longitude = &lat, &long
	}
	return md
}

// Offset tags (EXIF 2.31) are unknown to goexif; they live in the Exif
// sub-directory, which safeForGoexif has already vetted.
var offsetTags = map[uint16]exif.FieldName{
	0x9010: "OffsetTime",
	0x9011: "OffsetTimeOriginal",
	0x9012: "OffsetTimeDigitized",
}

func loadOffsetTags(x *exif.Exif) {
	tag, err := x.Get(exif.ExifIFDPointer)
	if err != nil {
		return
	}
	off, err := tag.Int64(0)
	if err != nil || off < 0 || off >= int64(len(x.Raw)) {
		return
	}
	r := bytes.NewReader(x.Raw)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return
	}
	if dir, _, err := tiff.DecodeDir(r, x.Tiff.Order); err == nil {
		x.LoadTags(dir, offsetTags, false)
	}
}

func parseEXIFTime(s, offset string) (time.Time, bool) {
	t, err := time.Parse("2006:01:02 15:04:05", s)
	if err != nil || t.Year() < 1800 {
		return time.Time{}, false
	}
	if o, err := time.Parse("-07:00", offset); err == nil {
		_, secs := o.Zone()
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", secs))
	}
	return t, true
}

func validCoord(v, limit float64) bool {
	return !math.IsNaN(v) && v >= -limit && v <= limit
}
