package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/content"
	"hubshare/content/media"
	"hubshare/web"
)

// target is one database with the real server and the reference server on
// it, seeded for the scenarios.
type target struct {
	kind   string // "sqlite" or "postgres"
	detail string // where the database lives, for the report
	dir    string // data directory (SQLite file, media, server key, server log)
	cfg    *app.Config
	db     *bun.DB
	acl    *acl.Service
	cs     *content.Service
	srv    *web.Server
	addr   string // the real server, host:port
	ref    *reference
	client *http.Client

	seed seeded

	stopBG  context.CancelFunc
	logDone chan struct{}
	logFile *os.File
	dropDB  func() error
	// removeDir is whether close removes the data directory.
	removeDir bool
}

// seeded is what the scenarios use.
type seeded struct {
	member *acl.Member
	post   *content.Item
	album  *content.Item
	photo  *content.Item
	// world is the bulk data around them.
	world  *auditOwner
	token  *acl.GuestToken
	secret string // the token's zat value
	// cookie is the Cookie header of a guest who opened the link once.
	cookie string
	// files of the photo's variants, as the store keeps them.
	files map[string]string
	sizes map[string]int64
}

// accessLogFlushInterval is serve's interval for batched access-log writes.
const accessLogFlushInterval = 2 * time.Second

// startTarget creates the database, wires the server exactly as serve does
// (in-process, on 127.0.0.1:0), starts the reference server beside it on the
// same pool, and seeds both.
func startTarget(ctx context.Context, kind, postgresURL string, worldScale float64) (t *target, err error) {
	t = &target{kind: kind, removeDir: true, client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.dir, err = os.MkdirTemp("", "hsbench-"+kind+"-"); err != nil {
		return t, err
	}
	dbURL := ""
	t.detail = "embedded SQLite in " + t.dir
	if kind == "postgres" {
		if dbURL, t.dropDB, err = createPostgres(ctx, postgresURL); err != nil {
			return t, err
		}
		t.detail = "PostgreSQL, fresh database " + databaseName(dbURL)
	}

	// The configuration goes through the same flags and defaults as serve.
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := &app.Config{}
	cf := cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:0", "--data-dir", t.dir, "--database-url", dbURL}); err != nil {
		return t, err
	}
	if err := cf.Finish(func(string) string { return "" }); err != nil {
		return t, err
	}
	t.cfg = cfg

	master, err := app.LoadOrCreateKey(cfg.SecretKeyFile)
	if err != nil {
		return t, err
	}
	keys, err := app.DeriveKeys(master)
	if err != nil {
		return t, err
	}
	if t.db, err = database.Open(ctx, cfg.DatabaseURL, cfg.DataDir); err != nil {
		return t, err
	}
	// S4 replays the statements a service call sent; the hook only looks
	// at contexts that ask for it, so requests pay one context lookup.
	if _, err := database.MigrateUp(ctx, t.db); err != nil {
		return t, fmt.Errorf("apply migrations: %w", err)
	}
	// serve logs every request at level info to its standard error; here
	// the lines go to a file, so the server pays for formatting and writing
	// them as it does in production.
	if t.logFile, err = os.Create(filepath.Join(t.dir, "server.log")); err != nil {
		return t, err
	}
	log := slog.New(slog.NewTextHandler(t.logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clock := app.SystemClock{}
	t.acl = acl.NewService(t.db, clock, keys)
	t.acl.Log.SetLogger(log)
	store, err := media.NewFSStore(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		return t, err
	}
	t.cs = content.NewService(t.db, clock, t.acl, store, cfg.MaxUpload)
	if t.srv, err = web.New(web.Deps{Config: cfg, DB: t.db, ACL: t.acl, Content: t.cs, Clock: clock, Keys: keys, Logger: log}); err != nil {
		return t, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return t, err
	}
	t.addr = ln.Addr().String()
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	t.stopBG = stopBG
	t.logDone = make(chan struct{})
	go func() {
		t.acl.Log.Run(bg, accessLogFlushInterval)
		close(t.logDone)
	}()
	go t.srv.Serve(ln)

	if err := t.seedScenarios(ctx, worldScale); err != nil {
		return t, fmt.Errorf("seed: %w", err)
	}
	if t.ref, err = startReference(ctx, t.db, filepath.Join(cfg.DataDir, "media"), t.seed.files); err != nil {
		return t, fmt.Errorf("reference server: %w", err)
	}
	return t, nil
}

func (t *target) url(path string) string { return "http://" + t.addr + path }

// seedScenarios makes the guest's world: an owner with a post, and a photo
// in an album, shared with one unlimited token that sits in three of the
// owner's groups; the post's and the album's ACLs name those groups and the
// token directly, beside deny entries for others, and the photo has deny
// entries of its own. Around them the owner has the bulk data of S4 at
// worldScale (items, tokens, groups, ACL entries, an access log), every
// other item also naming the guest's three groups, and the token has a long
// history of its own. The link is then opened once over HTTP for the guest
// cookie. What the guest view costs may depend on the item and the session's
// tokens, never on the rest of this.
func (t *target) seedScenarios(ctx context.Context, worldScale float64) error {
	s := &t.seed
	var err error
	if s.member, err = t.acl.CreateMember(ctx, "bench", "Bench", "a long bench passphrase"); err != nil {
		return err
	}
	if s.post, err = t.cs.CreatePost(ctx, s.member.ID, "A walk by the river", postBody); err != nil {
		return err
	}
	if s.album, err = t.cs.CreateAlbum(ctx, s.member.ID, "Autumn"); err != nil {
		return err
	}
	photo, err := benchJPEG(2000, 1500)
	if err != nil {
		return err
	}
	p, err := t.cs.IngestPhoto(ctx, bytes.NewReader(photo))
	if err != nil {
		return err
	}
	if s.photo, err = t.cs.SavePhoto(ctx, s.member.ID, p, "The river at dusk", &s.album.ID); err != nil {
		return err
	}
	if s.token, s.secret, err = t.acl.ShareItem(ctx, s.member.ID, s.post.ID, acl.TokenInput{}); err != nil {
		return err
	}
	// A group the guest is not in, for the deny entries.
	other, err := t.acl.CreateGroup(ctx, s.member.ID, "Not the guest's")
	if err != nil {
		return err
	}
	var groups []int64
	measured := []int64{s.post.ID, s.album.ID, s.photo.ID}
	if s.world, err = seedOwner(ctx, t, s.member.ID, worldScale, func(ctx context.Context, sd seeder, ow *auditOwner) error {
		groups = []int64{ow.groupBase, ow.groupBase + 1, ow.groupBase + 2}
		for _, g := range groups {
			if _, err := sd.tx.ExecContext(ctx, "INSERT INTO group_members (group_id, principal_id) VALUES (?, ?)", g, s.token.ID); err != nil {
				return err
			}
		}
		// Every other item of the owner names the guest's groups too.
		if _, err := sd.tx.ExecContext(ctx, `INSERT INTO acl_entries (item_id, principal_id, deny)
SELECT i.id, gr.id, FALSE FROM items AS i JOIN groups AS gr ON gr.id IN (?)
WHERE i.owner_id = ? AND i.id NOT IN (?)
ON CONFLICT DO NOTHING`, bun.List(groups), s.member.ID, bun.List(measured)); err != nil {
			return err
		}
		// The token's own history, on the measured items.
		n := max(10, ow.logRows/100)
		ts := "?"
		if sd.pg {
			ts = "CAST(? AS TIMESTAMPTZ)"
		}
		return sd.batches(ctx, n, "INSERT INTO access_log (at, token_id, item_id, event, client_mark)",
			ts+", ?, CASE WHEN n % 2 = 0 THEN ? ELSE ? END, CASE WHEN n % 10 = 0 THEN 'open' ELSE 'view' END, 'bench'",
			time.Now().UTC(), s.token.ID, s.post.ID, s.photo.ID)
	}); err != nil {
		return err
	}
	w := s.world
	otherTokens := []int64{w.tokenBase + 1, w.tokenBase + 2, w.tokenBase + 3}
	allow := append([]int64{s.token.ID}, groups...)
	deny := append([]int64{other.ID}, otherTokens...)
	for _, a := range []struct {
		item        int64
		allow, deny []int64
	}{
		{s.post.ID, allow, deny},
		{s.album.ID, allow, deny},
		// The photo is seen through its album; its own list only denies.
		{s.photo.ID, nil, deny[:2]},
	} {
		if _, err := t.acl.PutACL(ctx, s.member.ID, a.item, acl.ACL{Allow: a.allow, Deny: a.deny}); err != nil {
			return fmt.Errorf("the ACL of item %d: %w", a.item, err)
		}
	}
	s.files, s.sizes = map[string]string{}, map[string]int64{}
	for _, v := range []string{media.VariantLarge, media.VariantThumb} {
		path := filepath.Join(t.cfg.DataDir, "media", filepath.FromSlash(media.VariantKey(*s.photo.MediaKey, v)))
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("the %s variant is not where the store keeps it: %w", v, err)
		}
		s.files[v], s.sizes[v] = path, st.Size()
	}
	// The zat exchange, once, as a browser would do it.
	resp, err := t.get(ctx, t.zatPath(), "")
	if err != nil {
		return err
	}
	if resp.status != http.StatusSeeOther {
		return fmt.Errorf("opening the link answered %d, want 303", resp.status)
	}
	for _, ck := range resp.cookies {
		if ck.Name == "hs_guest" && ck.Value != "" {
			s.cookie = ck.Name + "=" + ck.Value
		}
	}
	if s.cookie == "" {
		return errors.New("opening the link set no guest cookie")
	}
	return nil
}

// describe says what the guest's world holds, for the report.
func (s *seeded) describe() string {
	w := s.world
	return fmt.Sprintf("guest's world at scale %g: the owner has %d items, %d tokens, %d groups, %d bulk ACL entries plus every item naming the guest's 3 groups, %d access-log rows plus %d of the guest's token; "+
		"the post and the album allow the token and its 3 groups and deny 4 others, the photo sits in the album with 2 deny entries of its own (seeded in %s)",
		w.scale, w.items+3, w.tokens+1, w.groups+1, w.entries, w.logRows, max(10, w.logRows/100), w.seeded.Round(100*time.Millisecond))
}

func (t *target) zatPath() string {
	return "/items/" + strconv.FormatInt(t.seed.post.ID, 10) + "?zat=" + url.QueryEscape(t.seed.secret)
}

// postBody is a post of a few paragraphs, the size of a typical one.
var postBody = strings.Repeat("We walked along the river until the light went; the water was high after the rain, "+
	"and the old mill had its wheel turning again for the first time in years.\n\n", 12)

// benchJPEG makes a photo-like JPEG: smooth gradients with fine noise, so
// that it compresses like a real photo rather than like a flat image.
func benchJPEG(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := mrand.New(mrand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := rng.IntN(24)
			img.SetRGBA(x, y, color.RGBA{
				R: uint8((x*200/w + n) & 0xff),
				G: uint8((y*180/h + (x*y)%37 + n) & 0xff),
				B: uint8((160 - x*120/w + y*60/h + n) & 0xff),
				A: 255,
			})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// answer is a response as the checks need it.
type answer struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	body    []byte
}

// getURL sends one plain GET, without following redirects; timeout, if
// given, replaces the client's.
func (t *target) getURL(ctx context.Context, u, cookie string, timeout ...time.Duration) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	client := t.client
	if len(timeout) > 0 {
		c := *client
		c.Timeout = timeout[0]
		client = &c
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &answer{status: resp.StatusCode, header: resp.Header, cookies: resp.Cookies(), body: body}, nil
}

func (t *target) get(ctx context.Context, path, cookie string) (*answer, error) {
	return t.getURL(ctx, t.url(path), cookie)
}

// close stops both servers, writes the last batched views, closes the
// database and removes everything the run created.
func (t *target) close() error {
	var errs []error
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if t.ref != nil {
		errs = append(errs, t.ref.app.ShutdownWithContext(sctx))
	}
	if t.srv != nil {
		errs = append(errs, t.srv.Shutdown(sctx))
	}
	if t.stopBG != nil {
		t.stopBG()
		<-t.logDone
	}
	if t.db != nil {
		errs = append(errs, database.Close(t.db))
	}
	if t.logFile != nil {
		errs = append(errs, t.logFile.Close())
	}
	if t.dropDB != nil {
		errs = append(errs, t.dropDB())
	}
	if t.dir != "" && t.removeDir {
		errs = append(errs, os.RemoveAll(t.dir))
	}
	return errors.Join(errs...)
}

// createPostgres creates a fresh database hubshare_bench_<random> on the
// server of baseURL and returns its URL and how to drop it.
func createPostgres(ctx context.Context, baseURL string) (string, func() error, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, err
	}
	name := "hubshare_bench_" + hex.EncodeToString(rnd[:])
	admin, err := database.Open(ctx, baseURL, "")
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(name)); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := database.Open(ctx, baseURL, "")
		if err != nil {
			return err
		}
		defer admin.Close()
		_, err = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name))
		return err
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	u.Path = "/" + name
	// Seeding S4 at full scale runs statements of minutes (bulk inserts,
	// the first count of every token's reach); the product's 10 s default
	// would end them. The URL's read_timeout is also the statement timeout.
	q := u.Query()
	if !q.Has("read_timeout") && !q.Has("statement_timeout") {
		q.Set("read_timeout", "30m")
		u.RawQuery = q.Encode()
	}
	return u.String(), drop, nil
}

func databaseName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(u.Path, "/") + " on " + u.Host
}
