package acl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// Prefixes make a leaked secret recognisable (to secret scanners and to
// people) and keep a guest token from being accepted as an API token.
const (
	// GuestTokenPrefix starts the secret of a guest token (zat values).
	GuestTokenPrefix = "hsg_"
	// APITokenPrefix starts the secret of a personal API token.
	APITokenPrefix = "hsp_"
)

const (
	secretRandomLen = 32 // 256 bits: guessing is hopeless, not just slow
	secretSumLen    = 4
	// secretEncodedLen is fixed because 36 bytes fill whole base64 groups,
	// so every valid secret has exactly this many characters after its prefix.
	secretEncodedLen = (secretRandomLen + secretSumLen) / 3 * 4
)

// NewSecret returns a fresh secret: prefix, then 256 random bits and a
// CRC32 over prefix and random bits, in URL-safe base64 so the secret can be
// put in a link as is. The checksum lets ValidSecret turn away typos and
// forgeries without touching the database. It panics only if the system's
// random source fails, since no safe secret can be made then.
func NewSecret(prefix string) string {
	var random [secretRandomLen]byte
	if _, err := rand.Read(random[:]); err != nil {
		panic("acl: crypto/rand failed: " + err.Error())
	}
	return encodeSecret(prefix, random[:])
}

func encodeSecret(prefix string, random []byte) string {
	buf := make([]byte, 0, len(random)+secretSumLen)
	buf = append(buf, random...)
	buf = binary.BigEndian.AppendUint32(buf, secretSum(prefix, random))
	return prefix + base64.RawURLEncoding.EncodeToString(buf)
}

func secretSum(prefix string, random []byte) uint32 {
	h := crc32.NewIEEE()
	h.Write([]byte(prefix))
	h.Write(random)
	return h.Sum32()
}

// ValidSecret reports whether s is shaped like a secret made by NewSecret
// with this prefix. It is a cheap filter, run before any database query, so
// that garbage and brute-force noise cost nothing; it says nothing about
// whether the secret was ever issued or is still valid.
func ValidSecret(prefix, s string) bool {
	if len(s) != len(prefix)+secretEncodedLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	body := s[len(prefix):]
	// The decoder skips newlines, so the alphabet is checked explicitly.
	for i := 0; i < len(body); i++ {
		if !isURLBase64(body[i]) {
			return false
		}
	}
	var raw [secretRandomLen + secretSumLen]byte
	n, err := base64.RawURLEncoding.Decode(raw[:], []byte(body))
	if err != nil || n != len(raw) {
		return false
	}
	return binary.BigEndian.Uint32(raw[secretRandomLen:]) == secretSum(prefix, raw[:secretRandomLen])
}

func isURLBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// LookupHash returns what the database stores and indexes for a secret:
// HMAC-SHA256 under a server key. A stolen database therefore yields no
// usable secrets, and, unlike a password hash, the value is deterministic
// so it can be looked up by equality. A slow hash is unnecessary because the
// secrets carry 256 random bits.
func LookupHash(key []byte, secret string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}
