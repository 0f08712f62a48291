package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDecodeMemoryRepro reproduces the decoding-memory report against a
// real `hubshare serve` process: six parallel API uploads of an 8900×8900
// PNG at 16 bits per channel (about 600 KiB), with the server's resident
// memory read from /proc while they run. It builds the binary and needs a
// few seconds and up to a gigabyte or two, so it runs only when
// HUBSHARE_MEMORY_REPRO=1; HUBSHARE_MEMORY_REPRO_BUDGET passes
// --max-decode-memory (default: the server's default).
//
//	HUBSHARE_MEMORY_REPRO=1 go test -count=1 -v -run TestDecodeMemoryRepro ./cmd/hubshare/
func TestDecodeMemoryRepro(t *testing.T) {
	if os.Getenv("HUBSHARE_MEMORY_REPRO") != "1" {
		t.Skip("set HUBSHARE_MEMORY_REPRO=1 to run")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hubshare")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	hub := func(stdin string, args ...string) string {
		cmd := exec.Command(bin, append(args, "--data-dir", data)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = reproEnv()
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
	args := []string{"serve", "--listen", addr, "--data-dir", data, "--log-level", "warn"}
	if b := os.Getenv("HUBSHARE_MEMORY_REPRO_BUDGET"); b != "" {
		args = append(args, "--max-decode-memory", b)
	}
	serve := exec.Command(bin, args...)
	serve.Env = reproEnv()
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
	client := &http.Client{Timeout: 2 * time.Minute}
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

	upload := func(name string, img []byte) (int, string, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(img)
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/photos", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg), resp.Header.Get("Retry-After")
	}
	// A small upload first, so that the baseline includes the code and
	// buffers any upload brings in.
	if code, msg, _ := upload("small.png", reproPNG(640, 480)); code != http.StatusCreated {
		t.Fatalf("warm-up upload: %d %s", code, msg)
	}
	pid := serve.Process.Pid
	before := procStatus(t, pid, "VmRSS")

	png := reproPNG(8900, 8900)
	t.Logf("PNG of 8900×8900 at 16 bits per channel: %d bytes", len(png))
	var peak int64
	stopPoll := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if rss, ok := procStatusOK(pid, "VmRSS"); ok && rss > peak {
				peak = rss
			}
		}
	}()
	var wg sync.WaitGroup
	results := make([]string, 6)
	statuses := make([]int, 6)
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, msg, retry := upload(fmt.Sprintf("big-%d.png", i), png)
			statuses[i] = code
			if len(msg) > 200 {
				msg = msg[:200]
			}
			results[i] = fmt.Sprintf("%d (Retry-After %q) %s", code, retry, msg)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopPoll)
	<-polled
	hwm := procStatus(t, pid, "VmHWM")
	after := procStatus(t, pid, "VmRSS")

	resp, err := client.Get(base + "/healthz")
	up := err == nil && resp.StatusCode == http.StatusOK
	if err == nil {
		resp.Body.Close()
	}
	t.Logf("budget %q: RSS before %d MiB, peak %d MiB (VmHWM %d MiB), after %d MiB; growth %d MiB; %v for the six",
		os.Getenv("HUBSHARE_MEMORY_REPRO_BUDGET"), before>>20, peak>>20, hwm>>20, after>>20, (max(peak, hwm)-before)>>20, elapsed.Round(time.Millisecond))
	for i, r := range results {
		t.Logf("upload %d: %s", i+1, r)
	}
	if !up {
		t.Fatalf("server not up after the uploads: %v\n%s", err, logs.String())
	}
	for _, s := range statuses {
		if s == 0 || s == http.StatusInternalServerError {
			t.Errorf("an upload failed without an answer or with 500")
		}
	}
	if growth := max(peak, hwm) - before; growth > 600<<20 {
		t.Errorf("RSS grew by %d MiB, target at most 600 MiB", growth>>20)
	}
}

// reproEnv is the environment without HUBSHARE_* settings of the caller.
func reproEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUBSHARE_") {
			env = append(env, kv)
		}
	}
	return env
}

func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	v, ok := procStatusOK(pid, field)
	if !ok {
		t.Fatalf("no %s for process %d", field, pid)
	}
	return v
}

// procStatusOK reads a "kB" field of /proc/PID/status, in bytes.
func procStatusOK(pid int, field string) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// reproPNG is a w×h PNG of one opaque colour at 16 bits per channel with
// alpha, written row by row without holding the image.
func reproPNG(w, h int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	chunk("IHDR", append(ihdr, 16, 6, 0, 0, 0))
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.DefaultCompression)
	row := make([]byte, 1+8*w)
	for x := 0; x < w; x++ {
		copy(row[1+8*x:], []byte{0x40, 0x00, 0x80, 0x00, 0xC0, 0x00, 0xFF, 0xFF})
	}
	for y := 0; y < h; y++ {
		zw.Write(row)
	}
	zw.Close()
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
