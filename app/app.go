// Package app is the kernel of hubshare: configuration, error codes, the clock,
// the server keys and the values every other package shares. It imports no
// other package of the project.
package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Code classifies an error so that the edges (HTTP, command line) can map it
// to a status without knowing where it came from.
type Code string

// The error codes of the service. The web layer maps each to one HTTP status.
const (
	EMalformed    Code = "malformed"            // the request cannot be parsed (400)
	EUnauthorized Code = "unauthorized"         // no valid credential (401)
	EForbidden    Code = "forbidden"            // credential lacks the right (403)
	ENotFound     Code = "not_found"            // missing, or not the caller's (404)
	EConflict     Code = "conflict"             // clashes with existing state (409)
	ETooLarge     Code = "too_large"            // body over the limit (413)
	EUnsupported  Code = "unsupported"          // not a supported media type (415)
	EInvalid      Code = "invalid"              // well-formed input that breaks a rule (422)
	EThrottled    Code = "throttled"            // too many attempts (429)
	EInternal     Code = "internal"             // anything else (500)
	EUnavailable  Code = "unavailable"          // busy or briefly out of a resource; retry later (503)
	ENoSpace      Code = "insufficient_storage" // the server is out of storage (507)
)

// Error is an error with a code and a message that is safe to show a client.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is set on throttling errors.
	RetryAfter time.Duration
	// Err is the cause, kept for logs and errors.Is; never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and a client-safe message to a cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of err, EInternal for errors without one.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the client-safe message of err; internal errors get a
// generic message so that no raw error text reaches a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// NoSpaceMessage is what a client is told when the server's storage is full
// (ENoSpace).
const NoSpaceMessage = "The server is out of storage space. Please try again later or ask the hub's operator."

// IsNotFound reports whether err carries ENotFound.
func IsNotFound(err error) bool { return ErrorCode(err) == ENotFound }

// Clock gives the current time; tests inject a FakeClock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// FakeClock is a settable clock for tests.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a clock stopped at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t.UTC()} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// RandomID returns 128 random bits as 32 hex digits, for request ids and
// other values that must not collide.
func RandomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// CleanText trims s and refuses control characters (other than newlines and
// tabs when multiline) and values over max characters, naming the field in
// the message.
func CleanText(field, s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if n := len([]rune(s)); n > max {
		return "", Errorf(EInvalid, "%s is too long (%d characters, at most %d).", field, n, max)
	}
	for _, r := range s {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\r' || r == '\t'))) || r == 0x7f {
			return "", Errorf(EInvalid, "%s contains a control character.", field)
		}
	}
	return s, nil
}
