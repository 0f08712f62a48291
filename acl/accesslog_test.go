package acl_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
)

// alWorld is a member with a post and two tokens (siblings) that may open it.
type alWorld struct {
	*tkWorld
	owner      int64
	item       int64
	tokA, tokB *acl.GuestToken
	secretB    string
	logBuf     *logtest.Buffer
}

func alNewWorld(t *testing.T, db *bun.DB) *alWorld {
	w := &alWorld{tkWorld: tkNewWorld(t, db), logBuf: &logtest.Buffer{}}
	owner := w.member("ann")
	w.owner = owner.ID
	w.item = w.post(owner.ID, "Holiday")
	w.tokA, _ = w.token(owner.ID, acl.TokenInput{Name: tkPtr("Grandma")})
	w.tokB, w.secretB = w.token(owner.ID, acl.TokenInput{Name: tkPtr("Cousin")})
	w.acl(owner.ID, w.item, false, []int64{w.tokA.ID, w.tokB.ID}, nil)
	w.s.Log.SetLogger(slog.New(slog.NewTextHandler(w.logBuf, nil)))
	return w
}

// views records n views of the item by tok, from n different networks
// (so that none are identical).
func (w *alWorld) views(tok *acl.GuestToken, n int) {
	for i := range n {
		w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: tok.ID, ItemID: &w.item, Event: acl.EventView,
			Network: fmt.Sprintf("198.51.%d.%d/24", i/250, i%250)})
	}
}

// stored returns the events in the access log (an entry of count n is n
// events) and the number of entries.
func (w *alWorld) stored() (events, entries int) {
	w.t.Helper()
	err := w.db.QueryRowContext(context.Background(), "SELECT coalesce(sum(count), 0), count(*) FROM access_log").Scan(&events, &entries)
	if err != nil {
		w.t.Fatal(err)
	}
	return events, entries
}

// lockLog holds a lock that makes every write to access_log wait: on
// PostgreSQL an ACCESS EXCLUSIVE lock on the table, on SQLite the write
// lock of the database. release ends it.
func lockLog(t *testing.T, db *bun.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !database.IsSQLite(db) {
		_, err = tx.ExecContext(ctx, "LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE")
	} else {
		// _txlock=immediate already took the write lock; write to be sure.
		_, err = tx.ExecContext(ctx, "DELETE FROM access_log WHERE id < 0")
	}
	if err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			tx.Rollback()
			conn.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// abandonedInserts counts statements still running on the server that wait
// for a lock: the flush's, since only the test's lock is held (PostgreSQL
// only; the query text shown is cut short, so it is not matched).
func abandonedInserts(t *testing.T, db *bun.DB) int {
	t.Helper()
	var n int
	err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
  AND wait_event_type = 'Lock'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFailedFlushKeepsEventsForTheNext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		ctx := context.Background()
		w.s.Log.SetLimits(acl.AccessLogLimits{StatementTimeout: 300 * time.Millisecond, ChunkRows: 100})
		w.views(w.tokA, 250)
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		release := lockLog(t, db)
		w.views(w.tokA, 420)
		w.views(w.tokB, 30)
		if err := w.s.Log.Flush(ctx); err == nil {
			t.Fatal("flush succeeded while the access log was locked")
		}
		if !database.IsSQLite(db) {
			// The server ended the INSERT the client gave up on: nothing is
			// left running (and holding locks) once the flush has failed.
			deadline := time.Now().Add(5 * time.Second)
			for abandonedInserts(t, db) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := abandonedInserts(t, db); n != 0 {
				t.Errorf("%d abandoned INSERTs still run on the server", n)
			}
		}
		// Events recorded while the write is failing join the kept ones.
		w.views(w.tokB, 50)
		if st := w.s.Log.Stats(); st.Pending != 500 || st.Retried != 1 || st.Written != 250 || st.Dropped != 0 {
			t.Errorf("while locked: %+v, want 500 pending, 1 retry, 250 written", st)
		}
		if err := w.s.Log.Flush(ctx); err == nil {
			t.Fatal("second flush succeeded while the access log was locked")
		}
		release()

		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatalf("flush after the lock was released: %v", err)
		}
		if events, entries := w.stored(); events != 750 || entries != 750 {
			t.Errorf("stored %d events in %d entries, want 750 in 750: events were lost", events, entries)
		}
		if st := w.s.Log.Stats(); st.Pending != 0 || st.Written != 750 || st.Retried != 2 || st.Queued != 750 {
			t.Errorf("after release: %+v", st)
		}
		if n, err := w.s.TokenViews(ctx, w.tokB.ID); err != nil || n != 80 {
			t.Errorf("token B views %d (%v), want 80", n, err)
		}
		if !strings.Contains(w.logBuf.String(), "events kept for the next attempt") {
			t.Errorf("the failed flush was not logged:\n%s", w.logBuf.String())
		}
	})
}

// TestFlushDoesNotWaitOnALockedToken is a long row lock on one token (an
// edit, a slow opening) while views are flushed and a sibling token's link
// is opened: neither the flush nor the opening may wait on it.
func TestFlushDoesNotWaitOnALockedToken(t *testing.T) {
	for _, lock := range []string{
		"SELECT id FROM guest_tokens WHERE id = ? FOR UPDATE",
		"UPDATE guest_tokens SET note = 'busy' WHERE id = ?",
	} {
		t.Run(strings.Fields(lock)[0], func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, "postgres")
			w := alNewWorld(t, db)
			ctx := context.Background()
			// Make B's last use older than the views, so that the flush
			// has B's row to update too.
			w.clock.Advance(time.Hour)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, strings.Replace(lock, "?", fmt.Sprint(w.tokA.ID), 1)); err != nil {
				t.Fatal(err)
			}

			w.views(w.tokA, 700)
			w.views(w.tokB, 300)
			// Both must finish well within these deadlines while the lock is
			// held; waiting on it would run into them.
			fctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			var flushErr, zatErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				flushErr = w.s.Log.Flush(fctx)
			}()
			go func() {
				defer wg.Done()
				for range 20 {
					if _, zatErr = w.s.ExchangeZat(fctx, w.secretB, "203.0.113.7", acl.GuestSession{}, &w.item); zatErr != nil {
						return
					}
				}
			}()
			wg.Wait()
			if flushErr != nil {
				t.Fatalf("flush while a token row is locked: %v", flushErr)
			}
			if zatErr != nil {
				t.Fatalf("opening the sibling's link while a token row is locked: %v", zatErr)
			}
			if events, _ := w.stored(); events != 1000 {
				t.Errorf("stored %d events while the token was locked, want 1000", events)
			}
			// The locked token's last use waits for its row; the sibling's is written.
			if b := w.stored2(w.tokB.ID); b == nil || !b.Equal(w.clock.Now()) {
				t.Errorf("token B last used %v, want %v", b, w.clock.Now())
			}
			if a := w.stored2(w.tokA.ID); a != nil {
				t.Errorf("token A last used %v while its row was locked", a)
			}
			tx.Rollback()
			if err := w.s.Log.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if a := w.stored2(w.tokA.ID); a == nil || !a.Equal(w.clock.Now()) {
				t.Errorf("token A last used %v after its row was released, want %v", a, w.clock.Now())
			}
		})
	}
}

// stored2 returns a token's last-used time as stored.
func (w *alWorld) stored2(id int64) *time.Time {
	w.t.Helper()
	var at sql.NullTime
	if err := w.db.QueryRowContext(context.Background(), "SELECT last_used_at FROM guest_tokens WHERE id = ?", id).Scan(&at); err != nil {
		w.t.Fatal(err)
	}
	if !at.Valid {
		return nil
	}
	v := at.Time.UTC()
	return &v
}

func TestQueueOverflowMergesIdenticalEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		ctx := context.Background()
		w.s.Log.SetLimits(acl.AccessLogLimits{MaxQueue: 4})
		// Wrong visitor passwords are entries of their own until the queue
		// overflows (views would be folded anyway: see the next test).
		deny := func(tok *acl.GuestToken, network string) {
			w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: tok.ID, ItemID: &w.item, Event: acl.EventDeniedPassword, Network: network})
		}
		deny(w.tokA, "198.51.100.0/24")
		deny(w.tokA, "198.51.100.0/24") // identical: merged once the queue is full
		deny(w.tokB, "198.51.100.0/24")
		deny(w.tokA, "203.0.113.0/24")
		// The queue is full: compacting it makes room for one more.
		deny(w.tokB, "203.0.113.0/24")
		w.clock.Advance(time.Minute)
		for range 5 {
			deny(w.tokA, "198.51.100.0/24")
		}
		w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: w.tokB.ID, Event: acl.EventFailed, Reason: "expired", Network: "198.51.100.0/24"})
		w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: w.tokB.ID, Event: acl.EventFailed, Reason: "expired", Network: "192.0.2.0/24"})
		st := w.s.Log.Stats()
		if st.Queued != 12 || st.Merged != 6 || st.Dropped != 2 || st.Pending != 10 {
			t.Errorf("stats %+v, want 12 queued, 6 merged, 2 dropped, 10 pending", st)
		}
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if events, entries := w.stored(); events != 10 || entries != 4 {
			t.Errorf("stored %d events in %d entries, want 10 in 4", events, entries)
		}
		// The merged entry carries the newest time of its events.
		var newest time.Time
		if err := db.NewRaw("SELECT max(at) FROM access_log WHERE count = 7").Scan(ctx, &newest); err != nil || !newest.Equal(w.clock.Now()) {
			t.Errorf("merged entry at %v (%v), want %v", newest, err, w.clock.Now())
		}
		logged := w.logBuf.String()
		if !strings.Contains(logged, "events dropped") || !strings.Contains(logged, "dropped=2") ||
			!strings.Contains(logged, "events merged") {
			t.Errorf("overflow not logged:\n%s", logged)
		}
		// A queue with room again takes such events one by one.
		deny(w.tokA, "198.51.100.0/24")
		deny(w.tokA, "198.51.100.0/24")
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if events, entries := w.stored(); events != 12 || entries != 6 {
			t.Errorf("stored %d events in %d entries, want 12 in 6", events, entries)
		}
	})
}

// A guest's views, openings and downloads between two flushes are one entry
// each (per token, item, network and kind) with their count and newest time,
// so a busy link costs the flush one row; every view still counts, and the
// queue's overflow statistics do not move.
func TestViewsBetweenFlushesAreOneEntry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		ctx := context.Background()
		rec := func(event, network string) {
			w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: w.tokA.ID, ItemID: &w.item, Event: event, Network: network})
		}
		for range 5 {
			rec(acl.EventView, "198.51.100.0/24")
			w.clock.Advance(time.Second)
		}
		rec(acl.EventView, "203.0.113.0/24")
		rec(acl.EventView, "203.0.113.0/24")
		for range 3 {
			rec(acl.EventOpen, "198.51.100.0/24")
		}
		rec(acl.EventDownload, "198.51.100.0/24")
		rec(acl.EventDownload, "198.51.100.0/24")
		rec(acl.EventDeniedPassword, "198.51.100.0/24")
		rec(acl.EventDeniedPassword, "198.51.100.0/24")
		if st := w.s.Log.Stats(); st.Queued != 14 || st.Pending != 14 || st.Merged != 0 || st.Dropped != 0 {
			t.Errorf("stats %+v, want 14 queued and pending, none merged or dropped", st)
		}
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if events, entries := w.stored(); events != 14 || entries != 6 {
			t.Errorf("stored %d events in %d entries, want 14 in 6 (views ×2, open, download, two wrong passwords)", events, entries)
		}
		if n, err := w.s.TokenViews(ctx, w.tokA.ID); err != nil || n != 7 {
			t.Errorf("token A views %d (%v), want 7", n, err)
		}
		var newest time.Time
		if err := db.NewRaw("SELECT at FROM access_log WHERE count = 5").Scan(ctx, &newest); err != nil ||
			!newest.Equal(w.clock.Now().Add(-time.Second)) {
			t.Errorf("the five views' entry at %v (%v), want the newest view's time %v", newest, err, w.clock.Now().Add(-time.Second))
		}
		// After a flush the next view starts a new entry.
		rec(acl.EventView, "198.51.100.0/24")
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if events, entries := w.stored(); events != 15 || entries != 7 {
			t.Errorf("stored %d events in %d entries, want 15 in 7", events, entries)
		}
		if st := w.s.Log.Stats(); st.Written != 15 || st.Merged != 0 {
			t.Errorf("stats %+v, want 15 written, none merged", st)
		}
	})
}

// TestDeletedItemsAndTokensTakeTheirEntries: the log has no foreign keys,
// yet a deleted item or token takes its entries with it, and events queued
// for it neither fail the batch nor come back as orphans.
func TestDeletedItemsAndTokensTakeTheirEntries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		ctx := context.Background()
		other := w.post(w.owner, "Other")
		w.acl(w.owner, other, false, []int64{w.tokA.ID, w.tokB.ID}, nil)
		w.views(w.tokA, 10)
		w.views(w.tokB, 5)
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Queued for an item and a token that are deleted before the flush.
		w.views(w.tokA, 7)
		w.views(w.tokB, 4)
		for range 3 {
			w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: w.tokB.ID, ItemID: &other, Event: acl.EventView, Network: "192.0.2.0/24"})
		}
		if err := w.cs.DeleteItem(ctx, w.owner, w.item); err != nil {
			t.Fatal(err)
		}
		if events, _ := w.stored(); events != 0 {
			t.Errorf("%d entries outlived their item", events)
		}
		w.s.Log.Record(acl.AccessEvent{At: w.clock.Now(), TokenID: w.tokA.ID, ItemID: &other, Event: acl.EventView, Network: "192.0.2.0/24"})
		if _, err := db.ExecContext(ctx, "DELETE FROM principals WHERE id = ?", w.tokA.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatalf("flush with events of a deleted item and token: %v", err)
		}
		if events, entries := w.stored(); events != 3 || entries != 1 {
			t.Errorf("stored %d events in %d entries, want the 3 views of the live item and token in one entry", events, entries)
		}
		if st := w.s.Log.Stats(); st.Gone != 12 || st.Written != 18 || st.Pending != 0 {
			t.Errorf("stats %+v, want 12 gone, 18 written", st)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM principals WHERE id = ?", w.tokB.ID); err != nil {
			t.Fatal(err)
		}
		if events, _ := w.stored(); events != 0 {
			t.Errorf("%d entries outlived their token", events)
		}
	})
}

// TestPruneSweepsOrphansAndOldEntries: an entry written while its token was
// being deleted (possible on PostgreSQL, where the insert does not wait for
// the delete) goes at the next prune, as do entries past the retention.
func TestPruneSweepsOrphansAndOldEntries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		ctx := context.Background()
		w.views(w.tokA, 3)
		w.clock.Advance(48 * time.Hour)
		w.views(w.tokB, 2)
		if err := w.s.Log.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewRaw("INSERT INTO access_log (at, token_id, item_id, event, client_mark, reason, count) VALUES (?, ?, ?, 'view', '', '', 1)",
			w.clock.Now(), w.tokB.ID+1000, w.item).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.s.Log.Prune(ctx, w.clock.Now().Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if events, entries := w.stored(); events != 2 || entries != 2 {
			t.Errorf("after prune %d events in %d entries, want token B's 2", events, entries)
		}
	})
}

// TestRunWritesEverythingOnShutdown: Run's last flush retries until the
// database takes the events; with the database gone for good it gives up
// at the shutdown deadline and says how many are left.
func TestRunWritesEverythingOnShutdown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		w.s.Log.SetLimits(acl.AccessLogLimits{StatementTimeout: 200 * time.Millisecond, ShutdownTimeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			w.s.Log.Run(ctx, time.Hour)
			close(done)
		}()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.views(w.tokA, 400)
			}()
		}
		wg.Wait()
		release := lockLog(t, db)
		w.views(w.tokB, 77)
		cancel()
		waitFor(t, "a failed shutdown flush", func() bool { return w.s.Log.Stats().Retried > 0 })
		release()
		// Deadlines short enough to fail fast on the lock are too short
		// for a loaded machine (and the race detector) to write on.
		w.s.Log.SetLimits(acl.AccessLogLimits{StatementTimeout: 10 * time.Second})
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Run did not return after the database came back\n%s", w.logBuf.String())
		}
		if events, _ := w.stored(); events != 1677 {
			t.Errorf("stored %d events after shutdown, want 1677", events)
		}

		// Locked for good: Run returns at its shutdown deadline.
		w.s.Log.SetLimits(acl.AccessLogLimits{ShutdownTimeout: time.Second})
		release = lockLog(t, db)
		w.views(w.tokB, 5)
		ctx, cancel = context.WithCancel(context.Background())
		done = make(chan struct{})
		go func() {
			w.s.Log.Run(ctx, time.Hour)
			close(done)
		}()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return at its shutdown deadline")
		}
		release()
		if !strings.Contains(w.logBuf.String(), "shutdown deadline passed with events not written") ||
			!strings.Contains(w.logBuf.String(), "events=5") {
			t.Errorf("what shutdown left was not logged:\n%s", w.logBuf.String())
		}
	})
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCutShortFlushesNeitherLoseNorRepeat ends flushes at every point of
// their work (connection, BEGIN, INSERT, COMMIT) with contexts that expire
// after varied delays: a write reported failed must not have been stored
// (or it would be stored twice by the next flush), and nothing may be lost.
func TestCutShortFlushesNeitherLoseNorRepeat(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := alNewWorld(t, db)
		w.s.Log.SetLimits(acl.AccessLogLimits{ChunkRows: 40})
		failed := 0
		for i := range 150 {
			w.views(w.tokA, 60)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%30)*100*time.Microsecond)
			if w.s.Log.Flush(ctx) != nil {
				failed++
			}
			cancel()
		}
		if err := w.s.Log.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if events, _ := w.stored(); events != 150*60 {
			t.Errorf("stored %d events, want %d (%d flushes were cut short)", events, 150*60, failed)
		}
		if failed == 0 {
			t.Log("no flush was cut short")
		}
	})
}

// commitCutter is a TCP proxy to PostgreSQL that, once armed, lets the
// first COMMIT through, waits for the server's answer (the transaction has
// committed then) and drops the connection instead of passing it on: the
// client cannot know whether its write was stored.
type commitCutter struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int32
}

func newCommitCutter(t *testing.T, target string) *commitCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *commitCutter) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var cutting atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if bytes.Contains(buf[:n], []byte("COMMIT\x00")) && p.armed.CompareAndSwap(true, false) {
					cutting.Store(true)
				}
				s.Write(buf[:n])
			}
			if err != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && cutting.Load() {
			p.cuts.Add(1)
			c.Close()
			s.Close()
			return
		}
		if n > 0 {
			c.Write(buf[:n])
		}
		if err != nil {
			c.Close()
			return
		}
	}
}

// TestUncertainCommitIsSettledNotRepeated: a COMMIT whose answer is lost
// (the connection drops after the server committed) is settled with the
// server's record of the transaction: its events are counted once, never
// written again.
func TestUncertainCommitIsSettledNotRepeated(t *testing.T) {
	dbURL := dbtest.URL(t, "postgres")
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newCommitCutter(t, u.Host)
	u.Host = p.ln.Addr().String()
	ctx := context.Background()
	db, err := database.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { database.Close(db) })
	w := alNewWorld(t, db)
	w.views(w.tokA, 120)
	p.armed.Store(true)
	if err := w.s.Log.Flush(ctx); err == nil {
		t.Fatal("flush succeeded though its COMMIT answer was lost")
	}
	if p.cuts.Load() != 1 {
		t.Fatalf("%d connections cut, want 1", p.cuts.Load())
	}
	if st := w.s.Log.Stats(); st.Written != 0 || st.Pending != 120 {
		t.Errorf("after the lost answer: %+v, want 120 pending", st)
	}
	w.views(w.tokB, 5)
	if err := w.s.Log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if events, entries := w.stored(); events != 125 || entries != 125 {
		t.Errorf("stored %d events in %d entries, want 125: the uncertain chunk was lost or written twice", events, entries)
	}
	if st := w.s.Log.Stats(); st.Written != 125 || st.Pending != 0 {
		t.Errorf("stats %+v, want 125 written", st)
	}
}

// TestSlowInsertsShrinkTheChunk: when a full chunk cannot be written within
// the statement deadline (here every row costs the server 10 ms), chunks
// shrink until they fit, and every event is written.
func TestSlowInsertsShrinkTheChunk(t *testing.T) {
	db := dbtest.Open(t, "postgres")
	w := alNewWorld(t, db)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`,
		`CREATE TRIGGER access_log_slow BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION slow_row()`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	w.s.Log.SetLimits(acl.AccessLogLimits{ChunkRows: 200, StatementTimeout: 400 * time.Millisecond})
	w.views(w.tokA, 300)
	var err error
	for range 40 {
		if err = w.s.Log.Flush(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("40 flushes did not write the events: %v", err)
	}
	if events, _ := w.stored(); events != 300 {
		t.Errorf("stored %d events, want 300", events)
	}
	if st := w.s.Log.Stats(); st.Retried == 0 {
		t.Error("no flush ran into its deadline: the test proves nothing")
	}
}
