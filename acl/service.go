package acl

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/metrics"
)

// Service owns principals, sessions, tokens and decisions on the database.
type Service struct {
	DB       *bun.DB
	Clock    app.Clock
	Keys     *app.Keys
	Throttle *Throttle
	Log      *AccessLog
	// Metrics, set with SetMetrics, counts guest traffic.
	Metrics *metrics.Metrics

	notifier atomic.Pointer[notifierBox]

	// openLink is the zat exchange's one statement, prepared.
	openLink *database.Prepared
	// openedGuests are the guest sessions of recent cookies (OpenGuest).
	openedGuests *otter.Cache[string, GuestSession]
}

// NewService wires a Service.
func NewService(db *bun.DB, clock app.Clock, keys *app.Keys) *Service {
	s := &Service{DB: db, Clock: clock, Keys: keys, Throttle: NewThrottle(db, clock), openLink: newOpenLink(db),
		openedGuests: newOpenedGuests()}
	s.Log = newAccessLog(db, func(at time.Time, network string) string {
		// The mark changes every day, so visits can be told apart within a
		// day but never followed across days, and the address is never kept.
		return keyedHex(keys.ClientMark, "client", at.UTC().Format("2006-01-02"), network)[:12]
	})
	s.Log.netMark = func(token int64, network string) string { return netMark(keys.ClientMark, token, network) }
	s.Log.notifier = &s.notifier
	return s
}

// SetMetrics counts guest openings, views, denials and throttled attempts
// into m, and exports the access log's queue and counters.
func (s *Service) SetMetrics(m *metrics.Metrics) {
	s.Metrics, s.Throttle.Metrics, s.Log.metrics = m, m, m
	m.WatchAccessLog(s.Log.metricsStats)
}

func (s *Service) now() time.Time { return s.Clock.Now().UTC() }

// sha returns the SHA-256 of a high-entropy random value (session ids), for
// which a keyed or slow hash adds nothing.
func sha(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// translate converts driver errors into app errors once.
func translate(err error) error { return database.Translate(err) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// newPrincipal inserts a principal row of the kind and returns its id.
func newPrincipal(ctx context.Context, db bun.IDB, kind string) (int64, error) {
	var id int64
	err := db.NewRaw("INSERT INTO principals (kind) VALUES (?) RETURNING id", kind).Scan(ctx, &id)
	return id, translate(err)
}
