package media

import (
	"bytes"
)

// Content types produced by Sniff.
const (
	typeJPEG = "image/jpeg"
	typePNG  = "image/png"
	typeGIF  = "image/gif"
	typeWebP = "image/webp"
)

// sniffLen is how many leading bytes Sniff needs to recognise every format.
const sniffLen = 16

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Sniff tells the content type of an image from its first bytes (16 are
// enough). Names and client-declared types are never consulted because they
// are chosen by the uploader; a header too short to be sure is refused with
// ErrUnsupported.
func Sniff(head []byte) (contentType string, err error) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return typeJPEG, nil
	case bytes.HasPrefix(head, pngSignature):
		return typePNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return typeGIF, nil
	case len(head) >= 16 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		// The first chunk must be an image or extended header, which tells
		// WebP apart from other RIFF WEBP look-alikes.
		switch string(head[12:16]) {
		case "VP8 ", "VP8L", "VP8X":
			return typeWebP, nil
		}
	}
	return "", ErrUnsupported
}
