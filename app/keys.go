package app

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Keys are the server secrets, all derived from the one key file so that
// backing up that file (with the database) is enough. Every instance sharing a
// database must use the same key file.
type Keys struct {
	// Lookup keys the HMAC that turns a secret token into its stored lookup hash.
	Lookup []byte
	// Seal is the AEAD key for stored copies of secrets the owner may re-copy.
	Seal []byte
	// Cookie is the AEAD key for sealed cookies (guest sessions, pending links).
	Cookie []byte
	// CSRF keys the HMAC that derives a CSRF token from a session.
	CSRF []byte
	// ClientMark keys the daily hash of a client's network in the access log.
	ClientMark []byte
}

// DeriveKeys derives the purpose-bound keys from the master key with HKDF.
func DeriveKeys(master []byte) (*Keys, error) {
	if len(master) < 32 {
		return nil, errors.New("server key must be at least 32 bytes")
	}
	derive := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, master, nil, "hubshare "+purpose, 32)
		if err != nil {
			panic(err) // only fails for lengths HKDF cannot produce
		}
		return k
	}
	return &Keys{
		Lookup:     derive("token lookup"),
		Seal:       derive("seal"),
		Cookie:     derive("cookie"),
		CSRF:       derive("csrf"),
		ClientMark: derive("client mark"),
	}, nil
}

// LoadOrCreateKey reads the server key file, or creates it with 32 random
// bytes and owner-only permissions if it does not exist yet.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeKey(path, b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read server key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create server key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write server key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return key, nil
}

func decodeKey(path string, b []byte) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("server key file %s must hold at least 32 base64-encoded bytes", path)
	}
	return key, nil
}
