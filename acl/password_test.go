package acl

import (
	"errors"
	"strings"
	"testing"
)

// cheapParams keep the tests that are about bytes, not cost, fast; a full
// hash under DefaultPasswordParams takes tens of milliseconds, more under
// the race detector.
var cheapParams = PasswordParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func mustHashWith(t testing.TB, p PasswordParams, password string) string {
	t.Helper()
	h, err := hashWith(p, password)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashPasswordDefault(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Fatal("two hashes of the same password are equal: salt not random")
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(h1, want) {
		t.Fatalf("hash %q does not start with %q", h1, want)
	}
	p, salt, key, err := decodeHash(h1)
	if err != nil {
		t.Fatal(err)
	}
	if p != DefaultPasswordParams || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("parsed params %+v (salt %d, key %d), want %+v", p, len(salt), len(key), DefaultPasswordParams)
	}
	if ok, rehash, err := VerifyPassword(h1, pw); !ok || rehash || err != nil {
		t.Fatalf("right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, rehash, err := VerifyPassword(h1, pw+"!"); ok || rehash || err != nil {
		t.Fatalf("wrong password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestWeakHashNeedsRehash(t *testing.T) {
	weak := DefaultPasswordParams
	weak.Memory, weak.Iterations = 8192, 1
	h := mustHashWith(t, weak, "hunter2")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", h)
	}
	if ok, rehash, err := VerifyPassword(h, "hunter2"); !ok || !rehash || err != nil {
		t.Fatalf("weak hash, right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, rehash, err := VerifyPassword(h, "hunter3"); ok || rehash || err != nil {
		t.Fatalf("weak hash, wrong password must not ask for a rehash: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
}

func TestWeakerThan(t *testing.T) {
	d := DefaultPasswordParams
	mod := func(f func(*PasswordParams)) PasswordParams { p := d; f(&p); return p }
	cases := []struct {
		name string
		p    PasswordParams
		want bool
	}{
		{"default", d, false},
		{"stronger", mod(func(p *PasswordParams) { p.Memory *= 2; p.Iterations++ }), false},
		{"more parallel", mod(func(p *PasswordParams) { p.Parallelism = 4 }), false},
		{"less memory", mod(func(p *PasswordParams) { p.Memory-- }), true},
		{"fewer iterations", mod(func(p *PasswordParams) { p.Iterations = 1 }), true},
		{"shorter key", mod(func(p *PasswordParams) { p.KeyLen = 16 }), true},
		{"shorter salt", mod(func(p *PasswordParams) { p.SaltLen = 8 }), true},
	}
	for _, c := range cases {
		if got := c.p.weakerThan(d); got != c.want {
			t.Errorf("%s: weakerThan = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPasswordIsHashedAsExactBytes(t *testing.T) {
	long := strings.Repeat("a", 999) + "b"
	unicode := "pässwörd — 日本語 🔑"
	cases := []struct {
		name, stored string
		others       []string
	}{
		{"1000 characters", long, []string{
			strings.Repeat("a", 999) + "c", // change at the very end: no truncation
			long[:999],
			long + "b",
		}},
		{"unicode", unicode, []string{
			strings.TrimSuffix(unicode, "🔑") + "🔒",
			strings.TrimSuffix(unicode, "🔑"),
		}},
		{"composed vs decomposed", "caf\u00e9", []string{"cafe\u0301"}}, // never normalised
		{"surrounding space kept", " pw ", []string{"pw", " pw", "pw "}},
		{"case kept", "Password", []string{"password"}},
	}
	for _, c := range cases {
		h := mustHashWith(t, cheapParams, c.stored)
		if ok, _, err := VerifyPassword(h, c.stored); !ok || err != nil {
			t.Fatalf("%s: exact password refused (err %v)", c.name, err)
		}
		for _, o := range c.others {
			if ok, _, err := VerifyPassword(h, o); ok || err != nil {
				t.Errorf("%s: %q accepted for %q (err %v)", c.name, o, c.stored, err)
			}
		}
	}
}

// malformedHashes must be refused by parsing alone, so none of them costs a
// hash computation.
var malformedHashes = []string{
	"",
	"$",
	"password",
	"$argon2id$",
	"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=2,p=256$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=-2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$t=2,m=19456,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",                   // salt too short
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",                                        // hash too short
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", // padded
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNh*HRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g$",
	"argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
}

func TestVerifyPasswordMalformed(t *testing.T) {
	for _, h := range malformedHashes {
		ok, rehash, err := VerifyPassword(h, "password")
		if !errors.Is(err, ErrPasswordHash) || ok || rehash {
			t.Errorf("%q: ok=%v rehash=%v err=%v, want ErrPasswordHash", h, ok, rehash, err)
		}
	}
}

func TestHashWithRefusesBadParams(t *testing.T) {
	for _, p := range []PasswordParams{
		{Memory: 19456, Iterations: 0, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19456, Iterations: 2, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 4, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 0, KeyLen: 32},
		{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 4},
	} {
		if _, err := hashWith(p, "pw"); err == nil {
			t.Errorf("hashWith(%+v) accepted", p)
		}
	}
}

func TestVerifyDummy(t *testing.T) {
	p, _, _, err := decodeHash(dummyHash())
	if err != nil || p != DefaultPasswordParams {
		t.Fatalf("dummy hash params %+v, err %v: it would not cost what a real login costs", p, err)
	}
	VerifyDummy("whatever was typed")
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add(mustHashWith(f, cheapParams, "password"))
	f.Add(mustHashWith(f, cheapParams, "other"))
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	for _, h := range malformedHashes {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		// Parameters within the limits can still be expensive; keep the
		// fuzzer exploring parsing rather than waiting on Argon2.
		if p, _, _, err := decodeHash(encoded); err == nil && uint64(p.Memory)*uint64(p.Iterations) > 4096 {
			t.Skip()
		}
		ok, rehash, err := VerifyPassword(encoded, "password")
		if err != nil && (ok || rehash) {
			t.Fatalf("error %v together with ok=%v rehash=%v", err, ok, rehash)
		}
		if rehash && !ok {
			t.Fatal("rehash asked for a password that did not match")
		}
	})
}
