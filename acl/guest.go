package acl

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"hubshare/app"
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
// empty session.
func (s *Service) OpenGuest(v string) GuestSession {
	var g GuestSession
	if v == "" {
		return g
	}
	b, err := UnsealString(s.Keys.Cookie, purposeGuest, v)
	if err != nil || json.Unmarshal(b, &g) != nil || len(g.Tokens) > MaxGuestTokens {
		return GuestSession{}
	}
	return g
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

// ExchangeZat checks a zat value presented on a GET. held is the guest
// session the browser already has; network is the client's network for
// throttling and the access log. Every failure is the same ENotFound, or
// EThrottled once the network (or the token) has failed too often.
func (s *Service) ExchangeZat(ctx context.Context, secret, network string, held GuestSession, item *int64) (*GuestToken, int, error) {
	netKey := NetworkKey(s.Keys, network)
	if !ValidSecret(GuestTokenPrefix, secret) {
		// Blocked networks get 429 for every attempt, malformed ones too.
		if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
			return nil, 0, err
		}
		return nil, 0, s.zatFailed(ctx, netKey, nil, item, network, "")
	}
	hash := LookupHash(s.Keys.Lookup, secret)
	now := s.now()
	if held.Holds(tagOf(hash)) {
		if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
			return nil, 0, err
		}
		t, err := s.tokenByHash(ctx, hash)
		if err == nil && t.Status(now) != StatusRevoked && t.Status(now) != StatusExpired {
			for _, g := range held.Tokens {
				if g.TokenID == t.ID && g.Version == t.SessionVersion {
					return t, Reopened, s.Throttle.Reset(ctx, ActionZat, netKey)
				}
			}
		}
	}
	// The common case, an unlimited token without password, costs this one
	// statement: it checks the throttle, the token's state, and counts the use.
	// It also tells whether the network has failures on record, which a
	// success clears.
	opened := new(struct {
		GuestToken  `bun:",extend"`
		NetFailures *int `bun:"net_failures"`
	})
	err := s.DB.NewRaw(`UPDATE guest_tokens SET uses = uses + 1, last_used_at = ?
WHERE secret_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
  AND max_uses IS NULL AND password_hash IS NULL
  AND NOT EXISTS (SELECT 1 FROM throttle WHERE action = ? AND key = ? AND blocked_until > ?)
RETURNING *, (SELECT failures FROM throttle WHERE action = ? AND key = ?) AS net_failures`,
		now, hash, now, ActionZat, netKey.Key, now, ActionZat, netKey.Key).Scan(ctx, opened)
	if err == nil {
		if opened.NetFailures != nil {
			if err := s.Throttle.Reset(ctx, ActionZat, netKey); err != nil {
				return nil, 0, err
			}
		}
		t := &opened.GuestToken
		s.Log.Record(AccessEvent{At: now, TokenID: t.ID, ItemID: item, Event: EventOpen, Network: network})
		return t, Opened, nil
	}
	if !isNoRows(err) {
		return nil, 0, translate(err)
	}
	if err := s.Throttle.Check(ctx, ActionZat, netKey); err != nil {
		return nil, 0, err
	}
	t, err := s.tokenByHash(ctx, hash)
	if app.IsNotFound(err) {
		return nil, 0, s.zatFailed(ctx, netKey, nil, item, network, "")
	}
	if err != nil {
		return nil, 0, err
	}
	if st := t.Status(now); st != StatusActive {
		return nil, 0, s.zatFailed(ctx, netKey, t, item, network, st)
	}
	if err := s.Throttle.Check(ctx, ActionZat, TokenKey(t.ID)); err != nil {
		return nil, 0, err
	}
	return t, NeedsOpen, s.Throttle.Reset(ctx, ActionZat, netKey)
}

// zatFailed counts a failure (per network, and per token when it is known)
// and records the reason for the owner.
func (s *Service) zatFailed(ctx context.Context, netKey ThrottleKey, t *GuestToken, item *int64, network, reason string) error {
	keys := []ThrottleKey{netKey}
	if t != nil {
		keys = append(keys, TokenKey(t.ID))
		s.Log.Record(AccessEvent{At: s.now(), TokenID: t.ID, ItemID: item, Event: EventFailed, Network: network, Reason: reason})
	}
	if err := s.Throttle.Fail(ctx, ActionZat, keys...); err != nil {
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
		if err := s.Throttle.Reset(ctx, ActionPassword, keys[0]); err != nil {
			return nil, err
		}
	}
	now := s.now()
	spent := new(GuestToken)
	err = s.DB.NewRaw(`UPDATE guest_tokens SET uses = uses + 1, last_used_at = ?
WHERE id = ? AND session_version = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
  AND (max_uses IS NULL OR uses < max_uses)
RETURNING *`, now, p.TokenID, p.Version, now).Scan(ctx, spent)
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
	return t, nil
}
