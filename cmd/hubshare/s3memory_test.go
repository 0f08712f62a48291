package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubshare/content/media/s3test"
)

// paddedPNG is a small real PNG with a private ancillary chunk of pad zero
// bytes before IEND: a photo of pad bytes that decodes cheaply, so that
// what is measured is the bytes' way through the server, not decoding.
func paddedPNG(pad int64) io.Reader {
	png := reproPNG(640, 480)
	head, iend := png[:len(png)-12], png[len(png)-12:]
	crc := crc32.ChecksumIEEE([]byte("huGe"))
	zeros := make([]byte, 1<<20)
	for left := pad; left > 0; left -= int64(len(zeros)) {
		crc = crc32.Update(crc, crc32.IEEETable, zeros[:min(left, int64(len(zeros)))])
	}
	var hdr, tail bytes.Buffer
	binary.Write(&hdr, binary.BigEndian, uint32(pad))
	hdr.WriteString("huGe")
	binary.Write(&tail, binary.BigEndian, crc)
	return io.MultiReader(bytes.NewReader(head), &hdr, io.LimitReader(zeroReader{}, pad), &tail, bytes.NewReader(iend))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadMemoryRepro measures the resident memory a 100 MiB upload adds
// to a real `hubshare serve` process, with the media on S3 (versitygw) and
// on the data directory. The body is streamed by the client, without a
// length. It builds the binary, so it runs only when HUBSHARE_MEMORY_REPRO=1:
//
//	HUBSHARE_MEMORY_REPRO=1 go test -count=1 -v -run TestUploadMemoryRepro ./cmd/hubshare/
func TestUploadMemoryRepro(t *testing.T) {
	if os.Getenv("HUBSHARE_MEMORY_REPRO") != "1" {
		t.Skip("set HUBSHARE_MEMORY_REPRO=1 to run")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	bin := filepath.Join(t.TempDir(), "hubshare")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, store := range []string{"s3", "file"} {
		t.Run(store, func(t *testing.T) {
			var extra []string
			if store == "s3" {
				extra = s3test.StartServer(t).Env
			}
			growth := uploadGrowth(t, bin, extra, 100<<20)
			t.Logf("%s: a 100 MiB upload grew the server's RSS by %.1f MiB", store, float64(growth)/(1<<20))
			if store == "s3" && growth > 32<<20 {
				t.Errorf("RSS grew by %d MiB, target at most 32 MiB", growth>>20)
			}
		})
	}
}

func uploadGrowth(t *testing.T, bin string, extra []string, size int64) int64 {
	data := filepath.Join(t.TempDir(), "data")
	hub := func(stdin string, args ...string) string {
		cmd := exec.Command(bin, append(args, "--data-dir", data)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(reproEnv(), extra...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hubshare %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	hub("a long passphrase\n", "member", "create", "--handle", "alice")
	token := hub("", "apitoken", "create", "--handle", "alice", "--scope", "write")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := exec.Command(bin, "serve", "--listen", addr, "--data-dir", data, "--log-level", "warn", "--max-upload", "200MiB")
	serve.Env = append(reproEnv(), extra...)
	var logs bytes.Buffer
	serve.Stderr, serve.Stdout = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		serve.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			serve.Process.Kill()
		}
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Minute}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	upload := func(pad int64) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			fw, _ := mw.CreateFormFile("file", "big.png")
			_, err := io.Copy(fw, paddedPNG(pad))
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/photos", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("upload of %d bytes: %v\n%s", pad, err, logs.String())
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload of %d bytes: %d %s", pad, resp.StatusCode, msg)
		}
	}
	// A first upload of the same kind, so that the baseline includes the
	// code and buffers any upload brings in.
	pid := serve.Process.Pid
	fresh := procStatus(t, pid, "VmRSS")
	upload(size / 10)
	before := procStatus(t, pid, "VmRSS")
	var peak int64
	stop, polled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if rss, ok := procStatusOK(pid, "VmRSS"); ok && rss > peak {
				peak = rss
			}
		}
	}()
	start := time.Now()
	upload(size)
	close(stop)
	<-polled
	t.Logf("RSS at start %.1f MiB, after a 10 MiB upload %.1f MiB, peak during the 100 MiB upload %.1f MiB; %v for the upload",
		float64(fresh)/(1<<20), float64(before)/(1<<20), float64(peak)/(1<<20), time.Since(start).Round(time.Millisecond))
	return peak - before
}
