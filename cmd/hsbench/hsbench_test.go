package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wrkSample = `Running 5s test @ http://127.0.0.1:40123/items/1
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.61ms    2.01ms  33.25ms   88.12%
    Req/Sec     2.01k   120.33     2.30k    70.00%
  Latency Distribution
     50%    3.65ms
     75%    4.20ms
     90%    5.01ms
     99%   33.25ms
  20010 requests in 5.01s, 98.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   3994.21
Transfer/sec:     19.58MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.reqPerSec != 3994.21 || r.requests != 20010 || r.badStatus != 7 || r.socketErrors != 3 {
		t.Errorf("parsed %+v", r)
	}
	if r.p50 != 3650*time.Microsecond || r.p99 != 33250*time.Microsecond {
		t.Errorf("latencies %s, %s", r.p50, r.p99)
	}
	if r.clean() {
		t.Error("a run with errors counts as clean")
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("output without a rate parsed")
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if m := medianOf([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 = %g", m)
	}
	if m := medianOf([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median of 4 = %g", m)
	}
	ds := make([]time.Duration, 20)
	for i := range ds {
		ds[i] = time.Duration(20-i) * time.Millisecond
	}
	if p := p95(ds); p != 19*time.Millisecond {
		t.Errorf("p95 = %s", p)
	}
}

// TestSmoke seeds a server on every database and loads it for a second:
// only with HUBSHARE_BENCH_SMOKE=1 and wrk installed, so that the test
// suite never runs load by default.
func TestSmoke(t *testing.T) {
	if os.Getenv("HUBSHARE_BENCH_SMOKE") != "1" {
		t.Skip("set HUBSHARE_BENCH_SMOKE=1 to seed a server and load it briefly")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	md := filepath.Join(t.TempDir(), "report.md")
	var out, log bytes.Buffer
	err := run(ctx, []string{"-duration", "1s", "-runs", "1", "-warmup", "0", "-s4", "-s4-scale", "0.001", "-s4-calls", "2", "-out", md},
		&out, &log, os.Getenv)
	t.Log(out.String())
	if err != nil && !errors.Is(err, errMissed) {
		t.Fatalf("%v\n%s", err, log.String())
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| S1 ", "| S2 ", "| S3 ", "| S6 ", "S4 owner audit", "| token list, first page"} {
		if !strings.Contains(out.String(), want) || !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
