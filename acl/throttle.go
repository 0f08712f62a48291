package acl

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/metrics"
)

// Throttled actions. Each keeps its own counters.
const (
	ActionLogin    = "login"
	ActionZat      = "zat"
	ActionPassword = "visitor_password"
)

// ThrottleKey names one counter and the number of failures in a window that
// blocks it.
type ThrottleKey struct {
	Key   string
	Limit int
}

// Throttle limits failed attempts with counters in the database, so that every
// instance sharing it shares them.
type Throttle struct {
	db    bun.IDB
	clock app.Clock
	// Window is both how far back failures count and how long a block lasts.
	Window time.Duration
	// Metrics, when set, counts the attempts refused.
	Metrics *metrics.Metrics
}

// Limits per window: a small threshold per network, and a cap per target
// (handle or token) that also holds when failures come from many networks.
const (
	NetworkFailureLimit = 10
	TargetFailureLimit  = 50
	DefaultWindow       = 15 * time.Minute
)

// NewThrottle returns a throttle on db.
func NewThrottle(db bun.IDB, clock app.Clock) *Throttle {
	return &Throttle{db: db, clock: clock, Window: DefaultWindow}
}

// Network reduces a client address to the network that is throttled as one:
// the address itself for IPv4, its /64 for IPv6.
func Network(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "invalid"
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

func keyedHex(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// NetworkKey is the counter of one client network (see Network); the network
// is stored only as a keyed hash.
func NetworkKey(keys *app.Keys, network string) ThrottleKey {
	return ThrottleKey{Key: "net:" + keyedHex(keys.ClientMark, "throttle", network), Limit: NetworkFailureLimit}
}

// HandleKey is the counter of a submitted handle, existing or not, so that the
// cap reveals no account.
func HandleKey(keys *app.Keys, handle string) ThrottleKey {
	return ThrottleKey{Key: "handle:" + keyedHex(keys.ClientMark, "handle", strings.ToLower(handle)), Limit: TargetFailureLimit}
}

// TokenKey is the counter of one guest token.
func TokenKey(tokenID int64) ThrottleKey {
	return ThrottleKey{Key: "token:" + itoa(tokenID), Limit: TargetFailureLimit}
}

// Check fails with EThrottled if any of the keys is blocked for the action.
func (t *Throttle) Check(ctx context.Context, action string, keys ...ThrottleKey) error {
	now := t.clock.Now().UTC()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	var until []time.Time
	err := t.db.NewRaw("SELECT blocked_until FROM throttle WHERE action = ? AND key IN (?) AND blocked_until > ?",
		action, bun.List(names), now).Scan(ctx, &until)
	if err != nil && !isNoRows(err) {
		return translate(err)
	}
	err = throttled(now, until)
	if err != nil {
		t.Metrics.Throttled(action)
	}
	return err
}

func throttled(now time.Time, until []time.Time) error {
	var latest time.Time
	for _, u := range until {
		if u.After(latest) {
			latest = u
		}
	}
	if !latest.After(now) {
		return nil
	}
	return &app.Error{Code: app.EThrottled, Message: "Too many failed attempts. Please wait and try again later.",
		RetryAfter: latest.Sub(now).Round(time.Second) + time.Second}
}

// Fail counts one failure against every key; a key reaching its limit in the
// window is blocked for a window.
func (t *Throttle) Fail(ctx context.Context, action string, keys ...ThrottleKey) error {
	now := t.clock.Now().UTC()
	cutoff, until := now.Add(-t.Window), now.Add(t.Window)
	for _, k := range keys {
		var first any
		if k.Limit <= 1 {
			first = until
		}
		_, err := t.db.NewRaw(`INSERT INTO throttle (action, key, failures, window_start, blocked_until)
VALUES (?, ?, 1, ?, ?)
ON CONFLICT (action, key) DO UPDATE SET
  failures = CASE WHEN throttle.window_start <= ? THEN 1 ELSE throttle.failures + 1 END,
  window_start = CASE WHEN throttle.window_start <= ? THEN excluded.window_start ELSE throttle.window_start END,
  blocked_until = CASE WHEN (CASE WHEN throttle.window_start <= ? THEN 1 ELSE throttle.failures + 1 END) >= ?
    THEN ? ELSE throttle.blocked_until END`,
			action, k.Key, now, first, cutoff, cutoff, cutoff, k.Limit, until).Exec(ctx)
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// Prune removes counters that neither count nor block any more.
func (t *Throttle) Prune(ctx context.Context) error {
	now := t.clock.Now().UTC()
	_, err := t.db.NewRaw("DELETE FROM throttle WHERE window_start <= ? AND (blocked_until IS NULL OR blocked_until <= ?)",
		now.Add(-t.Window), now).Exec(ctx)
	return translate(err)
}
