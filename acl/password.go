package acl

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the Argon2id cost parameters. They are stored inside
// every hash, so raising them later only affects new hashes, and old ones
// are upgraded at the next successful login (see VerifyPassword).
type PasswordParams struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultPasswordParams follow the OWASP Password Storage Cheat Sheet
// (m=19 MiB, t=2, p=1): tens of milliseconds per login, and a high memory
// cost per guess for an attacker with a stolen database.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters read back from a stored hash. A corrupted or forged
// row must not make a login allocate gigabytes or spin for minutes, nor
// reach the argon2 package with values it panics on.
const (
	maxPasswordMemory     = 2 * 1024 * 1024 // KiB, the RFC 9106 first recommendation
	maxPasswordIterations = 64
	minPasswordSaltLen    = 8 // RFC 9106 minimum
	maxPasswordSaltLen    = 1024
	minPasswordKeyLen     = 16
	maxPasswordKeyLen     = 1024
)

// ErrPasswordHash is returned for a stored hash that cannot be parsed. It is
// distinct from a wrong password because it points at bad data, not at the
// user.
var ErrPasswordHash = errors.New("acl: malformed password hash")

var b64 = base64.RawStdEncoding.Strict()

// HashPassword returns a PHC string
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>) for the password under
// DefaultPasswordParams with a fresh random salt. The password is hashed as
// its exact UTF-8 bytes, never truncated or normalised, so that what the
// user typed is what is checked.
func HashPassword(password string) (string, error) {
	return hashWith(DefaultPasswordParams, password)
}

func hashWith(p PasswordParams, password string) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("acl: reading salt: %w", err)
	}
	return encodeHash(p, salt, password), nil
}

func encodeHash(p PasswordParams, salt []byte, password string) string {
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func (p PasswordParams) check() error {
	switch {
	case p.Parallelism < 1:
		return fmt.Errorf("%w: parallelism %d", ErrPasswordHash, p.Parallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxPasswordMemory:
		return fmt.Errorf("%w: memory %d KiB", ErrPasswordHash, p.Memory)
	case p.Iterations < 1 || p.Iterations > maxPasswordIterations:
		return fmt.Errorf("%w: iterations %d", ErrPasswordHash, p.Iterations)
	case p.SaltLen < minPasswordSaltLen || p.SaltLen > maxPasswordSaltLen:
		return fmt.Errorf("%w: salt length %d", ErrPasswordHash, p.SaltLen)
	case p.KeyLen < minPasswordKeyLen || p.KeyLen > maxPasswordKeyLen:
		return fmt.Errorf("%w: key length %d", ErrPasswordHash, p.KeyLen)
	}
	return nil
}

// weakerThan reports whether hashes made with p are cheaper to attack than
// ones made with d, which is when a stored hash deserves an upgrade.
// Parallelism is left out: it changes wall time, not the attacker's work.
func (p PasswordParams) weakerThan(d PasswordParams) bool {
	return p.Memory < d.Memory || p.Iterations < d.Iterations || p.KeyLen < d.KeyLen || p.SaltLen < d.SaltLen
}

func decodeHash(encoded string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrPasswordHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrPasswordHash, parts[2])
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, ErrPasswordHash
	}
	var v [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		num, ok := strings.CutPrefix(kv[i], name)
		bits := 32
		if i == 2 {
			bits = 8
		}
		if v[i], err = strconv.ParseUint(num, 10, bits); !ok || err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrPasswordHash, kv[i])
		}
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrPasswordHash)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrPasswordHash)
	}
	p = PasswordParams{
		Memory:      uint32(v[0]),
		Iterations:  uint32(v[1]),
		Parallelism: uint8(v[2]),
		SaltLen:     uint32(len(salt)),
		KeyLen:      uint32(len(key)),
	}
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, key, nil
}

// VerifyPassword checks password against a hash made by HashPassword, under
// the parameters stored in the hash. The comparison takes constant time.
// needsRehash is true only when the password matched and the stored
// parameters are weaker than DefaultPasswordParams: that is the one moment
// the caller holds the plaintext and can store a stronger hash. err is set
// only for a malformed hash, never for a wrong password.
func VerifyPassword(encoded, password string) (ok bool, needsRehash bool, err error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p.weakerThan(DefaultPasswordParams), nil
}

// dummyHash is made on first use rather than at start-up so that programs
// that never log anyone in do not pay for it. A fixed salt is fine: the hash
// protects no password, it only has to cost what a real one costs.
var dummyHash = sync.OnceValue(func() string {
	p := DefaultPasswordParams
	if p.check() != nil {
		return ""
	}
	salt := make([]byte, p.SaltLen)
	copy(salt, "hubshare dummy password salt")
	return encodeHash(p, salt, "hubshare dummy password")
})

// VerifyDummy spends the time of one password check and discards the
// result. Call it when the handle is unknown, so that a login for a handle
// that does not exist takes as long as one with a wrong password and the
// response time does not reveal which handles exist.
func VerifyDummy(password string) {
	_, _, _ = VerifyPassword(dummyHash(), password)
}
