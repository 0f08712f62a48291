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

	"github.com/bep/imagemeta"
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

// Bounds on the EXIF reader, on top of the block's own size limit (64 KiB
// in a JPEG, maxEXIF elsewhere): at most exifTagLimit entries are looked at,
// and values longer than exifValueLimit bytes are skipped. The fields shown
// are short strings and a few rationals.
const (
	exifTagLimit   = 5000
	exifValueLimit = 1024
)

// The EXIF directories, as imagemeta names them, that the owner-visible
// fields are read from.
const (
	ifdMain = "IFD0"
	ifdExif = "IFD0/ExifIFDP"
	ifdGPS  = "IFD0/GPSInfoIFD"
)

// exifWanted maps each tag read to the directory it must come from, so that
// a tag number reused by another directory (the Interop IFD numbers its
// entries like the GPS one) is not taken for it.
var exifWanted = map[string]string{
	"Make":                ifdMain,
	"Model":               ifdMain,
	"ModifyDate":          ifdMain, // DateTime, 0x0132
	"DateTimeOriginal":    ifdExif,
	"CreateDate":          ifdExif, // DateTimeDigitized, 0x9004
	"OffsetTime":          ifdExif,
	"OffsetTimeOriginal":  ifdExif,
	"OffsetTimeDigitized": ifdExif,
	"LensModel":           ifdExif,
	"GPSLatitudeRef":      ifdGPS,
	"GPSLatitude":         ifdGPS,
	"GPSLongitudeRef":     ifdGPS,
	"GPSLongitude":        ifdGPS,
}

// metadataFromEXIF reads the owner-visible fields of an EXIF block (a TIFF
// structure) with imagemeta. Orientation comes from this package's own
// reader, so that the value shown agrees with the way the variants were
// turned. A damaged block gives what could be read before the damage.
func metadataFromEXIF(block []byte) (md Metadata) {
	md.Orientation = exifOrientation(block)
	if len(block) == 0 {
		return md
	}
	var (
		strs = map[string]string{}
		nums = map[string]float64{}
		// A value imagemeta could not convert comes with a warning and a
		// stand-in (0 for a coordinate); such a value is not shown.
		warnings, seen int
	)
	opts := imagemeta.Options{
		R:            bytes.NewReader(block),
		ImageFormat:  imagemeta.TIFF,
		Sources:      imagemeta.EXIF,
		LimitNumTags: exifTagLimit,
		LimitTagSize: exifValueLimit,
		Warnf:        func(string, ...any) { warnings++ },
		ShouldHandleTag: func(ti imagemeta.TagInfo) bool {
			seen = warnings
			return exifWanted[ti.Tag] == ti.Namespace
		},
		HandleTag: func(ti imagemeta.TagInfo) error {
			if warnings != seen {
				return nil
			}
			if _, dup := strs[ti.Tag]; dup {
				return nil
			}
			if _, dup := nums[ti.Tag]; dup {
				return nil
			}
			switch v := ti.Value.(type) {
			case string:
				strs[ti.Tag] = strings.TrimSpace(v)
			case float64:
				nums[ti.Tag] = v
			}
			return nil
		},
	}
	// An error means the block is damaged past some point; what was read
	// before it is still worth showing.
	_, _ = imagemeta.Decode(opts)

	maker, model := strs["Make"], strs["Model"]
	switch {
	case maker == "" || strings.HasPrefix(strings.ToLower(model), strings.ToLower(maker)):
		md.Camera = model
	case model == "":
		md.Camera = maker
	default:
		md.Camera = maker + " " + model
	}
	md.Lens = strs["LensModel"]
	for _, f := range [][2]string{
		{"DateTimeOriginal", "OffsetTimeOriginal"},
		{"CreateDate", "OffsetTimeDigitized"},
		{"ModifyDate", "OffsetTime"},
	} {
		if t, ok := parseEXIFTime(strs[f[0]], strs[f[1]]); ok {
			md.TakenAt = &t
			break
		}
	}
	lat, latOK := coordinate(nums, strs, "GPSLatitude", "N", "S", 90)
	long, longOK := coordinate(nums, strs, "GPSLongitude", "E", "W", 180)
	if latOK && longOK {
		md.Latitude, md.Longitude = &lat, &long
	}
	return md
}

// coordinate is a GPS latitude or longitude in decimal degrees, negative
// towards neg; it needs both the value and a reference of pos or neg.
func coordinate(nums map[string]float64, strs map[string]string, tag, pos, neg string, limit float64) (float64, bool) {
	v, ok := nums[tag]
	if !ok || !validCoord(v, limit) {
		return 0, false
	}
	switch strs[tag+"Ref"] {
	case pos:
		return v, true
	case neg:
		return -v, true
	}
	return 0, false
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
