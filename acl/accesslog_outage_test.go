package acl_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/content"
)

// The outage test needs a PostgreSQL cluster of its own, which it restarts
// and kills: never point it at a shared one. Example, as root:
//
//	D=/tmp/hs-pg-outage; mkdir -p $D && chown postgres $D
//	runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D $D/data -A trust -U postgres
//	export HUBSHARE_TEST_OUTAGE_PGCTL="runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D $D/data -l $D/log -o '-p 55439 -k $D'"
//	$HUBSHARE_TEST_OUTAGE_PGCTL start -w   # (through sh -c, for the quotes)
//	HUBSHARE_TEST_OUTAGE_URL='postgres://postgres@127.0.0.1:55439/postgres?sslmode=disable' \
//	  go test -count=1 -run TestAccessLogSurvivesPostgresOutages -v ./acl/
//
// HUBSHARE_TEST_OUTAGE_PGCTL is run through sh -c with "restart -m fast",
// "stop -m immediate" and "start -w" appended.
const (
	envOutageURL   = "HUBSHARE_TEST_OUTAGE_URL"
	envOutagePGCtl = "HUBSHARE_TEST_OUTAGE_PGCTL"
)

// TestAccessLogSurvivesPostgresOutages records events under load (and opens
// links, so that the pool is busy) while the cluster is restarted (fast
// shutdown) and then stopped immediately (a crash) and started again; once
// the database is back every recorded event is stored.
func TestAccessLogSurvivesPostgresOutages(t *testing.T) {
	base, pgctl := os.Getenv(envOutageURL), os.Getenv(envOutagePGCtl)
	if base == "" || pgctl == "" {
		t.Skip(envOutageURL + " and " + envOutagePGCtl + " are not set (see the comment above)")
	}
	ctx := context.Background()
	admin, err := database.Open(ctx, base, "")
	if err != nil {
		t.Fatal(err)
	}
	const name = "hubshare_outage"
	if _, err := admin.Exec("DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE ?", bun.Ident(name)); err != nil {
		t.Fatal(err)
	}
	database.Close(admin)
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := database.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close(db)
	if _, err := database.MigrateUp(ctx, db); err != nil {
		t.Fatal(err)
	}

	clock := app.SystemClock{}
	s := acl.NewService(db, clock, tkKeys)
	s.Log.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cs := content.NewService(db, clock, s, nil, 0)
	m, err := s.CreateMember(ctx, "ann", "Ann", "password-ann")
	if err != nil {
		t.Fatal(err)
	}
	it, err := cs.CreatePost(ctx, m.ID, "Holiday", "")
	if err != nil {
		t.Fatal(err)
	}
	var toks []*acl.GuestToken
	var secrets []string
	for i := range 8 {
		tk, secret, err := s.CreateToken(ctx, m.ID, acl.TokenInput{Name: tkPtr(fmt.Sprint("guest ", i))})
		if err != nil {
			t.Fatal(err)
		}
		toks, secrets = append(toks, tk), append(secrets, secret)
	}
	ids := make([]int64, len(toks))
	for i, tk := range toks {
		ids[i] = tk.ID
	}
	if _, err := s.PutACL(ctx, m.ID, it.ID, acl.ACL{Allow: ids}); err != nil {
		t.Fatal(err)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		s.Log.Run(runCtx, 500*time.Millisecond)
		close(runDone)
	}()
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var openOK, openFailed atomic.Int64
	for w := range 8 {
		wg.Add(2)
		go func() { // views, as fast as the web would record them
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				s.Log.Record(acl.AccessEvent{At: clock.Now(), TokenID: ids[w], ItemID: &it.ID, Event: acl.EventView,
					Network: fmt.Sprintf("198.51.%d.%d/24", w, i%200)})
				time.Sleep(200 * time.Microsecond)
			}
		}()
		go func() { // link openings, which need the database
			defer wg.Done()
			for loadCtx.Err() == nil {
				octx, cancel := context.WithTimeout(loadCtx, 5*time.Second)
				_, err := s.ExchangeZat(octx, secrets[w], fmt.Sprintf("203.0.113.%d", w), acl.GuestSession{}, &it.ID)
				cancel()
				if err != nil {
					openFailed.Add(1)
					time.Sleep(50 * time.Millisecond)
				} else {
					openOK.Add(1)
				}
			}
		}()
	}
	ctl := func(args string) {
		t.Helper()
		out, err := exec.Command("sh", "-c", pgctl+" "+args).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_ctl %s: %v\n%s", args, err, out)
		}
	}
	time.Sleep(3 * time.Second)
	ctl("restart -m fast -w")
	time.Sleep(3 * time.Second)
	ctl("stop -m immediate")
	time.Sleep(3 * time.Second)
	ctl("start -w")
	time.Sleep(3 * time.Second)
	stopLoad()
	wg.Wait()
	stopRun()
	<-runDone

	st := s.Log.Stats()
	var events, entries int64
	if err := db.QueryRowContext(ctx, "SELECT coalesce(sum(count), 0), count(*) FROM access_log").Scan(&events, &entries); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events (%d openings, %d failed during the outages); stored %d events in %d entries; stats %+v",
		st.Queued, openOK.Load(), openFailed.Load(), events, entries, st)
	if events != st.Queued || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("recorded %d events, stored %d: %d lost", st.Queued, events, st.Queued-events)
	}
	if st.Retried == 0 {
		t.Error("no flush failed: the outages did not hit the log")
	}
}
