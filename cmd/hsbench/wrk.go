package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// load is what one wrk run sends: a URL and, when set, a Cookie header.
type load struct {
	url    string
	cookie string
}

// wrkResult is what one wrk run reports.
type wrkResult struct {
	reqPerSec float64
	requests  int64
	// badStatus counts answers with a status of 400 or more ("Non-2xx or
	// 3xx responses").
	badStatus int64
	// socketErrors counts connect, read, write and timeout errors.
	socketErrors int64
	p50, p99     time.Duration
	output       string
}

func (r wrkResult) clean() bool { return r.badStatus == 0 && r.socketErrors == 0 && r.requests > 0 }

// wrkRunner runs wrk with fixed threads, connections and duration.
type wrkRunner struct {
	bin                  string
	threads, connections int
	scriptDir            string
	scripts              map[string]string // cookie → script file
}

// run loads l for d. The run is bounded: wrk is killed if it outlives its
// duration by half a minute.
func (w *wrkRunner) run(ctx context.Context, l load, d time.Duration) (wrkResult, error) {
	args := []string{
		"-t" + strconv.Itoa(w.threads), "-c" + strconv.Itoa(w.connections),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s", "--latency",
	}
	if l.cookie != "" {
		script, err := w.script(l.cookie)
		if err != nil {
			return wrkResult{}, err
		}
		args = append(args, "-s", script)
	}
	args = append(args, l.url)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, w.bin, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return r, nil
}

// script writes (once per cookie) a Lua script that sets the Cookie header.
func (w *wrkRunner) script(cookie string) (string, error) {
	for _, r := range cookie {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return "", fmt.Errorf("cookie has a character that the Lua script would have to escape")
		}
	}
	if path, ok := w.scripts[cookie]; ok {
		return path, nil
	}
	text := "-- Sends the guest cookie with every request.\n" +
		"wrk.method = \"GET\"\n" +
		"wrk.headers[\"Cookie\"] = \"" + cookie + "\"\n"
	f, err := os.CreateTemp(w.scriptDir, "cookie-*.lua")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if w.scripts == nil {
		w.scripts = map[string]string{}
	}
	w.scripts[cookie] = f.Name()
	return f.Name(), nil
}

var (
	reqPerSecRE = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	requestsRE  = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	non2xxRE    = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+(\d+)`)
	socketRE    = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	percentRE   = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{output: out}
	m := reqPerSecRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec line")
	}
	r.reqPerSec, _ = strconv.ParseFloat(m[1], 64)
	if m := requestsRE.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := non2xxRE.FindStringSubmatch(out); m != nil {
		r.badStatus, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := socketRE.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.socketErrors += n
		}
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := percentRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}
