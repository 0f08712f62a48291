package acl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// Notification kinds.
const (
	NotifyFirstOpen        = "first_open"
	NotifyNewNetwork       = "new_network"
	NotifyPasswordFailures = "password_failures"
	NotifyExpiring         = "expiring"
	NotifyComment          = "comment"
)

// Thresholds of the notifications derived from the access log and the
// token list.
const (
	// PasswordFailureNotice wrong visitor passwords for one token within
	// PasswordFailureWindow make one notification (and at most one per
	// window).
	PasswordFailureNotice = 3
	PasswordFailureWindow = time.Hour
	// A token that opened something within ExpiringRecentUse and expires
	// within ExpiringNotice is announced once per expiry.
	ExpiringNotice    = 3 * 24 * time.Hour
	ExpiringRecentUse = 30 * 24 * time.Hour
	// commentExcerpt bounds the characters of a comment quoted in its
	// notification.
	commentExcerpt = 140
)

// Notification tells an owner about one of their tokens or items. It only
// ever names the owner's own token and item.
type Notification struct {
	bun.BaseModel `bun:"table:notifications"`

	ID      int64      `bun:"id,pk,autoincrement"`
	OwnerID int64      `bun:"owner_id"`
	At      time.Time  `bun:"at"`
	Kind    string     `bun:"kind"`
	TokenID *int64     `bun:"token_id"`
	ItemID  *int64     `bun:"item_id"`
	Text    string     `bun:"text"`
	ReadAt  *time.Time `bun:"read_at"`
	// Dedup makes a notification that must happen once unique.
	Dedup *string `bun:"dedup"`
}

// Read reports whether the owner has marked the notification read.
func (n *Notification) Read() bool { return n.ReadAt != nil }

// Notifier receives the notifications just stored, after their transaction
// committed (for e-mail). It must not block: it is called on the access-log
// flush and on request paths.
type Notifier func([]Notification)

// notifierBox holds the notifier for atomic swaps.
type notifierBox struct{ fn Notifier }

// SetNotifier installs fn as the receiver of new notifications (nil for none).
func (s *Service) SetNotifier(fn Notifier) {
	s.notifier.Store(&notifierBox{fn: fn})
}

func callNotifier(p *atomic.Pointer[notifierBox], ns []Notification) {
	if p == nil || len(ns) == 0 {
		return
	}
	if b := p.Load(); b != nil && b.fn != nil {
		b.fn(ns)
	}
}

// insertNotifications stores ns, a statement per chunk of insertChunk
// rows, and returns those stored: one whose Dedup is already taken is left
// out.
func insertNotifications(ctx context.Context, db bun.IDB, ns []Notification) ([]Notification, error) {
	out := make([]Notification, 0, len(ns))
	for start := 0; start < len(ns); start += insertChunk {
		chunk := ns[start:min(start+insertChunk, len(ns))]
		var b strings.Builder
		args := make([]any, 0, 7*len(chunk))
		b.WriteString("INSERT INTO notifications (owner_id, at, kind, token_id, item_id, text, dedup) VALUES ")
		for i, n := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, n.OwnerID, n.At.UTC(), n.Kind, n.TokenID, n.ItemID, n.Text, n.Dedup)
		}
		b.WriteString(" ON CONFLICT (dedup) DO NOTHING RETURNING id, owner_id, at, kind, token_id, item_id, text, dedup")
		var stored []Notification
		if err := db.NewRaw(b.String(), args...).Scan(ctx, &stored); err != nil && !isNoRows(err) {
			return nil, translate(err)
		}
		out = append(out, stored...)
	}
	return out, nil
}

// insertChunk bounds the rows of one insert of notifications or networks.
const insertChunk = 200

func dedupKey(parts ...any) *string {
	s := fmt.Sprint(parts...)
	return &s
}

func quoted(name string) string { return "“" + name + "”" }

// netMark is the stable per-token mark of a client network, kept in
// token_networks: keyed by the server key and by the token, so that it
// tells one network from another for that token only, and names no address.
func netMark(key []byte, token int64, network string) string {
	if network == "" {
		return ""
	}
	return keyedHex(key, "token network", strconv.FormatInt(token, 10), network)[:16]
}

// tokenNote is what the notifications of a flush need of a token.
type tokenNote struct {
	ID      int64  `bun:"id"`
	OwnerID int64  `bun:"owner_id"`
	Name    string `bun:"name"`
	// Seen: the token was opened from a known network before; Legacy: it
	// was opened before networks were kept (the empty mark).
	Seen   bool `bun:"seen"`
	Legacy bool `bun:"legacy"`
}

// wantsNotice reports whether a chunk holds events that may make
// notifications (openings, wrong visitor passwords).
func wantsNotice(rows []accessRow) bool {
	for i := range rows {
		if (rows[i].Event == EventOpen && rows[i].netMark != "") || rows[i].Event == EventDeniedPassword {
			return true
		}
	}
	return false
}

// notifyFromLog derives the notifications of one flushed chunk, in the
// chunk's transaction: a token's first opening, an opening from a network
// not seen before for the token, and repeated wrong visitor passwords.
func notifyFromLog(ctx context.Context, db bun.IDB, rows []accessRow) ([]Notification, error) {
	opens := map[netKey]*networkSeen{}
	denied := map[int64]time.Time{}
	var ids []int64
	for i := range rows {
		r := &rows[i]
		switch {
		case r.Event == EventOpen && r.netMark != "":
			p := netKey{r.TokenID, r.netMark}
			if s, ok := opens[p]; ok {
				if r.At.Before(s.first) {
					s.first, s.item = r.At, r.ItemID
				}
				if r.At.After(s.last) {
					s.last = r.At
				}
			} else {
				opens[p] = &networkSeen{key: p, first: r.At, last: r.At, item: r.ItemID}
			}
		case r.Event == EventDeniedPassword:
			if r.At.After(denied[r.TokenID]) {
				denied[r.TokenID] = r.At
			}
		default:
			continue
		}
		ids = append(ids, r.TokenID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var toks []tokenNote
	err := db.NewRaw(`SELECT t.id, t.owner_id, t.name,
  EXISTS (SELECT 1 FROM token_networks AS n WHERE n.token_id = t.id AND n.mark <> '') AS seen,
  EXISTS (SELECT 1 FROM token_networks AS n WHERE n.token_id = t.id AND n.mark = '') AS legacy
FROM guest_tokens AS t WHERE t.id IN (?)`, bun.List(ids)).Scan(ctx, &toks)
	if err != nil && !isNoRows(err) {
		return nil, err
	}
	byID := make(map[int64]*tokenNote, len(toks))
	for i := range toks {
		byID[toks[i].ID] = &toks[i]
	}

	var out []Notification
	if len(opens) > 0 {
		seen := make([]*networkSeen, 0, len(opens))
		for _, o := range opens {
			if byID[o.key.token] != nil {
				seen = append(seen, o)
			}
		}
		// Oldest first, so that a token's first network is the first opening.
		slices.SortFunc(seen, func(a, b *networkSeen) int {
			if c := a.first.Compare(b.first); c != 0 {
				return c
			}
			return strings.Compare(a.key.mark, b.key.mark)
		})
		fresh, err := recordNetworks(ctx, db, seen)
		if err != nil {
			return nil, err
		}
		first := map[int64]bool{}
		var ns []Notification
		for _, s := range seen {
			if !fresh[s.key] {
				continue
			}
			t := byID[s.key.token]
			n := Notification{OwnerID: t.OwnerID, At: s.first, TokenID: &t.ID, ItemID: s.item}
			if !t.Seen && !first[t.ID] {
				first[t.ID] = true
				if t.Legacy {
					continue
				}
				n.Kind, n.Dedup = NotifyFirstOpen, dedupKey("first_open:", t.ID)
				n.Text = "The guest link " + quoted(t.Name) + " was opened for the first time."
			} else {
				n.Kind, n.Dedup = NotifyNewNetwork, dedupKey("new_network:", t.ID, ":", s.key.mark)
				n.Text = "The guest link " + quoted(t.Name) + " was opened from a network not seen before for it."
			}
			ns = append(ns, n)
		}
		stored, err := insertNotifications(ctx, db, ns)
		if err != nil {
			return nil, err
		}
		out = append(out, stored...)
	}

	for tokenID, at := range denied {
		t := byID[tokenID]
		if t == nil {
			continue
		}
		since := at.Add(-PasswordFailureWindow)
		var failures int
		var told bool
		err := db.NewRaw(`SELECT
  (SELECT coalesce(sum(count), 0) FROM access_log WHERE token_id = ? AND event = ? AND at > ? AND at <= ?),
  EXISTS (SELECT 1 FROM notifications WHERE token_id = ? AND kind = ? AND at > ?)`,
			tokenID, EventDeniedPassword, since, at, tokenID, NotifyPasswordFailures, since).Scan(ctx, &failures, &told)
		if err != nil {
			return nil, err
		}
		if failures < PasswordFailureNotice || told {
			continue
		}
		stored, err := insertNotifications(ctx, db, []Notification{{OwnerID: t.OwnerID, At: at, Kind: NotifyPasswordFailures,
			TokenID: &t.ID, Text: fmt.Sprintf("%d wrong visitor passwords were entered for the guest link %s within an hour.", failures, quoted(t.Name))}})
		if err != nil {
			return nil, err
		}
		out = append(out, stored...)
	}
	return out, nil
}

// netKey names one network of one token in token_networks.
type netKey struct {
	token int64
	mark  string
}

// networkSeen is a network's openings of a token in one flushed chunk: the
// first and the last, and the item of the first.
type networkSeen struct {
	key         netKey
	first, last time.Time
	item        *int64
}

// recordNetworks stores the networks seen, moving last_at forward on those
// already known, and returns those that were new: a statement per chunk
// for each.
func recordNetworks(ctx context.Context, db bun.IDB, pairs []*networkSeen) (map[netKey]bool, error) {
	pg := !database.IsSQLite(db)
	fresh := map[netKey]bool{}
	for start := 0; start < len(pairs); start += insertChunk {
		chunk := pairs[start:min(start+insertChunk, len(pairs))]
		var ins, vals strings.Builder
		args := make([]any, 0, 4*len(chunk))
		upd := make([]any, 0, 3*len(chunk))
		for i, p := range chunk {
			token, mark, first, last := p.key.token, p.key.mark, p.first, p.last
			switch {
			case i > 0:
				ins.WriteString(", (?, ?, ?, ?)")
				vals.WriteString(", (?, ?, ?)")
			case pg:
				ins.WriteString("(?, ?, ?, ?)")
				vals.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TIMESTAMPTZ))")
			default:
				ins.WriteString("(?, ?, ?, ?)")
				vals.WriteString("(?, ?, ?)")
			}
			args = append(args, token, mark, first.UTC(), last.UTC())
			upd = append(upd, token, mark, last.UTC())
		}
		var got []struct {
			TokenID int64  `bun:"token_id"`
			Mark    string `bun:"mark"`
		}
		err := db.NewRaw("INSERT INTO token_networks (token_id, mark, first_at, last_at) VALUES "+ins.String()+
			" ON CONFLICT (token_id, mark) DO NOTHING RETURNING token_id, mark", args...).Scan(ctx, &got)
		if err != nil && !isNoRows(err) {
			return nil, err
		}
		for _, g := range got {
			fresh[netKey{g.TokenID, g.Mark}] = true
		}
		if len(got) == len(chunk) {
			continue
		}
		// The known ones: a later opening moves last_at, which keeps the
		// network from being forgotten while it is in use.
		if _, err := db.NewRaw("WITH v (token_id, mark, last) AS (VALUES "+vals.String()+`)
UPDATE token_networks SET last_at = v.last FROM v
WHERE token_networks.token_id = v.token_id AND token_networks.mark = v.mark AND token_networks.last_at < v.last`, upd...).Exec(ctx); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// pruneTokenNetworks forgets networks not seen since before, and those of
// deleted tokens; the mark of a token opened before networks were kept
// stays while the token does.
func pruneTokenNetworks(ctx context.Context, db bun.IDB, before time.Time) error {
	_, err := db.NewRaw(`DELETE FROM token_networks WHERE (last_at < ? AND mark <> '')
  OR NOT EXISTS (SELECT 1 FROM guest_tokens AS t WHERE t.id = token_networks.token_id)`, before.UTC()).Exec(ctx)
	return translate(err)
}

// NotifyExpiringTokens announces every live token that opened something in
// the last 30 days and expires within 3 days of now. It is idempotent: an
// expiry is announced once, however often (and on however many instances)
// it runs; a token whose expiry is moved is announced again for the new one.
func (s *Service) NotifyExpiringTokens(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	var toks []struct {
		ID        int64     `bun:"id"`
		OwnerID   int64     `bun:"owner_id"`
		Name      string    `bun:"name"`
		ExpiresAt time.Time `bun:"expires_at"`
	}
	err := s.DB.NewRaw(`SELECT id, owner_id, name, expires_at FROM guest_tokens
WHERE revoked_at IS NULL AND expires_at > ? AND expires_at <= ?
  AND last_used_at >= ? AND (max_uses IS NULL OR uses < max_uses)
ORDER BY id`, now, now.Add(ExpiringNotice), now.Add(-ExpiringRecentUse)).Scan(ctx, &toks)
	if err != nil && !isNoRows(err) {
		return 0, translate(err)
	}
	ns := make([]Notification, 0, len(toks))
	for _, t := range toks {
		ns = append(ns, Notification{OwnerID: t.OwnerID, At: now, Kind: NotifyExpiring, TokenID: &t.ID,
			Dedup: dedupKey("expiring:", t.ID, ":", t.ExpiresAt.UTC().UnixNano()),
			Text:  "The guest link " + quoted(t.Name) + " expires on " + t.ExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC") + "."})
	}
	stored, err := insertNotifications(ctx, s.DB, ns)
	if err != nil {
		return 0, err
	}
	callNotifier(&s.notifier, stored)
	return len(stored), nil
}

// NotifyComment tells the owner of item that a guest holding token
// commented on it, quoting the start of the comment. Token and item must
// belong to one member, who is the one told; anything else is ENotFound.
func (s *Service) NotifyComment(ctx context.Context, tokenID, itemID int64, excerpt string) error {
	var t struct {
		OwnerID int64  `bun:"owner_id"`
		Name    string `bun:"name"`
	}
	err := s.DB.NewRaw(`SELECT t.owner_id, t.name FROM guest_tokens AS t
JOIN items AS i ON i.id = ? AND i.owner_id = t.owner_id
WHERE t.id = ?`, itemID, tokenID).Scan(ctx, &t)
	if isNoRows(err) {
		return app.Errorf(app.ENotFound, "Not found.")
	}
	if err != nil {
		return translate(err)
	}
	excerpt = strings.Join(strings.Fields(excerpt), " ")
	if utf8.RuneCountInString(excerpt) > commentExcerpt {
		excerpt = string([]rune(excerpt)[:commentExcerpt-1]) + "…"
	}
	stored, err := insertNotifications(ctx, s.DB, []Notification{{OwnerID: t.OwnerID, At: s.now(), Kind: NotifyComment,
		TokenID: &tokenID, ItemID: &itemID, Text: "A guest with the link " + quoted(t.Name) + " commented: " + excerpt}})
	if err != nil {
		return err
	}
	callNotifier(&s.notifier, stored)
	return nil
}

// Notifications returns one page of owner's notifications, newest first
// (by id, in the order they were made), and the cursor of the next page.
// A notification names a token or an item only while it exists and is
// owner's.
func (s *Service) Notifications(ctx context.Context, owner int64, p app.Page) ([]Notification, string, error) {
	limit := p.Limit
	if limit <= 0 || limit > app.MaxPageSize {
		limit = app.DefaultPageSize
	}
	q := s.DB.NewSelect().TableExpr("notifications AS n").
		ColumnExpr("n.id, n.owner_id, n.at, n.kind, t.id AS token_id, i.id AS item_id, n.text, n.read_at").
		Join("LEFT JOIN guest_tokens AS t ON t.id = n.token_id AND t.owner_id = n.owner_id").
		Join("LEFT JOIN items AS i ON i.id = n.item_id AND i.owner_id = n.owner_id").
		Where("n.owner_id = ?", owner)
	if p.Cursor != "" {
		key, err := app.DecodeCursor(p.Cursor, 1)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("n.id < ?", key[0])
	}
	var out []Notification
	if err := q.OrderExpr("n.id DESC").Limit(limit+1).Scan(ctx, &out); err != nil && !isNoRows(err) {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = app.EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// UnreadNotifications counts owner's unread notifications, by the partial
// index on the unread ones.
func (s *Service) UnreadNotifications(ctx context.Context, owner int64) (int, error) {
	var n int
	err := s.DB.NewRaw("SELECT count(*) FROM notifications WHERE owner_id = ? AND read_at IS NULL", owner).Scan(ctx, &n)
	return n, translate(err)
}

// MaxMarkRead bounds the ids of one mark-read call.
const MaxMarkRead = 1000

// MarkNotificationsRead marks owner's notifications with the ids read (all
// of them with all); ids of others' notifications change nothing. It
// returns how many were unread.
func (s *Service) MarkNotificationsRead(ctx context.Context, owner int64, ids []int64, all bool) (int64, error) {
	if !all && len(ids) == 0 {
		return 0, app.Errorf(app.EInvalid, `Give "ids" (a list of notification ids) or "all": true.`)
	}
	if len(ids) > MaxMarkRead {
		return 0, app.Errorf(app.EInvalid, "At most %d ids at once.", MaxMarkRead)
	}
	q := s.DB.NewUpdate().Table("notifications").Set("read_at = ?", s.now()).
		Where("owner_id = ? AND read_at IS NULL", owner)
	if !all {
		q = q.Where("id IN (?)", bun.List(ids))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// MailRecipient is a member who gets notifications by e-mail.
type MailRecipient struct {
	ID          int64  `bun:"id"`
	DisplayName string `bun:"display_name"`
	Email       string `bun:"email"`
}

// MailRecipients returns, of the members given, those who have an e-mail
// address and have not turned notification mail off.
func (s *Service) MailRecipients(ctx context.Context, members []int64) (map[int64]MailRecipient, error) {
	out := map[int64]MailRecipient{}
	if len(members) == 0 {
		return out, nil
	}
	var rows []MailRecipient
	err := s.DB.NewRaw(`SELECT id, display_name, email FROM members
WHERE id IN (?) AND email IS NOT NULL AND email <> '' AND notify_email`, bun.List(members)).Scan(ctx, &rows)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}
