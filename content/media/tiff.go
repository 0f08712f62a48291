package media

import (
	"bytes"
	"encoding/binary"
)

// exifPrefix starts the EXIF block in a JPEG APP1 segment; WebP writers
// sometimes keep it in the EXIF chunk too.
var exifPrefix = []byte("Exif\x00\x00")

// TIFF tags this package reads and writes itself, because their handling
// must be exact: orientation decides how pixels are turned.
const (
	tagOrientation   = 0x0112
	tiffTypeShort    = 3
	tiffTypeRational = 5
)

// tiffBlock is a TIFF structure (the body of an EXIF block) with bounds
// checked accessors, so that hostile offsets cannot cause a panic.
type tiffBlock struct {
	b     []byte
	order binary.ByteOrder
	ifd0  uint32
}

func parseTIFF(b []byte) (tiffBlock, bool) {
	b = bytes.TrimPrefix(b, exifPrefix)
	if len(b) < 8 {
		return tiffBlock{}, false
	}
	var order binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return tiffBlock{}, false
	}
	if order.Uint16(b[2:]) != 42 {
		return tiffBlock{}, false
	}
	return tiffBlock{b: b, order: order, ifd0: order.Uint32(b[4:])}, true
}

// ifd returns the number of entries of the directory at off, or false when
// the directory does not fit in the block.
func (t tiffBlock) ifd(off uint32) (int, bool) {
	if uint64(off)+2 > uint64(len(t.b)) {
		return 0, false
	}
	n := int(t.order.Uint16(t.b[off:]))
	if uint64(off)+2+12*uint64(n) > uint64(len(t.b)) {
		return 0, false
	}
	return n, true
}

// entry returns field i of the directory at off; value is the position of
// its 4-byte value-or-offset field. The caller has checked the bounds with
// ifd.
func (t tiffBlock) entry(off uint32, i int) (tag, typ uint16, count uint32, value int) {
	p := int(off) + 2 + 12*i
	return t.order.Uint16(t.b[p:]), t.order.Uint16(t.b[p+2:]), t.order.Uint32(t.b[p+4:]), p + 8
}

// exifOrientation returns the Orientation tag (1 to 8) of an EXIF block, or
// 1 when it is absent or malformed. Only the SHORT form is accepted, as
// browsers do, so our idea of "upright" matches what a viewer shows.
func exifOrientation(b []byte) int {
	t, ok := parseTIFF(b)
	if !ok {
		return 1
	}
	n, ok := t.ifd(t.ifd0)
	if !ok {
		return 1
	}
	for i := 0; i < n; i++ {
		tag, typ, count, value := t.entry(t.ifd0, i)
		if tag == tagOrientation && typ == tiffTypeShort && count >= 1 {
			if o := int(t.order.Uint16(t.b[value:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// minimalEXIF returns a TIFF block holding the Orientation tag, so a viewer
// shows the picture upright, plus the fields the EXIF standard requires in
// every file (72 dpi, centred chroma), which are fixed values that say
// nothing about where, when or with what the picture was taken.
func minimalEXIF(orientation int) []byte {
	be := binary.BigEndian
	b := make([]byte, 0, 90)
	b = append(b, 'M', 'M', 0, 42, 0, 0, 0, 8) // big endian, IFD0 at 8
	b = be.AppendUint16(b, 5)
	entry := func(tag, typ uint16, value uint32) {
		b = be.AppendUint16(b, tag)
		b = be.AppendUint16(b, typ)
		b = be.AppendUint32(b, 1)
		if typ == tiffTypeShort {
			b = be.AppendUint16(b, uint16(value))
			b = append(b, 0, 0)
		} else {
			b = be.AppendUint32(b, value)
		}
	}
	const rationals = 8 + 2 + 5*12 + 4 // where the two resolutions go
	entry(tagOrientation, tiffTypeShort, uint32(orientation))
	entry(0x011A, tiffTypeRational, rationals)   // XResolution
	entry(0x011B, tiffTypeRational, rationals+8) // YResolution
	entry(0x0128, tiffTypeShort, 2)              // ResolutionUnit: inches
	entry(0x0213, tiffTypeShort, 1)              // YCbCrPositioning: centred
	b = append(b, 0, 0, 0, 0)                    // no next IFD
	for range 2 {
		b = be.AppendUint32(b, 72)
		b = be.AppendUint32(b, 1)
	}
	return b
}
