package metrics_test

import (
	"testing"
	"time"

	"hubshare/app/metrics"
)

// A nil *Metrics is the service without --metrics-listen: every hook is a
// no-op.
func TestNilMetricsDoNothing(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveRequest("/", "GET", 200, time.Millisecond)
	m.GuestOpened()
	m.GuestViewed()
	m.GuestDownloaded()
	m.GuestDenied("expired")
	m.Throttled("zat")
	m.MediaServed("thumb", 10)
	m.MediaStored(10)
	m.UploadStarted()()
	m.WatchDB(nil, "sqlite")
	m.WatchAccessLog(nil)
}

// gathered returns name{labels} → value of the registry's counters and gauges.
func gathered(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.Metric {
			key := f.GetName()
			for _, l := range s.Label {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case s.Counter != nil:
				out[key] = s.Counter.GetValue()
			case s.Gauge != nil:
				out[key] = s.Gauge.GetValue()
			}
		}
	}
	return out
}

func TestLabelsAndGauges(t *testing.T) {
	m := metrics.New()
	m.GuestDenied("bearer not allowed")
	m.GuestDenied("")
	m.GuestDenied("")
	done := m.UploadStarted()
	m.UploadStarted()
	m.WatchAccessLog(func() metrics.AccessLogStats { return metrics.AccessLogStats{Pending: 3, Written: 7, Dropped: 1} })
	want := map[string]float64{
		"hubshare_guest_denials_total{reason=bearer_not_allowed}": 1,
		"hubshare_guest_denials_total{reason=unknown}":            2,
		"hubshare_uploads_in_progress":                            2,
		"hubshare_access_log_queue_depth":                         3,
		"hubshare_access_log_flushed_events_total":                7,
		"hubshare_access_log_dropped_events_total":                1,
	}
	got := gathered(t, m)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	done()
	if got := gathered(t, m)["hubshare_uploads_in_progress"]; got != 1 {
		t.Errorf("uploads in progress after one ended: %v, want 1", got)
	}
	for status, class := range map[int]string{200: "2xx", 204: "2xx", 303: "3xx", 404: "4xx", 429: "4xx", 503: "5xx"} {
		if got := metrics.StatusClass(status); got != class {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, class)
		}
	}
}

// The cost the metrics add to every request (one histogram observation)
// and to a guest view (one counter).
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("/items/:id", "GET", 200, 3*time.Millisecond)
	}
}

func BenchmarkGuestViewed(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.GuestViewed()
	}
}
