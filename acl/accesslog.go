package acl

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app/database"
	"hubshare/app/metrics"
)

// Access-log events.
const (
	EventOpen           = "open"
	EventView           = "view"
	EventDownload       = "download"
	EventDeniedPassword = "denied_password"
	EventFailed         = "failed"
	// EventPreview: see previews.go.
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
	// Unchecked says that ItemID is only the item of the URL: the entry is
	// tied to it when it is written only if the token may open it then (an
	// opening checks nothing more than the token, so that its one write
	// is short).
	Unchecked bool
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
	// Count is how many identical events the entry stands for: the views,
	// openings and downloads queued between two flushes (see coalesces),
	// or any events merged when the queue overflowed.
	Count int `bun:"count"`
	// netMark is the stable per-token mark of an opening's network, for
	// the notifications of the flush (notifyFromLog); never stored here.
	netMark string `bun:"-"`
	// unchecked: ItemID is kept only if the token may open it (see
	// AccessEvent.Unchecked); the flush settles it first (checkTies).
	unchecked bool
}

// mergeKey is what makes two events identical for merging: everything but
// the time.
type mergeKey struct {
	token     int64
	item      int64
	hasItem   bool
	unchecked bool
	event     string
	mark      string
	reason    string
}

func keyOf(r *accessRow) mergeKey {
	k := mergeKey{token: r.TokenID, event: r.Event, mark: r.ClientMark, reason: r.Reason, unchecked: r.unchecked}
	if r.ItemID != nil {
		k.item, k.hasItem = *r.ItemID, true
	}
	return k
}

// AccessLogLimits tunes the access log; zero fields keep the defaults.
type AccessLogLimits struct {
	// MaxQueue bounds the entries held in memory (queued, being written, or
	// kept after a failed write). Past it, an event identical to a queued
	// one (same token, item, event, client mark and reason) is merged into
	// it with a count; any other is dropped, counted and logged.
	MaxQueue int
	// ChunkRows bounds the rows of one INSERT.
	ChunkRows int
	// StatementTimeout is the deadline of every statement of a flush, on the
	// client and, on PostgreSQL, on the server too.
	StatementTimeout time.Duration
	// MaxBackoff caps the wait between failed flushes in Run.
	MaxBackoff time.Duration
	// ShutdownTimeout bounds how long Run keeps retrying its last flush.
	ShutdownTimeout time.Duration
}

// DefaultAccessLogLimits are the limits of a new access log.
var DefaultAccessLogLimits = AccessLogLimits{
	MaxQueue:         100_000,
	ChunkRows:        500,
	StatementTimeout: 5 * time.Second,
	MaxBackoff:       30 * time.Second,
	ShutdownTimeout:  15 * time.Second,
}

// AccessLogStats counts what became of recorded events, for monitoring.
type AccessLogStats struct {
	// Queued counts every recorded event.
	Queued int64
	// Written counts events stored (an entry of count n is n events).
	Written int64
	// Retried counts failed flush attempts; their events were kept.
	Retried int64
	// Merged counts events merged into an identical queued entry because
	// the queue was full.
	Merged int64
	// Dropped counts events lost because the queue was full and held no
	// identical entry.
	Dropped int64
	// Gone counts events of tokens or items deleted before the flush, which
	// are not written (their entries would be deleted with them).
	Gone int64
	// Pending is the number of events waiting to be written now.
	Pending int64
}

// AccessLog batches access-log writes: views need not be exact to the
// second, so they are written every few seconds (and on shutdown) in
// chunked inserts, each with a deadline. A failed write keeps its events for
// the next flush; nothing is discarded unless the bounded queue overflows,
// and even then identical events are merged first. The log's writes take no
// lock that a link opening waits on: entries reference tokens and items
// without foreign keys, and tokens' last-used times are updated only where
// no one holds the token row (skipped rows are retried on the next flush).
type AccessLog struct {
	db   *bun.DB
	mark func(day time.Time, network string) string
	// netMark marks an opening's network for one token (see netMark).
	netMark func(token int64, network string) string
	// notifier receives the notifications a flush made, once committed.
	notifier *atomic.Pointer[notifierBox]
	logger   *slog.Logger
	metrics  *metrics.Metrics
	kick     chan struct{}

	// flushing serialises flushes; chunk (the rows of the next chunk) is
	// guarded by it.
	flushing sync.Mutex
	chunk    int

	mu       sync.Mutex
	lim      AccessLogLimits
	pending  []accessRow
	inflight int // entries taken by the running flush, or of uncertain chunks
	// uncertain holds chunks whose COMMIT failed on PostgreSQL, until the
	// server tells whether they were written.
	uncertain []uncertainChunk
	// index maps a merge key to its entry in pending (the newest with that
	// key); dropped when a flush takes the queue.
	index map[mergeKey]int
	// compacted is set once the queue overflowed and every identical entry
	// was merged (compact); until the next flush, any event identical to a
	// queued one is merged.
	compacted bool
	// seen holds the newest use of each token not yet written to
	// guest_tokens.last_used_at.
	seen map[int64]time.Time
	// sweepFrom is the oldest event time written since the last orphan
	// sweep (zero when none was).
	sweepFrom time.Time
	stats     AccessLogStats
	// dropLogged and mergeLogged are the counts last reported in the log.
	dropLogged, mergeLogged int64
}

// maxPending triggers an early flush.
const maxPending = 512

func newAccessLog(db *bun.DB, mark func(time.Time, string) string) *AccessLog {
	return &AccessLog{db: db, mark: mark, logger: slog.Default(), kick: make(chan struct{}, 1),
		lim: DefaultAccessLogLimits, seen: map[int64]time.Time{}}
}

// SetLogger sets where flush failures are reported.
func (l *AccessLog) SetLogger(log *slog.Logger) { l.logger = log }

// Logger is the logger the log reports its troubles to (SetLogger).
func (l *AccessLog) Logger() *slog.Logger { return l.logger }

// SetLimits changes the limits; zero fields keep their current value.
func (l *AccessLog) SetLimits(lim AccessLogLimits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim.MaxQueue > 0 {
		l.lim.MaxQueue = lim.MaxQueue
	}
	if lim.ChunkRows > 0 {
		l.lim.ChunkRows = lim.ChunkRows
	}
	if lim.StatementTimeout > 0 {
		l.lim.StatementTimeout = lim.StatementTimeout
	}
	if lim.MaxBackoff > 0 {
		l.lim.MaxBackoff = lim.MaxBackoff
	}
	if lim.ShutdownTimeout > 0 {
		l.lim.ShutdownTimeout = lim.ShutdownTimeout
	}
}

// Stats returns the counters so far.
func (l *AccessLog) Stats() AccessLogStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.Pending = st.Queued - st.Written - st.Dropped - st.Gone
	return st
}

// Record queues an event; it never blocks on the database.
func (l *AccessLog) Record(ev AccessEvent) {
	l.count(ev)
	row := accessRow{At: ev.At.UTC(), TokenID: ev.TokenID, ItemID: ev.ItemID, Event: ev.Event,
		ClientMark: l.mark(ev.At, ev.Network), Reason: ev.Reason, Count: 1, unchecked: ev.Unchecked && ev.ItemID != nil}
	if ev.Event == EventOpen && l.netMark != nil {
		row.netMark = l.netMark(ev.TokenID, ev.Network)
	}
	l.mu.Lock()
	l.stats.Queued++
	l.enqueue(row)
	if row.Event == EventView || row.Event == EventDownload || row.Event == EventOpen {
		if row.At.After(l.seen[row.TokenID]) {
			l.seen[row.TokenID] = row.At
		}
	}
	n := len(l.pending)
	l.mu.Unlock()
	if n >= maxPending {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// count tells the metrics about a recorded event, whatever becomes of it.
func (l *AccessLog) count(ev AccessEvent) {
	switch ev.Event {
	case EventOpen:
		l.metrics.GuestOpened()
	case EventView:
		l.metrics.GuestViewed()
	case EventDownload:
		l.metrics.GuestDownloaded()
	case EventDeniedPassword:
		l.metrics.GuestDenied("wrong_password")
	case EventFailed:
		l.metrics.GuestDenied(ev.Reason)
	}
}

// metricsStats is Stats as the metrics read it at each scrape.
func (l *AccessLog) metricsStats() metrics.AccessLogStats {
	st := l.Stats()
	return metrics.AccessLogStats{Pending: st.Pending, Written: st.Written, Retried: st.Retried,
		Merged: st.Merged, Dropped: st.Dropped, Gone: st.Gone}
}

// coalesces tells the events that are folded into an identical queued one
// (same token, item, client mark and reason) with a count: a guest's views,
// openings and downloads between two flushes are one entry, so that a busy
// link costs the flush one row, not one per request. Every other event is
// an entry of its own unless the queue overflows.
func coalesces(event string) bool {
	return event == EventView || event == EventOpen || event == EventDownload
}

// enqueue adds r to the queue, folding it into an identical entry
// (coalesces), or merging or dropping it when the queue is full. l.mu is
// held.
func (l *AccessLog) enqueue(r accessRow) {
	k := keyOf(&r)
	if i, ok := l.index[k]; ok && (l.compacted || coalesces(r.Event)) {
		if l.compacted && !coalesces(r.Event) {
			l.merge(i, r)
		} else {
			l.fold(i, r)
		}
		return
	}
	if len(l.pending)+l.inflight >= l.lim.MaxQueue && !l.compacted {
		l.compact()
		if i, ok := l.index[k]; ok {
			l.merge(i, r)
			return
		}
	}
	if len(l.pending)+l.inflight >= l.lim.MaxQueue {
		l.stats.Dropped += int64(r.Count)
		return
	}
	if l.index == nil {
		l.index = make(map[mergeKey]int)
	}
	l.index[k] = len(l.pending)
	l.pending = append(l.pending, r)
}

// fold adds r to the queued entry i, as coalesces says; the entry keeps the
// newest time.
func (l *AccessLog) fold(i int, r accessRow) {
	e := &l.pending[i]
	e.Count += r.Count
	if r.At.After(e.At) {
		e.At = r.At
	}
}

// merge folds r into the queued entry i because the queue is full; the
// entry keeps the newest time.
func (l *AccessLog) merge(i int, r accessRow) {
	l.fold(i, r)
	l.stats.Merged += int64(r.Count)
}

// compact merges identical queued entries and builds the merge index.
func (l *AccessLog) compact() {
	l.index = make(map[mergeKey]int, len(l.pending))
	out := l.pending[:0]
	for _, r := range l.pending {
		k := keyOf(&r)
		if i, ok := l.index[k]; ok {
			e := &out[i]
			e.Count += r.Count
			if r.At.After(e.At) {
				e.At = r.At
			}
			l.stats.Merged += int64(r.Count)
			continue
		}
		l.index[k] = len(out)
		out = append(out, r)
	}
	clear(l.pending[len(out):])
	l.pending = out
	l.compacted = true
}

// Flush writes every queued event now, in chunks of at most ChunkRows rows,
// each statement with its own deadline. On failure the events not written
// stay queued, ahead of newer ones, for the next flush.
func (l *AccessLog) Flush(ctx context.Context) error {
	l.flushing.Lock()
	defer l.flushing.Unlock()
	l.mu.Lock()
	uncertain, rows, seen, lim := l.uncertain, l.pending, l.seen, l.lim
	l.uncertain, l.pending, l.index, l.compacted, l.seen = nil, nil, nil, false, map[int64]time.Time{}
	l.inflight = len(rows) + l.inflight
	l.mu.Unlock()

	// First settle the chunks whose COMMIT failed: written, or to write again.
	var err error
	var keep []uncertainChunk
	var again []accessRow
	for i, u := range uncertain {
		var st string
		if st, err = l.txStatus(ctx, u.xid, lim.StatementTimeout); err != nil {
			keep = append(keep, uncertain[i:]...)
			break
		}
		switch st {
		case "committed":
			// How many rows of deleted tokens or items the insert left out
			// is not known any more: all count as written.
			l.mu.Lock()
			l.inflight -= len(u.rows)
			l.stats.Written += events(u.rows)
			l.noteWritten(u.rows)
			l.mu.Unlock()
		case "in progress":
			keep = append(keep, u)
		default:
			again = append(again, u.rows...)
		}
	}
	rows = slices.Concat(again, rows)

	written := 0
	for err == nil && written < len(rows) {
		size := min(l.chunkRows(lim), len(rows)-written)
		chunk := rows[written : written+size]
		stored, xid, ierr := l.insert(ctx, chunk, lim.StatementTimeout)
		written += len(chunk)
		l.adaptChunk(ierr, size, lim)
		if ierr != nil {
			err = ierr
			if xid != 0 {
				keep = append(keep, uncertainChunk{xid: xid, rows: slices.Clone(chunk)})
			} else {
				written -= len(chunk)
			}
			break
		}
		l.mu.Lock()
		l.inflight -= len(chunk)
		// Entries of deleted tokens or items were left out; their events
		// are gone with what they named.
		total := events(chunk)
		l.stats.Written += min(stored, total)
		l.stats.Gone += total - min(stored, total)
		l.noteWritten(chunk)
		l.mu.Unlock()
	}
	var left map[int64]time.Time
	if err == nil {
		left, err = l.touch(ctx, seen, lim)
	} else {
		left = seen
	}

	l.mu.Lock()
	l.uncertain = append(keep, l.uncertain...)
	l.inflight = 0
	for _, u := range l.uncertain {
		l.inflight += len(u.rows)
	}
	if written < len(rows) {
		l.pending = slices.Concat(rows[written:], l.pending)
	}
	for id, at := range left {
		if at.After(l.seen[id]) {
			l.seen[id] = at
		}
	}
	if err != nil {
		l.stats.Retried++
	}
	st := l.stats
	dropped, merged := st.Dropped-l.dropLogged, st.Merged-l.mergeLogged
	l.dropLogged, l.mergeLogged = st.Dropped, st.Merged
	l.mu.Unlock()

	if dropped > 0 {
		l.logger.Error("access log queue full: events dropped", "dropped", dropped, "dropped_total", st.Dropped)
	}
	if merged > 0 {
		l.logger.Warn("access log queue full: identical events merged", "merged", merged, "merged_total", st.Merged)
	}
	if err != nil {
		l.logger.Warn("access log flush failed; events kept for the next attempt", "err", err,
			"pending_events", st.Queued-st.Written-st.Dropped-st.Gone)
		return translate(err)
	}
	return nil
}

// chunkRows is the size of the next chunk: ChunkRows, or less after chunks
// ran into their deadline.
func (l *AccessLog) chunkRows(lim AccessLogLimits) int {
	if l.chunk <= 0 || l.chunk > lim.ChunkRows {
		return lim.ChunkRows
	}
	return l.chunk
}

// adaptChunk halves the chunk after one ran into its deadline, so that a
// database too slow for a full chunk still gets the events, a smaller chunk
// at a time; successes grow it back.
func (l *AccessLog) adaptChunk(err error, size int, lim AccessLogLimits) {
	switch {
	case err == nil:
		n := l.chunkRows(lim)
		l.chunk = min(n+n/4+1, lim.ChunkRows)
	case errors.Is(err, context.DeadlineExceeded) || database.IsTimeout(err):
		l.chunk = max(1, size/2)
	}
}

// uncertainChunk is a chunk whose COMMIT failed on PostgreSQL: xid tells
// later whether it was written.
type uncertainChunk struct {
	xid  int64
	rows []accessRow
}

func events(rows []accessRow) int64 {
	var n int64
	for _, r := range rows {
		n += int64(r.Count)
	}
	return n
}

// noteWritten extends the next orphan sweep to the rows. l.mu is held.
func (l *AccessLog) noteWritten(rows []accessRow) {
	for _, r := range rows {
		if l.sweepFrom.IsZero() || r.At.Before(l.sweepFrom) {
			l.sweepFrom = r.At
		}
	}
}

// insert writes rows in one statement, in their order (ids follow it, and
// entries of the same second are listed by id), leaving out those whose
// token or item no longer exists, and returns how many it wrote.
func (l *AccessLog) insert(ctx context.Context, rows []accessRow, timeout time.Duration) (stored, xid int64, err error) {
	pg := !database.IsSQLite(l.db)
	var notes []Notification
	const live = `EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = v.token_id)
  AND (v.item_id IS NULL OR EXISTS (SELECT 1 FROM items AS i WHERE i.id = v.item_id))`
	xid, err = l.exec(ctx, timeout, func(ctx context.Context, db bun.IDB) error {
		// The ties first: the statements below read the rows as settled.
		if err := checkTies(ctx, db, rows); err != nil {
			return err
		}
		values, args := valuesOf(rows, pg)
		// Each stored entry answers its count, so that the events of
		// deleted tokens or items left out are told exactly.
		var counts []int64
		err := db.NewRaw(values+`INSERT INTO access_log (at, token_id, item_id, event, client_mark, reason, count)
SELECT v.at, v.token_id, v.item_id, v.event, v.client_mark, v.reason, v.count FROM v
WHERE `+live+`
ORDER BY v.n
RETURNING count`, args...).Scan(ctx, &counts)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stored = 0
		for _, c := range counts {
			stored += c
		}
		// The views per token and item that owner pages show, and when the
		// token first and last reached the item, kept in the same
		// transaction as the entries they count.
		_, err = db.NewRaw(values+`INSERT INTO token_item_views (token_id, item_id, views, first_at, last_at)
SELECT v.token_id, v.item_id, sum(CASE WHEN v.event = 'view' THEN v.count ELSE 0 END), min(v.at), max(v.at) FROM v
WHERE v.event IN ('open', 'view', 'download') AND v.item_id IS NOT NULL AND `+live+`
GROUP BY v.token_id, v.item_id
ON CONFLICT (token_id, item_id) DO UPDATE SET views = token_item_views.views + excluded.views,
  first_at = CASE WHEN token_item_views.first_at IS NULL OR excluded.first_at < token_item_views.first_at
    THEN excluded.first_at ELSE token_item_views.first_at END,
  last_at = CASE WHEN token_item_views.last_at IS NULL OR excluded.last_at > token_item_views.last_at
    THEN excluded.last_at ELSE token_item_views.last_at END`, args...).Exec(ctx)
		if err != nil {
			return err
		}
		// The distinct networks (client marks) each token reached each item from.
		_, err = db.NewRaw(values+`INSERT INTO token_item_networks (item_id, token_id, client_mark)
SELECT DISTINCT v.item_id, v.token_id, v.client_mark FROM v
WHERE v.event IN ('open', 'view', 'download') AND v.item_id IS NOT NULL AND v.client_mark <> '' AND `+live+`
ON CONFLICT (item_id, token_id, client_mark) DO NOTHING`, args...).Exec(ctx)
		if err != nil {
			return err
		}
		if !wantsNotice(rows) {
			return nil
		}
		// The owners' notifications of these events, in the same
		// transaction, so that a retried chunk makes none twice; behind a
		// savepoint, so that a failure there costs the notifications of
		// this chunk, never its entries.
		if _, err := db.ExecContext(ctx, "SAVEPOINT notifications"); err != nil {
			return err
		}
		notes, err = notifyFromLog(ctx, db, rows)
		if err != nil {
			if _, rerr := db.ExecContext(ctx, "ROLLBACK TO SAVEPOINT notifications"); rerr != nil {
				return rerr
			}
			l.logger.Error("access log: the notifications of a flush were not made", "err", err)
			notes = nil
		}
		return nil
	})
	if err == nil {
		callNotifier(l.notifier, notes)
	}
	return stored, xid, err
}

// valuesOf is the rows as the VALUES list v of the flush's statements, and
// its arguments.
func valuesOf(rows []accessRow, pg bool) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, len(rows)*8)
	b.WriteString("WITH v (n, at, token_id, item_id, event, client_mark, reason, count) AS (VALUES ")
	for i := range rows {
		r := &rows[i]
		switch {
		case i > 0:
			b.WriteString(", (?, ?, ?, ?, ?, ?, ?, ?)")
		case pg:
			b.WriteString("(CAST(? AS INTEGER), CAST(? AS TIMESTAMPTZ), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER))")
		default:
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		}
		args = append(args, i, r.At, r.TokenID, r.ItemID, r.Event, r.ClientMark, r.Reason, r.Count)
	}
	b.WriteString(")\n")
	return b.String(), args
}

// checkTies settles the unchecked items of rows, in one statement: each
// stays tied to its item only if its token may open the item now
// (mayOpenSQL, the rule of the opening it replaces); the others lose it.
// It reports nothing else; a row it settled is settled for any retry.
func checkTies(ctx context.Context, db bun.IDB, rows []accessRow) error {
	var b strings.Builder
	var args []any
	for i := range rows {
		r := &rows[i]
		if !r.unchecked {
			continue
		}
		if len(args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		args = append(args, i, r.TokenID, *r.ItemID)
	}
	if len(args) == 0 {
		return nil
	}
	list := b.String()
	if !database.IsSQLite(db) {
		list = "(CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT))" + strings.TrimPrefix(list, "(?, ?, ?)")
	}
	var ok []int
	err := db.NewRaw(`WITH c (n, token_id, item_id) AS (VALUES `+list+`)
SELECT c.n FROM c JOIN guest_tokens AS t ON t.id = c.token_id
WHERE `+mayOpenSQL("t", "c.item_id"), args...).Scan(ctx, &ok)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	keep := make(map[int]bool, len(ok))
	for _, n := range ok {
		keep[n] = true
	}
	for i := range rows {
		r := &rows[i]
		if !r.unchecked {
			continue
		}
		if !keep[i] {
			r.ItemID = nil
		}
		r.unchecked = false
	}
	return nil
}

// errUncertain marks a failed COMMIT: the transaction may have committed.
var errUncertain = errors.New("access log: commit outcome unknown")

// exec runs fn in a transaction of its own on one connection, every
// statement under the statement deadline: on PostgreSQL the transaction's
// statement_timeout is the same deadline, so that the server ends a
// statement the client gave up on instead of letting it run on, holding its
// locks. The COMMIT is never cut short by ctx (on SQLite it is local and
// quick; on PostgreSQL it has a deadline of its own), so that a write is
// never reported failed after it committed. A COMMIT that fails on
// PostgreSQL returns the transaction id wrapped in errUncertain, for
// txStatus to settle later.
func (l *AccessLog) exec(ctx context.Context, timeout time.Duration, fn func(context.Context, bun.IDB) error) (xid int64, err error) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := l.db.Conn(sctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	sqlite := database.IsSQLite(l.db)
	bg := context.WithoutCancel(ctx)
	var open bool
	defer func() {
		if open {
			// A connection that cannot roll back is dropped, never pooled
			// with an open transaction.
			rctx, cancel := context.WithTimeout(bg, timeout)
			defer cancel()
			if _, rerr := conn.ExecContext(rctx, "ROLLBACK"); rerr != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
	}()
	// A BEGIN reported failed may have begun (a deadline that passes as it
	// returns is reported over its success), so it is rolled back too.
	open = true
	if sqlite {
		if _, err := conn.ExecContext(sctx, "BEGIN IMMEDIATE"); err != nil {
			return 0, err
		}
	} else {
		if _, err := conn.ExecContext(sctx, "BEGIN"); err != nil {
			return 0, err
		}
		err := conn.QueryRowContext(sctx, "SELECT txid_current(), set_config('statement_timeout', ?, true)",
			strconv.FormatInt(max(1, timeout.Milliseconds()), 10)).Scan(&xid, new(string))
		if err != nil {
			return 0, err
		}
	}
	if err := fn(sctx, conn); err != nil {
		return 0, err
	}
	cctx := bg
	if !sqlite {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(bg, timeout)
		defer cancel()
	}
	open = false
	if _, err := conn.ExecContext(cctx, "COMMIT"); err != nil {
		if sqlite {
			// A failed COMMIT leaves the transaction open or rolled back,
			// never committed.
			open = true
			return 0, err
		}
		conn.Raw(func(any) error { return driver.ErrBadConn })
		return xid, fmt.Errorf("%w: %w", errUncertain, err)
	}
	return 0, nil
}

// txStatus reports whether the PostgreSQL transaction xid committed
// ("committed"), did not ("aborted", or "" once too old to be known) or is
// still finishing ("in progress").
func (l *AccessLog) txStatus(ctx context.Context, xid int64, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st *string
	if err := l.db.QueryRowContext(ctx, "SELECT txid_status(?)", xid).Scan(&st); err != nil {
		return "", err
	}
	if st == nil {
		return "", nil
	}
	return *st, nil
}

// touch moves the tokens' last-used times forward and returns those it
// could not write yet. On PostgreSQL it skips token rows that someone holds
// (a link opening, an edit) rather than wait for them.
func (l *AccessLog) touch(ctx context.Context, seen map[int64]time.Time, lim AccessLogLimits) (map[int64]time.Time, error) {
	if len(seen) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	left := map[int64]time.Time{}
	for start := 0; start < len(ids); start += lim.ChunkRows {
		chunk := ids[start:min(start+lim.ChunkRows, len(ids))]
		skipped, err := l.touchChunk(ctx, chunk, seen, lim.StatementTimeout)
		if err != nil {
			for _, id := range ids[start:] {
				left[id] = seen[id]
			}
			return left, err
		}
		for _, id := range skipped {
			left[id] = seen[id]
		}
	}
	return left, nil
}

func (l *AccessLog) touchChunk(ctx context.Context, ids []int64, seen map[int64]time.Time, timeout time.Duration) ([]int64, error) {
	pg := !database.IsSQLite(l.db)
	var b strings.Builder
	args := make([]any, 0, 2*len(ids))
	b.WriteString("WITH v (id, at) AS (VALUES ")
	for i, id := range ids {
		switch {
		case i > 0:
			b.WriteString(", (?, ?)")
		case pg:
			b.WriteString("(CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ))")
		default:
			b.WriteString("(?, ?)")
		}
		args = append(args, id, seen[id])
	}
	b.WriteString(")")
	// One statement in autocommit, so that the rows it locks are held
	// only while it runs; run again after a doubtful failure, it changes
	// nothing more. It never waits for a lock, so the pool's server-side
	// statement_timeout is only a backstop.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !pg {
		b.WriteString(`
UPDATE guest_tokens SET last_used_at = v.at FROM v
WHERE guest_tokens.id = v.id AND (guest_tokens.last_used_at IS NULL OR guest_tokens.last_used_at < v.at)`)
		_, err := l.db.NewRaw(b.String(), args...).Exec(ctx)
		return nil, err
	}
	// Only rows that need the update are locked, and a row someone holds
	// is skipped (and reported) rather than waited for.
	b.WriteString(`,
need AS (
  SELECT t.id, v.at FROM guest_tokens AS t JOIN v ON v.id = t.id
  WHERE t.last_used_at IS NULL OR t.last_used_at < v.at
), held AS (
  SELECT t.id FROM guest_tokens AS t WHERE t.id IN (SELECT id FROM need)
  FOR NO KEY UPDATE SKIP LOCKED
), done AS (
  UPDATE guest_tokens AS t SET last_used_at = need.at FROM need
  WHERE t.id = need.id AND t.id IN (SELECT id FROM held)
    AND (t.last_used_at IS NULL OR t.last_used_at < need.at)
  RETURNING t.id
)
SELECT id FROM need WHERE id NOT IN (SELECT id FROM done)`)
	var skipped []int64
	err := l.db.NewRaw(b.String(), args...).Scan(ctx, &skipped)
	if isNoRows(err) {
		err = nil
	}
	return skipped, err
}

// Run flushes every interval (sooner when many events wait) until ctx ends,
// then flushes what is left. After a failed flush it waits longer each time,
// up to MaxBackoff, before the next attempt; events are kept meanwhile.
func (l *AccessLog) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var backoff time.Duration
	var next time.Time
	for {
		select {
		case <-ctx.Done():
			l.drain()
			return
		case <-t.C:
		case <-l.kick:
		}
		if time.Now().Before(next) {
			continue
		}
		if err := l.Flush(ctx); err != nil && ctx.Err() == nil {
			l.mu.Lock()
			maxBackoff := l.lim.MaxBackoff
			l.mu.Unlock()
			backoff = min(max(2*backoff, interval), maxBackoff)
			next = time.Now().Add(backoff)
			continue
		}
		backoff, next = 0, time.Time{}
	}
}

// drain retries the last flush until everything is written or the shutdown
// deadline passes, and says what is left, if anything.
func (l *AccessLog) drain() {
	l.mu.Lock()
	timeout := l.lim.ShutdownTimeout
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := l.Flush(ctx)
		st := l.Stats()
		if err == nil && st.Pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			l.logger.Error("access log: shutdown deadline passed with events not written", "events", st.Pending, "err", err)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// pruneChunk bounds the rows one pruning statement deletes.
const pruneChunk = 10_000

// Prune deletes entries older than the retention, a chunk per statement,
// and entries written since the last prune whose token or item was deleted
// while they were being written.
func (l *AccessLog) Prune(ctx context.Context, before time.Time) error {
	l.mu.Lock()
	timeout, from := l.lim.StatementTimeout, l.sweepFrom
	l.sweepFrom = time.Time{}
	l.mu.Unlock()
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*timeout)
		res, err := l.db.NewRaw(`DELETE FROM access_log WHERE id IN
  (SELECT id FROM access_log WHERE at < ? ORDER BY at LIMIT ?)`, before.UTC(), pruneChunk).Exec(sctx)
		cancel()
		if err != nil {
			l.keepSweep(from)
			return translate(err)
		}
		if n, _ := res.RowsAffected(); n < pruneChunk {
			break
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*timeout)
	err := pruneTokenNetworks(pctx, l.db, before)
	pcancel()
	if err != nil {
		l.keepSweep(from)
		return err
	}
	if from.IsZero() {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	_, err = l.db.NewRaw(`DELETE FROM access_log WHERE at >= ?
  AND (NOT EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = access_log.token_id)
    OR (item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM items AS i WHERE i.id = access_log.item_id)))`, from).Exec(sctx)
	if err != nil {
		l.keepSweep(from)
	}
	return translate(err)
}

// keepSweep puts back the start of an orphan sweep that did not run.
func (l *AccessLog) keepSweep(from time.Time) {
	if from.IsZero() {
		return
	}
	l.mu.Lock()
	if l.sweepFrom.IsZero() || from.Before(l.sweepFrom) {
		l.sweepFrom = from
	}
	l.mu.Unlock()
}
