package media

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// Hostile EXIF blocks cost a bounded read and give no made-up metadata:
// directories pointing at each other, a field count that would allocate
// gigabytes, a directory claiming 65535 entries, and sub-directory pointers
// back into the main one.
func TestHostileEXIFIsRead(t *testing.T) {
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
	many := append([]byte("II*\x00\x08\x00\x00\x00"), 0xFF, 0xFF) // 65535 entries, none there
	many = append(many, make([]byte, 12*1000)...)
	// IFD0 holds Make and pointers to an Exif and a GPS directory that are
	// IFD0 itself; the Make must be read once and nothing else invented.
	loop := []byte("II*\x00\x08\x00\x00\x00\x03\x00")
	loop = append(loop, 0x0F, 0x01, 2, 0)
	loop = append(loop, le(4, 0x4F4B4341)...) // Make "ACKO" in place
	loop = append(loop, 0x69, 0x87, 4, 0)
	loop = append(loop, le(1, 8)...) // Exif IFD at 8
	loop = append(loop, 0x25, 0x88, 4, 0)
	loop = append(loop, le(1, 8)...) // GPS IFD at 8
	loop = append(loop, le(8)...)    // next: back to 8
	for name, c := range map[string]struct {
		b    []byte
		want Metadata
	}{
		"cycle":      {cycle, Metadata{Orientation: 1}},
		"huge count": {huge, Metadata{Orientation: 1}},
		"many":       {many, Metadata{Orientation: 1}},
		"loop":       {loop, Metadata{Orientation: 1, Camera: "ACKO"}},
	} {
		done := make(chan Metadata, 1)
		go func() { done <- metadataFromEXIF(c.b) }()
		select {
		case md := <-done:
			if md != c.want {
				t.Errorf("%s: %+v, want %+v", name, md, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: metadata reading hangs", name)
		}
	}
}

// Damaged values are not shown: a GPS position needs both coordinates, in
// range, with their references, and a time must parse.
func TestDamagedEXIFFieldsAreDropped(t *testing.T) {
	gps := func(latRef string, lat []uint32, longRef string, long []uint32) []ifdEntry {
		var e []ifdEntry
		if latRef != "" {
			e = append(e, asciiEntry(0x0001, latRef))
		}
		if lat != nil {
			e = append(e, ratEntry(0x0002, lat...))
		}
		if longRef != "" {
			e = append(e, asciiEntry(0x0003, longRef))
		}
		if long != nil {
			e = append(e, ratEntry(0x0004, long...))
		}
		return e
	}
	ok := []uint32{10, 1, 30, 1, 0, 1}
	for name, c := range map[string]struct {
		gps      []ifdEntry
		taken    string
		wantGPS  bool
		wantTime bool
	}{
		"sound":            {gps("S", ok, "W", ok), "2023:07:14 10:30:00", true, true},
		"no latitude ref":  {gps("", ok, "W", ok), "", false, false},
		"unknown ref":      {gps("X", ok, "E", ok), "", false, false},
		"no longitude":     {gps("N", ok, "E", nil), "", false, false},
		"latitude over 90": {gps("N", []uint32{91, 1, 0, 1, 0, 1}, "E", ok), "", false, false},
		"two parts only":   {gps("N", []uint32{10, 1, 30, 1}, "E", ok), "", false, false},
		"bad time":         {nil, "2023:13:45 10:30:00", false, false},
		"year 0":           {nil, "0000:00:00 00:00:00", false, false},
	} {
		exifDir := []ifdEntry{} // not nil: buildTIFF places the GPS directory after it
		if c.taken != "" {
			exifDir = append(exifDir, asciiEntry(0x9003, c.taken))
		}
		md := metadataFromEXIF(buildTIFF([]ifdEntry{asciiEntry(0x010F, "Acme")}, exifDir, c.gps))
		if md.Camera != "Acme" {
			t.Errorf("%s: camera %q", name, md.Camera)
		}
		if got := md.Latitude != nil && md.Longitude != nil; got != c.wantGPS || (md.Latitude == nil) != (md.Longitude == nil) {
			t.Errorf("%s: position %v, %v", name, md.Latitude, md.Longitude)
		}
		if c.wantGPS && name == "sound" && (*md.Latitude != -10.5 || *md.Longitude != -10.5) {
			t.Errorf("%s: position %v, %v, want -10.5, -10.5", name, *md.Latitude, *md.Longitude)
		}
		if (md.TakenAt != nil) != c.wantTime {
			t.Errorf("%s: taken at %v", name, md.TakenAt)
		}
	}
}

// exiftoolFixtures are images whose EXIF exiftool wrote (see
// testdata/exiftool/README), with what the owner is to be shown.
var exiftoolFixtures = []struct {
	file string
	want Metadata
}{
	{"camera-be.jpg", Metadata{
		TakenAt: timePtr(time.Date(2023, 7, 14, 10, 30, 0, 0, time.FixedZone("", 2*3600))),
		Camera:  "Canon EOS 5D Mark IV", Lens: "EF24-70mm f/2.8L II USM",
		Latitude: floatPtr(48.858222), Longitude: floatPtr(2.2945), Orientation: 6,
	}},
	{"phone-le.jpg", Metadata{
		TakenAt: timePtr(time.Date(2021, 12, 24, 18, 5, 9, 0, time.UTC)),
		Camera:  "Apple iPhone 12",
		// The longitude as exiftool wrote it, in rationals.
		Latitude: floatPtr(-33.856784), Longitude: floatPtr(-70.21529699985), Orientation: 1,
	}},
	{"exif.png", Metadata{
		TakenAt: timePtr(time.Date(2020, 2, 29, 23, 59, 59, 0, time.FixedZone("", -5*3600))),
		Camera:  "NIKON", Orientation: 3,
	}},
	{"pixel.webp", Metadata{
		TakenAt: timePtr(time.Date(2022, 5, 1, 7, 0, 0, 0, time.FixedZone("", 9*3600+1800))),
		Camera:  "Pixel 7", Lens: "Pixel 7 back camera 6.81mm f/1.85",
		Latitude: floatPtr(35), Longitude: floatPtr(139.5), Orientation: 8,
	}},
}

func timePtr(t time.Time) *time.Time { return &t }
func floatPtr(f float64) *float64    { return &f }

// exiftoolFixture reads a fixture; the WebP one is the EXIF block exiftool
// wrote (it cannot write WebP itself) in an extended lossless WebP.
func exiftoolFixture(t *testing.T, name string) []byte {
	t.Helper()
	if name == "pixel.webp" {
		block, err := os.ReadFile(filepath.Join("testdata", "exiftool", "pixel.exif"))
		if err != nil {
			t.Fatal(err)
		}
		vp8x := make([]byte, 10)
		vp8x[0] = vp8xEXIF
		vp8x[4], vp8x[7] = 23, 15 // 24×16
		return riff(riffChunk("VP8X", vp8x), riffChunk("VP8L", vp8l(24, 16, webpColor)), riffChunk("EXIF", block))
	}
	b, err := os.ReadFile(filepath.Join("testdata", "exiftool", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameMetadata(got, want Metadata) bool {
	sameTime := (got.TakenAt == nil) == (want.TakenAt == nil) &&
		(got.TakenAt == nil || got.TakenAt.Equal(*want.TakenAt) && got.TakenAt.Format(time.RFC3339) == want.TakenAt.Format(time.RFC3339))
	near := func(a, b *float64) bool {
		return (a == nil) == (b == nil) && (a == nil || math.Abs(*a-*b) < 1e-9)
	}
	return sameTime && near(got.Latitude, want.Latitude) && near(got.Longitude, want.Longitude) &&
		got.Camera == want.Camera && got.Lens == want.Lens && got.Orientation == want.Orientation
}

func fmtMetadata(md Metadata) string {
	s := fmt.Sprintf("camera %q lens %q orientation %d", md.Camera, md.Lens, md.Orientation)
	if md.TakenAt != nil {
		s += " taken " + md.TakenAt.Format(time.RFC3339)
	}
	if md.Latitude != nil && md.Longitude != nil {
		s += fmt.Sprintf(" at %.9f, %.9f", *md.Latitude, *md.Longitude)
	}
	return s
}

func TestReadMetadataOfExiftoolFiles(t *testing.T) {
	for _, f := range exiftoolFixtures {
		md, err := ReadMetadata(bytes.NewReader(exiftoolFixture(t, f.file)))
		if err != nil {
			t.Errorf("%s: %v", f.file, err)
			continue
		}
		if !sameMetadata(md, f.want) {
			t.Errorf("%s:\n got %s\nwant %s", f.file, fmtMetadata(md), fmtMetadata(f.want))
		}
	}
}

// TestMetadataAgreesWithExiftool has exiftool read the same files, so the
// expectations above are what the files hold, not what this reader says.
func TestMetadataAgreesWithExiftool(t *testing.T) {
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool is not installed")
	}
	dir := t.TempDir()
	for _, f := range exiftoolFixtures {
		path := filepath.Join(dir, f.file)
		if err := os.WriteFile(path, exiftoolFixture(t, f.file), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-j", "-n", "-Make", "-Model", "-LensModel", "-DateTimeOriginal", "-OffsetTimeOriginal",
			"-CreateDate", "-OffsetTimeDigitized", "-ModifyDate", "-OffsetTime", "-GPSLatitude", "-GPSLongitude", "-Orientation", path).Output()
		if err != nil {
			t.Fatalf("%s: exiftool: %v", f.file, err)
		}
		var tags []struct {
			Make, Model, LensModel                              string
			DateTimeOriginal, CreateDate, ModifyDate            string
			OffsetTimeOriginal, OffsetTimeDigitized, OffsetTime string
			GPSLatitude, GPSLongitude                           *float64
			Orientation                                         int
		}
		if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
			t.Fatalf("%s: exiftool said %s (%v)", f.file, out, err)
		}
		x := tags[0]
		theirs := Metadata{Camera: x.Model, Lens: x.LensModel, Latitude: x.GPSLatitude, Longitude: x.GPSLongitude, Orientation: max(x.Orientation, 1)}
		if !strings.HasPrefix(x.Model, x.Make) {
			theirs.Camera = strings.TrimSpace(x.Make + " " + x.Model)
		}
		for _, d := range [][2]string{{x.DateTimeOriginal, x.OffsetTimeOriginal}, {x.CreateDate, x.OffsetTimeDigitized}, {x.ModifyDate, x.OffsetTime}} {
			if t, ok := parseEXIFTime(d[0], d[1]); ok {
				theirs.TakenAt = &t
				break
			}
		}
		if !sameMetadata(theirs, f.want) {
			t.Errorf("%s: exiftool reads %s\n want %s", f.file, fmtMetadata(theirs), fmtMetadata(f.want))
		}
	}
}

// A field is read from the directory the standard puts it in only: the
// Interop directory numbers its entries like the GPS one, and a Make in the
// Exif directory is not the camera's.
func TestEXIFFieldsComeFromTheirDirectory(t *testing.T) {
	ok := []uint32{10, 1, 30, 1, 0, 1}
	misplaced := []ifdEntry{
		asciiEntry(0x0001, "N"), ratEntry(0x0002, ok...), asciiEntry(0x0003, "E"), ratEntry(0x0004, ok...),
		asciiEntry(0x010F, "Elsewhere"), asciiEntry(0x0110, "Elsewhere Model"),
	}
	md := metadataFromEXIF(buildTIFF(nil, misplaced, []ifdEntry{}))
	if md != (Metadata{Orientation: 1}) {
		t.Errorf("fields read from the wrong directory: %s", fmtMetadata(md))
	}
	// The same entries where they belong are read.
	md = metadataFromEXIF(buildTIFF(misplaced[4:], []ifdEntry{}, misplaced[:4]))
	if md.Camera != "Elsewhere Model" || md.Latitude == nil || *md.Latitude != 10.5 {
		t.Errorf("fields in their directories: %s", fmtMetadata(md))
	}
}

// BenchmarkMetadataFromEXIF reads a camera's block, exiftool's block and a
// hostile one (a directory claiming 65535 entries in 12 KB).
func BenchmarkMetadataFromEXIF(b *testing.B) {
	exiftool, err := os.ReadFile(filepath.Join("testdata", "exiftool", "pixel.exif"))
	if err != nil {
		b.Fatal(err)
	}
	many := append([]byte("II*\x00\x08\x00\x00\x00"), 0xFF, 0xFF)
	many = append(many, make([]byte, 12*1000)...)
	for _, c := range []struct {
		name  string
		block []byte
	}{{"camera", testEXIF(6)}, {"exiftool", exiftool}, {"hostile", many}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				metadataFromEXIF(c.block)
			}
		})
	}
}
