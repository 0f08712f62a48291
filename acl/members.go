package acl

import (
	"context"
	"regexp"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app"
	"hubshare/app/database"
)

// Member is an account of the hub.
type Member struct {
	bun.BaseModel `bun:"table:members"`

	ID           int64     `bun:"id,pk"`
	Handle       string    `bun:"handle"`
	DisplayName  string    `bun:"display_name"`
	PasswordHash string    `bun:"password_hash"`
	CreatedAt    time.Time `bun:"created_at"`
	// Email, when set, receives the member's notifications unless
	// NotifyEmail is false.
	Email       *string `bun:"email"`
	NotifyEmail bool    `bun:"notify_email"`
}

var handleRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}$`)

// Password length bounds: long passphrases are welcome; the upper bound only
// keeps a request from sending megabytes to the hash.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 4096
)

// CheckPassword validates a new password's length (in characters, any Unicode).
func CheckPassword(pw string) error {
	if n := len([]rune(pw)); n < MinPasswordLen {
		return app.Errorf(app.EInvalid, "The password must have at least %d characters.", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return app.Errorf(app.EInvalid, "The password must have at most %d bytes.", MaxPasswordLen)
	}
	return nil
}

// CreateMember creates an account; the handle is unique without regard to case.
func (s *Service) CreateMember(ctx context.Context, handle, displayName, password string) (*Member, error) {
	return s.createMember(ctx, handle, displayName, password, false)
}

// ErrHubHasMembers answers a first-run sign-up once the hub has a member.
var ErrHubHasMembers = app.Errorf(app.EConflict, "This hub already has its first member. Please sign in.")

// CreateFirstMember creates the hub's first member, and fails with
// ErrHubHasMembers once any member exists, however many requests race for
// it: the check and the insert are one serialised transaction.
func (s *Service) CreateFirstMember(ctx context.Context, handle, displayName, password string) (*Member, error) {
	return s.createMember(ctx, handle, displayName, password, true)
}

// HasMembers reports whether the hub has any member yet.
func (s *Service) HasMembers(ctx context.Context) (bool, error) {
	n, err := s.DB.NewSelect().Model((*Member)(nil)).Limit(1).Count(ctx)
	return n > 0, translate(err)
}

func (s *Service) createMember(ctx context.Context, handle, displayName, password string, first bool) (*Member, error) {
	if !handleRE.MatchString(handle) {
		return nil, app.Errorf(app.EInvalid, "A handle has 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.")
	}
	displayName, err := app.CleanText("The display name", displayName, 100, false)
	if err != nil {
		return nil, err
	}
	if displayName == "" {
		displayName = handle
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	m := &Member{Handle: handle, DisplayName: displayName, PasswordHash: hash, CreatedAt: s.now(), NotifyEmail: true}
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if first {
			// SQLite transactions here begin immediate, which serialises
			// writers; PostgreSQL needs the table lock.
			if !database.IsSQLite(tx) {
				if _, err := tx.ExecContext(ctx, "LOCK TABLE members IN SHARE ROW EXCLUSIVE MODE"); err != nil {
					return translate(err)
				}
			}
			n, err := tx.NewSelect().Model((*Member)(nil)).Limit(1).Count(ctx)
			if err != nil {
				return translate(err)
			}
			if n > 0 {
				return ErrHubHasMembers
			}
		}
		id, err := newPrincipal(ctx, tx, "member")
		if err != nil {
			return err
		}
		m.ID = id
		_, err = tx.NewInsert().Model(m).Exec(ctx)
		return translate(err)
	})
	if err == ErrHubHasMembers {
		return nil, err
	}
	if app.ErrorCode(err) == app.EConflict {
		return nil, app.Errorf(app.EConflict, "The handle %q is taken.", handle)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MemberByHandle finds a member by handle, without regard to case.
func (s *Service) MemberByHandle(ctx context.Context, handle string) (*Member, error) {
	m := new(Member)
	err := s.DB.NewSelect().Model(m).Where("lower(handle) = lower(?)", handle).Limit(1).Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	return m, nil
}

// MemberByID finds a member by id.
func (s *Service) MemberByID(ctx context.Context, id int64) (*Member, error) {
	m := new(Member)
	if err := s.DB.NewSelect().Model(m).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	return m, nil
}

// ListMembers lists every member of the hub (who may be named in an ACL).
func (s *Service) ListMembers(ctx context.Context) ([]Member, error) {
	var ms []Member
	err := s.DB.NewSelect().Model(&ms).Column("id", "handle", "display_name", "created_at").Order("handle").Scan(ctx)
	return ms, translate(err)
}

// ErrBadLogin is the one answer to a failed login, whatever failed, so that
// nobody learns which handles exist.
var ErrBadLogin = app.Errorf(app.EUnauthorized, "Wrong handle or password.")

// Login checks a handle and password for a client network. It runs the slow
// hash exactly once whether or not the handle exists, throttles per network
// and per submitted handle, and re-hashes a password stored with weaker
// parameters.
func (s *Service) Login(ctx context.Context, handle, password, network string) (*Member, error) {
	keys := []ThrottleKey{NetworkKey(s.Keys, network), HandleKey(s.Keys, handle)}
	if err := s.Throttle.Check(ctx, ActionLogin, keys...); err != nil {
		return nil, err
	}
	if len(password) > MaxPasswordLen || len(handle) > 64 {
		VerifyDummy("")
		return nil, s.loginFailed(ctx, keys)
	}
	m, err := s.MemberByHandle(ctx, handle)
	if err != nil {
		if !app.IsNotFound(err) {
			return nil, err
		}
		VerifyDummy(password)
		return nil, s.loginFailed(ctx, keys)
	}
	ok, rehash, err := VerifyPassword(m.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.loginFailed(ctx, keys)
	}
	if rehash {
		if h, err := HashPassword(password); err == nil {
			if _, err := s.DB.NewUpdate().Model((*Member)(nil)).Set("password_hash = ?", h).Where("id = ?", m.ID).Exec(ctx); err != nil {
				return nil, translate(err)
			}
			m.PasswordHash = h
		}
	}
	return m, nil
}

func (s *Service) loginFailed(ctx context.Context, keys []ThrottleKey) error {
	if err := s.Throttle.Fail(ctx, ActionLogin, keys...); err != nil {
		return err
	}
	return ErrBadLogin
}
