// Package mail sends members their notifications by e-mail, from a
// background worker: a bounded queue that never blocks its callers, bursts
// gathered into one message per recipient, retries with backoff, and a
// bounded drain at shutdown. It knows nothing of the database: the caller
// gives it a function that turns member ids into addresses.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Note is one line of news for one member.
type Note struct {
	Member int64
	Text   string
}

// Recipient is where a member's mail goes.
type Recipient struct {
	Name    string
	Address string
}

// Resolver returns the recipients of the members given; a member missing
// from the result gets no mail.
type Resolver func(ctx context.Context, members []int64) (map[int64]Recipient, error)

// Server is a parsed SMTP URL: smtp://[user:pass@]host[:port] (STARTTLS
// when the server offers it; ?starttls=true requires it), or
// smtps://[user:pass@]host[:port] (TLS from the first byte). The password
// is kept only here and is never printed: String leaves it out.
type Server struct {
	Host     string
	Port     int
	Implicit bool // smtps
	StartTLS bool // STARTTLS required
	User     string
	password string
}

// ParseURL reads an SMTP URL.
func ParseURL(raw string) (*Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error repeats the URL, password included: say less.
		return nil, errors.New("the SMTP URL is not a URL such as smtp://user:password@mail.example.org:587")
	}
	s := &Server{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.Port = 25
	case "smtps":
		s.Port, s.Implicit = 465, true
	default:
		return nil, fmt.Errorf("the SMTP URL must start with smtp:// or smtps://, not %q", u.Scheme+"://")
	}
	if s.Host == "" {
		return nil, errors.New("the SMTP URL names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("the SMTP URL's port %q is not a port number", p)
		}
		s.Port = n
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.password, _ = u.User.Password()
	}
	switch v := u.Query().Get("starttls"); v {
	case "":
		// A bare ?starttls asks for it too.
		s.StartTLS = u.Query().Has("starttls")
	case "true", "1", "yes":
		s.StartTLS = true
	case "false", "0", "no":
	default:
		return nil, fmt.Errorf("the SMTP URL's starttls=%q is neither true nor false", v)
	}
	if s.Implicit && s.StartTLS {
		return nil, errors.New("the SMTP URL asks for both smtps:// and STARTTLS; choose one")
	}
	return s, nil
}

// String names the server without its password, for logs.
func (s *Server) String() string {
	scheme := "smtp"
	if s.Implicit {
		scheme = "smtps"
	}
	return scheme + "://" + s.Host + ":" + strconv.Itoa(s.Port)
}

// Config sets up a Worker; zero durations and sizes take the defaults.
type Config struct {
	Server  *Server
	From    string
	BaseURL string // links in the mail point here (/notifications)
	Resolve Resolver
	Logger  *slog.Logger
	// TLS, when set, is the TLS configuration (e.g. a private CA);
	// otherwise the system's roots check the server's name.
	TLS *tls.Config
	// Gather is how long the worker waits after a note before sending,
	// so that a burst becomes one message per member.
	Gather time.Duration
	// QueueSize bounds the notes held (waiting, gathered or to retry);
	// past it new notes are dropped, counted and logged.
	QueueSize int
	// MaxAttempts bounds the sends of one message.
	MaxAttempts int
	// Backoff is the wait after the first failed send; it doubles up to
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// SendTimeout bounds one SMTP conversation.
	SendTimeout time.Duration
	// DrainTimeout bounds the last sends at shutdown.
	DrainTimeout time.Duration
}

// Defaults.
const (
	DefaultGather       = 30 * time.Second
	DefaultQueueSize    = 10_000
	DefaultMaxAttempts  = 6
	DefaultBackoff      = 10 * time.Second
	DefaultMaxBackoff   = 10 * time.Minute
	DefaultSendTimeout  = 30 * time.Second
	DefaultDrainTimeout = 10 * time.Second
	// maxLines bounds the lines listed in one message; the rest are
	// counted.
	maxLines = 50
)

// Stats counts what became of notes and messages.
type Stats struct {
	Queued, Dropped          int64 // notes
	Sent, Retried, Abandoned int64 // messages (sends that failed for good)
	NoAddress                int64 // notes for members without mail
}

// Worker is the mail sender. Enqueue is safe from any goroutine; Run does
// the work.
type Worker struct {
	cfg  Config
	in   chan Note
	mu   sync.Mutex
	held int // notes in the channel, gathered, or in messages to retry
	st   Stats
}

// New checks the configuration and returns a worker; Run starts it.
func New(cfg Config) (*Worker, error) {
	if cfg.Server == nil {
		return nil, errors.New("mail: no SMTP server")
	}
	if cfg.From == "" {
		return nil, errors.New("mail needs a sender address (--smtp-from)")
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("the sender address %q is not an e-mail address", cfg.From)
	}
	if cfg.Resolve == nil {
		return nil, errors.New("mail: no resolver")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Gather, DefaultGather)
	def(&cfg.Backoff, DefaultBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.SendTimeout, DefaultSendTimeout)
	def(&cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	return &Worker{cfg: cfg, in: make(chan Note, cfg.QueueSize)}, nil
}

// Enqueue queues notes without ever blocking; past the queue's bound they
// are dropped and counted.
func (w *Worker) Enqueue(notes ...Note) {
	for _, n := range notes {
		w.mu.Lock()
		full := w.held >= w.cfg.QueueSize
		if full {
			w.st.Dropped++
		} else {
			w.held++
			w.st.Queued++
		}
		w.mu.Unlock()
		if full {
			w.cfg.Logger.Warn("mail queue full: notification mail dropped", "member", n.Member)
			continue
		}
		select {
		case w.in <- n:
		default:
			// held counts the channel's contents, so this is not reached;
			// kept so that Enqueue can never block.
			w.release(1)
			w.mu.Lock()
			w.st.Dropped++
			w.mu.Unlock()
		}
	}
}

// Stats returns the counters so far.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

func (w *Worker) release(n int) {
	w.mu.Lock()
	w.held -= n
	w.mu.Unlock()
}

func (w *Worker) count(f func(*Stats)) {
	w.mu.Lock()
	f(&w.st)
	w.mu.Unlock()
}

// message is one mail to send: the lines of a burst for one member.
type message struct {
	member   int64
	to       Recipient
	lines    []string
	attempts int
	next     time.Time
}

// Run gathers notes and sends them until ctx ends, then sends what it
// holds within the drain timeout.
func (w *Worker) Run(ctx context.Context) {
	var gathered []Note
	var retry []*message
	var deadline <-chan time.Time
	var gatherTimer *time.Timer
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case n := <-w.in:
			gathered = append(gathered, n)
			if gatherTimer == nil {
				gatherTimer = time.NewTimer(w.cfg.Gather)
				deadline = gatherTimer.C
			}
			continue
		case <-deadline:
			gatherTimer, deadline = nil, nil
			retry = append(retry, w.compose(ctx, gathered)...)
			gathered = nil
		case <-tick.C:
		case <-ctx.Done():
			w.drain(gathered, retry)
			return
		}
		retry = w.sendDue(ctx, retry, time.Now())
	}
}

// compose groups notes into one message per member with an address.
func (w *Worker) compose(ctx context.Context, notes []Note) []*message {
	if len(notes) == 0 {
		return nil
	}
	byMember := map[int64][]string{}
	var ids []int64
	for _, n := range notes {
		if _, ok := byMember[n.Member]; !ok {
			ids = append(ids, n.Member)
		}
		byMember[n.Member] = append(byMember[n.Member], n.Text)
	}
	slices.Sort(ids)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()
	to, err := w.cfg.Resolve(rctx, ids)
	if err != nil {
		// The notes stay in the app; only their mail is lost.
		w.cfg.Logger.Warn("notification mail: looking up addresses failed; this burst is not mailed", "err", err)
		w.release(len(notes))
		return nil
	}
	var out []*message
	for _, id := range ids {
		r, ok := to[id]
		if !ok {
			w.count(func(s *Stats) { s.NoAddress += int64(len(byMember[id])) })
			w.release(len(byMember[id]))
			continue
		}
		out = append(out, &message{member: id, to: r, lines: byMember[id]})
	}
	return out
}

// sendDue sends every message whose time has come and returns those to
// try again later.
func (w *Worker) sendDue(ctx context.Context, msgs []*message, now time.Time) []*message {
	keep := msgs[:0]
	for _, m := range msgs {
		if m.next.After(now) || ctx.Err() != nil {
			keep = append(keep, m)
			continue
		}
		if w.try(ctx, m) {
			continue
		}
		if m.attempts >= w.cfg.MaxAttempts {
			w.abandon(m)
			continue
		}
		wait := w.cfg.Backoff << (m.attempts - 1)
		if wait > w.cfg.MaxBackoff || wait <= 0 {
			wait = w.cfg.MaxBackoff
		}
		m.next = time.Now().Add(wait)
		keep = append(keep, m)
	}
	return keep
}

// try sends m once and reports success.
func (w *Worker) try(ctx context.Context, m *message) bool {
	m.attempts++
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.SendTimeout)
	defer cancel()
	err := w.send(sctx, m)
	if err == nil {
		w.count(func(s *Stats) { s.Sent++ })
		w.release(len(m.lines))
		return true
	}
	w.count(func(s *Stats) { s.Retried++ })
	// go-mail's errors name the server and the SMTP reply, never the
	// password; the server is named without it.
	w.cfg.Logger.Warn("notification mail not sent; will retry", "server", w.cfg.Server.String(),
		"member", m.member, "attempt", m.attempts, "err", err)
	return false
}

func (w *Worker) abandon(m *message) {
	w.count(func(s *Stats) { s.Abandoned++ })
	w.release(len(m.lines))
	w.cfg.Logger.Error("notification mail abandoned after repeated failures", "server", w.cfg.Server.String(),
		"member", m.member, "attempts", m.attempts)
}

// drain sends what is held, retrying within the drain timeout.
func (w *Worker) drain(gathered []Note, retry []*message) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.DrainTimeout)
	defer cancel()
	for {
		select {
		case n := <-w.in:
			gathered = append(gathered, n)
			continue
		default:
		}
		break
	}
	retry = append(retry, w.compose(ctx, gathered)...)
	for _, m := range retry {
		m.next = time.Time{}
	}
	wait := 200 * time.Millisecond
	for len(retry) > 0 {
		keep := retry[:0]
		for _, m := range retry {
			if !w.try(ctx, m) {
				keep = append(keep, m)
			}
		}
		retry = keep
		if len(retry) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			for _, m := range retry {
				w.abandon(m)
			}
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Subject is the subject of a message of n lines.
func Subject(n int) string {
	if n == 1 {
		return "hubshare: 1 new notification"
	}
	return "hubshare: " + strconv.Itoa(n) + " new notifications"
}

func (w *Worker) body(m *message) string {
	var b strings.Builder
	name := m.to.Name
	if name == "" {
		name = "there"
	}
	fmt.Fprintf(&b, "Hello %s,\n\n", name)
	for i, l := range m.lines {
		if i == maxLines {
			fmt.Fprintf(&b, "… and %d more.\n", len(m.lines)-maxLines)
			break
		}
		b.WriteString("- " + l + "\n")
	}
	if w.cfg.BaseURL != "" {
		b.WriteString("\nSee them all: " + strings.TrimRight(w.cfg.BaseURL, "/") + "/notifications\n")
	}
	b.WriteString("\nYou get this because your hubshare account has this address. Turn notification mail off with PATCH /api/v1/me {\"notify_email\": false}.\n")
	return b.String()
}

func (w *Worker) send(ctx context.Context, m *message) error {
	msg := gomail.NewMsg()
	if err := msg.From(w.cfg.From); err != nil {
		return err
	}
	if err := msg.AddToFormat(m.to.Name, m.to.Address); err != nil {
		return err
	}
	msg.Subject(Subject(len(m.lines)))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, w.body(m))
	srv := w.cfg.Server
	opts := []gomail.Option{gomail.WithPort(srv.Port), gomail.WithTimeout(w.cfg.SendTimeout)}
	switch {
	case srv.Implicit:
		opts = append(opts, gomail.WithSSL())
	case srv.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if srv.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(srv.User), gomail.WithPassword(srv.password))
	}
	if w.cfg.TLS != nil {
		opts = append(opts, gomail.WithTLSConfig(w.cfg.TLS))
	}
	c, err := gomail.NewClient(srv.Host, opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
