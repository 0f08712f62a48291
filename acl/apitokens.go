package acl

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// API token scopes; write includes read.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// APIToken is a member's personal credential for the JSON API. Only a keyed
// hash of the secret is stored; the secret is shown once, at creation.
type APIToken struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID          int64      `bun:"id,pk,autoincrement"`
	MemberID    int64      `bun:"member_id"`
	TokenHash   []byte     `bun:"token_hash"`
	Description string     `bun:"description"`
	Scopes      string     `bun:"scopes"`
	CreatedAt   time.Time  `bun:"created_at"`
	LastUsedAt  *time.Time `bun:"last_used_at"`
	ExpiresAt   *time.Time `bun:"expires_at"`
	RevokedAt   *time.Time `bun:"revoked_at"`

	Member *Member `bun:"rel:belongs-to,join:member_id=id"`
}

// Allows reports whether the token's scopes permit an action needing scope.
func (t *APIToken) Allows(scope string) bool {
	have := strings.Split(t.Scopes, " ")
	return slices.Contains(have, scope) || (scope == ScopeRead && slices.Contains(have, ScopeWrite))
}

// Status is "active", "expired" or "revoked" at now.
func (t *APIToken) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		return "expired"
	}
	return "active"
}

// NormalizeScope checks a requested scope ("" means read).
func NormalizeScope(scope string) (string, error) {
	switch scope {
	case "", ScopeRead:
		return ScopeRead, nil
	case ScopeWrite:
		return ScopeWrite, nil
	}
	return "", app.Errorf(app.EInvalid, "The scope must be %q or %q.", ScopeRead, ScopeWrite)
}

// CreateAPIToken makes a personal API token and returns it with its secret,
// which is not stored and cannot be shown again.
func (s *Service) CreateAPIToken(ctx context.Context, memberID int64, description, scope string, expiresAt *time.Time) (*APIToken, string, error) {
	scope, err := NormalizeScope(scope)
	if err != nil {
		return nil, "", err
	}
	description, err = app.CleanText("The description", description, 200, false)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return nil, "", app.Errorf(app.EInvalid, "The expiry must be in the future.")
		}
		t := expiresAt.UTC()
		expiresAt = &t
	}
	secret := NewSecret(APITokenPrefix)
	t := &APIToken{MemberID: memberID, TokenHash: LookupHash(s.Keys.Lookup, secret), Description: description,
		Scopes: scope, CreatedAt: now, ExpiresAt: expiresAt}
	if _, err := s.DB.NewInsert().Model(t).Returning("id").Exec(ctx); err != nil {
		return nil, "", translate(err)
	}
	return t, secret, nil
}

// ListAPITokens lists the member's API tokens, newest first, revoked included.
func (s *Service) ListAPITokens(ctx context.Context, memberID int64) ([]APIToken, error) {
	var ts []APIToken
	err := s.DB.NewSelect().Model(&ts).Where("member_id = ?", memberID).Order("id DESC").Scan(ctx)
	return ts, translate(err)
}

// RevokeAPIToken revokes one of the member's API tokens; another member's
// token, or an unknown one, is ENotFound.
func (s *Service) RevokeAPIToken(ctx context.Context, memberID, id int64) error {
	res, err := s.DB.NewUpdate().Model((*APIToken)(nil)).Set("revoked_at = ?", s.now()).
		Where("id = ? AND member_id = ? AND revoked_at IS NULL", id, memberID).Exec(ctx)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Revoking twice is not an error; another member's token is not found.
		n, err := s.DB.NewSelect().Model((*APIToken)(nil)).Where("id = ? AND member_id = ?", id, memberID).Count(ctx)
		if err != nil {
			return translate(err)
		}
		if n == 0 {
			return app.Errorf(app.ENotFound, "No such API token.")
		}
	}
	return nil
}

// ErrBadAPIToken is the answer to any unusable API token.
var ErrBadAPIToken = app.Errorf(app.EUnauthorized, "A valid API token is required: send it as Authorization: Bearer <token>.")

// AuthenticateAPIToken returns the live API token (with its member) for a
// secret. A malformed secret is rejected before any query.
func (s *Service) AuthenticateAPIToken(ctx context.Context, secret string) (*APIToken, error) {
	if !ValidSecret(APITokenPrefix, secret) {
		return nil, ErrBadAPIToken
	}
	t := new(APIToken)
	err := s.DB.NewSelect().Model(t).Relation("Member").Where("api_token.token_hash = ?", LookupHash(s.Keys.Lookup, secret)).Scan(ctx)
	if err != nil {
		if isNoRows(err) {
			return nil, ErrBadAPIToken
		}
		return nil, translate(err)
	}
	now := s.now()
	if t.Status(now) != "active" {
		return nil, ErrBadAPIToken
	}
	// Last-used needs minute precision, not a write per call.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if _, err := s.DB.NewUpdate().Model((*APIToken)(nil)).Set("last_used_at = ?", now).Where("id = ?", t.ID).Exec(ctx); err != nil {
			return nil, translate(err)
		}
		t.LastUsedAt = &now
	}
	return t, nil
}
