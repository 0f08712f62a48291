package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"hubshare/content/media"
)

// scenario is one row of the table: the real server's endpoint and its
// reference, loaded in turn.
type scenario struct {
	// label is the short name used under the table.
	id, label, name string
	target          float64
	ref             load
	scen            load
	// raw, when set, is also loaded in turn and reported for the record.
	raw load
	// check sends one plain request to each endpoint before any load and
	// says what is wrong with the answers, if anything.
	check func(ctx context.Context) error
}

// measureScenarios runs S1–S3 (and S6 during S2) on one target.
func measureScenarios(ctx context.Context, o *options, t *target, res *dbResult, progress func(string, ...any)) error {
	w := &wrkRunner{bin: o.wrk, threads: o.threads, connections: o.connections, scriptDir: t.dir}
	for _, sc := range t.scenarios() {
		if !o.wants(sc.id) || ctx.Err() != nil {
			continue
		}
		line := &row{id: sc.id, label: sc.label, name: sc.name, target: sc.target}
		res.rows = append(res.rows, line)
		if err := sc.check(ctx); err != nil {
			line.invalid = "check before the run: " + err.Error()
			progress("%s: %s", sc.label, line.invalid)
			continue
		}
		var raw *row
		if sc.raw.url != "" {
			raw = &row{id: sc.id, label: sc.label + ", no check", name: sc.label + " for the record: the same file sent with no check at all", record: true}
			res.rows = append(res.rows, raw)
		}
		var rss *rssSampler
		if sc.id == "S2" {
			debug.FreeOSMemory()
			rss = startRSS()
		}
		if o.warmup > 0 {
			for _, l := range []load{sc.ref, sc.scen, sc.raw} {
				if l.url == "" {
					continue
				}
				if _, err := w.run(ctx, l, o.warmup); err != nil {
					return err
				}
			}
		}
		for i := 0; i < o.runs && ctx.Err() == nil; i++ {
			progress("%s: run %d/%d", sc.label, i+1, o.runs)
			r, err := w.run(ctx, sc.ref, o.duration)
			if err != nil {
				return err
			}
			line.ref = append(line.ref, r)
			var stopProfile func()
			if i == 0 && o.cpuProfile != "" {
				name := strings.ReplaceAll(sc.label, " ", "-")
				if stopProfile, err = startCPUProfile(o.cpuProfile + "-" + t.kind + "-" + name + ".pprof"); err != nil {
					return err
				}
			}
			r, err = w.run(ctx, sc.scen, o.duration)
			if stopProfile != nil {
				stopProfile()
			}
			if err != nil {
				return err
			}
			line.scen = append(line.scen, r)
			if raw != nil {
				r, err := w.run(ctx, sc.raw, o.duration)
				if err != nil {
					return err
				}
				raw.ref = append(raw.ref, line.ref[len(line.ref)-1])
				raw.scen = append(raw.scen, r)
			}
		}
		if rss != nil {
			res.rss = rss.stop()
		}
		line.finish()
		if raw != nil {
			raw.finish()
		}
		progress("%s: reference %.0f req/s, scenario %.0f req/s, ratio %.2f", sc.label, line.refMedian, line.scenMedian, line.ratio)
	}
	return nil
}

// scenarios lists S1–S3 on this target.
func (t *target) scenarios() []scenario {
	s, r := t.seed, t.ref
	post := strconv.FormatInt(s.post.ID, 10)
	photo := strconv.FormatInt(s.photo.ID, 10)
	out := []scenario{{
		id: "S1", label: "S1", name: "S1 link opening: GET /items/{id}?zat=… → 303 + guest cookie", target: 0.6,
		ref:  load{url: r.url(r.openPath())},
		scen: load{url: t.url(t.zatPath())},
		check: func(ctx context.Context) error {
			a, err := t.get(ctx, t.zatPath(), "")
			if err != nil {
				return err
			}
			if a.status != http.StatusSeeOther {
				return fmt.Errorf("the link answered %d, want 303", a.status)
			}
			if !hasCookie(a, "hs_guest") {
				return fmt.Errorf("the link's 303 set no guest cookie")
			}
			return expect(ctx, t, r.url(r.openPath()), "", http.StatusSeeOther, nil)
		},
	}, {
		id: "S2", label: "S2", name: "S2 guest view: GET /items/{id} (post page, with the cookie)", target: 0.8,
		ref:  load{url: r.url("/ref/items/" + post), cookie: s.cookie},
		scen: load{url: t.url("/items/" + post), cookie: s.cookie},
		check: func(ctx context.Context) error {
			title := []byte(s.post.Title)
			if err := expect(ctx, t, t.url("/items/"+post), s.cookie, http.StatusOK, title); err != nil {
				return err
			}
			return expect(ctx, t, r.url("/ref/items/"+post), s.cookie, http.StatusOK, title)
		},
	}}
	for _, v := range []string{media.VariantLarge, media.VariantThumb} {
		out = append(out, scenario{
			id: "S3", label: "S3 " + v, name: fmt.Sprintf("S3 guest photo: GET /media/{id}/%s (%s, with the cookie)", v, kib(s.sizes[v])), target: 0.85,
			ref:  load{url: r.url("/ref/media/" + photo + "/" + v), cookie: s.cookie},
			scen: load{url: t.url("/media/" + photo + "/" + v), cookie: s.cookie},
			raw:  load{url: r.url("/ref/raw/" + v), cookie: s.cookie},
			check: func(ctx context.Context) error {
				want, err := os.ReadFile(s.files[v])
				if err != nil {
					return err
				}
				for _, u := range []string{t.url("/media/" + photo + "/" + v), r.url("/ref/media/" + photo + "/" + v), r.url("/ref/raw/" + v)} {
					a, err := t.getURL(ctx, u, s.cookie)
					if err != nil {
						return err
					}
					if a.status != http.StatusOK || !bytes.Equal(a.body, want) {
						return fmt.Errorf("%s answered %d with %d bytes, want 200 with the %d bytes of the file", u, a.status, len(a.body), len(want))
					}
				}
				return nil
			},
		})
	}
	return out
}

func hasCookie(a *answer, name string) bool {
	for _, c := range a.cookies {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

func expect(ctx context.Context, t *target, u, cookie string, status int, contains []byte) error {
	a, err := t.getURL(ctx, u, cookie)
	if err != nil {
		return err
	}
	if a.status != status {
		return fmt.Errorf("%s answered %d, want %d", u, a.status, status)
	}
	if contains != nil && !bytes.Contains(a.body, contains) {
		return fmt.Errorf("%s answered without %q", u, contains)
	}
	return nil
}

func kib(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

// row is one line of the table.
type row struct {
	id, label, name string
	target          float64
	// record rows are reported, not judged.
	record    bool
	ref, scen []wrkResult
	// refMedian and scenMedian are medians of req/s.
	refMedian, scenMedian, ratio float64
	invalid                      string
}

func (r *row) finish() {
	if len(r.ref) == 0 || len(r.scen) == 0 {
		if r.invalid == "" {
			r.invalid = "not measured"
		}
		return
	}
	r.refMedian, r.scenMedian = median(r.ref), median(r.scen)
	if r.refMedian > 0 {
		r.ratio = r.scenMedian / r.refMedian
	}
	var bad []string
	for i, w := range append(slices.Clone(r.ref), r.scen...) {
		if !w.clean() {
			side := "scenario"
			if i < len(r.ref) {
				side = "reference"
			}
			bad = append(bad, fmt.Sprintf("%s run with %d answers ≥ 400 and %d socket errors of %d requests", side, w.badStatus, w.socketErrors, w.requests))
		}
	}
	if len(bad) > 0 {
		r.invalid = strings.Join(bad, "; ")
	}
}

func (r *row) result() string {
	switch {
	case r.invalid != "":
		return "INVALID"
	case r.record:
		return "record"
	case r.ratio >= r.target:
		return "PASS"
	}
	return "MISS"
}

func median(rs []wrkResult) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = r.reqPerSec
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// startCPUProfile profiles the whole process (both servers, mostly the
// one under load) until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// rssSampler reads the process's resident set size every 50 ms.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	res   rssResult
}

// rssResult is S6: the largest RSS seen during the S2 runs.
type rssResult struct {
	before, max int64 // bytes
	samples     int
}

func startRSS() *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	s.res.before = readRSS()
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				v := readRSS()
				s.mu.Lock()
				s.res.samples++
				s.res.max = max(s.res.max, v)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() *rssResult {
	close(s.stopc)
	<-s.done
	r := s.res
	return &r
}

// readRSS returns VmRSS from /proc/self/status, in bytes (0 if unknown).
func readRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
