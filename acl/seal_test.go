package acl

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/url"
	"testing"
)

func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, SealKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTrip(t *testing.T) {
	key := testKey(t)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("member:42;"), 500)} {
		for _, ad := range [][]byte{nil, []byte("session")} {
			sealed := Seal(key, pt, ad)
			got, err := Unseal(key, sealed, ad)
			if err != nil {
				t.Fatalf("Unseal(%d bytes, ad %q): %v", len(pt), ad, err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("round trip changed the plaintext")
			}
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	key := testKey(t)
	a, b := Seal(key, []byte("same"), nil), Seal(key, []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("sealing the same plaintext twice gave the same output")
	}
}

func TestUnsealRefusesTampering(t *testing.T) {
	key := testKey(t)
	ad := []byte("ad")
	sealed := Seal(key, []byte("visitor may see album 7"), ad)
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= bit
			if _, err := Unseal(key, tampered, ad); !errors.Is(err, ErrUnseal) {
				t.Fatalf("byte %d flipped with %#x: err = %v, want ErrUnseal", i, bit, err)
			}
		}
	}
	for n := range len(sealed) {
		if _, err := Unseal(key, sealed[:n], ad); !errors.Is(err, ErrUnseal) {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
	}
	if _, err := Unseal(key, append(bytes.Clone(sealed), 0), ad); !errors.Is(err, ErrUnseal) {
		t.Fatalf("extended: err = %v", err)
	}
}

func TestUnsealRefusesWrongKeyOrAD(t *testing.T) {
	key := testKey(t)
	sealed := Seal(key, []byte("secret"), []byte("a"))
	if _, err := Unseal(testKey(t), sealed, []byte("a")); !errors.Is(err, ErrUnseal) {
		t.Fatalf("wrong key: err = %v", err)
	}
	if _, err := Unseal(key, sealed, []byte("b")); !errors.Is(err, ErrUnseal) {
		t.Fatalf("wrong ad: err = %v", err)
	}
	if _, err := Unseal(key, sealed, nil); !errors.Is(err, ErrUnseal) {
		t.Fatalf("missing ad: err = %v", err)
	}
	if _, err := Unseal(key[:16], sealed, []byte("a")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestSealPanicsOnBadKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Seal with a 16-byte key did not panic")
		}
	}()
	Seal(make([]byte, 16), []byte("x"), nil)
}

func TestSealString(t *testing.T) {
	key := testKey(t)
	s := SealString(key, "hs_session", []byte("member=42"))
	if url.QueryEscape(s) != s {
		t.Fatalf("sealed string is not URL-safe: %q", s)
	}
	got, err := UnsealString(key, "hs_session", s)
	if err != nil || string(got) != "member=42" {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	if _, err := UnsealString(key, "hs_guest", s); !errors.Is(err, ErrUnseal) {
		t.Fatalf("value sealed for one purpose opened for another: err = %v", err)
	}
	if _, err := UnsealString(testKey(t), "hs_session", s); !errors.Is(err, ErrUnseal) {
		t.Fatalf("wrong key: err = %v", err)
	}
	for i := range len(s) {
		for _, c := range []byte(urlAlphabet) {
			if c == s[i] {
				continue
			}
			changed := s[:i] + string(c) + s[i+1:]
			if _, err := UnsealString(key, "hs_session", changed); !errors.Is(err, ErrUnseal) {
				t.Fatalf("position %d changed to %q: err = %v", i, c, err)
			}
		}
	}
	for _, bad := range []string{"", "!!!", s + "=", s[:len(s)-1], "A" + s} {
		if _, err := UnsealString(key, "hs_session", bad); !errors.Is(err, ErrUnseal) {
			t.Fatalf("%q: err = %v", bad, err)
		}
	}
}
