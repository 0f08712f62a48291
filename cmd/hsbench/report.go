package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// report is the whole run, for the Markdown file.
type report struct {
	started   time.Time
	command   string
	host      string
	load      string
	notes     []string
	databases []*dbResult
}

// dbResult is everything measured on one database.
type dbResult struct {
	kind, detail string
	// world describes what S1–S3 were measured in.
	world string
	rows  []*row
	rss   *rssResult
	s4    *auditResult
}

// rssLimit is S6's bound on the RSS during S2.
const rssLimit = 150 << 20

func (d *dbResult) rssResult() string {
	if d.rss.max <= rssLimit {
		return "PASS"
	}
	return "MISS"
}

func (r *report) invalid() bool {
	for _, d := range r.databases {
		for _, row := range d.rows {
			if row.invalid != "" {
				return true
			}
		}
	}
	return false
}

func (r *report) missed() bool {
	for _, d := range r.databases {
		for _, row := range d.rows {
			if row.result() == "MISS" {
				return true
			}
		}
		if d.rss != nil && d.rssResult() == "MISS" {
			return true
		}
		if d.s4 != nil {
			for _, op := range d.s4.ops {
				if op.result() == "MISS" {
					return true
				}
			}
		}
	}
	return false
}

// cells are the table's rows as text, shared by both renderings.
func (d *dbResult) cells() [][]string {
	out := [][]string{{"scenario", "reference req/s (median)", "scenario req/s (median)", "ratio", "target", "result"}}
	for _, r := range d.rows {
		target := fmt.Sprintf("≥ %.2f", r.target)
		if r.record {
			target = "—"
		}
		ratio := fmt.Sprintf("%.2f", r.ratio)
		if r.invalid != "" && r.refMedian == 0 {
			ratio = "—"
		}
		out = append(out, []string{r.name, fmt.Sprintf("%.0f", r.refMedian), fmt.Sprintf("%.0f", r.scenMedian), ratio, target, r.result()})
	}
	if d.rss != nil {
		out = append(out, []string{"S6 memory: max RSS during the S2 runs (whole bench process)", "—",
			fmt.Sprintf("%.1f MiB", mib(d.rss.max)), "—", "≤ 150 MiB", d.rssResult()})
	}
	return out
}

// details are the lines under the table: each run, and what was wrong.
func (d *dbResult) details() []string {
	var out []string
	if d.world != "" {
		out = append(out, "S1–S3 "+d.world+".")
	}
	for _, r := range d.rows {
		if len(r.ref) > 0 || len(r.scen) > 0 {
			side := "scenario"
			if r.record {
				side = "no check"
			}
			out = append(out, fmt.Sprintf("%s — req/s of each run: reference %s; %s %s; %s p50/p99 latency %s",
				r.label, runList(r.ref), side, runList(r.scen), side, latencies(r.scen)))
		}
		if r.invalid != "" {
			out = append(out, fmt.Sprintf("%s INVALID: %s", r.label, r.invalid))
		}
	}
	if d.rss != nil {
		out = append(out, fmt.Sprintf("S6: VmRSS from /proc/self/status every 50 ms during the S2 runs (reference and scenario, %d samples): "+
			"%.1f MiB before, %.1f MiB at most. It is the whole bench process — real server, reference server, "+
			"harness and embedded SQLite when used; wrk is a separate process. The upload half of S6 is not measured here.",
			d.rss.samples, mib(d.rss.before), mib(d.rss.max)))
	}
	return out
}

func runList(rs []wrkResult) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.0f", r.reqPerSec)
	}
	return strings.Join(parts, ", ")
}

func latencies(rs []wrkResult) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s/%s", ms(r.p50), ms(r.p99))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func (d *dbResult) printText(w io.Writer) {
	fmt.Fprintf(w, "\n== %s (%s)\n\n", d.kind, d.detail)
	if len(d.rows) > 0 {
		alignedTable(w, d.cells())
	}
	fmt.Fprintln(w)
	for _, l := range d.details() {
		fmt.Fprintln(w, l)
	}
	if d.s4 != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, d.s4.header())
		fmt.Fprintln(w)
		alignedTable(w, d.s4.cells())
		fmt.Fprintln(w)
		for _, l := range d.s4.details() {
			fmt.Fprintln(w, l)
		}
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# hubshare performance — %s\n\n", r.started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- command: `%s`\n- host: %s\n- load: %s\n", r.command, r.host, r.load)
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	for _, d := range r.databases {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", d.kind, d.detail)
		if len(d.rows) > 0 {
			markdownTable(&b, d.cells())
			b.WriteString("\n")
		}
		for _, l := range d.details() {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		if d.s4 != nil {
			fmt.Fprintf(&b, "\n### %s\n\n", d.s4.header())
			markdownTable(&b, d.s4.cells())
			b.WriteString("\n")
			for _, l := range d.s4.details() {
				fmt.Fprintf(&b, "- %s\n", l)
			}
		}
	}
	return b.String()
}

func markdownTable(b *strings.Builder, cells [][]string) {
	for i, c := range cells {
		esc := make([]string, len(c))
		for j, s := range c {
			esc[j] = strings.ReplaceAll(s, "|", `\|`)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(esc, " | "))
		if i == 0 {
			fmt.Fprintf(b, "|%s\n", strings.Repeat("---|", len(c)))
		}
	}
}

// alignedTable prints a Markdown table with its columns padded, for the terminal.
func alignedTable(w io.Writer, cells [][]string) {
	width := make([]int, len(cells[0]))
	for _, c := range cells {
		for j, s := range c {
			width[j] = max(width[j], utf8.RuneCountInString(s))
		}
	}
	for i, c := range cells {
		parts := make([]string, len(c))
		for j, s := range c {
			parts[j] = s + strings.Repeat(" ", width[j]-utf8.RuneCountInString(s))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(parts, " | "))
		if i == 0 {
			for j := range parts {
				parts[j] = strings.Repeat("-", width[j])
			}
			fmt.Fprintf(w, "|-%s-|\n", strings.Join(parts, "-|-"))
		}
	}
}
