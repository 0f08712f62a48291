// Package content owns posts, photos and albums, the guests' comments on
// them, and the media pipeline behind photos. It asks acl for every
// decision (the visibility rule comes from acl.VisibleSQL) and never
// re-implements one.
package content

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/metrics"
	"hubshare/content/media"
)

// Item kinds.
const (
	KindPost  = "post"
	KindPhoto = "photo"
	KindAlbum = "album"
)

// Item is a post, a photo or an album.
type Item struct {
	bun.BaseModel `bun:"table:items,alias:i"`

	ID      int64  `bun:"id,pk,autoincrement"`
	OwnerID int64  `bun:"owner_id"`
	Kind    string `bun:"kind"`
	Title   string `bun:"title"`
	Body    string `bun:"body"`
	AlbumID *int64 `bun:"album_id"`
	// CoverID is an album's chosen cover photo; without one the album's
	// first photo is its cover.
	CoverID     *int64  `bun:"cover_id"`
	Public      bool    `bun:"public"`
	MediaKey    *string `bun:"media_key"`
	ContentType *string `bun:"content_type"`
	Width       *int    `bun:"width"`
	Height      *int    `bun:"height"`
	SizeBytes   *int64  `bun:"size_bytes"`
	// Meta is the photo's EXIF summary as JSON (media.Metadata), shown only
	// to the owner and to tokens with show_metadata.
	Meta      string    `bun:"meta"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Service stores items and answers who may open them.
type Service struct {
	DB    *bun.DB
	Clock app.Clock
	ACL   *acl.Service
	// Media stores the photos' files.
	Media media.Store
	// MaxUpload is the largest accepted photo, in bytes.
	MaxUpload int64
	// Space, when set, guards the filesystem of the data directory: new
	// content is refused while it is nearly full, so that deletions still
	// have room. See media.Reserve.
	Space *media.Reserve
	// Limits bounds the images accepted and the decoding memory they share;
	// the zero value takes the media package's defaults.
	Limits media.Limits
	// Metrics, when set, counts uploads in progress and bytes stored.
	Metrics *metrics.Metrics
	// CommentAdded is called after a guest's comment is stored. NewService
	// sets it to tell the item's owner (a "comment" notification).
	CommentAdded func(ctx context.Context, c *Comment)

	guestView *database.Prepared
	views     *viewCache
	objects   *media.ObjectCache
}

// NewService wires a Service.
func NewService(db *bun.DB, clock app.Clock, a *acl.Service, store media.Store, maxUpload int64) *Service {
	s := &Service{DB: db, Clock: clock, ACL: a, Media: store, MaxUpload: maxUpload, guestView: newGuestView(db), views: newViewCache(db),
		objects: media.NewObjectCache(mediaCacheBytes, mediaCacheObject)}
	s.CommentAdded = s.notifyComment
	return s
}

// notifyComment tells the item's owner of a new guest comment. The comment
// is stored whatever happens here: a failure is logged, not returned.
func (s *Service) notifyComment(ctx context.Context, c *Comment) {
	if s.ACL == nil {
		return
	}
	if err := s.ACL.NotifyComment(ctx, c.TokenID, c.ItemID, c.Body); err != nil && s.ACL.Log.Logger() != nil {
		s.ACL.Log.Logger().WarnContext(ctx, "comment notification", "item", c.ItemID, "token", c.TokenID, "err", err)
	}
}

func (s *Service) now() time.Time { return s.Clock.Now().UTC() }

var errNoItem = app.Errorf(app.ENotFound, "Not found.")

// admit refuses new content with ENoSpace while the storage is low.
func (s *Service) admit() error {
	if err := s.Space.Admit(); err != nil {
		return app.Wrap(err, app.ENoSpace, app.NoSpaceMessage)
	}
	return nil
}

// admitRow is admit for content that is only a row: it matters only when
// the database is the SQLite file in the data directory that Space guards.
func (s *Service) admitRow() error {
	if s.DB == nil || !database.IsSQLite(s.DB) {
		return nil
	}
	return s.admit()
}

func translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errNoItem
	}
	return database.Translate(err)
}

// Limits of item texts.
const (
	MaxTitle = 200
	MaxBody  = 100_000
)

// CreatePost makes a private post.
func (s *Service) CreatePost(ctx context.Context, owner int64, title, body string) (*Item, error) {
	title, err := app.CleanText("The title", title, MaxTitle, false)
	if err != nil {
		return nil, err
	}
	body, err = app.CleanText("The body", body, MaxBody, true)
	if err != nil {
		return nil, err
	}
	if title == "" && body == "" {
		return nil, app.Errorf(app.EInvalid, "A post needs a title or a body.")
	}
	if err := s.admitRow(); err != nil {
		return nil, err
	}
	return s.insert(ctx, s.DB, &Item{OwnerID: owner, Kind: KindPost, Title: title, Body: body})
}

// CreateAlbum makes a private, empty album.
func (s *Service) CreateAlbum(ctx context.Context, owner int64, title string) (*Item, error) {
	title, err := app.CleanText("The title", title, MaxTitle, false)
	if err != nil {
		return nil, err
	}
	if title == "" {
		return nil, app.Errorf(app.EInvalid, "An album needs a title.")
	}
	if err := s.admitRow(); err != nil {
		return nil, err
	}
	return s.insert(ctx, s.DB, &Item{OwnerID: owner, Kind: KindAlbum, Title: title})
}

func (s *Service) insert(ctx context.Context, db bun.IDB, it *Item) (*Item, error) {
	now := s.now()
	it.CreatedAt, it.UpdatedAt = now, now
	if _, err := db.NewInsert().Model(it).Returning("id").Exec(ctx); err != nil {
		return nil, translate(err)
	}
	return it, nil
}

// Item returns one of owner's items.
func (s *Service) Item(ctx context.Context, owner, id int64) (*Item, error) {
	it := new(Item)
	if err := s.DB.NewSelect().Model(it).Where("i.id = ? AND i.owner_id = ?", id, owner).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	return it, nil
}

// Items lists owner's items, newest first.
func (s *Service) Items(ctx context.Context, owner int64) ([]Item, error) {
	items := []Item{}
	err := s.DB.NewSelect().Model(&items).Where("i.owner_id = ?", owner).Order("i.id DESC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err)
	}
	return items, nil
}

// ItemEdit is a change to an item; nil fields stay as they are.
type ItemEdit struct {
	Title *string
	// Body is a post's text or a photo's caption.
	Body *string
	// SetAlbum moves a photo into AlbumID, or out of its album when AlbumID
	// is nil.
	SetAlbum bool
	AlbumID  *int64
	// SetCover makes CoverID (a photo of the album) an album's cover, or
	// goes back to the first photo when CoverID is nil.
	SetCover bool
	CoverID  *int64
}

// UpdateItem changes the title and body (caption) of one of owner's items.
func (s *Service) UpdateItem(ctx context.Context, owner, id int64, title, body *string) (*Item, error) {
	return s.EditItem(ctx, owner, id, ItemEdit{Title: title, Body: body})
}

// EditItem applies an edit to one of owner's items in one transaction:
// every field is checked first, so a refused edit changes nothing.
func (s *Service) EditItem(ctx context.Context, owner, id int64, e ItemEdit) (*Item, error) {
	var out *Item
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		it := new(Item)
		if err := tx.NewSelect().Model(it).Where("i.id = ? AND i.owner_id = ?", id, owner).Scan(ctx); err != nil {
			return translate(err)
		}
		var err error
		if e.Title != nil {
			if it.Title, err = app.CleanText("The title", *e.Title, MaxTitle, false); err != nil {
				return err
			}
		}
		if e.Body != nil {
			what := "The body"
			if it.Kind == KindPhoto {
				what = "The caption"
			}
			if it.Kind == KindAlbum {
				what = "The description"
			}
			if it.Body, err = app.CleanText(what, *e.Body, MaxBody, true); err != nil {
				return err
			}
		}
		if it.Kind == KindPost && it.Title == "" && it.Body == "" {
			return app.Errorf(app.EInvalid, "A post needs a title or a body.")
		}
		if it.Kind == KindAlbum && it.Title == "" {
			return app.Errorf(app.EInvalid, "An album needs a title.")
		}
		if e.SetAlbum {
			if it.Kind != KindPhoto {
				return app.Errorf(app.EInvalid, "Only photos go into albums.")
			}
			if e.AlbumID != nil {
				var kind string
				err := tx.NewRaw("SELECT kind FROM items WHERE id = ? AND owner_id = ?", *e.AlbumID, owner).Scan(ctx, &kind)
				if (err != nil && errors.Is(err, sql.ErrNoRows)) || (err == nil && kind != KindAlbum) {
					return app.Errorf(app.EInvalid, "Album %d is not one of your albums.", *e.AlbumID)
				}
				if err != nil {
					return translate(err)
				}
			}
			it.AlbumID = e.AlbumID
		}
		if e.SetCover {
			if it.Kind != KindAlbum {
				return app.Errorf(app.EInvalid, "Only albums have a cover.")
			}
			if e.CoverID != nil {
				var n int
				if err := tx.NewRaw("SELECT count(*) FROM items WHERE id = ? AND album_id = ? AND kind = ? AND owner_id = ?",
					*e.CoverID, it.ID, KindPhoto, owner).Scan(ctx, &n); err != nil {
					return translate(err)
				}
				if n == 0 {
					return app.Errorf(app.EInvalid, "Photo %d is not in this album.", *e.CoverID)
				}
			}
			it.CoverID = e.CoverID
		}
		it.UpdatedAt = s.now()
		update := func() error {
			if _, err := tx.NewUpdate().Model(it).Column("title", "body", "album_id", "cover_id", "updated_at").WherePK().Exec(ctx); err != nil {
				return translate(err)
			}
			if e.SetAlbum {
				// A photo that leaves an album is no longer its cover.
				if _, err := tx.NewRaw("UPDATE items SET cover_id = NULL WHERE cover_id = ? AND id IS DISTINCT FROM ?", it.ID, it.AlbumID).Exec(ctx); err != nil {
					return translate(err)
				}
			}
			return nil
		}
		if e.SetAlbum {
			// Moving a photo changes who reaches it through an album.
			if err := s.ACL.ItemsChanging(ctx, tx, owner, []int64{it.ID}, update); err != nil {
				return err
			}
		} else if err := update(); err != nil {
			return err
		}
		out = it
		return nil
	})
	return out, err
}

// DeleteItem deletes one of owner's items with its ACL and log, then a
// photo's files; photos of a deleted album stay, out of the album.
func (s *Service) DeleteItem(ctx context.Context, owner, id int64) error {
	it, err := s.Item(ctx, owner, id)
	if err != nil {
		return err
	}
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// The tokens' reach loses the item, and an album's photos leave it.
		return s.ACL.ItemsChanging(ctx, tx, owner, []int64{id}, func() error {
			_, err := tx.NewDelete().Model((*Item)(nil)).Where("id = ? AND owner_id = ?", id, owner).Exec(ctx)
			return translate(err)
		})
	})
	if err != nil {
		return err
	}
	if it.MediaKey != nil {
		return s.deletePhoto(ctx, *it.MediaKey)
	}
	return nil
}

// Viewer is who asks: a signed-in member, the tokens of a guest session, or both.
type Viewer struct {
	Member *acl.Member
	Guest  acl.GuestSession
}

// Access is an item a viewer may open, with how: as its owner, as a member
// named in its ACL, or through one of the viewer's guest tokens (with that
// token's permissions).
type Access struct {
	Item  *Item
	Owner bool
	// Public is set when the item was opened only because anyone may see it.
	Public  bool
	TokenID int64
	// Permissions are the viewer's: every one for the owner, downloads for
	// a member the ACL names, and for a guest the union of the permissions
	// of the session's tokens that open the item.
	acl.Permissions
	// CommentToken is the session's lowest token that opens the item and
	// may comment on it (0 for none): the token a guest's comment is under.
	CommentToken int64
	// SharedBy is the owner's display name; TokenNote and TokenExpires are
	// the note and expiry of the link the guest came through (TokenID).
	// They come with the item, in the same statement, for the guest pages.
	SharedBy     string
	TokenNote    string
	TokenExpires *time.Time

	// kept is the kept view this came from or went into (viewCache).
	kept  *keptView
	cache *viewCache
}

// guestRow is an item seen through a token.
type guestRow struct {
	Item     `bun:",extend"`
	ViaToken int64 `bun:"via_token"`
	acl.Permissions
	CommentToken int64      `bun:"comment_token"`
	OwnerName    string     `bun:"owner_name"`
	TokenNote    string     `bun:"token_note"`
	TokenExpires *time.Time `bun:"token_expires"`
	// Epoch is the owner's epoch the row was read at, and EndsAt the first
	// expiry among the tokens that give it: what a kept view is checked by.
	Epoch  *int64     `bun:"epoch"`
	EndsAt *time.Time `bun:"ends_at"`
}

// tokenClause restricts guest_tokens AS t to the session's live tokens, each
// at the session version the browser holds.
func tokenClause(g acl.GuestSession, now time.Time) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(g.Tokens)+1)
	b.WriteString("t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) AND (")
	args = append(args, now)
	for i, gr := range g.Tokens {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(t.id = ? AND t.session_version = ?)")
		args = append(args, gr.TokenID, gr.Version)
	}
	b.WriteString(")")
	return b.String(), args
}

// View returns the item if the viewer may open it, else ENotFound (the same
// answer as for an item that does not exist). A guest's check and the item
// come in one query.
func (s *Service) View(ctx context.Context, id int64, v Viewer) (*Access, error) {
	if v.Member != nil {
		row := new(guestRow)
		err := s.DB.NewSelect().Model(row).ModelTableExpr("items AS i").ColumnExpr("i.*, m.display_name AS owner_name").
			Join("JOIN members AS m ON m.id = i.owner_id").
			Where("i.id = ?0 AND (i.owner_id = ?1 OR "+acl.VisibleSQL("i", "?1")+")", id, v.Member.ID).Scan(ctx)
		if err == nil {
			own := row.OwnerID == v.Member.ID
			return &Access{Item: &row.Item, Owner: own, Permissions: acl.Permissions{Download: true, Metadata: own}, SharedBy: row.OwnerName}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, translate(err)
		}
	}
	// Public means everyone: an item anyone may see opens for a viewer
	// without a token too (the same statement, with no token to match).
	// A view kept from an earlier request costs one read of the owner's
	// epoch instead (viewCache).
	now := s.now()
	tokens := tokensArg(v.Guest)
	key := viewKey(id, tokens)
	if a, ok, err := s.views.lookup(ctx, key, now, s.Metrics); err != nil || ok {
		return a, err
	}
	row := new(guestRow)
	if err := s.guestView.QueryRow(ctx, row, id, tokens, database.TimeArg(s.DB, now)); err != nil {
		return nil, translate(err)
	}
	a := &Access{Item: &row.Item, Public: row.ViaToken == 0, TokenID: row.ViaToken, Permissions: row.Permissions,
		CommentToken: row.CommentToken, SharedBy: row.OwnerName, TokenNote: row.TokenNote, TokenExpires: row.TokenExpires}
	s.views.keep(key, a, row.Epoch, row.EndsAt)
	return a, nil
}

// tokensArg passes a guest session's tokens to the prepared guest view as
// one JSON value, so that the statement has one shape however many tokens
// a browser holds.
func tokensArg(g acl.GuestSession) string {
	type tv struct {
		I int64 `json:"i"`
		V int   `json:"v"`
	}
	out := make([]tv, len(g.Tokens))
	for i, t := range g.Tokens {
		out[i] = tv{t.TokenID, t.Version}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// guestViewSQL is the guest view: the session's live tokens (each at the
// version the browser holds), the item, and the decision, in one statement.
// A session holding several tokens that may open the item gets the union of
// their permissions (acl.Permissions.Union), is logged against the lowest of
// their ids, and comments as the lowest of those that may comment; an item
// anyone may see (acl.PublicSQL) opens without a token, with no download and
// no metadata. It also gives the owner's epoch and the first expiry among
// the tokens that open the item, for the view kept in memory (viewCache).
// Arguments: item id, tokensArg, now.
const guestViewSQL = `SELECT i.*, COALESCE(g.via_token, 0) AS via_token,
  COALESCE(g.can_download, {false}) AS can_download, COALESCE(g.show_metadata, {false}) AS show_metadata,
  COALESCE(g.can_comment, {false}) AS can_comment, COALESCE(g.comment_token, 0) AS comment_token,
  m.display_name AS owner_name, COALESCE(vt.note, '') AS token_note, vt.expires_at AS token_expires,
  g.ends_at, (SELECT oe.epoch FROM owner_epochs AS oe WHERE oe.owner_id = i.owner_id) AS epoch
FROM items AS i
JOIN members AS m ON m.id = i.owner_id
JOIN (SELECT min(t.id) AS via_token, {any}(t.can_download) AS can_download, {any}(t.show_metadata) AS show_metadata,
    {any}(t.can_comment) AS can_comment, min(CASE WHEN t.can_comment THEN t.id END) AS comment_token,
    min(t.expires_at) AS ends_at
  FROM {tokens}
  {join token} ON t.id = {token id} AND t.session_version = {token version}
  JOIN items AS gi ON gi.id = {item} AND gi.owner_id = t.owner_id
  WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > {now})
    AND {visible}) AS g ON g.via_token IS NOT NULL OR {public}
LEFT JOIN guest_tokens AS vt ON vt.id = g.via_token
WHERE i.id = {item}`

func newGuestView(db *bun.DB) *database.Prepared {
	common := strings.NewReplacer("{visible}", acl.VisibleSQL("gi", "t.id"), "{public}", acl.PublicSQL("i"))
	// Without statistics both planners would rather check the rule for
	// every token of the owner and then keep the session's: the join keeps
	// the session's list first and finds each of its tokens by primary key
	// (CROSS JOIN fixes SQLite's order; PostgreSQL's LATERAL subquery, kept
	// apart by OFFSET 0, is looked up once per entry of the list).
	sqlite := strings.NewReplacer("{tokens}", "json_each(?2) AS s", "{join token}", "CROSS JOIN guest_tokens AS t", "{token id}", "json_extract(s.value, '$.i')",
		"{token version}", "json_extract(s.value, '$.v')", "{item}", "?1", "{now}", "?3",
		"{any}", "max", "{false}", "0").Replace(common.Replace(guestViewSQL))
	postgres := strings.NewReplacer("{tokens}", "jsonb_to_recordset($2::jsonb) AS s(i bigint, v int)",
		"{join token}", "JOIN LATERAL (SELECT * FROM guest_tokens WHERE id = s.i OFFSET 0) AS t", "{token id}", "s.i",
		"{token version}", "s.v", "{item}", "$1", "{now}", "$3::timestamptz",
		"{any}", "bool_or", "{false}", "false").Replace(common.Replace(guestViewSQL))
	return database.NewPrepared(db, sqlite, postgres)
}

// SharedItem is an item in a guest's "Shared with you".
type SharedItem struct {
	Item
	TokenID      int64
	TokenNote    string
	TokenExpires *time.Time
	// SharedBy is the owner's display name.
	SharedBy string
}

// Shared lists everything the guest's tokens may open now, newest first.
func (s *Service) Shared(ctx context.Context, g acl.GuestSession) ([]SharedItem, error) {
	if len(g.Tokens) == 0 {
		return nil, nil
	}
	clause, args := tokenClause(g, s.now())
	var rows []guestRow
	err := s.DB.NewSelect().Model(&rows).
		ColumnExpr("i.*, t.id AS via_token, t.note AS token_note, t.expires_at AS token_expires, m.display_name AS owner_name").
		Join("JOIN guest_tokens AS t ON t.owner_id = i.owner_id").
		Join("JOIN members AS m ON m.id = i.owner_id").
		Where(clause, args...).
		// What was shared with the token: visible to it, and not to everyone.
		Where(acl.VisibleSQL("i", "t.id")).
		Where("NOT " + acl.PublicSQL("i")).
		OrderExpr("i.id DESC").Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err)
	}
	seen := map[int64]bool{}
	out := make([]SharedItem, 0, len(rows))
	for _, r := range rows {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		out = append(out, SharedItem{Item: r.Item, TokenID: r.ViaToken, TokenNote: r.TokenNote, TokenExpires: r.TokenExpires, SharedBy: r.OwnerName})
	}
	return out, nil
}

// AlbumPhotos lists the photos of an album that the viewer may open, oldest
// first; a photo's own deny is honoured.
func (s *Service) AlbumPhotos(ctx context.Context, album *Access, v Viewer) ([]Item, error) {
	photos := []Item{}
	q := s.DB.NewSelect().Model(&photos).Where("i.album_id = ?", album.Item.ID).Where("i.kind = ?", KindPhoto)
	switch {
	case album.Owner:
	case album.Public:
		// A public album shows every photo: no deny entry can name a
		// viewer without an identity.
	default:
		principal := album.TokenID
		if principal == 0 && v.Member != nil {
			principal = v.Member.ID
		}
		if principal == 0 {
			return nil, fmt.Errorf("album access without an identity")
		}
		q = q.Where("NOT "+acl.DeniedSQL("i", "?0"), principal)
	}
	if err := q.Order("i.id").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, translate(err)
	}
	return photos, nil
}
