// Package mailtest runs a real SMTP server on a loopback port for tests: it
// stores every message it accepts, can refuse the first attempts, and can
// require a password.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	// Header and Body are the parsed message, the body decoded.
	Header mail.Header
	Body   string
}

// Server is the running SMTP server.
type Server struct {
	Addr string
	// Refuse is how many MAIL commands are refused (451) before any is
	// accepted.
	Refuse int
	// User and Password, when set, are required (AUTH PLAIN).
	User, Password string

	// ClientTLS is a client configuration that trusts the server's
	// certificate, for STARTTLS.
	ClientTLS *tls.Config

	mu       sync.Mutex
	msgs     []Message
	attempts int
	changed  chan struct{}
}

// Start starts a server on 127.0.0.1:0 that offers STARTTLS with a
// certificate of its own (ClientTLS trusts it), stopped when the test ends.
// Set its fields before the first mail is sent.
func Start(t testing.TB) *Server { return start(t, true) }

// StartPlain starts a server without TLS (and so without AUTH), as a local
// relay is.
func StartPlain(t testing.TB) *Server { return start(t, false) }

func start(t testing.TB, withTLS bool) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), changed: make(chan struct{}, 1)}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	// STARTTLS with a certificate of its own (ClientTLS trusts it), and
	// no password without it, as a real server.
	if withTLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.ClientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// URL is the smtp:// URL of the server, with user and password if given.
func (s *Server) URL(user, password string) string {
	if user == "" {
		return "smtp://" + s.Addr
	}
	return "smtp://" + user + ":" + password + "@" + s.Addr
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Attempts counts MAIL commands, refused ones included.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Wait waits up to timeout for at least n messages and returns what came.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.changed:
		case <-deadline:
			return s.Messages()
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	auth bool
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.User || pass != x.s.Password {
			return errors.New("invalid username or password")
		}
		x.auth = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.attempts++
	if x.s.User != "" && !x.auth {
		return smtp.ErrAuthRequired
	}
	if x.s.attempts <= x.s.Refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var br io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		br = quotedprintable.NewReader(br)
	case "base64":
		br = base64.NewDecoder(base64.StdEncoding, br)
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Header: m.Header, Body: strings.ReplaceAll(string(body), "\r\n", "\n")})
	x.s.mu.Unlock()
	select {
	case x.s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}
