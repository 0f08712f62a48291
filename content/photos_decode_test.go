package content_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubshare/app"
	"hubshare/content"
	"hubshare/content/media"
)

// TestIngestPhotoDecodingMemoryErrors checks the codes and messages of the
// two decoding-memory refusals: an image over the whole budget is 422 and
// says why, a busy budget is 503 with a Retry-After.
func TestIngestPhotoDecodingMemoryErrors(t *testing.T) {
	store, err := media.NewFSStore(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	png.Encode(&buf, image.NewNRGBA64(image.Rect(0, 0, 1000, 800)))
	photo := buf.Bytes()
	budget := media.NewBudget(4 << 20)
	s := &content.Service{Media: store, MaxUpload: 50 << 20, Limits: media.Limits{Memory: budget, MemoryWait: -1}}

	_, err = s.IngestPhoto(context.Background(), bytes.NewReader(photo))
	var ae *app.Error
	if !errors.As(err, &ae) || ae.Code != app.EInvalid || !errors.Is(err, media.ErrTooMuchMemory) {
		t.Fatalf("image over the budget: %v", err)
	}
	for _, want := range []string{"1000×800 pixels", "16-bit colour PNG", "limit of 4 MiB", "8 bits per channel"} {
		if !strings.Contains(ae.Message, want) {
			t.Errorf("message %q does not say %q", ae.Message, want)
		}
	}

	s.Limits.Memory = media.NewBudget(64 << 20)
	release, err := s.Limits.Memory.Acquire(context.Background(), 64<<20, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.IngestPhoto(context.Background(), bytes.NewReader(photo))
	if !errors.As(err, &ae) || ae.Code != app.EUnavailable || ae.RetryAfter < time.Second || !errors.Is(err, media.ErrBusy) {
		t.Fatalf("busy budget: %v", err)
	}
	release()
	if _, err := s.IngestPhoto(context.Background(), bytes.NewReader(photo)); err != nil {
		t.Errorf("once the budget is free: %v", err)
	}
}
