package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
	"hubshare/app/logtest"
	"hubshare/content"
)

// envServeChild makes the test binary run `hubshare serve` with the
// arguments in envServeArgs, as the real command does (signals included).
const envServeChild, envServeArgs = "HUBSHARE_TEST_SERVE_CHILD", "HUBSHARE_TEST_SERVE_ARGS"

// TestServeWritesEveryViewOnSIGTERM runs the real serve process, makes N
// guest views, stops it with SIGTERM while the access log cannot be written
// (locked by another connection), lets the database come back once serve has
// failed a write, and finds exactly N views stored.
func TestServeWritesEveryViewOnSIGTERM(t *testing.T) {
	if os.Getenv(envServeChild) == "1" {
		os.Args = append([]string{"hubshare"}, strings.Split(os.Getenv(envServeArgs), "\x1f")...)
		main()
		return
	}
	for _, d := range dbtest.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			testServeSIGTERM(t, d)
		})
	}
}

func testServeSIGTERM(t *testing.T, dialect string) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := filepath.Join(dir, database.FileName)
	if dialect == "postgres" {
		dbURL = dbtest.URL(t, "postgres")
	}
	getenv := env("HUBSHARE_DATABASE_URL", dbURL)
	if _, err := run(t, getenv, "a long passphrase\n", "member", "create", "--handle", "bob", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	// An item shared with a token whose secret works as a bearer token.
	master, err := app.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := app.DeriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	db, err := database.Open(ctx, dbURL, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(db)
	svc := acl.NewService(db, app.SystemClock{}, keys)
	cs := content.NewService(db, app.SystemClock{}, svc, nil, 0)
	bob, err := svc.MemberByHandle(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	item, err := cs.CreatePost(ctx, bob.ID, "Holiday", "")
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := svc.CreateToken(ctx, bob.ID, acl.TokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutACL(ctx, bob.ID, item.ID, acl.ACL{Allow: []int64{tok.ID}}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr logtest.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeWritesEveryViewOnSIGTERM$")
	cmd.Env = append(os.Environ(), envServeChild+"=1", envServeArgs+"="+strings.Join(
		[]string{"serve", "--listen", addr, "--data-dir", dir, "--database-url", dbURL, "--log-level", "warn"}, "\x1f"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	views := func(n int) {
		t.Helper()
		const workers = 4
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / workers {
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/items/%d", base, item.ID), nil)
					req.Header.Set("Authorization", "Bearer "+secret)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("guest view answered %d", res.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	views(600)
	// Another connection holds the access log: serve's writes fail from now on.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	lock := "DELETE FROM access_log WHERE id < 0" // SQLite: takes the database's write lock
	if dialect == "postgres" {
		lock = "LOCK TABLE access_log IN ACCESS EXCLUSIVE MODE"
	}
	if _, err := tx.ExecContext(ctx, lock); err != nil {
		t.Fatal(err)
	}
	views(100)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Once serve has failed to write, the database comes back.
	deadline = time.Now().Add(60 * time.Second)
	var exitErr error
	exitedEarly := false
	for !strings.Contains(stderr.String(), "events kept for the next attempt") {
		select {
		case exitErr = <-exited:
			exitedEarly = true
		case <-time.After(20 * time.Millisecond):
		}
		if exitedEarly || time.Now().After(deadline) {
			break
		}
	}
	tx.Rollback()
	conn.Close()
	if !exitedEarly {
		select {
		case exitErr = <-exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("serve did not exit after SIGTERM\n%s", stderr.String())
		}
	}
	if exitErr != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", exitErr, stderr.String())
	}
	n, err := svc.TokenViews(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n != 700 {
		t.Errorf("%d views stored after SIGTERM, want 700\n%s", n, stderr.String())
	}
}
