package content

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/uptrace/bun"

	"hubshare/app/database"
	"hubshare/app/metrics"
)

// A guest's view of an item (the decision, the permissions, the item and the
// link's words) is kept in memory, keyed by the item and the session's
// tokens at their versions, and tagged with the epoch of the item's owner
// that it was computed at (owner_epochs). Every change that can alter what a
// guest of the owner sees moves that epoch in its own transaction, by
// trigger (migration 0014), so a kept view is served only after one read of
// the epoch by key shows that nothing changed since: a revoke, an ACL edit
// or a group change on any instance sharing the database ends the view on
// the very next request, as the full statement would. A view also ends at
// the first expiry among the tokens that gave it, without any write.
//
// Only views that open are kept; a refusal always runs the full statement.
// A page made from a kept view alone can be kept with it (Access.Page,
// Access.KeepPage) and ends with it.

// viewCacheBytes bounds the memory of the kept views, pages included.
const viewCacheBytes = 32 << 20

// keptView is one kept guest view; it is never changed once kept (a page
// kept with it makes a new one).
type keptView struct {
	key    string
	access Access
	item   Item
	epoch  int64
	// ends is when the first token giving the view expires (zero: never).
	ends time.Time
	// page is a page made from the view, for the variant it names.
	variant string
	page    []byte
}

// weight is roughly the bytes a kept view holds.
func (kv *keptView) weight() uint32 {
	it := &kv.item
	n := 512 + len(kv.key) + len(it.Title) + len(it.Body) + len(it.Meta) + len(kv.access.SharedBy) +
		len(kv.access.TokenNote) + len(kv.variant) + len(kv.page)
	if it.MediaKey != nil {
		n += len(*it.MediaKey)
	}
	return uint32(min(n, 1<<31))
}

// viewCache holds the kept views and the epoch read.
type viewCache struct {
	views *otter.Cache[string, *keptView]
	epoch *database.Prepared
}

func newViewCache(db *bun.DB) *viewCache {
	return &viewCache{
		views: otter.Must(&otter.Options[string, *keptView]{
			MaximumWeight: viewCacheBytes,
			Weigher:       func(_ string, kv *keptView) uint32 { return kv.weight() },
		}),
		epoch: database.NewPrepared(db,
			"SELECT epoch FROM owner_epochs WHERE owner_id = ?1",
			"SELECT epoch FROM owner_epochs WHERE owner_id = $1"),
	}
}

// viewKey names an item as seen by a session's tokens (tokensArg).
func viewKey(item int64, tokens string) string {
	return strconv.FormatInt(item, 10) + " " + tokens
}

// lookup returns the kept view when the owner's epoch has not moved since
// it was computed and no token giving it has expired; one query. A view
// whose epoch moved is dropped.
func (c *viewCache) lookup(ctx context.Context, key string, now time.Time, m *metrics.Metrics) (*Access, bool, error) {
	kv, ok := c.views.GetIfPresent(key)
	if !ok {
		m.GuestViewKept("miss")
		return nil, false, nil
	}
	if !kv.ends.IsZero() && !now.Before(kv.ends) {
		m.GuestViewKept("stale")
		c.drop(kv)
		return nil, false, nil
	}
	var epoch int64
	if err := c.epoch.QueryRow(ctx, &epoch, kv.item.OwnerID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			m.GuestViewKept("stale")
			c.drop(kv)
			return nil, false, nil
		}
		return nil, false, translate(err)
	}
	if epoch != kv.epoch {
		m.GuestViewKept("stale")
		c.drop(kv)
		return nil, false, nil
	}
	m.GuestViewKept("hit")
	return c.copy(kv), true, nil
}

// drop removes kv, unless a newer view took its place meanwhile.
func (c *viewCache) drop(kv *keptView) {
	c.views.ComputeIfPresent(kv.key, func(old *keptView) (*keptView, otter.ComputeOp) {
		if old != kv {
			return old, otter.CancelOp
		}
		return nil, otter.InvalidateOp
	})
}

// keep stores a view computed at epoch; a view without an epoch (an owner
// without a row) is not kept.
func (c *viewCache) keep(key string, a *Access, epoch *int64, ends *time.Time) {
	if epoch == nil {
		return
	}
	kv := &keptView{key: key, access: *a, item: *a.Item, epoch: *epoch}
	kv.access.Item = nil
	if ends != nil {
		kv.ends = *ends
	}
	c.views.Set(key, kv)
	a.kept, a.cache = kv, c
}

// keepPage keeps page for variant with kv, if kv is still the kept view of
// its key.
func (c *viewCache) keepPage(kv *keptView, variant string, page []byte) {
	c.views.ComputeIfPresent(kv.key, func(old *keptView) (*keptView, otter.ComputeOp) {
		if old != kv {
			return old, otter.CancelOp
		}
		next := *kv
		next.variant, next.page = variant, page
		return &next, otter.WriteOp
	})
}

// copy gives each request its own Access and Item.
func (c *viewCache) copy(kv *keptView) *Access {
	a := kv.access
	it := kv.item
	a.Item = &it
	a.kept, a.cache = kv, c
	return &a
}

// Page returns the page kept with this view for variant, if any: a page
// that was made from this view alone (with the variant naming everything
// else it shows) and that ends with the view. The bytes are shared; they
// must not be changed.
func (a *Access) Page(variant string) ([]byte, bool) {
	if a.kept == nil || a.kept.page == nil || a.kept.variant != variant {
		return nil, false
	}
	return a.kept.page, true
}

// KeepPage keeps page, made from this view and variant alone, with the
// view; a view that is not kept (a member's, or one already replaced)
// keeps nothing.
func (a *Access) KeepPage(variant string, page []byte) {
	if a.kept == nil {
		return
	}
	a.cache.keepPage(a.kept, variant, page)
}
