package acl

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
)

// GuestToken is a named credential that lets people without an account open
// the items shared with it. Its secret is stored only as a keyed hash (for
// lookups) and sealed under the server key (so that the owner can copy the
// link again).
type GuestToken struct {
	bun.BaseModel `bun:"table:guest_tokens"`

	ID             int64      `bun:"id,pk"`
	OwnerID        int64      `bun:"owner_id"`
	Name           string     `bun:"name"`
	SecretHash     []byte     `bun:"secret_hash"`
	SecretSealed   []byte     `bun:"secret_sealed"`
	PasswordHash   *string    `bun:"password_hash"`
	SessionVersion int        `bun:"session_version"`
	ExpiresAt      *time.Time `bun:"expires_at"`
	MaxUses        *int       `bun:"max_uses"`
	Uses           int        `bun:"uses"`
	Permissions
	Note       string     `bun:"note"`
	CreatedAt  time.Time  `bun:"created_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
	// ValidFrom is when the link starts to open; before it, it is "not
	// found" like any dead link.
	ValidFrom *time.Time `bun:"valid_from"`
	// ExpiresAfterFirstUse, in seconds, starts a clock at the first opening:
	// that opening sets ExpiresAt to the earlier of ExpiresAt and
	// FirstUsedAt plus this window.
	ExpiresAfterFirstUse *int64     `bun:"expires_after_first_use"`
	FirstUsedAt          *time.Time `bun:"first_used_at"`
}

// Token statuses.
const (
	StatusActive  = "active"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
	StatusUsedUp  = "used_up"
	// StatusNotYetValid: alive, but its valid_from has not come yet.
	StatusNotYetValid = "not_yet_valid"
)

// Status is the token's state at now.
func (t *GuestToken) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return StatusRevoked
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		return StatusExpired
	case t.MaxUses != nil && t.Uses >= *t.MaxUses:
		return StatusUsedUp
	case t.ValidFrom != nil && t.ValidFrom.After(now):
		return StatusNotYetValid
	}
	return StatusActive
}

// NeedsExplicitOpen reports whether only an explicit open (the landing
// page's POST) may spend a use: tokens with a use limit or a password.
func (t *GuestToken) NeedsExplicitOpen() bool { return t.MaxUses != nil || t.PasswordHash != nil }

// HasPassword reports whether visitors must enter a password.
func (t *GuestToken) HasPassword() bool { return t.PasswordHash != nil }

// TokenInput holds the fields of a create or an edit; nil leaves a field as
// it is. ClearExpiry, ClearMaxUses and an empty Password remove them.
type TokenInput struct {
	Name         *string
	ExpiresAt    *time.Time
	ClearExpiry  bool
	MaxUses      *int
	ClearMaxUses bool
	Password     *string
	Permissions  PermissionsEdit
	Note         *string
	// ValidFrom (ClearValidFrom removes it) and ExpiresAfterFirstUse in
	// seconds (ClearWindow removes it) are the access window.
	ValidFrom            *time.Time
	ClearValidFrom       bool
	ExpiresAfterFirstUse *int64
	ClearWindow          bool
}

const maxTokenName, maxNote = 100, 2000

// MaxWindow bounds expires_after_first_use: ten years, in seconds.
const MaxWindow = 10 * 365 * 24 * 3600

// apply validates in and applies it to t; it reports whether the password
// changed (which ends the token's sessions).
func (s *Service) apply(t *GuestToken, in TokenInput) (passwordChanged bool, err error) {
	now := s.now()
	if in.Name != nil {
		name, err := app.CleanText("The name", *in.Name, maxTokenName, false)
		if err != nil {
			return false, err
		}
		t.Name = name
	}
	if t.Name == "" {
		t.Name = "Guest link " + now.Format("2 Jan 15:04")
	}
	if in.ClearExpiry {
		t.ExpiresAt = nil
	} else if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return false, app.Errorf(app.EInvalid, "The expiry must be in the future.")
		}
		e := in.ExpiresAt.UTC()
		t.ExpiresAt = &e
	}
	if in.ClearMaxUses {
		t.MaxUses = nil
	} else if in.MaxUses != nil {
		if *in.MaxUses < 0 {
			return false, app.Errorf(app.EInvalid, "The maximum number of uses cannot be negative.")
		}
		if *in.MaxUses > 1_000_000 {
			return false, app.Errorf(app.EInvalid, "The maximum number of uses is at most 1000000.")
		}
		n := *in.MaxUses
		t.MaxUses = &n
	}
	if in.Password != nil {
		if *in.Password == "" {
			passwordChanged = t.PasswordHash != nil
			t.PasswordHash = nil
		} else {
			if len(*in.Password) > MaxPasswordLen {
				return false, app.Errorf(app.EInvalid, "The password must have at most %d bytes.", MaxPasswordLen)
			}
			h, err := HashPassword(*in.Password)
			if err != nil {
				return false, err
			}
			t.PasswordHash = &h
			passwordChanged = true
		}
	}
	in.Permissions.Apply(&t.Permissions)
	if in.ClearValidFrom {
		t.ValidFrom = nil
	} else if in.ValidFrom != nil {
		v := in.ValidFrom.UTC()
		t.ValidFrom = &v
	}
	if in.ClearWindow {
		t.ExpiresAfterFirstUse = nil
	} else if in.ExpiresAfterFirstUse != nil {
		w := *in.ExpiresAfterFirstUse
		if w < 1 || w > MaxWindow {
			return false, app.Errorf(app.EInvalid, "expires_after_first_use must be from 1 to %d seconds.", MaxWindow)
		}
		t.ExpiresAfterFirstUse = &w
		// A link opened already: its clock started at its first opening.
		if t.FirstUsedAt != nil {
			capAt := t.FirstUsedAt.Add(time.Duration(w) * time.Second).UTC()
			if t.ExpiresAt == nil || capAt.Before(*t.ExpiresAt) {
				t.ExpiresAt = &capAt
			}
		}
	}
	if t.ValidFrom != nil && t.ExpiresAt != nil && !t.ValidFrom.Before(*t.ExpiresAt) {
		return false, app.Errorf(app.EInvalid, "valid_from must be before the expiry.")
	}
	if in.Note != nil {
		note, err := app.CleanText("The note", *in.Note, maxNote, true)
		if err != nil {
			return false, err
		}
		t.Note = note
	}
	return passwordChanged, nil
}

// CreateToken makes a guest token for owner and returns it with its secret.
func (s *Service) CreateToken(ctx context.Context, owner int64, in TokenInput) (*GuestToken, string, error) {
	var t *GuestToken
	var secret string
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		t, secret, err = s.createToken(ctx, tx, owner, in)
		return err
	})
	return t, secret, err
}

func (s *Service) createToken(ctx context.Context, db bun.IDB, owner int64, in TokenInput) (*GuestToken, string, error) {
	t := &GuestToken{OwnerID: owner, CreatedAt: s.now(), SessionVersion: 1}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		name, err := autoTokenName(ctx, db, owner)
		if err != nil {
			return nil, "", err
		}
		in.Name = &name
	}
	if _, err := s.apply(t, in); err != nil {
		return nil, "", err
	}
	secret := NewSecret(GuestTokenPrefix)
	t.SecretHash = LookupHash(s.Keys.Lookup, secret)
	t.SecretSealed = Seal(s.Keys.Seal, []byte(secret), []byte("guest token"))
	id, err := newPrincipal(ctx, db, "token")
	if err != nil {
		return nil, "", err
	}
	t.ID = id
	if _, err := db.NewInsert().Model(t).Exec(ctx); err != nil {
		return nil, "", translate(err)
	}
	// A new token is in no ACL and reaches nothing yet.
	if _, err := db.NewInsert().Model(&tokenStats{TokenID: id}).Exec(ctx); err != nil {
		return nil, "", translate(err)
	}
	return t, secret, nil
}

// Token returns one of owner's tokens; another member's is ENotFound.
func (s *Service) Token(ctx context.Context, owner, id int64) (*GuestToken, error) {
	t := new(GuestToken)
	err := s.DB.NewSelect().Model(t).Where("id = ? AND owner_id = ?", id, owner).Scan(ctx)
	if err != nil {
		if isNoRows(err) {
			return nil, app.Errorf(app.ENotFound, "No such guest token.")
		}
		return nil, translate(err)
	}
	return t, nil
}

// TokenSecret unseals the secret of one of owner's tokens, so that the
// owner can copy the link again.
func (s *Service) TokenSecret(ctx context.Context, owner, id int64) (string, error) {
	t, err := s.Token(ctx, owner, id)
	if err != nil {
		return "", err
	}
	b, err := Unseal(s.Keys.Seal, t.SecretSealed, []byte("guest token"))
	if err != nil {
		return "", app.Wrap(err, app.EInternal, "the token's sealed secret cannot be opened with this server key")
	}
	return string(b), nil
}

// UpdateToken edits a token. Only the fields in the input are written, and
// the session version is bumped in SQL, so concurrent edits (or a rotation)
// never undo each other. Changing the password ends the token's sessions.
func (s *Service) UpdateToken(ctx context.Context, owner, id int64, in TokenInput) (*GuestToken, error) {
	t, err := s.Token(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil && (in.ExpiresAt != nil || in.ClearExpiry) {
		return nil, app.Errorf(app.EConflict, "A revoked token cannot be extended.")
	}
	passwordChanged, err := s.apply(t, in)
	if err != nil {
		return nil, err
	}
	q := s.DB.NewUpdate().Model((*GuestToken)(nil)).Where("id = ? AND owner_id = ?", id, owner)
	set := func(column string, value any) { q = q.Set("? = ?", bun.Ident(column), value) }
	if in.Name != nil {
		set("name", t.Name)
	}
	if in.ExpiresAt != nil || in.ClearExpiry {
		set("expires_at", t.ExpiresAt)
	}
	if in.MaxUses != nil || in.ClearMaxUses {
		set("max_uses", t.MaxUses)
	}
	if in.Password != nil {
		set("password_hash", t.PasswordHash)
	}
	for name := range in.Permissions {
		// The permission's name is its column (see Permissions).
		set(name, t.Permissions.Has(name))
	}
	if in.Note != nil {
		set("note", t.Note)
	}
	if in.ValidFrom != nil || in.ClearValidFrom {
		set("valid_from", t.ValidFrom)
	}
	if in.ExpiresAfterFirstUse != nil || in.ClearWindow {
		set("expires_after_first_use", t.ExpiresAfterFirstUse)
		if t.FirstUsedAt != nil && in.ExpiresAt == nil && !in.ClearExpiry {
			// The window of a link opened already may have moved the expiry.
			set("expires_at", t.ExpiresAt)
		}
	}
	// A link that is not valid yet opens no session: moving valid_from into
	// the future ends the sessions the link gave before.
	if passwordChanged || (in.ValidFrom != nil && t.ValidFrom.After(s.now())) {
		q = q.Set("session_version = session_version + 1")
	}
	// A no-op edit still answers with the stored token.
	q = q.Set("id = id")
	updated := new(GuestToken)
	if _, err := q.Returning("*").Exec(ctx, updated); err != nil {
		return nil, translate(err)
	}
	return updated, nil
}

// RotateToken gives a token a new secret, keeping every ACL entry and group
// membership; the old link and every session from it stop working.
func (s *Service) RotateToken(ctx context.Context, owner, id int64) (*GuestToken, string, error) {
	secret := NewSecret(GuestTokenPrefix)
	t := new(GuestToken)
	_, err := s.DB.NewUpdate().Model((*GuestToken)(nil)).
		Set("secret_hash = ?", LookupHash(s.Keys.Lookup, secret)).
		Set("secret_sealed = ?", Seal(s.Keys.Seal, []byte(secret), []byte("guest token"))).
		Set("session_version = session_version + 1").
		Where("id = ? AND owner_id = ? AND revoked_at IS NULL", id, owner).
		Returning("*").Exec(ctx, t)
	if err != nil && !isNoRows(err) {
		return nil, "", translate(err)
	}
	if err != nil || t.ID == 0 {
		if _, err := s.Token(ctx, owner, id); err != nil {
			return nil, "", err
		}
		return nil, "", app.Errorf(app.EConflict, "A revoked token cannot be rotated.")
	}
	return t, secret, nil
}

// RevokeToken revokes a token at once; it stays listed, with its history and
// its grants shown as inactive.
func (s *Service) RevokeToken(ctx context.Context, owner, id int64) error {
	res, err := s.DB.NewUpdate().Model((*GuestToken)(nil)).Set("revoked_at = ?", s.now()).
		Where("id = ? AND owner_id = ?", id, owner).Where("revoked_at IS NULL").Exec(ctx)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Token(ctx, owner, id); err != nil {
			return err
		}
	}
	return nil
}

// Tokens lists owner's tokens, newest first, without counts: one indexed
// query, for pickers and panels that need names and states only.
func (s *Service) Tokens(ctx context.Context, owner int64) ([]GuestToken, error) {
	var ts []GuestToken
	err := s.DB.NewSelect().Model(&ts).Where("owner_id = ?", owner).Order("id DESC").Scan(ctx)
	if err != nil && !isNoRows(err) {
		return nil, translate(err)
	}
	return ts, nil
}

// TokenSummary is a token with how many items it opens now.
type TokenSummary struct {
	GuestToken `bun:",extend"`
	Items      int `bun:"items"`
	// Entries counts the ACL entries naming the token directly or through a group.
	Entries int `bun:"entries"`
}

// Grant is one ACL entry that reaches a token, directly or through a group.
type Grant struct {
	ItemID    int64  `bun:"item_id"`
	ItemTitle string `bun:"item_title"`
	ItemKind  string `bun:"item_kind"`
	// ItemExcerpt is the start of a post's text, for a label when it has no title.
	ItemExcerpt string `bun:"item_excerpt"`
	Deny        bool   `bun:"deny"`
	// Via is the group the entry names, or nil for an entry naming the token.
	Via     *int64  `bun:"via"`
	ViaName *string `bun:"via_name"`
	Views   int     `bun:"views"`
}

// TokenViews counts the token's page views (openings and downloads are
// counted apart), from the views kept per item by the access log's flush.
func (s *Service) TokenViews(ctx context.Context, id int64) (int, error) {
	var n int
	err := s.DB.NewRaw("SELECT COALESCE(sum(views), 0) FROM token_item_views WHERE token_id = ?", id).Scan(ctx, &n)
	return n, translate(err)
}
