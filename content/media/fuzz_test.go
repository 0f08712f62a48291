package media

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

func fuzzSeeds(f *testing.F) [][]byte {
	icc := testICC(300)
	seeds := [][]byte{
		jpegWithMeta(f, quadrantImage(16, 8), 6, icc),
		pngWithMeta(f, halfTransparent(8, 4), 8, icc),
		gifWithMeta(f),
		webpWithMeta(3, 2, 6, icc),
		riff(riffChunk("VP8L", vp8l(1, 1, webpColor))),
		pngBomb(100000, 100000).prefix,
		[]byte("\xFF\xD8\xFF\xE1\x00\x10Exif\x00\x00MM\x00*\x00\x00\x00\x08"),
		[]byte("\xFF\xD8\xFF\xDA\x00\x02\xFF\xFF\x00\xFF\xD0\xFF"),
		[]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"),
		[]byte("RIFF\xff\xff\xff\xffWEBPVP8X\x0a\x00\x00\x00"),
		[]byte("photo.jpg is really text"),
		nil,
	}
	return seeds
}

func FuzzSniff(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		if len(s) > sniffLen {
			f.Add(s[:sniffLen])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, err := Sniff(b)
		switch {
		case err != nil:
			if !errors.Is(err, ErrUnsupported) || ct != "" {
				t.Fatalf("Sniff = %q, %v", ct, err)
			}
		case ct != typeJPEG && ct != typePNG && ct != typeGIF && ct != typeWebP:
			t.Fatalf("unknown type %q", ct)
		default:
			// More bytes never change the verdict.
			if again, _ := Sniff(append(bytes.Clone(b), "trailing"...)); again != ct {
				t.Fatalf("verdict changed with more bytes: %q then %q", ct, again)
			}
		}
	})
}

var fuzzTypes = []string{typeJPEG, typePNG, typeGIF, typeWebP}

// FuzzStripMetadata feeds arbitrary bytes to every stripper. Besides never
// panicking, stripping must be idempotent: what it leaves holds nothing more
// to remove, which is what "no metadata" means from the inside.
func FuzzStripMetadata(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		for i := range fuzzTypes {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		ct := fuzzTypes[int(kind)%len(fuzzTypes)]
		var once bytes.Buffer
		if err := StripMetadata(&once, bytes.NewReader(b), ct); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not marked as damage: %v", err)
			}
			return
		}
		var twice bytes.Buffer
		if err := StripMetadata(&twice, bytes.NewReader(once.Bytes()), ct); err != nil {
			t.Fatalf("stripped output does not strip again: %v", err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("stripping is not idempotent:\n%q\n%q", once.Bytes(), twice.Bytes())
		}
		if ct == typeWebP {
			var streamed bytes.Buffer
			if err := StripMetadata(&streamed, struct{ io.Reader }{bytes.NewReader(b)}, ct); err != nil || !bytes.Equal(streamed.Bytes(), once.Bytes()) {
				t.Fatalf("non-seekable WebP differs: %v", err)
			}
		}
	})
}

// FuzzReadMetadata guards the metadata path, from the container scan to the
// EXIF reader, against hostile uploads: it must neither panic nor hang.
func FuzzReadMetadata(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add(append([]byte("\xFF\xD8\xFF\xE1\x00\x30Exif\x00\x00"), testEXIF(6)[:40]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := ReadMetadata(bytes.NewReader(b))
		if err != nil && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("unexpected error: %v", err)
		}
		if md.Orientation != 0 && (md.Orientation < 1 || md.Orientation > 8) {
			t.Fatalf("orientation %d", md.Orientation)
		}
		if err == nil && md.Orientation == 0 {
			t.Fatal("orientation missing")
		}
	})
}

// FuzzMetadataFromEXIF feeds arbitrary EXIF blocks (TIFF structures) to the
// EXIF reader directly, which the container formats would otherwise keep
// the fuzzer from reaching often. Whatever it reads must be in range.
func FuzzMetadataFromEXIF(f *testing.F) {
	f.Add(testEXIF(6))
	f.Add(minimalEXIF(3))
	f.Add(buildTIFF([]ifdEntry{asciiEntry(0x010F, "Acme")}, []ifdEntry{asciiEntry(0x9003, "2020:01:02 03:04:05"), asciiEntry(0x9011, "-03:30")},
		[]ifdEntry{asciiEntry(0x0001, "S"), ratEntry(0x0002, 1, 1, 2, 1, 3, 1), asciiEntry(0x0003, "W"), ratEntry(0x0004, 4, 1, 5, 1, 6, 1)}))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x01\x87\x69\x00\x04\x00\x00\x00\x01\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		md := metadataFromEXIF(b)
		if md.Orientation < 1 || md.Orientation > 8 {
			t.Fatalf("orientation %d", md.Orientation)
		}
		if (md.Latitude == nil) != (md.Longitude == nil) {
			t.Fatal("half a position")
		}
		if md.Latitude != nil && (!validCoord(*md.Latitude, 90) || !validCoord(*md.Longitude, 180)) {
			t.Fatalf("position out of range: %v, %v", *md.Latitude, *md.Longitude)
		}
		if md.TakenAt != nil && md.TakenAt.Year() < 1800 {
			t.Fatalf("taken at %v", md.TakenAt)
		}
		if !utf8.ValidString(md.Camera) || !utf8.ValidString(md.Lens) {
			t.Fatalf("camera %q, lens %q", md.Camera, md.Lens)
		}
	})
}
