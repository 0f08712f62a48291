package acl

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
)

// SealKeySize is the length of a key for Seal and SealString.
const SealKeySize = chacha20poly1305.KeySize

// ErrUnseal is returned for any sealed value that cannot be opened. The
// causes (tampering, wrong key, wrong purpose, truncation) are deliberately
// not told apart, so a caller cannot leak which one it was.
var ErrUnseal = errors.New("acl: sealed value is invalid")

// Seal encrypts and authenticates plaintext under a server key, binding ad
// (associated data) to it without encrypting ad. XChaCha20-Poly1305 is used
// because its 24-byte nonce is safe to draw at random for any number of
// values under one key. The result is nonce||ciphertext.
//
// A key of the wrong length is a configuration error that must not be
// discovered at the first user request, so Seal panics on it; check keys at
// start-up.
func Seal(key []byte, plaintext, ad []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic("acl: seal key must be " + strconv.Itoa(SealKeySize) + " bytes")
	}
	out := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic("acl: crypto/rand failed: " + err.Error())
	}
	return aead.Seal(out, out, plaintext, ad)
}

// Unseal opens a value made by Seal with the same key and ad.
func Unseal(key []byte, sealed, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, errors.New("acl: unseal key must be " + strconv.Itoa(SealKeySize) + " bytes")
	}
	if len(sealed) < chacha20poly1305.NonceSizeX+aead.Overhead() {
		return nil, ErrUnseal
	}
	nonce, ct := sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:]
	pt, err := aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// SealString seals plaintext for one purpose (for example a cookie name) and
// returns it as URL-safe text. The purpose is the associated data, so a
// value sealed for one purpose is refused when presented for another, and
// one key can serve several cookies.
func SealString(key []byte, purpose string, plaintext []byte) string {
	return base64.RawURLEncoding.EncodeToString(Seal(key, plaintext, []byte(purpose)))
}

// UnsealString opens a value made by SealString for the same purpose.
func UnsealString(key []byte, purpose, s string) ([]byte, error) {
	// Strict, so that a value differing only in unused trailing bits is not
	// accepted as the same value.
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrUnseal
	}
	return Unseal(key, sealed, []byte(purpose))
}
