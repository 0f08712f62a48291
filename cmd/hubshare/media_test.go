package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hubshare/content/media"
	"hubshare/content/media/s3test"
)

// envWith is env with the variables of an S3 test server, then kv (which
// win).
func envWith(extra []string, kv ...string) func(string) string {
	var all []string
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		all = append(all, k, v)
	}
	return env(append(all, kv...)...)
}

// publicPhoto uploads photo through the API, makes it public and returns
// its id.
func publicPhoto(t *testing.T, base, token string, photo []byte) int64 {
	t.Helper()
	body, ct := uploadBody(t, photo)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/photos", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var item struct{ ID int64 }
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &item) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	req, _ = http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/items/%d/acl", base, item.ID), strings.NewReader(`{"public":true,"allow":[],"deny":[]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("make public: %d %s", resp.StatusCode, b)
	}
	return item.ID
}

func getMedia(t *testing.T, url, rng string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// A hub that starts on the data directory moves to S3: media migrate copies
// and verifies every object, a second run copies nothing, and serve on the
// bucket serves the same bytes (by range too) and answers /healthz.
func TestMediaMigrateToS3(t *testing.T) {
	s3 := s3test.StartServer(t)
	dir := t.TempDir()
	fileEnv := env("HUBSHARE_DATA_DIR", dir)
	s3Env := envWith(s3.Env, "HUBSHARE_DATA_DIR", dir)
	if _, err := run(t, fileEnv, "a long passphrase\n", "member", "create", "--handle", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, fileEnv, "", "apitoken", "create", "--handle", "bob", "--scope", "write")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out)
	addr, stop := startServe(t, fileEnv)
	photo := noisyJPEG(t, 300, 200)
	id := publicPhoto(t, "http://"+addr, token, photo)
	code, wantLarge := getMedia(t, fmt.Sprintf("http://%s/media/%d/large", addr, id), "")
	_, wantThumb := getMedia(t, fmt.Sprintf("http://%s/media/%d/thumb", addr, id), "")
	if code != http.StatusOK || len(wantLarge) < 1000 || len(wantThumb) < 1000 {
		t.Fatalf("large variant from the data directory: %d, %d bytes", code, len(wantLarge))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	to := s3.URL
	out, err = run(t, envWith(s3.Env, "HUBSHARE_DATA_DIR", dir, "HUBSHARE_MEDIA_URL", ""), "", "media", "migrate", "--to", to)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "copied and verified 4 objects") || !strings.Contains(out, "0 already there") {
		t.Fatalf("first migrate printed %q", out)
	}
	out, err = run(t, envWith(s3.Env, "HUBSHARE_DATA_DIR", dir, "HUBSHARE_MEDIA_URL", ""), "", "media", "migrate", "--to", to)
	if err != nil || !strings.Contains(out, "copied and verified 0 objects (0 bytes); 4 already there") {
		t.Fatalf("second migrate: %v, printed %q", err, out)
	}
	// A damaged copy is found and copied again.
	damaged := filepath.Join(s3.Root, s3test.Bucket, "media", filepath.FromSlash(largeKey(t, dir)))
	if err := os.WriteFile(damaged, bytes.Repeat([]byte{0}, len(wantLarge)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, envWith(s3.Env, "HUBSHARE_DATA_DIR", dir, "HUBSHARE_MEDIA_URL", ""), "", "media", "migrate", "--to", to)
	if err != nil || !strings.Contains(out, "copied and verified 1 objects") || !strings.Contains(out, "3 already there") {
		t.Fatalf("migrate after damage: %v, printed %q", err, out)
	}
	if _, err := run(t, s3Env, "", "media", "migrate", "--to", to); err == nil {
		t.Fatal("migrate onto the store it copies from succeeded")
	}

	addr, _ = startServe(t, s3Env)
	checkServing(t, addr)
	url := fmt.Sprintf("http://%s/media/%d/large", addr, id)
	if code, b := getMedia(t, url, ""); code != http.StatusOK || !bytes.Equal(b, wantLarge) {
		t.Fatalf("large variant from S3 after the repair: %d, %d bytes", code, len(b))
	}
	if code, b := getMedia(t, fmt.Sprintf("http://%s/media/%d/thumb", addr, id), ""); code != http.StatusOK || !bytes.Equal(b, wantThumb) {
		t.Fatalf("thumb from S3: %d, %d bytes", code, len(b))
	}
	if code, b := getMedia(t, url, "bytes=100-199"); code != http.StatusPartialContent || !bytes.Equal(b, wantLarge[100:200]) {
		t.Fatalf("range from S3: %d, %d bytes", code, len(b))
	}
}

// largeKey is the key of the large variant of the only photo.
func largeKey(t *testing.T, dir string) string {
	t.Helper()
	st := readState(t, "", dir, filepath.Join(dir, "media"), "")
	if len(st.rows) != 1 {
		t.Fatalf("rows %q", st.rows)
	}
	return media.VariantKey(st.rows[0], media.VariantLarge)
}
