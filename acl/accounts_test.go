package acl_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/crypto/argon2"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
)

var testKeys = func() *app.Keys {
	k, err := app.DeriveKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

func newService(db *bun.DB) (*acl.Service, *app.FakeClock) {
	clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	return acl.NewService(db, clock, testKeys), clock
}

func wantCode(t *testing.T, what string, err error, code app.Code) {
	t.Helper()
	if got := app.ErrorCode(err); err == nil || got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func TestCreateMemberRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		m, err := s.CreateMember(ctx, "Alice", "", "a long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == 0 || m.Handle != "Alice" || m.DisplayName != "Alice" {
			t.Errorf("created member %+v", m)
		}
		if strings.Contains(m.PasswordHash, "a long passphrase") || !strings.HasPrefix(m.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("stored hash %q", m.PasswordHash)
		}
		_, err = s.CreateMember(ctx, "aLICE", "", "another passphrase")
		wantCode(t, "handle taken in other case", err, app.EConflict)
		if got, err := s.MemberByHandle(ctx, "ALICE"); err != nil || got.ID != m.ID {
			t.Errorf("MemberByHandle(ALICE) = %+v, %v", got, err)
		}

		for _, h := range []string{"", "-bob", ".bob", "_bob", "bob smith", "bob!", "bob/x", "bøb", "日本",
			strings.Repeat("b", 33), "bob\n", "' OR 1=1 --"} {
			_, err := s.CreateMember(ctx, h, "", "a long passphrase")
			wantCode(t, fmt.Sprintf("handle %q", h), err, app.EInvalid)
		}
		for _, pw := range []string{"", "short", "1234567", "日本語日本語日"} {
			_, err := s.CreateMember(ctx, "carol", "", pw)
			wantCode(t, fmt.Sprintf("password %q", pw), err, app.EInvalid)
		}
		_, err = s.CreateMember(ctx, "carol", "Carol\x00", "a long passphrase")
		wantCode(t, "display name with a control character", err, app.EInvalid)
		if err := acl.CheckPassword(strings.Repeat("p", acl.MaxPasswordLen)); err != nil {
			t.Errorf("a password of %d bytes: %v", acl.MaxPasswordLen, err)
		}
		wantCode(t, "a password over the limit", acl.CheckPassword(strings.Repeat("p", acl.MaxPasswordLen+1)), app.EInvalid)
		if n, err := db.NewSelect().Table("members").Count(ctx); err != nil || n != 1 {
			t.Errorf("%d members after the refused creations (%v), want 1", n, err)
		}
	})
}

func TestLongAndUnicodePasswordsAreKeptWhole(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		long := strings.Repeat("correct horse battery staple ", 35)[:999] + "X"
		for _, c := range []struct {
			handle, password, wrong string
		}{
			{"longpw", long, long[:999] + "Y"},
			// Precomposed in the stored password; decomposed in the attempt:
			// the bytes typed are the bytes checked.
			{"unicode", "pässwörd-日本語-🔑", "pa\u0308sswo\u0308rd-日本語-🔑"},
		} {
			if _, err := s.CreateMember(ctx, c.handle, "", c.password); err != nil {
				t.Fatalf("%s: %v", c.handle, err)
			}
			m, err := s.Login(ctx, c.handle, c.password, "203.0.113.1")
			if err != nil || m.Handle != c.handle {
				t.Errorf("%s: login with the password: %+v, %v", c.handle, m, err)
			}
			if _, err := s.Login(ctx, c.handle, c.wrong, "203.0.113.1"); err != acl.ErrBadLogin {
				t.Errorf("%s: login with the last character changed: %v, want ErrBadLogin", c.handle, err)
			}
		}
	})
}

func TestLoginFailuresAreOneError(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		if _, err := s.CreateMember(ctx, "alice", "", "a long passphrase"); err != nil {
			t.Fatal(err)
		}
		_, unknown := s.Login(ctx, "nobody", "a long passphrase", "203.0.113.1")
		_, wrong := s.Login(ctx, "alice", "not the passphrase", "203.0.113.1")
		if unknown != acl.ErrBadLogin || wrong != acl.ErrBadLogin {
			t.Fatalf("unknown handle: %v; wrong password: %v; want ErrBadLogin for both", unknown, wrong)
		}
		if app.ErrorCode(unknown) != app.EUnauthorized || app.ErrorMessage(unknown) != app.ErrorMessage(wrong) {
			t.Errorf("errors differ: %q vs %q", app.ErrorMessage(unknown), app.ErrorMessage(wrong))
		}
		m, err := s.Login(ctx, "ALICE", "a long passphrase", "203.0.113.1")
		if err != nil || m.Handle != "alice" {
			t.Errorf("login in other case: %+v, %v", m, err)
		}
	})
}

// hashBytes is what one Argon2id evaluation under the default parameters
// allocates: its memory cost, in KiB.
var hashBytes = uint64(acl.DefaultPasswordParams.Memory) * 1024

// allocated returns the bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLoginRunsTheHashOnce counts password hashes by the memory they
// allocate: every Argon2id evaluation allocates its whole memory cost, and
// nothing else on the login path comes close. It is not parallel: other
// tests' allocations would be counted too.
func TestLoginRunsTheHashOnce(t *testing.T) {
	acl.VerifyDummy("warm-up") // builds the dummy hash once
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newService(dbtest.Open(t, d))
			if _, err := s.CreateMember(ctx, "alice", "", "a long passphrase"); err != nil {
				t.Fatal(err)
			}
			hashes := func(what string, handle, password, network string, want int, wantErr error) {
				t.Helper()
				var err error
				n := allocated(func() { _, err = s.Login(ctx, handle, password, network) })
				if !errors.Is(err, wantErr) && !(wantErr != nil && app.ErrorCode(err) == app.ErrorCode(wantErr)) {
					t.Errorf("%s: error %v, want %v", what, err, wantErr)
				}
				got := int((n + hashBytes/2) / hashBytes)
				if got != want {
					t.Errorf("%s: allocated %d bytes, about %d password hashes; want %d", what, n, got, want)
				}
			}
			hashes("unknown handle", "nobody", "a long passphrase", "203.0.113.1", 1, acl.ErrBadLogin)
			hashes("wrong password", "alice", "not the passphrase", "203.0.113.1", 1, acl.ErrBadLogin)
			hashes("oversized password", "alice", strings.Repeat("x", acl.MaxPasswordLen+1), "203.0.113.1", 1, acl.ErrBadLogin)
			hashes("oversized handle", strings.Repeat("h", 65), "a long passphrase", "203.0.113.1", 1, acl.ErrBadLogin)
			hashes("right password", "alice", "a long passphrase", "203.0.113.1", 1, nil)

			key := acl.NetworkKey(testKeys, "203.0.113.2")
			for i := 0; i < acl.NetworkFailureLimit; i++ {
				if err := s.Throttle.Fail(ctx, acl.ActionLogin, key); err != nil {
					t.Fatal(err)
				}
			}
			hashes("throttled network", "alice", "a long passphrase", "203.0.113.2", 0, app.Errorf(app.EThrottled, ""))
		})
	}
}

// weakHash encodes password in the PHC format of acl's hashes under
// parameters below the current ones.
func weakHash(t *testing.T, password string, memory, iterations uint32) string {
	t.Helper()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte(password), salt, iterations, memory, 1, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, memory, iterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestLoginUpgradesWeakHash(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		const pw = "a long passphrase"
		m, err := s.CreateMember(ctx, "alice", "", pw)
		if err != nil {
			t.Fatal(err)
		}
		weak := weakHash(t, pw, 8192, 1)
		if ok, rehash, err := acl.VerifyPassword(weak, pw); !ok || !rehash || err != nil {
			t.Fatalf("VerifyPassword(weak) = %v, %v, %v; want a match that needs a rehash", ok, rehash, err)
		}
		stored := func() string {
			var h string
			if err := db.NewSelect().Table("members").Column("password_hash").Where("id = ?", m.ID).Scan(ctx, &h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		if _, err := db.NewUpdate().Table("members").Set("password_hash = ?", weak).Where("id = ?", m.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "alice", "not the passphrase", "203.0.113.1"); err != acl.ErrBadLogin {
			t.Fatalf("wrong password: %v", err)
		}
		if h := stored(); h != weak {
			t.Fatalf("a failed login changed the stored hash to %q", h)
		}
		if _, err := s.Login(ctx, "alice", pw, "203.0.113.1"); err != nil {
			t.Fatalf("login with a weak hash: %v", err)
		}
		h := stored()
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("after login the stored hash is %q, want m=19456,t=2", h)
		}
		if ok, rehash, err := acl.VerifyPassword(h, pw); !ok || rehash || err != nil {
			t.Errorf("the upgraded hash: %v, %v, %v", ok, rehash, err)
		}
		if _, err := s.Login(ctx, "alice", pw, "203.0.113.1"); err != nil {
			t.Errorf("login after the upgrade: %v", err)
		}
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, clock := newService(db)
		m, err := s.CreateMember(ctx, "alice", "", "a long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.CreateSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.CreateSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a, b} {
			raw, err := base64.RawURLEncoding.DecodeString(id)
			if len(id) != 43 || err != nil || len(raw) != 32 || !acl.ValidSessionID(id) {
				t.Errorf("session id %q: %d characters, %d bytes (%v)", id, len(id), len(raw), err)
			}
		}
		if a == b {
			t.Fatalf("two sessions share the id %q", a)
		}
		if got, err := s.SessionMember(ctx, a); err != nil || got.ID != m.ID || got.Handle != "alice" {
			t.Fatalf("SessionMember = %+v, %v", got, err)
		}

		_, err = s.SessionMember(ctx, base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
		wantCode(t, "unknown session id", err, app.ENotFound)

		if err := s.DeleteSession(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, err = s.SessionMember(ctx, a)
		wantCode(t, "deleted session", err, app.ENotFound)
		if got, err := s.SessionMember(ctx, b); err != nil || got.ID != m.ID {
			t.Errorf("deleting one session ended another: %v", err)
		}

		clock.Advance(app.SessionIdleTimeout + time.Minute)
		_, err = s.SessionMember(ctx, b)
		wantCode(t, "idle session", err, app.ENotFound)

		c, err := s.CreateSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for elapsed := time.Duration(0); elapsed+24*time.Hour <= app.SessionAbsoluteTimeout; elapsed += 24 * time.Hour {
			clock.Advance(24 * time.Hour)
			if _, err := s.SessionMember(ctx, c); err != nil {
				t.Fatalf("session in daily use after %v: %v", elapsed+24*time.Hour, err)
			}
		}
		clock.Advance(time.Minute)
		_, err = s.SessionMember(ctx, c)
		wantCode(t, "session past the absolute timeout", err, app.ENotFound)

		d, err := s.CreateSession(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewInsert().Model(&acl.Session{IDHash: bytes.Repeat([]byte{5}, 32), MemberID: m.ID,
			CreatedAt: clock.Now().Add(-app.SessionAbsoluteTimeout - time.Hour), LastSeenAt: clock.Now().Add(-app.SessionIdleTimeout - time.Hour)}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.PruneSessions(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := db.NewSelect().Table("sessions").Count(ctx); err != nil || n != 1 {
			t.Errorf("%d sessions after pruning (%v), want 1", n, err)
		}
		if _, err := s.SessionMember(ctx, d); err != nil {
			t.Errorf("pruning ended a live session: %v", err)
		}
	})
}

func TestMalformedSessionIDsRunNoQuery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		a := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		cctx, counter := database.WithCounter(ctx)
		for _, bad := range []string{"", "short", a + "A", a[:42], "+" + a[1:], a[:42] + "=", a[:42] + " ",
			a[:40] + "\n\n\n", a[:40] + "\r\n\r"} {
			before := counter.Count()
			_, err := s.SessionMember(cctx, bad)
			wantCode(t, fmt.Sprintf("malformed session id %q", bad), err, app.ENotFound)
			if n := counter.Count() - before; n != 0 {
				t.Errorf("malformed session id %q ran %d queries, want 0", bad, n)
			}
		}
		_, err := s.SessionMember(cctx, a)
		wantCode(t, "unknown well-formed session id", err, app.ENotFound)
		if counter.Count() == 0 {
			t.Errorf("the query counter counted nothing for a well-formed id")
		}
	})
}

func TestAuthenticateAPITokenRejectsMalformedWithoutQuery(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newService(db)
		m, err := s.CreateMember(ctx, "alice", "", "a long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		_, good, err := s.CreateAPIToken(ctx, m.ID, "", "read", nil)
		if err != nil {
			t.Fatal(err)
		}
		last := good[len(good)-1:]
		other := "A"
		if last == "A" {
			other = "B"
		}
		malformed := []string{
			"", "hsp_short", "hsp_", good + "A", good[:len(good)-1], good[:len(good)-1] + other,
			"hsg_" + good[4:], acl.NewSecret(acl.GuestTokenPrefix), "Bearer " + good, " " + good,
			strings.ToUpper(good[:4]) + good[4:], good[:20] + "\n" + good[21:], good[:20] + "+" + good[21:],
		}
		for i := 0; i < 200; i++ {
			b := make([]byte, 1+i%80)
			rand.Read(b)
			malformed = append(malformed, acl.APITokenPrefix+base64.RawURLEncoding.EncodeToString(b))
		}
		cctx, counter := database.WithCounter(ctx)
		for _, bad := range malformed {
			if _, err := s.AuthenticateAPIToken(cctx, bad); err != acl.ErrBadAPIToken {
				t.Errorf("AuthenticateAPIToken(%q) = %v, want ErrBadAPIToken", bad, err)
			}
		}
		if n := counter.Count(); n != 0 {
			t.Errorf("malformed API tokens ran %d queries, want 0", n)
		}

		// The counter does count: a well-formed token is looked up.
		if _, err := s.AuthenticateAPIToken(cctx, acl.NewSecret(acl.APITokenPrefix)); err != acl.ErrBadAPIToken {
			t.Errorf("unknown well-formed token: %v", err)
		}
		if counter.Count() == 0 {
			t.Fatalf("the counter counted no query for a well-formed token")
		}
		tk, err := s.AuthenticateAPIToken(ctx, good)
		if err != nil || tk.MemberID != m.ID || tk.Member == nil || tk.Member.Handle != "alice" {
			t.Errorf("the issued token: %+v, %v", tk, err)
		}
	})
}

func TestAPITokenRules(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, clock := newService(db)
		alice, err := s.CreateMember(ctx, "alice", "", "a long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		bob, err := s.CreateMember(ctx, "bob", "", "a long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		past := clock.Now()
		_, _, err = s.CreateAPIToken(ctx, alice.ID, "", "read", &past)
		wantCode(t, "expiry now", err, app.EInvalid)
		_, _, err = s.CreateAPIToken(ctx, alice.ID, "", "admin", nil)
		wantCode(t, "unknown scope", err, app.EInvalid)

		tk, secret, err := s.CreateAPIToken(ctx, alice.ID, "ci", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Scopes != acl.ScopeRead || !tk.Allows(acl.ScopeRead) || tk.Allows(acl.ScopeWrite) {
			t.Errorf("default scope: %q", tk.Scopes)
		}
		if !acl.ValidSecret(acl.APITokenPrefix, secret) {
			t.Errorf("secret %q is not well formed", secret)
		}
		var hashes [][]byte
		if err := db.NewSelect().Table("api_tokens").Column("token_hash").Scan(ctx, &hashes); err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			if bytes.Contains(h, []byte(secret)) || bytes.Contains(h, []byte(secret[4:])) {
				t.Errorf("api_tokens stores the secret in clear")
			}
		}
		wantCode(t, "bob revoking alice's token", s.RevokeAPIToken(ctx, bob.ID, tk.ID), app.ENotFound)
		if _, err := s.AuthenticateAPIToken(ctx, secret); err != nil {
			t.Fatalf("token after bob's attempt: %v", err)
		}
		if err := s.RevokeAPIToken(ctx, alice.ID, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateAPIToken(ctx, secret); err != acl.ErrBadAPIToken {
			t.Errorf("revoked token: %v", err)
		}
		w := &acl.APIToken{Scopes: acl.ScopeWrite}
		if !w.Allows(acl.ScopeRead) || !w.Allows(acl.ScopeWrite) {
			t.Errorf("write scope does not include read")
		}
	})
}

func TestThrottleSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := app.NewFakeClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
		one := acl.NewService(db, clock, testKeys)
		two := acl.NewService(db, clock, testKeys)
		netA := acl.NetworkKey(testKeys, acl.Network("203.0.113.5"))
		netB := acl.NetworkKey(testKeys, acl.Network("203.0.113.6"))
		check := func(what string, s *acl.Service, want bool, keys ...acl.ThrottleKey) *app.Error {
			t.Helper()
			err := s.Throttle.Check(ctx, acl.ActionLogin, keys...)
			var ae *app.Error
			if blocked := errors.As(err, &ae) && ae.Code == app.EThrottled; blocked != want || (err != nil && !blocked) {
				t.Fatalf("%s: Check = %v, want blocked=%v", what, err, want)
			}
			return ae
		}
		fail := func(s *acl.Service, n int, keys ...acl.ThrottleKey) {
			t.Helper()
			for i := 0; i < n; i++ {
				if err := s.Throttle.Fail(ctx, acl.ActionLogin, keys...); err != nil {
					t.Fatal(err)
				}
			}
		}

		fail(one, acl.NetworkFailureLimit-1, netA)
		check("below the limit, other instance", two, false, netA)
		fail(two, 1, netA)
		ae := check("at the limit, first instance", one, true, netA)
		if ae.RetryAfter < acl.DefaultWindow || ae.RetryAfter > acl.DefaultWindow+2*time.Second {
			t.Errorf("RetryAfter %v, want about %v", ae.RetryAfter, acl.DefaultWindow)
		}
		check("blocked key among others", two, true, netB, netA)
		check("another network", two, false, netB)
		if err := two.Throttle.Check(ctx, acl.ActionZat, netA); err != nil {
			t.Errorf("another action is blocked too: %v", err)
		}
		// A block lasts one window.
		clock.Advance(acl.DefaultWindow - time.Second)
		ae = check("a second before the block ends", one, true, netA)
		if ae.RetryAfter <= 0 || ae.RetryAfter > 2*time.Second {
			t.Errorf("RetryAfter near the end %v", ae.RetryAfter)
		}
		clock.Advance(time.Second)
		check("when the block ends", two, false, netA)

		// Failures through one instance add up with those through the other.
		fail(one, 3, netB)
		fail(two, acl.NetworkFailureLimit-4, netB)
		check("after limit-1 failures through both", one, false, netB)
		fail(two, 1, netB)
		check("after limit failures through both", one, true, netB)

		// Failures older than the window do not add up.
		netC := acl.NetworkKey(testKeys, "203.0.113.7")
		fail(one, acl.NetworkFailureLimit-1, netC)
		clock.Advance(acl.DefaultWindow + time.Second)
		fail(two, acl.NetworkFailureLimit-1, netC)
		check("failures spread over two windows", one, false, netC)

		// A target key holds its higher limit.
		handle := acl.HandleKey(testKeys, "Ghost")
		if handle != acl.HandleKey(testKeys, "ghost") {
			t.Errorf("handle keys depend on case")
		}
		fail(one, acl.TargetFailureLimit-1, handle)
		check("handle below its cap", two, false, handle)
		fail(two, 1, handle)
		check("handle at its cap", one, true, handle)

		// Prune drops the counters of netA and netB, whose windows and
		// blocks are over, and keeps those still counting (netC) or
		// blocking (the handle).
		count := func() int {
			n, err := db.NewSelect().Table("throttle").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 4 {
			t.Fatalf("%d counters before pruning, want 4", n)
		}
		if err := two.Throttle.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Errorf("%d counters after pruning, want 2", n)
		}
		check("blocked handle after a prune", one, true, handle)
		fail(one, 1, netC)
		check("netC's count kept through a prune", two, true, netC)
		clock.Advance(acl.DefaultWindow + time.Second)
		if err := one.Throttle.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if after := count(); after != 0 {
			t.Errorf("%d counters left after everything expired", after)
		}
		check("handle after its block", two, false, handle)
	})
}

func TestNetwork(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b string }{
		{"203.0.113.5", "::ffff:203.0.113.5"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
	} {
		if acl.Network(c.a) != acl.Network(c.b) {
			t.Errorf("Network(%s) = %s, Network(%s) = %s; want one network", c.a, acl.Network(c.a), c.b, acl.Network(c.b))
		}
	}
	for _, c := range []struct{ a, b string }{
		{"203.0.113.5", "203.0.113.6"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
	} {
		if acl.Network(c.a) == acl.Network(c.b) {
			t.Errorf("Network(%s) = Network(%s) = %s; want two networks", c.a, c.b, acl.Network(c.a))
		}
	}
}
