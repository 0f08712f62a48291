package acl

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Access-log events.
const (
	EventOpen           = "open"
	EventView           = "view"
	EventDownload       = "download"
	EventDeniedPassword = "denied_password"
	EventFailed         = "failed"
)

// AccessEvent is one entry of the access log. Network is turned into a
// daily-rotating keyed mark before anything is stored; the raw address
// never is.
type AccessEvent struct {
	At      time.Time
	TokenID int64
	ItemID  *int64
	Event   string
	Network string
	Reason  string
}

type accessRow struct {
	bun.BaseModel `bun:"table:access_log"`

	ID         int64     `bun:"id,pk,autoincrement"`
	At         time.Time `bun:"at"`
	TokenID    int64     `bun:"token_id"`
	ItemID     *int64    `bun:"item_id"`
	Event      string    `bun:"event"`
	ClientMark string    `bun:"client_mark"`
	Reason     string    `bun:"reason"`
}

// AccessLog batches access-log writes: views need not be exact to the
// second, so they are written every few seconds (and on shutdown) in one
// transaction, with the tokens' last-used times.
type AccessLog struct {
	db     *bun.DB
	mark   func(day time.Time, network string) string
	logger *slog.Logger

	mu      sync.Mutex
	pending []accessRow
	kick    chan struct{}
}

// maxPending triggers an early flush.
const maxPending = 512

func newAccessLog(db *bun.DB, mark func(time.Time, string) string) *AccessLog {
	return &AccessLog{db: db, mark: mark, logger: slog.Default(), kick: make(chan struct{}, 1)}
}

// SetLogger sets where flush failures are reported.
func (l *AccessLog) SetLogger(log *slog.Logger) { l.logger = log }

// Record queues an event; it never blocks on the database.
func (l *AccessLog) Record(ev AccessEvent) {
	row := accessRow{At: ev.At.UTC(), TokenID: ev.TokenID, ItemID: ev.ItemID, Event: ev.Event,
		ClientMark: l.mark(ev.At, ev.Network), Reason: ev.Reason}
	l.mu.Lock()
	l.pending = append(l.pending, row)
	n := len(l.pending)
	l.mu.Unlock()
	if n >= maxPending {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Flush writes every queued event now.
func (l *AccessLog) Flush(ctx context.Context) error {
	l.mu.Lock()
	rows := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	lastUsed := map[int64]time.Time{}
	for _, r := range rows {
		if r.Event == EventView || r.Event == EventDownload || r.Event == EventOpen {
			if r.At.After(lastUsed[r.TokenID]) {
				lastUsed[r.TokenID] = r.At
			}
		}
	}
	err := l.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
		for id, at := range lastUsed {
			if _, err := tx.NewRaw("UPDATE guest_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
				at, id, at).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Events of tokens deleted meanwhile fail the batch; keep the rest
		// rather than lose every view.
		l.logger.Warn("access log flush failed", "err", err, "events", len(rows))
		return translate(err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes once more.
func (l *AccessLog) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
		case <-l.kick:
		}
		l.Flush(ctx)
	}
}

// Prune deletes entries older than the retention.
func (l *AccessLog) Prune(ctx context.Context, before time.Time) error {
	_, err := l.db.NewDelete().Model((*accessRow)(nil)).Where("at < ?", before.UTC()).Exec(ctx)
	return translate(err)
}
