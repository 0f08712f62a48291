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

// AccessEntry is an access-log entry as owners see it.
type AccessEntry struct {
	At        time.Time `bun:"at" json:"at"`
	TokenID   int64     `bun:"token_id" json:"token_id"`
	TokenName string    `bun:"token_name" json:"token_name"`
	ItemID    *int64    `bun:"item_id" json:"item_id"`
	ItemTitle *string   `bun:"item_title" json:"-"`
	Event     string    `bun:"event" json:"event"`
	Client    string    `bun:"client_mark" json:"client"`
	Reason    string    `bun:"reason" json:"reason,omitempty"`
}

// ItemAccess returns the access log of one of owner's items, newest first.
func (s *Service) ItemAccess(ctx context.Context, owner, item int64, limit int) ([]AccessEntry, error) {
	if _, err := ownedItem(ctx, s.DB, owner, item); err != nil {
		return nil, err
	}
	return s.access(ctx, "l.item_id = ?", item, limit)
}

// TokenAccess returns the access history of one of owner's tokens, newest first.
func (s *Service) TokenAccess(ctx context.Context, owner, token int64, limit int) ([]AccessEntry, error) {
	if _, err := s.Token(ctx, owner, token); err != nil {
		return nil, err
	}
	return s.access(ctx, "l.token_id = ?", token, limit)
}

func (s *Service) access(ctx context.Context, where string, arg int64, limit int) ([]AccessEntry, error) {
	out := []AccessEntry{}
	err := s.DB.NewSelect().TableExpr("access_log AS l").
		ColumnExpr("l.at, l.token_id, t.name AS token_name, l.item_id, i.title AS item_title, l.event, l.client_mark, l.reason").
		Join("JOIN guest_tokens AS t ON t.id = l.token_id").
		Join("LEFT JOIN items AS i ON i.id = l.item_id").
		Where(where, arg).OrderExpr("l.at DESC, l.id DESC").Limit(limit).Scan(ctx, &out)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return out, nil
}
