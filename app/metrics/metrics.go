// Package metrics owns the service's Prometheus collectors and their
// registry: one registry per process, made in cmd and handed down, never the
// global default. Every method is safe on a nil *Metrics and then does
// nothing, so code paths and tests that run without metrics need no checks.
//
// Labels are bounded by construction: route patterns (never raw paths or
// ids), status classes, and reasons and variants that are constants of the
// code.
package metrics

import (
	"database/sql"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "hubshare"

// Metrics holds the collectors. Make it with New.
type Metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.HistogramVec
	openings    prometheus.Counter
	views       prometheus.Counter
	downloads   prometheus.Counter
	denials     *prometheus.CounterVec
	throttled   *prometheus.CounterVec
	mediaServed *prometheus.CounterVec
	mediaStored prometheus.Counter
	uploads     prometheus.Gauge
	keptViews   *prometheus.CounterVec
	mediaOpened *prometheus.CounterVec
}

// New makes the registry with the Go runtime, process and build
// collectors and the service's own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern, method and status class.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "status"})
	m.openings = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "guest_openings_total",
		Help: "Openings of guest links that started a guest session (uses)."})
	m.views = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "guest_views_total",
		Help: "Item views by guests inside a guest session or with a bearer guest token."})
	m.downloads = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "guest_downloads_total",
		Help: "Downloads of originals and albums by guests."})
	m.denials = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "guest_denials_total",
		Help: "Refused guest-token attempts, by reason (unknown_token, expired, revoked, used_up, wrong_password, ...)."},
		[]string{"reason"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "throttled_total",
		Help: "Attempts refused with 429 because a throttle counter was blocked, by action."},
		[]string{"action"})
	m.mediaServed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "media_served_bytes_total",
		Help: "Bytes of photo files sent to clients, by variant."}, []string{"variant"})
	m.mediaStored = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "media_stored_bytes_total",
		Help: "Bytes written to the media store by uploads (every variant)."})
	m.uploads = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "uploads_in_progress",
		Help: "Photo files being received and processed now."})
	m.keptViews = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "guest_view_cache_total",
		Help: "Guest views by how the kept view served them: hit (kept and current), stale (kept, but its owner's data changed or a token expired), miss (not kept)."},
		[]string{"result"})
	m.mediaOpened = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "media_cache_total",
		Help: "Photo files opened, by where they came from: hit (kept in memory) or miss (read from the media store)."},
		[]string{"result"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.requests, m.openings, m.views, m.downloads, m.denials, m.throttled,
		m.mediaServed, m.mediaStored, m.uploads, m.keptViews, m.mediaOpened,
	)
	return m
}

// Registry returns the registry, to gather from or to add collectors to.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format; errors
// while gathering go to log.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if log != nil {
		opts.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelError)
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// StatusClass is the label of an HTTP status: "2xx", "3xx", "4xx" or "5xx".
func StatusClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	case status >= 200:
		return "2xx"
	}
	return "1xx"
}

// ObserveRequest records one answered request. route is the route pattern
// that answered it (e.g. "/items/:id"), never the raw path.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, StatusClass(status)).Observe(d.Seconds())
}

// GuestOpened counts one opening of a guest link.
func (m *Metrics) GuestOpened() {
	if m != nil {
		m.openings.Inc()
	}
}

// GuestViewed counts one guest view of an item.
func (m *Metrics) GuestViewed() {
	if m != nil {
		m.views.Inc()
	}
}

// GuestViewKept counts one guest view by how the kept views served it:
// "hit", "stale" or "miss".
func (m *Metrics) GuestViewKept(result string) {
	if m != nil {
		m.keptViews.WithLabelValues(result).Inc()
	}
}

// MediaOpened counts one photo file opened, kept in memory or not.
func (m *Metrics) MediaOpened(kept bool) {
	if m != nil {
		result := "miss"
		if kept {
			result = "hit"
		}
		m.mediaOpened.WithLabelValues(result).Inc()
	}
}

// GuestDownloaded counts one guest download.
func (m *Metrics) GuestDownloaded() {
	if m != nil {
		m.downloads.Inc()
	}
}

// GuestDenied counts one refused guest-token attempt; reason is a constant
// of the code (a token status, "unknown_token", "wrong_password" ...).
func (m *Metrics) GuestDenied(reason string) {
	if m == nil {
		return
	}
	if reason == "" {
		reason = "unknown"
	}
	m.denials.WithLabelValues(strings.ReplaceAll(reason, " ", "_")).Inc()
}

// Throttled counts one attempt refused by a blocked throttle counter.
func (m *Metrics) Throttled(action string) {
	if m != nil {
		m.throttled.WithLabelValues(action).Inc()
	}
}

// MediaServed counts n bytes of a photo variant sent to a client.
func (m *Metrics) MediaServed(variant string, n int64) {
	if m != nil && n > 0 {
		m.mediaServed.WithLabelValues(variant).Add(float64(n))
	}
}

// MediaStored counts n bytes written to the media store.
func (m *Metrics) MediaStored(n int64) {
	if m != nil && n > 0 {
		m.mediaStored.Add(float64(n))
	}
}

// UploadStarted counts an upload in progress until the returned function is
// called.
func (m *Metrics) UploadStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.uploads.Inc()
	return m.uploads.Dec
}

// WatchDB exports the connection pool statistics of db (open, in use and
// idle connections, waits) under the go_sql_* names, labelled db_name.
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	if m != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
}

// AccessLogStats is what the access log reports at each scrape.
type AccessLogStats struct {
	// Pending is the number of events waiting to be written (queue depth).
	Pending int64
	// Written, Retried, Merged, Dropped and Gone are counters since start:
	// events stored, failed flush attempts, events merged into an
	// identical entry, events lost to a full queue, and events of deleted
	// tokens or items not written.
	Written, Retried, Merged, Dropped, Gone int64
}

// WatchAccessLog exports the access log's queue depth and counters, read
// from stats at each scrape.
func (m *Metrics) WatchAccessLog(stats func() AccessLogStats) {
	if m != nil {
		m.reg.MustRegister(&accessLogCollector{stats: stats})
	}
}

var (
	descPending = prometheus.NewDesc(namespace+"_access_log_queue_depth",
		"Access-log events waiting to be written.", nil, nil)
	descWritten = prometheus.NewDesc(namespace+"_access_log_flushed_events_total",
		"Access-log events written to the database.", nil, nil)
	descRetried = prometheus.NewDesc(namespace+"_access_log_flush_retries_total",
		"Failed access-log flush attempts (their events were kept and retried).", nil, nil)
	descMerged = prometheus.NewDesc(namespace+"_access_log_merged_events_total",
		"Access-log events merged into an identical queued entry because the queue was full.", nil, nil)
	descDropped = prometheus.NewDesc(namespace+"_access_log_dropped_events_total",
		"Access-log events lost because the queue was full and held no identical entry.", nil, nil)
	descGone = prometheus.NewDesc(namespace+"_access_log_gone_events_total",
		"Access-log events not written because their token or item was deleted first.", nil, nil)
)

// accessLogCollector reads the access log's counters once per scrape.
type accessLogCollector struct{ stats func() AccessLogStats }

func (c *accessLogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descWritten, descRetried, descMerged, descDropped, descGone} {
		ch <- d
	}
}

func (c *accessLogCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(st.Written))
	ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(st.Retried))
	ch <- prometheus.MustNewConstMetric(descMerged, prometheus.CounterValue, float64(st.Merged))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descGone, prometheus.CounterValue, float64(st.Gone))
}
