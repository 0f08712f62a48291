package main

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
	"hubshare/app/mail/mailtest"
)

// The whole path of a notification mail, on each database: members made
// with --email, five links opened over HTTP in a burst, the access-log
// flush making five notifications, and one message in a real SMTP server
// for their owner, none for the other member.
func TestServeMailsNotifications(t *testing.T) {
	t.Parallel()
	for _, dialect := range dbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			base := []string{"--data-dir", dir}
			if dialect == "postgres" {
				if os.Getenv(dbtest.EnvPostgres) == "" {
					t.Skip(dbtest.EnvPostgres + " is not set")
				}
				base = append(base, "--database-url", dbtest.URL(t, "postgres"))
			}
			cli := func(stdin string, args ...string) (string, error) {
				return run(t, env(), stdin, append(args, base...)...)
			}
			if _, err := cli("a long passphrase\n", "member", "create", "--handle", "ann", "--email", "ann@example.org"); err != nil {
				t.Fatal(err)
			}
			if _, err := cli("a long passphrase\n", "member", "create", "--handle", "bob", "--email", "bob@example.org"); err != nil {
				t.Fatal(err)
			}
			// A bad address is refused before anything is made.
			if _, err := cli("a long passphrase\n", "member", "create", "--handle", "carl", "--email", "carl at example"); err == nil || !strings.Contains(err.Error(), "not an e-mail address") {
				t.Fatalf("bad --email: %v", err)
			}
			if _, err := cli("a long passphrase\n", "member", "create", "--handle", "carl"); err != nil {
				t.Fatalf("carl after the refused create: %v", err)
			}
			out, err := cli("", "apitoken", "create", "--handle", "ann", "--scope", "write")
			if err != nil {
				t.Fatal(err)
			}
			token := strings.TrimSpace(out)

			smtp := mailtest.StartPlain(t)
			addr, stop, logs := startServeLog(t, env("HUBSHARE_TEST_MAIL_GATHER", "500ms"),
				append(base, "--smtp-url", smtp.URL("", ""), "--smtp-from", "hub@example.org")...)
			hc := &http.Client{Timeout: 20 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			api := func(method, path, body string, into any) {
				t.Helper()
				req, _ := http.NewRequest(method, "http://"+addr+"/api/v1"+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
				}
				if err := json.Unmarshal(b, into); err != nil {
					t.Fatal(err)
				}
			}
			var post struct{ ID int64 }
			api("POST", "/posts", `{"title":"Holiday"}`, &post)
			for i := range 5 {
				var tok struct{ Link string }
				api("POST", "/items/"+strconv.FormatInt(post.ID, 10)+"/share", `{"name":"Guest `+strconv.Itoa(i+1)+`"}`, &tok)
				u, err := url.Parse(tok.Link)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := hc.Get("http://" + addr + u.RequestURI())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("opening link %d: status %d", i+1, resp.StatusCode)
				}
			}

			smtp.Wait(1, 20*time.Second)
			time.Sleep(1500 * time.Millisecond) // past another flush and gathering window
			msgs := smtp.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1 for the burst of five openings\n%s", len(msgs), logs())
			}
			m := msgs[0]
			subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if len(m.To) != 1 || m.To[0] != "ann@example.org" || subject != "hubshare: 5 new notifications" {
				t.Fatalf("message to %v, subject %q", m.To, subject)
			}
			for i := range 5 {
				if !strings.Contains(m.Body, "Guest "+strconv.Itoa(i+1)) {
					t.Errorf("the message does not name Guest %d:\n%s", i+1, m.Body)
				}
			}
			var list struct {
				Notifications []struct {
					Kind   string
					ItemID *int64 `json:"item_id"`
				}
			}
			api("GET", "/notifications", "", &list)
			if len(list.Notifications) != 5 {
				t.Fatalf("%d notifications in the API, want 5", len(list.Notifications))
			}
			for _, n := range list.Notifications {
				if n.Kind != "first_open" || n.ItemID == nil || *n.ItemID != post.ID {
					t.Errorf("notification %+v", n)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs(), "notification mail closed") {
				t.Errorf("the mail worker was not closed at shutdown:\n%s", logs())
			}
		})
	}
}

// A bad SMTP URL stops serve at start with a message that says what is
// wrong and does not repeat the password.
func TestServeRefusesBadSMTPURL(t *testing.T) {
	t.Parallel()
	const secret = "pw-Never-Shown"
	for _, u := range []string{"smtp://u:" + secret + "@mail.example:99999", "http://u:" + secret + "@mail.example", "smtp://u:" + secret + "@mail example"} {
		var stderr logtest.Buffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: env()}
		err := m.Run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--smtp-url", u, "--smtp-from", "hub@example.org"})
		if err == nil || !strings.Contains(err.Error(), "SMTP URL") {
			t.Errorf("%s: %v, want an error about the SMTP URL", strings.ReplaceAll(u, secret, "…"), err)
		}
		if err != nil && strings.Contains(err.Error()+stderr.String(), secret) {
			t.Errorf("the password is shown: %v\n%s", err, stderr.String())
		}
	}
}
