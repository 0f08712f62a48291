package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func encodedSamples(t *testing.T) map[string][]byte {
	t.Helper()
	img := quadrantImage(8, 8)
	var j, p, g bytes.Buffer
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&g, img, nil); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"image/jpeg": j.Bytes(),
		"image/png":  p.Bytes(),
		"image/gif":  g.Bytes(),
		"image/webp": riff(riffChunk("VP8L", vp8l(2, 2, color.NRGBA{1, 2, 3, 255}))),
	}
}

func TestSniffRecognisesFormats(t *testing.T) {
	for want, b := range encodedSamples(t) {
		got, err := Sniff(b)
		if err != nil || got != want {
			t.Errorf("Sniff(%s) = %q, %v", want, got, err)
		}
		// Only the head is needed.
		if got, err := Sniff(b[:sniffLen]); err != nil || got != want {
			t.Errorf("Sniff(%s head) = %q, %v", want, got, err)
		}
	}
	if got, _ := Sniff([]byte("GIF87a")); got != "image/gif" {
		t.Errorf("GIF87a not recognised")
	}
}

func TestSniffRefusesOtherBytes(t *testing.T) {
	cases := map[string][]byte{
		"text named photo.jpg": []byte("this is not a photo, just text saved as photo.jpg\n"),
		"empty":                nil,
		"html":                 []byte("<!DOCTYPE html><img src=x>"),
		"jpeg truncated":       {0xFF, 0xD8},
		"png truncated":        pngSignature[:7],
		"gif truncated":        []byte("GIF8"),
		"webp truncated":       []byte("RIFF\x00\x00\x00\x00WEBPVP8"),
		"riff but wave":        []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"),
		"riff webp bad chunk":  []byte("RIFF\x24\x00\x00\x00WEBPJUNK\x10\x00\x00\x00"),
		"bmp":                  []byte("BM6\x00\x00\x00\x00\x00\x00\x006\x00\x00\x00(\x00"),
		"svg":                  []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
	}
	for name, b := range cases {
		ct, err := Sniff(b)
		if !errors.Is(err, ErrUnsupported) || ct != "" {
			t.Errorf("%s: Sniff = %q, %v; want ErrUnsupported", name, ct, err)
		}
	}
}

// Sanity check of the hand-built WebP used throughout the tests.
func TestHandBuiltWebPDecodes(t *testing.T) {
	b := webpWithMeta(3, 2, 1, testICC(200))
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil || format != "webp" {
		t.Fatalf("decode: %v, %q", err, format)
	}
	if img.Bounds().Dx() != 3 || img.Bounds().Dy() != 2 {
		t.Fatalf("bounds %v", img.Bounds())
	}
	if got := color.NRGBAModel.Convert(img.At(2, 1)); got != webpColor {
		t.Fatalf("pixel %v, want %v", got, webpColor)
	}
}
