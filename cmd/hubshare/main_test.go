package main

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
	"hubshare/migrations"
)

// env returns a Getenv that knows only the given variables.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// run runs one command in-process and returns its standard output.
func run(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr logtest.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: getenv}
	// The timeout only ends a serve that should have refused to start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := m.Run(ctx, args)
	if err != nil {
		t.Logf("hubshare %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), err
}

var apiTokenLineRE = regexp.MustCompile(`^hsp_[A-Za-z0-9_-]+$`)

func TestMemberAndAPITokenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, err := run(t, env(), "a long passphrase\n", "member", "create", "--handle", "bob", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "created member bob") || strings.Count(out, "\n") != 1 {
		t.Errorf("member create printed %q", out)
	}
	if strings.Contains(out, "passphrase") {
		t.Errorf("member create echoed the password: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, database.FileName)); err != nil {
		t.Errorf("no database file in the data directory: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "secret.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret.key: %v, mode %v; want owner-only", err, st)
	}

	out, err = run(t, env(), "", "apitoken", "create", "--handle", "bob", "--scope", "write", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "\n") || len(lines) != 1 || !apiTokenLineRE.MatchString(lines[0]) || !acl.ValidSecret(acl.APITokenPrefix, lines[0]) {
		t.Fatalf("apitoken create printed %q, want one token line", out)
	}

	// The password was stored as typed, without the line ending, and the
	// token is bob's with the write scope.
	ctx := context.Background()
	db, err := database.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.NewSelect().Table("members").Column("password_hash").Where("handle = ?", "bob").Scan(ctx, &hash); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := acl.VerifyPassword(hash, "a long passphrase"); !ok || err != nil {
		t.Errorf("the stored password is not the line read from standard input (%v)", err)
	}
	var scopes string
	if err := db.NewSelect().Table("api_tokens").Column("scopes").Scan(ctx, &scopes); err != nil || scopes != "write" {
		t.Errorf("stored token scopes %q (%v), want write", scopes, err)
	}

	_, err = run(t, env(), "another passphrase\n", "member", "create", "--handle", "BOB", "--data-dir", dir)
	if err == nil {
		t.Errorf("a second member with the handle BOB was created")
	}
	_, err = run(t, env(), "", "member", "create", "--handle", "carol", "--data-dir", dir)
	if err == nil {
		t.Errorf("member create without a password on standard input succeeded")
	}
	_, err = run(t, env(), "", "apitoken", "create", "--handle", "nobody", "--data-dir", dir)
	if err == nil {
		t.Errorf("apitoken create for an unknown member succeeded")
	}
}

func TestMigrateStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := run(t, env(), "", "migrate", "up", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, env(), "", "migrate", "status", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	ups, err := fs.Glob(migrations.SQLite, "sqlite/*.up.sql")
	if err != nil || len(ups) == 0 {
		t.Fatalf("no migrations found (%v)", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(ups) {
		t.Fatalf("migrate status printed %d lines for %d migrations:\n%s", len(lines), len(ups), out)
	}
	for i, up := range ups {
		id, _, _ := strings.Cut(filepath.Base(up), "_")
		f := strings.Fields(lines[i])
		if len(f) != 2 || f[0] != "applied" || !strings.HasPrefix(f[1], id+"_") {
			t.Errorf("status line %q, want applied %s_…", lines[i], id)
		}
	}
	out, err = run(t, env(), "", "migrate", "up", "--data-dir", dir)
	if err != nil || strings.TrimSpace(out) != "nothing to do" {
		t.Errorf("second migrate up: %q, %v", out, err)
	}
}

func TestUnknownCommandAndArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"frobnicate"}, {"member", "delete"}, {"migrate", "sideways", "--data-dir", t.TempDir()},
		{"apitoken", "create", "--handle", "bob", "--scope", "admin", "--data-dir", t.TempDir()},
		{"serve", "--no-such-flag"}, {"serve", "extra-arg"}, {"serve", "--base-url", "ftp://x"}, {"serve", "--trusted-proxies", "not-an-ip"}} {
		if _, err := run(t, env(), "", args...); err == nil {
			t.Errorf("hubshare %q succeeded, want an error", args)
		}
	}
	_, err := run(t, env(), "", "frobnicate")
	if exitCode(err) != 2 {
		t.Errorf("exit code for an unknown command: %d, want 2", exitCode(err))
	}
}

func TestFlagBeatsEnvironment(t *testing.T) {
	t.Parallel()
	flagDir, envDir := t.TempDir(), t.TempDir()
	if _, err := run(t, env("HUBSHARE_DATA_DIR", envDir), "a long passphrase\n", "member", "create", "--handle", "bob", "--data-dir", flagDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(flagDir, database.FileName)); err != nil {
		t.Errorf("the flag's data directory has no database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(envDir, database.FileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the variable's data directory was used too: %v", err)
	}

	// Without the flag the variable decides.
	if _, err := run(t, env("HUBSHARE_DATA_DIR", envDir), "a long passphrase\n", "member", "create", "--handle", "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(envDir, database.FileName)); err != nil {
		t.Errorf("the variable's data directory has no database: %v", err)
	}
}

// startServe runs serve in the background and returns its address and a
// function that stops it and returns Run's error.
func startServe(t *testing.T, getenv func(string) string, args ...string) (addr string, stop func() error) {
	t.Helper()
	addr, stop, _ = startServeLog(t, getenv, args...)
	return addr, stop
}

// startServeLog is startServe that also returns what serve logged so far.
func startServeLog(t *testing.T, getenv func(string) string, args ...string) (addr string, stop func() error, logs func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stderr logtest.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: getenv,
		Ready: func(a string) { ready <- a }}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped before it was ready: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("serve did not become ready\n%s", stderr.String())
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("serve did not return after its context was cancelled\n%s", stderr.String())
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return addr, stop, stderr.String
}

func checkServing(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var health struct{ Status string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &health) != nil || health.Status != "ok" {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, err = client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Signed out, "/" is the sign-in page, or on a hub without members the
	// form that creates the first one.
	login := resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/login"
	setup := resp.StatusCode == http.StatusOK && strings.Contains(string(page), `action="/setup"`)
	if !login && !setup {
		t.Errorf("GET / signed out: %d %q, want 303 to /login or the first-run form", resp.StatusCode, resp.Header.Get("Location"))
	}
}

var setupCodeRE = regexp.MustCompile(`setup_code=([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5})`)

// A newcomer needs serve and a browser: serve prints a setup code, the
// browser at "/" creates the first account with it and is signed in.
func TestServeFirstRunInTheBrowser(t *testing.T) {
	t.Parallel()
	addr, _, logs := startServeLog(t, env(), "--data-dir", t.TempDir())
	m := setupCodeRE.FindStringSubmatch(logs())
	if m == nil {
		t.Fatalf("serve on a new hub printed no setup code:\n%s", logs())
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Timeout: 20 * time.Second, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + addr
	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
	if resp.StatusCode != http.StatusOK || csrf == nil {
		t.Fatalf("GET / on a new hub: %d\n%s", resp.StatusCode, page)
	}
	form := url.Values{"_csrf": {html.UnescapeString(csrf[1])}, "code": {m[1]}, "handle": {"alice"},
		"password": {"a long passphrase"}, "password2": {"a long passphrase"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("POST /setup with the printed code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Sign out") {
		t.Errorf("home after the first run: %d\n%s", resp.StatusCode, page)
	}
	if strings.Count(logs(), m[1]) != 1 {
		t.Errorf("the setup code was logged again after its first line")
	}
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, stop := startServe(t, env(), "--data-dir", dir)
	checkServing(t, addr)
	if err := stop(); err != nil {
		t.Errorf("serve returned %v after its context was cancelled, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, database.FileName)); err != nil {
		t.Errorf("serve made no database in the data directory: %v", err)
	}
	// The schema is current now, so a restart without migrating works.
	addr, stop = startServe(t, env(), "--data-dir", dir, "--no-migrate")
	checkServing(t, addr)
	if err := stop(); err != nil {
		t.Errorf("second serve returned %v", err)
	}
}

func TestServeNoMigrateRefusesStaleSchema(t *testing.T) {
	t.Parallel()
	for _, getenv := range []func(string) string{env(), env("HUBSHARE_NO_MIGRATE", "1")} {
		args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}
		if getenv("HUBSHARE_NO_MIGRATE") == "" {
			args = append(args, "--no-migrate")
		}
		_, err := run(t, getenv, "", args...)
		if err == nil || !strings.Contains(err.Error(), "out of date") {
			t.Errorf("%q: %v, want an error saying the schema is out of date", args, err)
		}
	}
}

func TestServePostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip(dbtest.EnvPostgres + " is not set")
	}
	dbURL := dbtest.URL(t, "postgres")
	dir := t.TempDir()
	getenv := env("HUBSHARE_DATABASE_URL", dbURL)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, getenv, "", "migrate", "status", "--data-dir", dir)
	if err != nil || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Errorf("migrate status on PostgreSQL: %q, %v", out, err)
	}
	addr, stop := startServe(t, env(), "--data-dir", dir, "--database-url", dbURL)
	checkServing(t, addr)
	if err := stop(); err != nil {
		t.Errorf("serve on PostgreSQL returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, database.FileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve on PostgreSQL also made an SQLite file: %v", err)
	}
}

// runWithin is run with the command bounded by d: for commands that would
// otherwise wait for a lock.
func runWithin(t *testing.T, d time.Duration, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr logtest.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: getenv}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := m.Run(ctx, args)
	return stdout.String(), err
}

// A migration that crashed leaves bun's lock behind: every later migrate up
// (and so every start) waits for it and fails; `migrate unlock` clears it,
// on SQLite and on PostgreSQL.
func TestMigrateUnlockClearsAStaleLock(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			dbURL := dbtest.URL(t, d)
			getenv := env("HUBSHARE_DATABASE_URL", dbURL)
			dir := t.TempDir()
			// Something for migrate up to do afterwards.
			if out, err := run(t, getenv, "", "migrate", "down", "--data-dir", dir); err != nil || !strings.Contains(out, "rolled back") {
				t.Fatalf("migrate down: %q, %v", out, err)
			}
			out, err := run(t, getenv, "", "migrate", "unlock", "--data-dir", dir)
			if err != nil || strings.TrimSpace(out) != "no migration lock was held" {
				t.Fatalf("migrate unlock without a lock: %q, %v", out, err)
			}

			// A process takes the lock and dies before releasing it.
			ctx := context.Background()
			db, err := database.Open(ctx, dbURL, dir)
			if err != nil {
				t.Fatal(err)
			}
			mig, err := database.Migrator(db)
			if err != nil {
				t.Fatal(err)
			}
			if err := mig.Init(ctx); err != nil {
				t.Fatal(err)
			}
			if err := mig.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			database.Close(db)

			// Without unlock, migrate up waits for the dead holder and gives
			// up (here when its context ends) with advice.
			out, err = runWithin(t, 3*time.Second, getenv, "migrate", "up", "--data-dir", dir)
			if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), "hubshare migrate unlock") {
				t.Fatalf("migrate up under a stale lock: %q, %v; want a locked error naming migrate unlock", out, err)
			}
			if strings.Contains(out, "applied") {
				t.Fatalf("migrate up under a stale lock applied something: %q", out)
			}

			out, err = run(t, getenv, "", "migrate", "unlock", "--data-dir", dir)
			if err != nil || strings.TrimSpace(out) != "removed the migration lock" {
				t.Fatalf("migrate unlock: %q, %v", out, err)
			}
			out, err = run(t, getenv, "", "migrate", "up", "--data-dir", dir)
			if err != nil || !strings.Contains(out, "applied ") {
				t.Fatalf("migrate up after unlock: %q, %v", out, err)
			}
			out, err = run(t, getenv, "", "migrate", "status", "--data-dir", dir)
			if err != nil || strings.Contains(out, "pending") {
				t.Errorf("migrate status after unlock and up: %q, %v", out, err)
			}
			// migrate up released its own lock.
			out, err = run(t, getenv, "", "migrate", "unlock", "--data-dir", dir)
			if err != nil || strings.TrimSpace(out) != "no migration lock was held" {
				t.Errorf("migrate unlock after a clean migrate up: %q, %v", out, err)
			}
		})
	}
}
