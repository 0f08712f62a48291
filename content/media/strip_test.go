package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"testing"

	"golang.org/x/image/webp"
)

// secrets are byte strings from the test files that must not survive
// stripping.
func secrets() map[string][]byte {
	return map[string][]byte{
		"make":      []byte(testMake),
		"lens":      []byte(testLens),
		"date":      []byte(testTaken),
		"latitude":  rationalBytes(testLat),
		"longitude": rationalBytes(testLong),
		"xmp":       []byte(xmpNS),
		"xmp body":  []byte("xmpmeta"),
		"iptc":      []byte(testIPTC),
		"photoshop": []byte("Photoshop 3.0"),
		"comment":   []byte(testNote),
		"trailer":   []byte(jpegTrailer),
	}
}

func assertNoSecrets(t *testing.T, what string, b []byte) {
	t.Helper()
	for name, s := range secrets() {
		if bytes.Contains(b, s) {
			t.Errorf("%s still holds %s (%q)", what, name, s)
		}
	}
}

func strip(t *testing.T, b []byte, ct string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := StripMetadata(&out, bytes.NewReader(b), ct); err != nil {
		t.Fatalf("StripMetadata(%s): %v", ct, err)
	}
	return out.Bytes()
}

// jpegSegments lists the markers and payloads before the first scan.
func jpegSegments(t *testing.T, b []byte) (markers []byte, payloads [][]byte) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b[2:]))
	for {
		m, err := readJPEGMarker(r)
		if err != nil {
			t.Fatal(err)
		}
		n, err := readJPEGLength(r)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, n)
		io.ReadFull(r, p)
		markers = append(markers, m)
		payloads = append(payloads, p)
		if m == 0xDA {
			return
		}
	}
}

func TestStripJPEG(t *testing.T) {
	icc := testICC(150000) // needs three APP2 segments
	src := jpegWithMeta(t, quadrantImage(60, 40), 6, icc)
	// Fill bytes before a marker are legal and must not confuse the walk.
	src = bytes.Replace(src, []byte{0xFF, 0xFE}, []byte{0xFF, 0xFF, 0xFF, 0xFE}, 1)
	out := strip(t, src, "image/jpeg")
	assertNoSecrets(t, "stripped JPEG", out)

	markers, payloads := jpegSegments(t, out)
	for i, m := range markers {
		switch {
		case m == 0xE0 && bytes.HasPrefix(payloads[i], jfifPrefix):
		case m == 0xE1:
			if !bytes.Equal(payloads[i], append([]byte("Exif\x00\x00"), minimalEXIF(6)...)) {
				t.Errorf("APP1 is not the minimal orientation block: %q", payloads[i])
			}
		case m == 0xE2 && bytes.HasPrefix(payloads[i], iccPrefix):
		case m >= 0xE0 && m <= 0xEF, m == 0xFE:
			t.Errorf("segment %#x kept", m)
		}
	}
	if markers[0] != 0xE0 || markers[1] != 0xE1 {
		t.Errorf("JFIF must stay first and orientation take EXIF's place: %x", markers)
	}

	info, err := scanHeader(bufio.NewReader(bytes.NewReader(out)), "image/jpeg")
	if err != nil || !bytes.Equal(info.icc, icc) {
		t.Fatalf("colour profile not kept (%d bytes, %v)", len(info.icc), err)
	}
	tags, dirs := exifTags(t, out)
	if fmt.Sprint(tags["Orientation"]) != "6" {
		t.Errorf("orientation %v (tags %v)", tags["Orientation"], tags)
	}
	for _, f := range []string{"GPSLatitude", "Make", "Model", "DateTimeOriginal"} {
		if _, ok := tags[f]; ok {
			t.Errorf("%s survived", f)
		}
	}
	for _, d := range []string{"IFD0/GPSInfoIFD", "IFD0/ExifIFDP"} {
		if dirs[d] {
			t.Errorf("directory %s survived", d)
		}
	}

	// The scan data is untouched: both decode to the same pixels.
	a, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	assertSamePixels(t, a, b)
	if !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) {
		t.Error("output does not end at EOI")
	}
}

func TestStripJPEGUprightHasNoEXIF(t *testing.T) {
	out := strip(t, jpegWithMeta(t, quadrantImage(16, 16), 1, nil), "image/jpeg")
	markers, _ := jpegSegments(t, out)
	if bytes.IndexByte(markers, 0xE1) >= 0 {
		t.Errorf("upright photo got an EXIF block: %x", markers)
	}
}

func TestStripJPEGSegmentsAfterScan(t *testing.T) {
	// Progressive files carry tables between scans, and some tools put
	// metadata there too: the tables stay, the metadata goes, and EXIF found
	// there is not mistaken for the orientation viewers use.
	var buf bytes.Buffer
	jpeg.Encode(&buf, quadrantImage(16, 16), nil)
	enc := buf.Bytes()
	dht := bytes.Index(enc, []byte{0xFF, 0xC4})
	table := enc[dht : dht+2+int(binary.BigEndian.Uint16(enc[dht+2:]))]
	src := append([]byte(nil), enc[:len(enc)-2]...) // without EOI
	src = append(src, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), testEXIF(3)...))...)
	src = append(src, table...)
	src = append(src, 0xFF, 0xD9)
	out := strip(t, src, "image/jpeg")
	assertNoSecrets(t, "stripped JPEG", out)
	if bytes.Contains(out, []byte("Exif")) {
		t.Error("EXIF after the first scan was kept or turned into orientation")
	}
	if !bytes.Contains(out[len(out)-len(table)-2:], table) {
		t.Error("table segment between scans was lost")
	}
}

func assertSamePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v vs %v", a.Bounds(), b.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel %d,%d differs", x, y)
			}
		}
	}
}

// pngChunks lists chunk types and payloads.
func pngChunks(t *testing.T, b []byte) (types []string, data [][]byte) {
	t.Helper()
	if !bytes.HasPrefix(b, pngSignature) {
		t.Fatal("no PNG signature")
	}
	b = b[8:]
	for len(b) >= 12 {
		n := int(binary.BigEndian.Uint32(b))
		types = append(types, string(b[4:8]))
		data = append(data, b[8:8+n])
		b = b[12+n:]
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the last chunk", len(b))
	}
	return types, data
}

func TestStripPNG(t *testing.T) {
	icc := testICC(3000)
	src := pngWithMeta(t, halfTransparent(30, 20), 8, icc)
	out := strip(t, src, "image/png")
	assertNoSecrets(t, "stripped PNG", out)
	types, data := pngChunks(t, out)
	want := map[string]bool{"IHDR": true, "iCCP": true, "eXIf": true, "IDAT": true, "IEND": true}
	for i, typ := range types {
		if !want[typ] {
			t.Errorf("chunk %s kept", typ)
		}
		if typ == "eXIf" && !bytes.Equal(data[i], minimalEXIF(8)) {
			t.Errorf("eXIf is not the minimal orientation block")
		}
	}
	// Go's decoder checks every CRC.
	a, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("stripped PNG does not decode: %v", err)
	}
	assertSamePixels(t, a, b)
	info, _ := scanHeader(bufio.NewReader(bytes.NewReader(out)), "image/png")
	if !bytes.Equal(info.icc, icc) {
		t.Error("colour profile lost")
	}
}

func TestStripGIF(t *testing.T) {
	src := gifWithMeta(t)
	out := strip(t, src, "image/gif")
	assertNoSecrets(t, "stripped GIF", out)
	if !bytes.Contains(out, []byte("NETSCAPE2.0")) {
		t.Error("looping extension dropped")
	}
	a, err := gif.DecodeAll(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := gif.DecodeAll(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("stripped GIF does not decode: %v", err)
	}
	if len(b.Image) != 2 || b.LoopCount != a.LoopCount || b.Delay[1] != a.Delay[1] {
		t.Fatalf("animation changed: %d frames, loop %d", len(b.Image), b.LoopCount)
	}
	for i := range a.Image {
		assertSamePixels(t, a.Image[i], b.Image[i])
	}
}

func TestStripWebP(t *testing.T) {
	icc := testICC(301) // odd size: padding must be right
	src := webpWithMeta(5, 3, 6, icc)
	for name, r := range map[string]io.Reader{
		"seekable":     bytes.NewReader(src),
		"not seekable": struct{ io.Reader }{bytes.NewReader(src)},
	} {
		var buf bytes.Buffer
		if err := StripMetadata(&buf, r, "image/webp"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := buf.Bytes()
		assertNoSecrets(t, "stripped WebP", out)
		if got := binary.LittleEndian.Uint32(out[4:]); int(got) != len(out)-8 {
			t.Errorf("%s: RIFF size %d, file %d", name, got, len(out))
		}
		var fourCCs []string
		for p := 12; p+8 <= len(out); {
			n := int(binary.LittleEndian.Uint32(out[p+4:]))
			fourCC := string(out[p : p+4])
			fourCCs = append(fourCCs, fourCC)
			payload := out[p+8 : p+8+n]
			switch fourCC {
			case "VP8X":
				if payload[0]&vp8xXMP != 0 || payload[0]&vp8xEXIF == 0 || payload[0]&0x20 == 0 {
					t.Errorf("%s: VP8X flags %08b", name, payload[0])
				}
			case "EXIF":
				if !bytes.Equal(payload, minimalEXIF(6)) {
					t.Errorf("%s: EXIF is not the minimal orientation block", name)
				}
			case "ICCP":
				if !bytes.Equal(payload, icc) {
					t.Errorf("%s: colour profile changed", name)
				}
			}
			p += 8 + n + n&1
		}
		if got := []string{"VP8X", "ICCP", "VP8L", "EXIF"}; !equalStrings(fourCCs, got) {
			t.Errorf("%s: chunks %q, want %q", name, fourCCs, got)
		}
		img, err := webp.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: stripped WebP does not decode: %v", name, err)
		}
		if img.Bounds().Dx() != 5 || img.Bounds().Dy() != 3 {
			t.Errorf("%s: bounds %v", name, img.Bounds())
		}
	}
}

func TestStripWebPUprightClearsEXIFFlag(t *testing.T) {
	out := strip(t, webpWithMeta(2, 2, 1, testICC(128)), "image/webp")
	if out[20]&(vp8xEXIF|vp8xXMP) != 0 || bytes.Contains(out, []byte("EXIF")) {
		t.Errorf("EXIF left or still flagged: flags %08b", out[20])
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStripMetadataRefuses(t *testing.T) {
	var out bytes.Buffer
	if err := StripMetadata(&out, bytes.NewReader([]byte("hello")), "text/plain"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown type: %v", err)
	}
	samples := map[string][]byte{
		"image/jpeg": jpegWithMeta(t, quadrantImage(8, 8), 1, nil),
		"image/png":  pngWithMeta(t, quadrantImage(8, 8), 1, testICC(128)),
		"image/gif":  gifWithMeta(t),
		"image/webp": webpWithMeta(2, 2, 1, testICC(128)),
	}
	for ct, b := range samples {
		if err := StripMetadata(&out, bytes.NewReader([]byte("not an image at all")), ct); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: junk: %v", ct, err)
		}
		for _, n := range []int{0, 5, len(b) / 2} {
			if err := StripMetadata(&out, bytes.NewReader(b[:n]), ct); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s truncated to %d: %v", ct, n, err)
			}
		}
	}
}
