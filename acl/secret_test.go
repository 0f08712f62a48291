package acl

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/url"
	"strings"
	"testing"
)

const urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func fixedRandom(seed byte) []byte {
	r := make([]byte, secretRandomLen)
	for i := range r {
		r[i] = seed + byte(i)*37
	}
	return r
}

func TestNewSecretDistinctAndValid(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	for i := range n {
		prefix := GuestTokenPrefix
		if i%2 == 1 {
			prefix = APITokenPrefix
		}
		s := NewSecret(prefix)
		if _, dup := seen[s]; dup {
			t.Fatalf("secret %d repeats an earlier one: %q", i, s)
		}
		seen[s] = struct{}{}
		if !ValidSecret(prefix, s) {
			t.Fatalf("fresh secret refused: %q", s)
		}
		if url.QueryEscape(s) != s {
			t.Fatalf("secret is not URL-safe: %q", s)
		}
		if len(s) != len(prefix)+secretEncodedLen {
			t.Fatalf("secret %q has length %d, want %d", s, len(s), len(prefix)+secretEncodedLen)
		}
	}
}

func TestSecretLayout(t *testing.T) {
	random := fixedRandom(1)
	s := encodeSecret(GuestTokenPrefix, random)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, GuestTokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[:secretRandomLen], random) {
		t.Fatal("random part not carried as is")
	}
	want := crc32.ChecksumIEEE(append([]byte(GuestTokenPrefix), random...))
	if got := binary.BigEndian.Uint32(raw[secretRandomLen:]); got != want {
		t.Fatalf("checksum = %08x, want CRC32-IEEE of prefix+random = %08x", got, want)
	}
	if len(s) != len(GuestTokenPrefix)+48 {
		t.Fatalf("length %d, want %d", len(s), len(GuestTokenPrefix)+48)
	}
}

func TestValidSecretRefusesEverySingleCharacterChange(t *testing.T) {
	for k := range 20 {
		s := NewSecret(APITokenPrefix)
		for i := len(APITokenPrefix); i < len(s); i++ {
			for _, c := range []byte(urlAlphabet) {
				if c == s[i] {
					continue
				}
				changed := s[:i] + string(c) + s[i+1:]
				if ValidSecret(APITokenPrefix, changed) {
					t.Fatalf("secret %d: changing position %d to %q still valid: %q", k, i, c, changed)
				}
			}
		}
	}
}

func TestValidSecretRefuses(t *testing.T) {
	guest := encodeSecret(GuestTokenPrefix, fixedRandom(7))
	body := strings.TrimPrefix(guest, GuestTokenPrefix)
	if !ValidSecret(GuestTokenPrefix, guest) {
		t.Fatal("valid secret refused")
	}
	cases := map[string]string{
		"guest token as API token":     guest,
		"prefix swapped in place":      APITokenPrefix + body,
		"prefix in other case":         strings.ToUpper(GuestTokenPrefix) + body,
		"no prefix":                    body,
		"empty":                        "",
		"prefix only":                  GuestTokenPrefix,
		"truncated":                    guest[:len(guest)-1],
		"extended":                     guest + "A",
		"padded":                       guest[:len(guest)-1] + "=",
		"newline inside":               guest[:10] + "\n" + guest[11:],
		"standard base64 alphabet":     GuestTokenPrefix + strings.Repeat("+", secretEncodedLen),
		"right shape, wrong checksum":  GuestTokenPrefix + strings.Repeat("A", secretEncodedLen),
		"non-ASCII of the same length": GuestTokenPrefix + strings.Repeat("é", secretEncodedLen/2),
	}
	for name, s := range cases {
		prefix := GuestTokenPrefix
		if name == "guest token as API token" {
			prefix = APITokenPrefix
		}
		if ValidSecret(prefix, s) {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}

func TestLookupHash(t *testing.T) {
	key := []byte("lookup key for tests")
	s := encodeSecret(APITokenPrefix, fixedRandom(3))
	h := LookupHash(key, s)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	if !bytes.Equal(h, m.Sum(nil)) || len(h) != sha256.Size {
		t.Fatal("LookupHash is not HMAC-SHA256 of the secret")
	}
	if !bytes.Equal(h, LookupHash(key, s)) {
		t.Fatal("LookupHash is not deterministic, so it cannot be looked up")
	}
	if bytes.Equal(h, LookupHash([]byte("another key"), s)) {
		t.Fatal("LookupHash ignores the key")
	}
	if bytes.Equal(h, LookupHash(key, encodeSecret(APITokenPrefix, fixedRandom(4)))) {
		t.Fatal("different secrets give the same lookup hash")
	}
}

func FuzzValidSecret(f *testing.F) {
	for _, p := range []string{GuestTokenPrefix, APITokenPrefix} {
		valid := encodeSecret(p, fixedRandom(9))
		f.Add(valid)
		f.Add(NewSecret(p))
		f.Add(valid[:len(valid)-1])
		f.Add(valid + "x")
		f.Add(valid[:len(valid)-1] + "=")
		f.Add(valid[:8] + "\r\n" + valid[10:])
		f.Add(p)
	}
	f.Add("")
	f.Add(encodeSecret("", fixedRandom(2)))
	f.Add(GuestTokenPrefix + strings.Repeat("A", secretEncodedLen))
	f.Add(GuestTokenPrefix + strings.Repeat("\xff", secretEncodedLen))
	f.Fuzz(func(t *testing.T, s string) {
		for _, prefix := range []string{GuestTokenPrefix, APITokenPrefix, ""} {
			if !ValidSecret(prefix, s) {
				continue
			}
			if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+secretEncodedLen {
				t.Fatalf("accepted %q for prefix %q with wrong prefix or length", s, prefix)
			}
			raw, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
			if err != nil || len(raw) != secretRandomLen+secretSumLen {
				t.Fatalf("accepted %q that does not decode to %d bytes: %v", s, secretRandomLen+secretSumLen, err)
			}
			random := raw[:secretRandomLen]
			if binary.BigEndian.Uint32(raw[secretRandomLen:]) != crc32.ChecksumIEEE(append([]byte(prefix), random...)) {
				t.Fatalf("accepted %q with a wrong checksum", s)
			}
			if encodeSecret(prefix, random) != s {
				t.Fatalf("accepted %q, which does not round-trip", s)
			}
		}
	})
}
