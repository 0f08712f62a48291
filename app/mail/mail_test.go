package mail_test

import (
	"context"
	"log/slog"
	"mime"
	"strings"
	"sync"
	"testing"
	"time"

	"hubshare/app/logtest"
	"hubshare/app/mail"
	"hubshare/app/mail/mailtest"
)

type fixture struct {
	w    *mail.Worker
	logs *logtest.Buffer
	stop func()
}

var ana = map[int64]mail.Recipient{1: {Name: "Ana", Address: "ana@example.org"}, 2: {Name: "Bo", Address: "bo@example.org"}}

func start(t *testing.T, s *mailtest.Server, url string, tune func(*mail.Config)) *fixture {
	t.Helper()
	srv, err := mail.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	cfg := mail.Config{Server: srv, From: "hub@example.org", BaseURL: "http://hub.test",
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Resolve: func(_ context.Context, ids []int64) (map[int64]mail.Recipient, error) {
			out := map[int64]mail.Recipient{}
			for _, id := range ids {
				if r, ok := ana[id]; ok {
					out[id] = r
				}
			}
			return out, nil
		},
		Gather: 300 * time.Millisecond, Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		SendTimeout: 5 * time.Second, DrainTimeout: 5 * time.Second, TLS: s.ClientTLS}
	if tune != nil {
		tune(&cfg)
	}
	w, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return &fixture{w: w, logs: logs, stop: stop}
}

func subject(t *testing.T, m mailtest.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A burst of five notes for one member is one message to that member,
// with every line; another member's notes go in their own message.
func TestBurstIsOneMessage(t *testing.T) {
	t.Parallel()
	s := mailtest.Start(t)
	f := start(t, s, s.URL("", ""), nil)
	for i := range 5 {
		f.w.Enqueue(mail.Note{Member: 1, Text: "Opening " + string(rune('A'+i))})
	}
	f.w.Enqueue(mail.Note{Member: 2, Text: "For Bo"}, mail.Note{Member: 3, Text: "No address"})
	s.Wait(2, 10*time.Second)
	// Wait past another gathering window: nothing more may come.
	time.Sleep(700 * time.Millisecond)
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2 (one per member with an address)", len(msgs))
	}
	var toAna *mailtest.Message
	for i := range msgs {
		if len(msgs[i].To) == 1 && msgs[i].To[0] == "ana@example.org" {
			toAna = &msgs[i]
		}
	}
	if toAna == nil {
		t.Fatalf("no message to ana@example.org: %+v", msgs)
	}
	if got := subject(t, *toAna); got != "hubshare: 5 new notifications" {
		t.Errorf("subject %q", got)
	}
	if toAna.From != "hub@example.org" {
		t.Errorf("envelope sender %q", toAna.From)
	}
	for i := range 5 {
		if line := "- Opening " + string(rune('A'+i)); !strings.Contains(toAna.Body, line) {
			t.Errorf("body lacks %q:\n%s", line, toAna.Body)
		}
	}
	if !strings.Contains(toAna.Body, "http://hub.test/notifications") {
		t.Errorf("body lacks the link to the notifications page:\n%s", toAna.Body)
	}
	if strings.Contains(toAna.Body, "For Bo") {
		t.Error("Bo's note went to Ana")
	}
	f.stop()
	st := f.w.Stats()
	if st.Sent != 2 || st.NoAddress != 1 || st.Queued != 7 {
		t.Errorf("stats %+v, want 2 sent, 1 without address, 7 queued", st)
	}
}

// A server that refuses the first attempts gets the message on a later one.
func TestRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	s := mailtest.Start(t)
	s.Refuse = 2
	f := start(t, s, s.URL("", ""), nil)
	f.w.Enqueue(mail.Note{Member: 1, Text: "Retried"})
	msgs := s.Wait(1, 15*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages after %d attempts, want 1", len(msgs), s.Attempts())
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.w.Stats().Sent == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.Attempts() != 3 {
		t.Errorf("%d attempts, want 3 (two refused, one accepted)", s.Attempts())
	}
	if st := f.w.Stats(); st.Retried != 2 || st.Sent != 1 {
		t.Errorf("stats %+v, want 2 retried and 1 sent", st)
	}
	if got := subject(t, msgs[0]); got != "hubshare: 1 new notification" {
		t.Errorf("subject %q", got)
	}
}

// A message that keeps failing is abandoned after MaxAttempts, and the
// SMTP password appears in no log line, nor in the server's name.
func TestPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	s := mailtest.Start(t)
	s.User, s.Password = "hub", "right-password"
	const secret = "s3cret-Pa55word"
	f := start(t, s, s.URL("hub", secret), func(c *mail.Config) { c.MaxAttempts = 2 })
	f.w.Enqueue(mail.Note{Member: 1, Text: "Never delivered"})
	deadline := time.Now().Add(10 * time.Second)
	for f.w.Stats().Abandoned == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := f.w.Stats(); st.Abandoned != 1 || st.Retried != 2 {
		t.Fatalf("stats %+v, want 2 failed attempts and 1 abandoned message", st)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "not sent") {
		t.Fatalf("the failures were not logged:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Fatalf("the SMTP password is in the log:\n%s", logs)
	}
	srv, _ := mail.ParseURL(s.URL("hub", secret))
	if strings.Contains(srv.String(), secret) {
		t.Errorf("the server's name shows the password: %s", srv)
	}
	if _, err := mail.ParseURL("smtp://hub:" + secret + "@host:99999"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("bad port: err %v", err)
	}
	if _, err := mail.ParseURL("smtp://hub:" + secret + "@ho st\x7f"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("bad URL: err %v", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("a message got through without authentication")
	}
}

// With the right password the message is delivered.
func TestAuthenticatedDelivery(t *testing.T) {
	t.Parallel()
	s := mailtest.Start(t)
	s.User, s.Password = "hub", "right-password"
	start(t, s, s.URL("hub", "right-password"), nil).w.Enqueue(mail.Note{Member: 2, Text: "Hello"})
	if msgs := s.Wait(1, 10*time.Second); len(msgs) != 1 || msgs[0].To[0] != "bo@example.org" {
		t.Fatalf("messages %+v", msgs)
	}
}

// The queue is bounded: notes past it are dropped and counted, and
// Enqueue never blocks.
func TestQueueBounded(t *testing.T) {
	t.Parallel()
	s := mailtest.Start(t)
	f := start(t, s, s.URL("", ""), func(c *mail.Config) { c.QueueSize = 3; c.Gather = time.Hour })
	for range 5 {
		f.w.Enqueue(mail.Note{Member: 1, Text: "n"})
	}
	if st := f.w.Stats(); st.Queued != 3 || st.Dropped != 2 {
		t.Fatalf("stats %+v, want 3 queued and 2 dropped", st)
	}
	// Shutting down sends what was gathered, without waiting the hour.
	f.stop()
	msgs := s.Messages()
	if len(msgs) != 1 || subject(t, msgs[0]) != "hubshare: 3 new notifications" {
		t.Fatalf("after shutdown: %d messages %+v", len(msgs), msgs)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url      string
		host     string
		port     int
		implicit bool
		starttls bool
		user     string
	}{
		{"smtp://mail.example.org", "mail.example.org", 25, false, false, ""},
		{"smtp://u:p@mail.example.org:587?starttls=true", "mail.example.org", 587, false, true, "u"},
		{"smtp://mail.example.org:587?starttls", "mail.example.org", 587, false, true, ""},
		{"smtps://u@mail.example.org", "mail.example.org", 465, true, false, "u"},
	} {
		s, err := mail.ParseURL(c.url)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if s.Host != c.host || s.Port != c.port || s.Implicit != c.implicit || s.StartTLS != c.starttls || s.User != c.user {
			t.Errorf("%s: got %+v", c.url, s)
		}
	}
	for _, bad := range []string{"http://mail.example.org", "smtp://", "smtp://h:0", "smtps://h?starttls=true", "smtp://h?starttls=maybe"} {
		if _, err := mail.ParseURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
