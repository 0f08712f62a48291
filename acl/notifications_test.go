package acl_test

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/migrations"
)

// ntWorld is alWorld with a second member, Bob, who has a token and an item
// of his own, and a record of what the notifier received.
type ntWorld struct {
	*alWorld
	bob     int64
	bobItem int64
	bobTok  *acl.GuestToken
	bobZat  string

	mu  sync.Mutex
	got []acl.Notification
}

func ntNewWorld(t *testing.T, db *bun.DB) *ntWorld {
	w := &ntWorld{alWorld: alNewWorld(t, db)}
	bob := w.member("bob")
	w.bob = bob.ID
	w.bobItem = w.post(bob.ID, "Bob's")
	w.bobTok, w.bobZat = w.token(bob.ID, acl.TokenInput{Name: tkPtr("Bob's friend")})
	w.acl(bob.ID, w.bobItem, false, []int64{w.bobTok.ID}, nil)
	w.s.SetNotifier(func(ns []acl.Notification) {
		w.mu.Lock()
		w.got = append(w.got, ns...)
		w.mu.Unlock()
	})
	return w
}

// told returns and forgets what the notifier received.
func (w *ntWorld) told() []acl.Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.got
	w.got = nil
	return out
}

func (w *ntWorld) flush() {
	w.t.Helper()
	if err := w.s.Log.Flush(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *ntWorld) list(owner int64) []acl.Notification {
	w.t.Helper()
	ns, _, err := w.s.Notifications(context.Background(), owner, app.Page{Limit: 200})
	if err != nil {
		w.t.Fatal(err)
	}
	return ns
}

func (w *ntWorld) open(secret, network string, item int64) {
	w.t.Helper()
	if _, err := w.s.ExchangeZat(context.Background(), secret, network, acl.GuestSession{}, &item); err != nil {
		w.t.Fatal(err)
	}
}

func kinds(ns []acl.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Kind
	}
	return out
}

// Openings become notifications in the flush: the first one of a token,
// then one per network not seen before for it; repeats make none. Each goes
// to the token's owner only.
func TestNotifyOpenings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		for range 5 {
			w.open(w.secretB, "203.0.113.7", w.item)
		}
		w.open(w.bobZat, "203.0.113.7", w.bobItem)
		w.flush()
		ann := w.list(w.owner)
		if len(ann) != 1 || ann[0].Kind != acl.NotifyFirstOpen || *ann[0].TokenID != w.tokB.ID || ann[0].ItemID == nil || *ann[0].ItemID != w.item {
			t.Fatalf("after five openings from one network: %+v", ann)
		}
		if !strings.Contains(ann[0].Text, "Cousin") {
			t.Errorf("text %q does not name the link", ann[0].Text)
		}
		bob := w.list(w.bob)
		if len(bob) != 1 || *bob[0].TokenID != w.bobTok.ID {
			t.Fatalf("Bob's notifications: %+v", bob)
		}
		if got := w.told(); len(got) != 2 {
			t.Fatalf("the notifier got %d notifications, want 2: %+v", len(got), got)
		}

		// A new network is told once; a known one, and a flush with
		// nothing new, tell nothing.
		w.open(w.secretB, "198.51.100.0/64", w.item)
		w.open(w.secretB, "198.51.100.0/64", w.item)
		w.open(w.secretB, "203.0.113.7", w.item)
		w.clock.Advance(48 * time.Hour) // the access log's daily mark changes; this one does not
		w.open(w.secretB, "203.0.113.7", w.item)
		w.flush()
		w.flush()
		ann = w.list(w.owner)
		if got := kinds(ann); len(got) != 2 || got[0] != acl.NotifyNewNetwork || got[1] != acl.NotifyFirstOpen {
			t.Fatalf("kinds %v, want new_network then first_open", got)
		}
		if got := w.told(); len(got) != 1 || got[0].Kind != acl.NotifyNewNetwork || got[0].OwnerID != w.owner {
			t.Fatalf("the notifier got %+v", got)
		}
		if n, err := w.s.UnreadNotifications(ctx, w.owner); err != nil || n != 2 {
			t.Errorf("unread %d, %v; want 2", n, err)
		}

		// The networks are stored only as keyed marks.
		var dump []string
		if err := db.NewRaw("SELECT mark FROM token_networks").Scan(ctx, &dump); err != nil {
			t.Fatal(err)
		}
		if len(dump) != 3 {
			t.Errorf("%d networks stored, want 3 (two of Cousin's, one of Bob's friend's)", len(dump))
		}
		for _, m := range dump {
			if strings.Contains(m, "203.0") || strings.Contains(m, "198.51") {
				t.Errorf("a raw address is stored: %q", m)
			}
		}
		// A network not seen within the retention is forgotten, so it
		// counts as new when it comes back.
		if err := w.s.Log.Prune(ctx, w.clock.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := db.NewRaw("SELECT count(*) FROM token_networks").Scan(ctx, &left); err != nil {
			t.Fatal(err)
		}
		if left != 1 {
			t.Errorf("%d networks left after pruning, want 1 (the one seen since)", left)
		}
	})
}

// An opening through a landing page counts too; a zat on the URL of an item
// that its token cannot open gives a notification without that item.
func TestNotifyOpeningTiesOnlyOpenableItems(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		w.open(w.bobZat, "203.0.113.9", w.item) // Ann's item, Bob's token
		w.flush()
		bob := w.list(w.bob)
		if len(bob) != 1 || bob[0].ItemID != nil {
			t.Fatalf("Bob's notification: %+v", bob)
		}
		if ann := w.list(w.owner); len(ann) != 0 {
			t.Fatalf("Ann got Bob's token's notification: %+v", ann)
		}
	})
}

// Three wrong visitor passwords within an hour make one notification; more
// within the hour none; three more after it another.
func TestNotifyPasswordFailures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		tok, _ := w.token(w.owner, acl.TokenInput{Name: tkPtr("Locked"), Password: tkPtr("open sesame please")})
		p, ok := w.s.OpenPending(w.s.SealPending(tok, nil))
		if !ok {
			t.Fatal("pending mark does not open")
		}
		wrong := func(n int) {
			t.Helper()
			for range n {
				if _, err := w.s.OpenPendingLink(ctx, p, "wrong", "203.0.113.20"); err != acl.ErrWrongVisitorPassword {
					t.Fatalf("wrong password: %v", err)
				}
				w.clock.Advance(time.Minute)
			}
			w.flush()
		}
		count := func() int {
			n := 0
			for _, x := range w.list(w.owner) {
				if x.Kind == acl.NotifyPasswordFailures {
					n++
				}
			}
			return n
		}
		wrong(2)
		if n := count(); n != 0 {
			t.Fatalf("%d notifications after two wrong passwords", n)
		}
		wrong(1)
		if n := count(); n != 1 {
			t.Fatalf("%d notifications after three wrong passwords, want 1", n)
		}
		wrong(2)
		if n := count(); n != 1 {
			t.Fatalf("%d notifications after five within the hour, want 1", n)
		}
		w.clock.Advance(2 * time.Hour)
		wrong(2)
		if n := count(); n != 1 {
			t.Fatalf("%d notifications after two more later, want 1", n)
		}
		wrong(1)
		if n := count(); n != 2 {
			t.Fatalf("%d notifications after three more later, want 2", n)
		}
		if len(w.list(w.bob)) != 0 {
			t.Error("Bob was told about Ann's token")
		}
	})
}

// Tokens used in the last 30 days that expire within 3 days are announced
// once per expiry, however often the job runs.
func TestNotifyExpiringTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		now := w.clock.Now()
		soon := now.Add(48 * time.Hour)
		later := now.Add(5 * 24 * time.Hour)
		used, usedZat := w.token(w.owner, acl.TokenInput{Name: tkPtr("Used"), ExpiresAt: &soon})
		w.token(w.owner, acl.TokenInput{Name: tkPtr("Never used"), ExpiresAt: &soon})
		_, farZat := w.token(w.owner, acl.TokenInput{Name: tkPtr("Far"), ExpiresAt: &later})
		w.acl(w.owner, w.item, false, nil, nil)
		w.open(usedZat, "203.0.113.30", w.item)
		w.open(farZat, "203.0.113.30", w.item)
		w.flush()
		w.told()

		n, err := w.s.NotifyExpiringTokens(ctx, now)
		if err != nil || n != 1 {
			t.Fatalf("first run: %d, %v; want 1", n, err)
		}
		if n, err := w.s.NotifyExpiringTokens(ctx, now.Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("second run: %d, %v; want 0", n, err)
		}
		got := w.told()
		if len(got) != 1 || got[0].Kind != acl.NotifyExpiring || *got[0].TokenID != used.ID {
			t.Fatalf("told %+v", got)
		}
		// A moved expiry is a new one.
		moved := soon.Add(12 * time.Hour)
		if _, err := w.s.UpdateToken(ctx, w.owner, used.ID, acl.TokenInput{ExpiresAt: &moved}); err != nil {
			t.Fatal(err)
		}
		if n, err := w.s.NotifyExpiringTokens(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("after moving the expiry: %d, %v; want 1", n, err)
		}
		// A token last used more than 30 days ago is not announced.
		w.clock.Advance(40 * 24 * time.Hour)
		old := w.clock.Now().Add(24 * time.Hour)
		if _, err := w.s.UpdateToken(ctx, w.owner, used.ID, acl.TokenInput{ExpiresAt: &old}); err != nil {
			t.Fatal(err)
		}
		if n, err := w.s.NotifyExpiringTokens(ctx, w.clock.Now()); err != nil || n != 0 {
			t.Fatalf("stale token: %d, %v; want 0", n, err)
		}
		if len(w.list(w.bob)) != 0 {
			t.Error("Bob was told about Ann's tokens")
		}
	})
}

// A comment notifies the owner of the item and its token, and only when
// both are one member's.
func TestNotifyComment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		long := strings.Repeat("word ", 100)
		if err := w.s.NotifyComment(ctx, w.tokA.ID, w.item, "  Lovely\n photos! "+long); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "Bob's token on Ann's item", w.s.NotifyComment(ctx, w.bobTok.ID, w.item, "x"), app.ENotFound)
		wantCode(t, "Ann's token on Bob's item", w.s.NotifyComment(ctx, w.tokA.ID, w.bobItem, "x"), app.ENotFound)
		ann := w.list(w.owner)
		if len(ann) != 1 || ann[0].Kind != acl.NotifyComment || *ann[0].ItemID != w.item || *ann[0].TokenID != w.tokA.ID {
			t.Fatalf("Ann's notifications: %+v", ann)
		}
		if !strings.Contains(ann[0].Text, "Grandma") || !strings.Contains(ann[0].Text, "Lovely photos! word") || len([]rune(ann[0].Text)) > 250 {
			t.Errorf("text %q", ann[0].Text)
		}
		if len(w.list(w.bob)) != 0 {
			t.Error("Bob was told")
		}
		if got := w.told(); len(got) != 1 {
			t.Errorf("the notifier got %d", len(got))
		}
	})
}

// Pages are keyed, newest first; marking read touches only the caller's.
func TestNotificationsPagesAndRead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		for range 5 {
			if err := w.s.NotifyComment(ctx, w.tokA.ID, w.item, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.s.NotifyComment(ctx, w.bobTok.ID, w.bobItem, "hi"); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		cursor := ""
		for range 4 {
			page, next, err := w.s.Notifications(ctx, w.owner, app.Page{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page {
				ids = append(ids, n.ID)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		if len(ids) != 5 {
			t.Fatalf("paged %d notifications, want 5", len(ids))
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				t.Fatalf("not newest first: %v", ids)
			}
		}
		bobs := w.list(w.bob)
		if n, err := w.s.MarkNotificationsRead(ctx, w.owner, []int64{bobs[0].ID}, false); err != nil || n != 0 {
			t.Fatalf("Ann marking Bob's: %d, %v", n, err)
		}
		if n, _ := w.s.UnreadNotifications(ctx, w.bob); n != 1 {
			t.Fatalf("Bob's unread %d after Ann's call, want 1", n)
		}
		if n, err := w.s.MarkNotificationsRead(ctx, w.owner, ids[:2], false); err != nil || n != 2 {
			t.Fatalf("mark two: %d, %v", n, err)
		}
		if n, _ := w.s.UnreadNotifications(ctx, w.owner); n != 3 {
			t.Fatalf("unread %d, want 3", n)
		}
		if got := w.list(w.owner); !got[0].Read() || got[2].Read() {
			t.Errorf("read flags wrong: %v %v", got[0].Read(), got[2].Read())
		}
		if n, err := w.s.MarkNotificationsRead(ctx, w.owner, nil, true); err != nil || n != 3 {
			t.Fatalf("mark all: %d, %v", n, err)
		}
		if n, _ := w.s.UnreadNotifications(ctx, w.bob); n != 1 {
			t.Fatalf("Bob's unread %d after Ann's mark-all, want 1", n)
		}
		_, err := w.s.MarkNotificationsRead(ctx, w.owner, nil, false)
		wantCode(t, "nothing to mark", err, app.EInvalid)
		_, _, err = w.s.Notifications(ctx, w.owner, app.Page{Cursor: "junk!"})
		wantCode(t, "bad cursor", err, app.EInvalid)
	})
}

// E-mail settings: a bad address is refused; mail goes to members with an
// address who did not turn it off.
func TestMemberMailSettings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		for _, bad := range []string{"ann", "ann@", "Ann <ann@example.org>", "ann@example.org\r\nBcc: x@y.z", "a b@example.org", strings.Repeat("a", 250) + "@example.org"} {
			_, err := w.s.SetMemberMail(ctx, w.owner, &bad, nil)
			wantCode(t, "address "+bad, err, app.EInvalid)
		}
		m, err := w.s.SetMemberMail(ctx, w.owner, tkPtr(" ann@example.org "), nil)
		if err != nil || m.Email == nil || *m.Email != "ann@example.org" || !m.NotifyEmail {
			t.Fatalf("set: %+v, %v", m, err)
		}
		if _, err := w.s.SetMemberMail(ctx, w.bob, tkPtr("bob@example.org"), tkPtr(false)); err != nil {
			t.Fatal(err)
		}
		to, err := w.s.MailRecipients(ctx, []int64{w.owner, w.bob})
		if err != nil {
			t.Fatal(err)
		}
		if len(to) != 1 || to[w.owner].Email != "ann@example.org" {
			t.Fatalf("recipients %+v, want Ann only", to)
		}
		if m, err := w.s.SetMemberMail(ctx, w.owner, tkPtr(""), nil); err != nil || m.Email != nil {
			t.Fatalf("clear: %+v, %v", m, err)
		}
	})
}

// The bell's count and a page of notifications are one query each, however
// many notifications the owner has; on SQLite the count reads the partial
// index of unread ones.
func TestNotificationQueriesDoNotGrow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		counts := func() (int64, int64) {
			t.Helper()
			cctx, c := database.WithCounter(ctx)
			if _, err := w.s.UnreadNotifications(cctx, w.owner); err != nil {
				t.Fatal(err)
			}
			n1 := c.Count()
			pctx, p := database.WithCounter(ctx)
			if _, _, err := w.s.Notifications(pctx, w.owner, app.Page{Limit: 2}); err != nil {
				t.Fatal(err)
			}
			return n1, p.Count()
		}
		for range 3 {
			if err := w.s.NotifyComment(ctx, w.tokA.ID, w.item, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		c1, p1 := counts()
		for range 30 {
			if err := w.s.NotifyComment(ctx, w.tokA.ID, w.item, "hi"); err != nil {
				t.Fatal(err)
			}
		}
		c2, p2 := counts()
		if c1 != 1 || c2 != 1 || p1 != 1 || p2 != 1 {
			t.Errorf("queries: count %d then %d, page %d then %d; want 1 each", c1, c2, p1, p2)
		}
		if database.IsSQLite(db) {
			var plan []struct {
				ID     int    `bun:"id"`
				Parent int    `bun:"parent"`
				NotUse int    `bun:"notused"`
				Detail string `bun:"detail"`
			}
			if err := db.NewRaw("EXPLAIN QUERY PLAN SELECT count(*) FROM notifications WHERE owner_id = ? AND read_at IS NULL", w.owner).Scan(ctx, &plan); err != nil {
				t.Fatal(err)
			}
			if len(plan) == 0 || !strings.Contains(plan[0].Detail, "notifications_unread_idx") {
				t.Errorf("the unread count does not use its index: %+v", plan)
			}
		}
	})
}

// A token opened before the upgrade that added notifications is not told
// as opened for the first time: migration 0010 marks it, its first network
// afterwards is taken in silently, and a second one is told as new.
func TestNotifyLegacyTokenNotFirstOpen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		if _, err := db.NewRaw("UPDATE guest_tokens SET uses = 3, last_used_at = ? WHERE id = ?", w.clock.Now().Add(-time.Hour), w.tokB.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		dir, fsys := "sqlite", migrations.SQLite
		if !database.IsSQLite(db) {
			dir, fsys = "postgres", migrations.Postgres
		}
		up, err := fs.ReadFile(fsys, dir+"/0010_notifications.tx.up.sql")
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		for _, stmt := range strings.Split(string(up), "--bun:split") {
			if strings.Contains(stmt, "INSERT INTO token_networks") {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
				ran = true
			}
		}
		if !ran {
			t.Fatal("migration 0010 does not mark the tokens opened before it")
		}
		w.open(w.secretB, "203.0.113.40", w.item)
		w.flush()
		if got := w.list(w.owner); len(got) != 0 {
			t.Fatalf("an old token's first opening after the upgrade was told: %+v", got)
		}
		w.open(w.secretB, "203.0.113.41", w.item)
		w.flush()
		if got := kinds(w.list(w.owner)); len(got) != 1 || got[0] != acl.NotifyNewNetwork {
			t.Fatalf("a second network: %v, want one new_network", got)
		}
		// The other token had never been opened: its first opening is told.
		_, secretA := w.token(w.owner, acl.TokenInput{Name: tkPtr("Fresh")})
		w.open(secretA, "203.0.113.40", w.item)
		w.flush()
		if got := kinds(w.list(w.owner)); len(got) != 2 || got[0] != acl.NotifyFirstOpen {
			t.Fatalf("a fresh token: %v", got)
		}
	})
}

// A failure while making notifications costs the notifications of that
// flush, never the access-log entries beside them.
func TestNotificationFailureKeepsTheLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := ntNewWorld(t, db)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "DROP TABLE token_networks"); err != nil {
			t.Fatal(err)
		}
		w.open(w.secretB, "203.0.113.50", w.item)
		w.views(w.tokB, 3)
		w.flush()
		if ev, _ := w.stored(); ev != 4 {
			t.Fatalf("%d events stored, want 4 (the opening and three views)", ev)
		}
		if got := w.list(w.owner); len(got) != 0 {
			t.Errorf("notifications %+v", got)
		}
		if !strings.Contains(w.logBuf.String(), "notifications of a flush were not made") {
			t.Errorf("the failure was not logged:\n%s", w.logBuf.String())
		}
	})
}
