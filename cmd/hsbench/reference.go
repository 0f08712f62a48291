package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/template/html/v2"
	"github.com/uptrace/bun"

	"hubshare/app/database"
	"hubshare/content/media"
)

//go:embed templates
var referenceTemplates embed.FS

// reference is the server of bare handlers: each does the one database
// statement its scenario cannot do without, and nothing else, on the same
// pool as the real server and with the same Fiber settings.
type reference struct {
	app      *fiber.App
	addr     string
	db       *bun.DB
	mediaDir string
	// files are the photo's variants for the no-check handler.
	files map[string]string
	// hash is the lookup hash of the token-shaped row the S1 handler updates.
	hash []byte
}

// referenceTokens is how many rows the token-shaped table holds.
const referenceTokens = 16

func startReference(ctx context.Context, db *bun.DB, mediaDir string, files map[string]string) (*reference, error) {
	r := &reference{db: db, mediaDir: mediaDir, files: files}
	if err := r.createTokens(ctx); err != nil {
		return nil, err
	}
	tpl, err := fs.Sub(referenceTemplates, "templates")
	if err != nil {
		return nil, err
	}
	engine := html.NewFileSystem(http.FS(tpl), ".html")
	if err := engine.Load(); err != nil {
		return nil, err
	}
	// The settings of web.New that bear on a request's cost.
	r.app = fiber.New(fiber.Config{
		Views:                        engine,
		DisableStartupMessage:        true,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    1 << 20,
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 10 * time.Minute,
		IdleTimeout:                  2 * time.Minute,
		ReadBufferSize:               16 << 10,
		EnableTrustedProxyCheck:      true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			return c.SendStatus(code)
		},
	})
	r.app.Get("/ref/open", r.open)
	r.app.Get("/ref/items/:id", r.item)
	r.app.Get("/ref/media/:id/:variant", r.media)
	r.app.Get("/ref/raw/:variant", r.raw)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.addr = ln.Addr().String()
	go r.app.Listener(ln)
	return r, nil
}

func (r *reference) url(path string) string { return "http://" + r.addr + path }

// createTokens makes a token-shaped table with a unique lookup hash and a
// use counter, and a few rows in it.
func (r *reference) createTokens(ctx context.Context) error {
	ddl := `CREATE TABLE bench_tokens (id BIGINT PRIMARY KEY, secret_hash BYTEA NOT NULL UNIQUE,
  uses INTEGER NOT NULL DEFAULT 0, last_used_at TIMESTAMPTZ)`
	if database.IsSQLite(r.db) {
		ddl = `CREATE TABLE bench_tokens (id INTEGER PRIMARY KEY, secret_hash BLOB NOT NULL UNIQUE,
  uses INTEGER NOT NULL DEFAULT 0, last_used_at TIMESTAMP)`
	}
	if _, err := r.db.ExecContext(ctx, ddl); err != nil {
		return err
	}
	for i := 1; i <= referenceTokens; i++ {
		h := make([]byte, 32)
		if _, err := rand.Read(h); err != nil {
			return err
		}
		if _, err := r.db.ExecContext(ctx, "INSERT INTO bench_tokens (id, secret_hash) VALUES (?, ?)", i, h); err != nil {
			return err
		}
		if i == referenceTokens/2 {
			r.hash = h
		}
	}
	return nil
}

// openPath is the S1 reference request: a lookup hash in the query string.
func (r *reference) openPath() string { return "/ref/open?h=" + hex.EncodeToString(r.hash) }

// open is the S1 reference: one indexed UPDATE … RETURNING on the
// token-shaped table, then a 303.
func (r *reference) open(c *fiber.Ctx) error {
	h, err := hex.DecodeString(c.Query("h"))
	if err != nil || len(h) != 32 {
		return fiber.ErrNotFound
	}
	var row struct {
		ID   int64 `bun:"id"`
		Uses int   `bun:"uses"`
	}
	err = r.db.NewRaw("UPDATE bench_tokens SET uses = uses + 1, last_used_at = ? WHERE secret_hash = ? RETURNING id, uses",
		time.Now().UTC(), h).Scan(c.UserContext(), &row)
	if err != nil {
		return err
	}
	return c.Redirect("/ref/items/1", fiber.StatusSeeOther)
}

// item is the S2 reference: one indexed SELECT of an item, rendered with a
// small template.
func (r *reference) item(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	var it struct {
		ID    int64  `bun:"id"`
		Title string `bun:"title"`
		Body  string `bun:"body"`
	}
	if err := r.db.NewRaw("SELECT id, title, body FROM items WHERE id = ?", id).Scan(c.UserContext(), &it); err != nil {
		return err
	}
	return c.Render("reference", fiber.Map{"Title": it.Title, "Body": it.Body})
}

// media is the S3 reference: one indexed SELECT for the photo's storage key,
// then the variant's file sent as the real server sends it.
func (r *reference) media(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return fiber.ErrNotFound
	}
	variant := c.Params("variant")
	if variant != media.VariantLarge && variant != media.VariantThumb {
		return fiber.ErrNotFound
	}
	var key string
	if err := r.db.NewRaw("SELECT media_key FROM items WHERE id = ?", id).Scan(c.UserContext(), &key); err != nil {
		return err
	}
	return sendFile(c, filepath.Join(r.mediaDir, filepath.FromSlash(media.VariantKey(key, variant))))
}

// raw sends the variant's file with no check at all, for the record.
func (r *reference) raw(c *fiber.Ctx) error {
	path, ok := r.files[c.Params("variant")]
	if !ok {
		return fiber.ErrNotFound
	}
	return sendFile(c, path)
}

func sendFile(c *fiber.Ctx, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open variant: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "image/jpeg")
	c.Response().SetBodyStream(f, int(st.Size()))
	return nil
}
