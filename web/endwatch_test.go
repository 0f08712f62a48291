package web

import (
	"bytes"
	"io"
	"testing"
)

// chunks reads r at most n bytes at a time.
type chunks struct {
	r io.Reader
	n int
}

func (c chunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// The closing delimiter is noticed however the body is split into reads,
// and not before its last byte has gone by.
func TestEndWatchSeesTheClosingDelimiter(t *testing.T) {
	body := []byte("--bnd\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx--bnd--y\r\n--bnd--\r\n")
	end := bytes.Index(body, []byte("\r\n--bnd--")) + len("\r\n--bnd--")
	for _, size := range []int{1, 2, 3, 5, 7, 8, 9, 64, 4096} {
		for cut := 0; cut <= len(body); cut++ {
			w := newEndWatch(chunks{bytes.NewReader(body[:cut]), size}, "bnd")
			if _, err := io.Copy(io.Discard, w); err != nil {
				t.Fatal(err)
			}
			if want := cut >= end; w.seen != want {
				t.Fatalf("reads of %d bytes, body cut at %d of %d: seen %v, want %v", size, cut, len(body), w.seen, want)
			}
		}
	}
	// A body with no part at all is its closing delimiter alone.
	w := newEndWatch(bytes.NewReader([]byte("--bnd--")), "bnd")
	io.Copy(io.Discard, w)
	if !w.seen {
		t.Error("a body of only the closing delimiter: not seen")
	}
}
