package acl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/database"
	"hubshare/app/database/dbtest"
)

// The owner's audit surfaces and the writes that move a token's reach make
// the same number of queries whatever the size of the owner's data: a small
// world and one ten times larger (tokens, groups, items, entries) give the
// same counts, call for call.
func TestAuditQueriesDoNotGrowWithTheData(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		type world struct {
			owner, token, group, item int64
		}
		build := func(handle string, n int) world {
			m := w.member(handle)
			var tokens []int64
			for i := 0; i < n; i++ {
				tk, _ := w.token(m.ID, acl.TokenInput{Name: tkPtr(fmt.Sprintf("t%d", i))})
				tokens = append(tokens, tk.ID)
			}
			g := w.group(m.ID, "Family", tokens[:n/2]...)
			other := w.group(m.ID, "Friends", tokens[n/2:]...)
			album := w.album(m.ID, "Album")
			var item int64
			for i := 0; i < 3*n; i++ {
				p := w.photo(m.ID, album, fmt.Sprintf("p%d", i))
				w.acl(m.ID, p, false, []int64{tokens[i%n], g}, []int64{tokens[(i+1)%n]})
				item = p
			}
			w.acl(m.ID, album, false, []int64{g, tokens[0]}, nil)
			return world{owner: m.ID, token: tokens[0], group: other, item: item}
		}
		small, large := build("small", 4), build("large", 40)
		ops := []struct {
			name string
			fn   func(ctx context.Context, wd world, i int) error
		}{
			{"ListTokensPage", func(ctx context.Context, wd world, _ int) error {
				_, _, err := w.s.ListTokensPage(ctx, wd.owner, acl.TokenQuery{Page: app.Page{Limit: 2}})
				return err
			}},
			{"TokenGrantsPage", func(ctx context.Context, wd world, _ int) error {
				_, _, err := w.s.TokenGrantsPage(ctx, wd.owner, wd.token, app.Page{Limit: 5})
				return err
			}},
			{"ItemAccessPage", func(ctx context.Context, wd world, _ int) error {
				_, _, err := w.s.ItemAccessPage(ctx, wd.owner, wd.item, app.Page{Limit: 5})
				return err
			}},
			{"WhoCanOpen", func(ctx context.Context, wd world, _ int) error {
				_, err := w.s.WhoCanOpen(ctx, wd.owner, wd.item)
				return err
			}},
			{"PutACL", func(ctx context.Context, wd world, i int) error {
				a, err := w.s.ItemACL(ctx, wd.owner, wd.item)
				if err != nil {
					return err
				}
				a.Allow, a.Deny = nil, nil
				if i%2 == 0 {
					a.Allow = []int64{wd.token}
				}
				_, err = w.s.PutACL(ctx, wd.owner, wd.item, *a)
				return err
			}},
			{"group membership", func(ctx context.Context, wd world, i int) error {
				if i%2 == 0 {
					return w.s.AddGroupMember(ctx, wd.owner, wd.group, wd.token)
				}
				return w.s.RemoveGroupMember(ctx, wd.owner, wd.group, wd.token)
			}},
		}
		for _, op := range ops {
			for i := 0; i < 2; i++ {
				count := func(wd world) int64 {
					qctx, counter := database.WithCounter(ctx)
					if err := op.fn(qctx, wd, i); err != nil {
						t.Fatalf("%s: %v", op.name, err)
					}
					return counter.Count()
				}
				if s, l := count(small), count(large); s != l || s == 0 {
					t.Errorf("%s (call %d): %d queries on the small world, %d on the large one", op.name, i, s, l)
				}
			}
		}
	})
}

// A membership write that changes nothing (the token is already in the
// group, or was not in it) looks at no item at all.
func TestMembershipNoOpReadsNoShares(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		w := tkNewWorld(t, db)
		ctx := context.Background()
		alice := w.member("alice")
		tk, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("in")})
		other, _ := w.token(alice.ID, acl.TokenInput{Name: tkPtr("other")})
		g := w.group(alice.ID, "Family", tk.ID)
		for i := 0; i < 20; i++ {
			p := w.post(alice.ID, fmt.Sprintf("p%d", i))
			w.acl(alice.ID, p, false, []int64{g, other.ID}, nil)
		}
		hook := &shareCounter{}
		db.AddQueryHook(hook)
		if err := w.s.AddGroupMember(ctx, alice.ID, g, tk.ID); err != nil {
			t.Fatal(err)
		}
		if hook.candidates != 0 {
			t.Errorf("adding a token already in the group looked for candidate tokens %d times", hook.candidates)
		}
	})
}

// shareCounter counts the candidate lookups a write makes.
type shareCounter struct{ candidates int }

func (h *shareCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h *shareCounter) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	if strings.Contains(ev.Query, "SELECT e.principal_id AS pid FROM x JOIN acl_entries") {
		h.candidates++
	}
}
