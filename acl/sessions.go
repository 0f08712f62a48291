package acl

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// Session is a signed-in member's server-side session. Only the SHA-256 of
// its id is stored.
type Session struct {
	bun.BaseModel `bun:"table:sessions"`

	IDHash     []byte    `bun:"id_hash,pk"`
	MemberID   int64     `bun:"member_id"`
	CreatedAt  time.Time `bun:"created_at"`
	LastSeenAt time.Time `bun:"last_seen_at"`

	Member *Member `bun:"rel:belongs-to,join:member_id=id"`
}

// newSessionID returns 256 random bits, URL-safe.
func newSessionID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ValidSessionID rejects values that cannot be session ids before any query.
func ValidSessionID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isURLBase64(id[i]) {
			return false
		}
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil
}

// CreateSession starts a session for the member and returns its id, which
// goes only into the cookie. A new id is made at every login.
func (s *Service) CreateSession(ctx context.Context, memberID int64) (string, error) {
	id := newSessionID()
	now := s.now()
	_, err := s.DB.NewInsert().Model(&Session{IDHash: sha(id), MemberID: memberID, CreatedAt: now, LastSeenAt: now}).Exec(ctx)
	if err != nil {
		return "", translate(err)
	}
	return id, nil
}

// SessionMember returns the member of a live session, enforcing the idle and
// absolute timeouts. An unknown, malformed or timed-out id gives ENotFound
// (and a timed-out session is deleted).
func (s *Service) SessionMember(ctx context.Context, id string) (*Member, error) {
	if !ValidSessionID(id) {
		return nil, app.Errorf(app.ENotFound, "No session.")
	}
	sess := new(Session)
	err := s.DB.NewSelect().Model(sess).Relation("Member").Where("session.id_hash = ?", sha(id)).Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	now := s.now()
	if now.Sub(sess.LastSeenAt) > app.SessionIdleTimeout || now.Sub(sess.CreatedAt) > app.SessionAbsoluteTimeout {
		s.DB.NewDelete().Model((*Session)(nil)).Where("id_hash = ?", sess.IDHash).Exec(ctx)
		return nil, app.Errorf(app.ENotFound, "Session expired.")
	}
	// The idle clock needs minute precision, not a write per request.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if _, err := s.DB.NewUpdate().Model((*Session)(nil)).Set("last_seen_at = ?", now).Where("id_hash = ?", sess.IDHash).Exec(ctx); err != nil {
			return nil, translate(err)
		}
	}
	return sess.Member, nil
}

// DeleteSession ends a session server-side (logout).
func (s *Service) DeleteSession(ctx context.Context, id string) error {
	_, err := s.DB.NewDelete().Model((*Session)(nil)).Where("id_hash = ?", sha(id)).Exec(ctx)
	return translate(err)
}

// PruneSessions deletes sessions past their timeouts.
func (s *Service) PruneSessions(ctx context.Context) error {
	now := s.now()
	_, err := s.DB.NewDelete().Model((*Session)(nil)).
		Where("last_seen_at < ? OR created_at < ?", now.Add(-app.SessionIdleTimeout), now.Add(-app.SessionAbsoluteTimeout)).Exec(ctx)
	return translate(err)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
