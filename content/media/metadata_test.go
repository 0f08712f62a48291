package media

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

func TestReadMetadataJPEG(t *testing.T) {
	md, err := ReadMetadata(bytes.NewReader(jpegWithMeta(t, quadrantImage(16, 16), 6, testICC(500))))
	if err != nil {
		t.Fatal(err)
	}
	assertTestMetadata(t, md, 6)
}

func TestReadMetadataPNGAndWebP(t *testing.T) {
	for name, b := range map[string][]byte{
		"png":  pngWithMeta(t, quadrantImage(8, 8), 8, testICC(128)),
		"webp": webpWithMeta(2, 2, 3, testICC(128)),
	} {
		md, err := ReadMetadata(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]int{"png": 8, "webp": 3}[name]
		assertTestMetadata(t, md, want)
	}
}

func assertTestMetadata(t *testing.T, md Metadata, orientation int) {
	t.Helper()
	if md.Orientation != orientation {
		t.Errorf("Orientation = %d, want %d", md.Orientation, orientation)
	}
	if md.Camera != testModel {
		t.Errorf("Camera = %q (make and model should not repeat)", md.Camera)
	}
	if md.Lens != testLens {
		t.Errorf("Lens = %q", md.Lens)
	}
	want := time.Date(2023, 7, 14, 10, 30, 0, 0, time.FixedZone("", 2*3600))
	if md.TakenAt == nil || !md.TakenAt.Equal(want) {
		t.Errorf("TakenAt = %v, want %v", md.TakenAt, want)
	}
	lat, long := 48+51.0/60+29.64/3600, 2+17.0/60+40.20/3600
	if md.Latitude == nil || md.Longitude == nil || math.Abs(*md.Latitude-lat) > 1e-9 || math.Abs(*md.Longitude-long) > 1e-9 {
		t.Errorf("position %v, %v", md.Latitude, md.Longitude)
	}
}

func TestReadMetadataAbsent(t *testing.T) {
	for name, b := range map[string][]byte{
		"stripped jpeg": stripped(t, jpegWithMeta(t, quadrantImage(8, 8), 1, nil), "image/jpeg"),
		"gif":           gifWithMeta(t),
		"webp simple":   riff(riffChunk("VP8L", vp8l(1, 1, webpColor))),
		"png":           stripped(t, pngWithMeta(t, quadrantImage(4, 4), 1, testICC(128)), "image/png"),
	} {
		md, err := ReadMetadata(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if md != (Metadata{Orientation: 1}) {
			t.Errorf("%s: %+v", name, md)
		}
	}
	if _, err := ReadMetadata(bytes.NewReader([]byte("just text"))); !errors.Is(err, ErrUnsupported) {
		t.Errorf("text: %v", err)
	}
}

func stripped(t *testing.T, b []byte, ct string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := StripMetadata(&out, bytes.NewReader(b), ct); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestExifOrientationBothByteOrders(t *testing.T) {
	for o := 1; o <= 8; o++ {
		if got := exifOrientation(minimalEXIF(o)); got != o {
			t.Errorf("big endian %d: got %d", o, got)
		}
		if got := exifOrientation(append([]byte("Exif\x00\x00"), testEXIF(uint16(o))...)); got != o {
			t.Errorf("little endian %d: got %d", o, got)
		}
	}
	for _, b := range [][]byte{nil, []byte("MM\x00*"), testEXIF(9), testEXIF(0), []byte("II*\x00\xff\xff\xff\xff")} {
		if got := exifOrientation(b); got != 1 {
			t.Errorf("malformed %q: got %d", b, got)
		}
	}
}

// Blocks that would make goexif loop forever or allocate gigabytes must be
// kept from it.
func TestHostileEXIFIsNotParsed(t *testing.T) {
	le := func(v ...uint32) []byte {
		var b []byte
		for _, x := range v {
			b = append(b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		return b
	}
	// Two directories pointing at each other.
	cycle := []byte("II*\x00\x08\x00\x00\x00")
	cycle = append(cycle, 0, 0)      // IFD at 8: no entries
	cycle = append(cycle, le(14)...) // next: 14
	cycle = append(cycle, 0, 0)      // IFD at 14: no entries
	cycle = append(cycle, le(8)...)  // next: back to 8
	huge := []byte("II*\x00\x08\x00\x00\x00\x01\x00")
	huge = append(huge, 0x0F, 0x01, 3, 0) // Make, SHORT
	huge = append(huge, le(0x80000001, 0)...)
	for name, b := range map[string][]byte{"cycle": cycle, "huge count": huge} {
		if safeForGoexif(b) {
			t.Errorf("%s: judged safe", name)
		}
		done := make(chan Metadata, 1)
		go func() { done <- metadataFromEXIF(b) }()
		select {
		case md := <-done:
			if md != (Metadata{Orientation: 1}) {
				t.Errorf("%s: %+v", name, md)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: metadata reading hangs", name)
		}
	}
	if !safeForGoexif(testEXIF(1)) {
		t.Error("a normal block was judged unsafe")
	}
}
