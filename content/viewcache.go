package content

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/uptrace/bun"

	"hubshare/app/database"
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

// viewCacheSize bounds the kept views (each holds one item row).
const viewCacheSize = 8192

// keptView is one kept guest view.
type keptView struct {
	access Access
	item   Item
	owner  int64
	epoch  int64
	// ends is when the first token giving the view expires (zero: never).
	ends time.Time
}

// viewCache holds the kept views and the epoch read.
type viewCache struct {
	views *lru.Cache[string, *keptView]
	epoch *database.Prepared
}

func newViewCache(db *bun.DB) *viewCache {
	views, err := lru.New[string, *keptView](viewCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &viewCache{views: views, epoch: database.NewPrepared(db,
		"SELECT epoch FROM owner_epochs WHERE owner_id = ?1",
		"SELECT epoch FROM owner_epochs WHERE owner_id = $1")}
}

// viewKey names an item as seen by a session's tokens (tokensArg).
func viewKey(item int64, tokens string) string {
	return strconv.FormatInt(item, 10) + " " + tokens
}

// lookup returns the kept view when the owner's epoch has not moved since
// it was computed and no token giving it has expired; one query. A view
// whose epoch moved is dropped.
func (c *viewCache) lookup(ctx context.Context, key string, now time.Time) (*Access, bool, error) {
	kv, ok := c.views.Get(key)
	if !ok {
		return nil, false, nil
	}
	if !kv.ends.IsZero() && !now.Before(kv.ends) {
		c.views.Remove(key)
		return nil, false, nil
	}
	var epoch int64
	if err := c.epoch.QueryRow(ctx, &epoch, kv.owner); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			c.views.Remove(key)
			return nil, false, nil
		}
		return nil, false, translate(err)
	}
	if epoch != kv.epoch {
		c.views.Remove(key)
		return nil, false, nil
	}
	return kv.copy(), true, nil
}

// keep stores a view computed at epoch; a view without an epoch (an owner
// without a row) is not kept.
func (c *viewCache) keep(key string, a *Access, epoch *int64, ends *time.Time) {
	if epoch == nil {
		return
	}
	kv := &keptView{access: *a, item: *a.Item, owner: a.Item.OwnerID, epoch: *epoch}
	kv.access.Item = nil
	if ends != nil {
		kv.ends = *ends
	}
	c.views.Add(key, kv)
}

// copy gives each request its own Access and Item.
func (kv *keptView) copy() *Access {
	a := kv.access
	it := kv.item
	a.Item = &it
	return &a
}
