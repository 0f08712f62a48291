package acl

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// GuestSession is what a browser holds after opening links: the tokens it
// opened, each bound to the token's session version (bumped by rotation and
// password changes). It lives sealed in a cookie and is re-checked against
// the tokens on every request, so revoking, expiring, rotating or changing
// the password of a token ends its sessions on the very next request, on
// every instance sharing the database.
type GuestSession struct {
	Tokens []GuestGrant `json:"t"`
}

// GuestGrant is one token in a guest session. Tag is a prefix of the
// token's lookup hash, so that re-opening the same link is recognised
// without spending a use.
type GuestGrant struct {
	TokenID int64  `json:"i"`
	Version int    `json:"v"`
	Tag     []byte `json:"h"`
}

// MaxGuestTokens bounds the tokens one browser session holds.
const MaxGuestTokens = 20

const (
	purposeGuest   = "guest session"
	purposePending = "pending link"
	// PendingLifetime is how long a landing page stays usable.
	PendingLifetime = time.Hour
)

// TokenIDs lists the session's token ids.
func (g GuestSession) TokenIDs() []int64 {
	out := make([]int64, len(g.Tokens))
	for i, t := range g.Tokens {
		out[i] = t.TokenID
	}
	return out
}

// Holds reports whether the session already holds the token whose lookup
// hash starts with tag.
func (g GuestSession) Holds(tag []byte) bool {
	for _, t := range g.Tokens {
		if bytes.Equal(t.Tag, tag) {
			return true
		}
	}
	return false
}

// With returns the session with the token added (replacing an older grant
// of the same token); the oldest token drops out past MaxGuestTokens.
func (g GuestSession) With(t *GuestToken) GuestSession {
	out := GuestSession{Tokens: make([]GuestGrant, 0, len(g.Tokens)+1)}
	for _, gr := range g.Tokens {
		if gr.TokenID != t.ID {
			out.Tokens = append(out.Tokens, gr)
		}
	}
	out.Tokens = append(out.Tokens, GuestGrant{TokenID: t.ID, Version: t.SessionVersion, Tag: tagOf(t.SecretHash)})
	if n := len(out.Tokens); n > MaxGuestTokens {
		out.Tokens = out.Tokens[n-MaxGuestTokens:]
	}
	return out
}

func tagOf(hash []byte) []byte { return hash[:8] }

// SealGuest seals a guest session for its cookie.
func (s *Service) SealGuest(g GuestSession) string {
	b, _ := json.Marshal(g)
	return SealString(s.Keys.Cookie, purposeGuest, b)
}

// OpenGuest opens a guest-session cookie; anything forged or stale is an
// empty session. A cookie opens to the same session every time (which
// tokens, at which versions; their state is checked by each request), so
// the sessions of recent cookies are kept and a browser's requests open its
// cookie once. The session returned is shared: it must not be changed
// (With makes a new one).
func (s *Service) OpenGuest(v string) GuestSession {
	var g GuestSession
	if v == "" {
		return g
	}
	if g, ok := s.openedGuests.GetIfPresent(v); ok {
		return g
	}
	b, err := UnsealString(s.Keys.Cookie, purposeGuest, v)
	if err != nil || json.Unmarshal(b, &g) != nil || len(g.Tokens) > MaxGuestTokens {
		return GuestSession{}
	}
	s.openedGuests.Set(v, g)
	return g
}

// openedGuestsBytes bounds the memory of the kept guest sessions.
const openedGuestsBytes = 4 << 20

func newOpenedGuests() *otter.Cache[string, GuestSession] {
	return otter.Must(&otter.Options[string, GuestSession]{
		MaximumWeight: openedGuestsBytes,
		Weigher: func(cookie string, g GuestSession) uint32 {
			return uint32(64 + len(cookie) + 48*len(g.Tokens))
		},
	})
}

// Pending marks a link whose token needs an explicit open; it carries no
// right to see anything.
type Pending struct {
	TokenID int64 `json:"i"`
	Version int   `json:"v"`
	Expires int64 `json:"e"`
	// Item is the item the link was for, if any, for the access log.
	Item *int64 `json:"t,omitempty"`
}

// SealPending seals a pending mark for its cookie.
func (s *Service) SealPending(t *GuestToken, item *int64) string {
	b, _ := json.Marshal(Pending{TokenID: t.ID, Version: t.SessionVersion, Expires: s.now().Add(PendingLifetime).Unix(), Item: item})
	return SealString(s.Keys.Cookie, purposePending, b)
}

// OpenPending opens a pending-link cookie.
func (s *Service) OpenPending(v string) (Pending, bool) {
	var p Pending
	if v == "" {
		return p, false
	}
	b, err := UnsealString(s.Keys.Cookie, purposePending, v)
	if err != nil || json.Unmarshal(b, &p) != nil || s.now().Unix() > p.Expires {
		return Pending{}, false
	}
	return p, true
}

// Outcomes of a zat exchange.
const (
	// Opened: a new guest session for an unlimited token; a use was counted.
	Opened = iota + 1
	// Reopened: the browser already holds a live session of this token.
	Reopened
	// NeedsOpen: the token has a use limit or a password; the browser gets a
	// pending mark and the landing page.
	NeedsOpen
)

// errGuestFailure is what every unusable token gives: the same "not found"
// as a missing item.
var errGuestFailure = app.Errorf(app.ENotFound, "Not found.")

// Exchange is what a zat exchange gives: the token, the outcome, and, for a
// link that needs its landing page (NeedsOpen), the item the link was for
// when the token may open it (nil otherwise), the only item the landing
// page's events may be tied to. An opening's own entry is tied by the
// access log, with the same check (AccessEvent.Unchecked).
type Exchange struct {
	Token   *GuestToken
	Outcome int
	Item    *int64
}

// ExchangeZat checks a zat value presented on a GET. held is the guest
// session the browser already has; network is the client's network for
// throttling and the access log; item is the item whose URL carried the zat,
// if any. Every failure is the same ENotFound, or EThrottled once the network
// (or the token) has failed too often. A success erases no earlier failure,
// so a held token never buys more guesses.
func (s *Service) ExchangeZat(ctx context.Context, secret, network string, held GuestSession, item *int64) (Exchange, error) {
	netKey := NetworkKey(s.Keys, network)
	if !ValidSecret(GuestTokenPrefix, secret) {
		// Blocked networks get 429 for every attempt, malformed ones too.
		if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
			return Exchange{}, err
		}
		return Exchange{}, s.zatFailed(ctx, netKey, nil, item, network, "")
	}
	hash := LookupHash(s.Keys.Lookup, secret)
	now := s.now()
	if held.Holds(tagOf(hash)) {
		if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
			return Exchange{}, err
		}
		t, err := s.tokenByHash(ctx, hash)
		if err == nil && t.Status(now) != StatusRevoked && t.Status(now) != StatusExpired {
			for _, g := range held.Tokens {
				if g.TokenID == t.ID && g.Version == t.SessionVersion {
					return Exchange{Token: t, Outcome: Reopened}, nil
				}
			}
		}
	}
	// The common case, an unlimited token without password, costs this one
	// statement: it checks the throttle and the token's state and counts
	// the use. Whether the token may open the item of the URL is settled
	// when the opening's log entry is written (AccessEvent.Unchecked):
	// nothing else depends on it, and the rule would lengthen the one
	// write every opening of the link waits for.
	t := new(GuestToken)
	at := database.TimeArg(s.DB, now)
	err := s.openLink.QueryRow(ctx, t, at, at, at, at, hash, at, at, ActionZat, netKey.Key, at)
	if err == nil {
		s.Log.Record(AccessEvent{At: now, TokenID: t.ID, ItemID: item, Unchecked: true, Event: EventOpen, Network: network})
		return Exchange{Token: t, Outcome: Opened}, nil
	}
	if !isNoRows(err) {
		return Exchange{}, translate(err)
	}
	if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
		return Exchange{}, err
	}
	t, err = s.tokenByHash(ctx, hash)
	if app.IsNotFound(err) {
		return Exchange{}, s.zatFailed(ctx, netKey, nil, item, network, "")
	}
	if err != nil {
		return Exchange{}, err
	}
	if st := t.Status(now); st != StatusActive {
		return Exchange{}, s.zatFailed(ctx, netKey, t, item, network, st)
	}
	if err := s.Throttle.Check(ctx, ActionZat, TokenKey(t.ID)); err != nil {
		return Exchange{}, err
	}
	ex := Exchange{Token: t, Outcome: NeedsOpen}
	if ex.Item, err = s.openableItem(ctx, t.ID, item); err != nil {
		return Exchange{}, err
	}
	return ex, nil
}

// firstUseSQL is the SET part of an opening that starts the access window:
// the first opening records first_used_at and, for a token with
// expires_after_first_use, moves expires_at to the earlier of itself and
// the end of the window. Arguments: now, now, now.
func firstUseSQL(db bun.IDB) string {
	end := database.AddSecondsSQL(db, "?", "expires_after_first_use")
	return `first_used_at = COALESCE(first_used_at, ?),
  expires_at = CASE WHEN first_used_at IS NULL AND expires_after_first_use IS NOT NULL
    AND (expires_at IS NULL OR expires_at > ` + end + `) THEN ` + end + ` ELSE expires_at END`
}

// startWindow starts the access window of a token reached without an
// opening (a bearer request), so that a crawler's token expires like a
// person's; it changes nothing once the clock runs.
func (s *Service) startWindow(ctx context.Context, t *GuestToken) (*GuestToken, error) {
	if t.FirstUsedAt != nil || t.ExpiresAfterFirstUse == nil {
		return t, nil
	}
	now := s.now()
	out := new(GuestToken)
	err := s.DB.NewRaw(`UPDATE guest_tokens SET `+firstUseSQL(s.DB)+` WHERE id = ? AND first_used_at IS NULL RETURNING *`,
		now, now, now, t.ID).Scan(ctx, out)
	if isNoRows(err) {
		return t, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// openLinkSQL is the zat exchange of an unlimited token without password:
// it checks the throttle and the token's state and access window, and
// counts the use (starting the window at the first). Arguments: now, now,
// now, now (firstUseSQL), the lookup hash, now, now, the throttle's action
// and key, now.
func openLinkSQL(db bun.IDB) string {
	return `UPDATE guest_tokens SET uses = uses + 1, last_used_at = ?, ` + firstUseSQL(db) + `
WHERE secret_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
  AND (valid_from IS NULL OR valid_from <= ?)
  AND max_uses IS NULL AND password_hash IS NULL
  AND NOT EXISTS (SELECT 1 FROM throttle WHERE action = ? AND key = ? AND blocked_until > ?)
RETURNING *`
}

// newOpenLink prepares openLinkSQL: parsing and planning it cost several
// times its execution.
func newOpenLink(db *bun.DB) *database.Prepared {
	text := openLinkSQL(db)
	return database.NewPreparedWrite(db, numbered(text, "?"), numbered(text, "$"))
}

// numbered gives the statement's placeholders their positions (?1 or $1 …),
// as a prepared statement takes them.
func numbered(text, mark string) string {
	var b strings.Builder
	n := 0
	for _, r := range text {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString(mark + strconv.Itoa(n))
	}
	return b.String()
}

// mayOpenSQL is an SQL condition, true when the token in table alias tok
// (its id and owner_id columns) may open the item whose id is the SQL
// expression item (a placeholder or a column): the item belongs to the
// token's owner and its ACL grants the token (VisibleSQL). The token's state
// is not part of it, so that a dead token's attempt can still be tied to an
// item it was shared on.
func mayOpenSQL(tok, item string) string {
	return `EXISTS (SELECT 1 FROM items AS mo WHERE mo.id = ` + item + ` AND mo.owner_id = ` + tok + `.owner_id AND ` +
		VisibleSQL("mo", tok+".id") + `)`
}

// itemArg is the argument of mayOpenSQL; no item matches no row.
func itemArg(item *int64) int64 {
	if item == nil {
		return 0
	}
	return *item
}

// openableItem returns item when the token may open it, else nil.
func (s *Service) openableItem(ctx context.Context, tokenID int64, item *int64) (*int64, error) {
	if item == nil {
		return nil, nil
	}
	var ok bool
	err := s.DB.NewRaw(`SELECT `+mayOpenSQL("t", "?")+` FROM guest_tokens AS t WHERE t.id = ?`, *item, tokenID).Scan(ctx, &ok)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	if !ok {
		return nil, nil
	}
	return item, nil
}

// zatFailed answers a failed exchange. Guesses of unknown (or malformed)
// tokens count towards the network's lock-out; an attempt with a known but
// dead token is no guess: it counts only against that token's own cap and
// goes into its owner's log with the reason, tied to the item only when the
// token was shared on it, so a household with old links keeps its live ones.
func (s *Service) zatFailed(ctx context.Context, netKey ThrottleKey, t *GuestToken, item *int64, network, reason string) error {
	key := netKey
	if t == nil {
		s.Metrics.GuestDenied("unknown_token")
	} else {
		key = TokenKey(t.ID)
		tied, err := s.openableItem(ctx, t.ID, item)
		if err != nil {
			return err
		}
		s.Log.Record(AccessEvent{At: s.now(), TokenID: t.ID, ItemID: tied, Event: EventFailed, Network: network, Reason: reason})
	}
	if err := s.Throttle.Fail(ctx, ActionZat, key); err != nil {
		return err
	}
	return errGuestFailure
}

func (s *Service) tokenByHash(ctx context.Context, hash []byte) (*GuestToken, error) {
	t := new(GuestToken)
	if err := s.DB.NewSelect().Model(t).Where("secret_hash = ?", hash).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	return t, nil
}

// PendingToken returns the live token behind a pending mark, for its
// landing page; anything stale is ENotFound.
func (s *Service) PendingToken(ctx context.Context, p Pending) (*GuestToken, error) {
	t := new(GuestToken)
	err := s.DB.NewSelect().Model(t).Where("id = ? AND session_version = ?", p.TokenID, p.Version).Scan(ctx)
	if err != nil {
		if isNoRows(err) {
			return nil, errGuestFailure
		}
		return nil, translate(err)
	}
	if t.Status(s.now()) != StatusActive {
		return nil, errGuestFailure
	}
	return t, nil
}

// ErrWrongVisitorPassword is the answer to a wrong visitor password.
var ErrWrongVisitorPassword = app.Errorf(app.EUnauthorized, "That password is not right.")

// OpenPendingLink is the explicit open of a landing page: it checks the
// visitor password if the token has one (throttled per network and per
// token), then spends exactly one use in a single statement that also checks
// the limit, so concurrent openings never overspend.
func (s *Service) OpenPendingLink(ctx context.Context, p Pending, password, network string) (*GuestToken, error) {
	item := p.Item
	keys := []ThrottleKey{NetworkKey(s.Keys, network), TokenKey(p.TokenID)}
	if err := s.Throttle.Check(ctx, ActionPassword, keys...); err != nil {
		return nil, err
	}
	t, err := s.PendingToken(ctx, p)
	if err != nil {
		return nil, err
	}
	if t.PasswordHash != nil {
		ok, _, err := VerifyPassword(*t.PasswordHash, password)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.Log.Record(AccessEvent{At: s.now(), TokenID: t.ID, ItemID: item, Event: EventDeniedPassword, Network: network})
			if err := s.Throttle.Fail(ctx, ActionPassword, keys...); err != nil {
				return nil, err
			}
			return nil, ErrWrongVisitorPassword
		}
	}
	now := s.now()
	spent := new(GuestToken)
	err = s.DB.NewRaw(`UPDATE guest_tokens SET uses = uses + 1, last_used_at = ?, `+firstUseSQL(s.DB)+`
WHERE id = ? AND session_version = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
  AND (valid_from IS NULL OR valid_from <= ?)
  AND (max_uses IS NULL OR uses < max_uses)
RETURNING *`, now, now, now, now, p.TokenID, p.Version, now, now).Scan(ctx, spent)
	if isNoRows(err) {
		s.Log.Record(AccessEvent{At: now, TokenID: t.ID, ItemID: item, Event: EventFailed, Network: network, Reason: StatusUsedUp})
		return nil, errGuestFailure
	}
	if err != nil {
		return nil, translate(err)
	}
	s.Log.Record(AccessEvent{At: now, TokenID: spent.ID, ItemID: item, Event: EventOpen, Network: network})
	return spent, nil
}

// BearerToken resolves a guest token presented without cookies (crawlers,
// scripts) as Authorization: Bearer. Only tokens with neither a use limit nor
// a password qualify, and such requests are views, not uses.
func (s *Service) BearerToken(ctx context.Context, secret, network string) (*GuestToken, error) {
	netKey := NetworkKey(s.Keys, network)
	if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
		return nil, err
	}
	if !ValidSecret(GuestTokenPrefix, secret) {
		return nil, s.zatFailed(ctx, netKey, nil, nil, network, "")
	}
	t, err := s.tokenByHash(ctx, LookupHash(s.Keys.Lookup, secret))
	if app.IsNotFound(err) {
		return nil, s.zatFailed(ctx, netKey, nil, nil, network, "")
	}
	if err != nil {
		return nil, err
	}
	if st := t.Status(s.now()); st != StatusActive || t.NeedsExplicitOpen() {
		if st == StatusActive {
			st = "bearer not allowed"
		}
		return nil, s.zatFailed(ctx, netKey, t, nil, network, st)
	}
	return s.startWindow(ctx, t)
}
