package acl_test

import (
	"context"
	"fmt"
	"testing"

	"hubshare/acl"
	"hubshare/app/database/dbtest"
)

// BenchmarkFlushOpenings measures one access-log flush of a chunk of 500
// events: views (no notification work), openings from 500 networks the
// token has not been opened from (500 new_network notifications), and
// openings from networks already known (last_at moves, nothing is told).
//
//	go test -run '^$' -bench BenchmarkFlushOpenings -benchtime 20x ./acl/
func BenchmarkFlushOpenings(b *testing.B) {
	for _, dialect := range dbtest.Dialects() {
		for _, kind := range []string{"views", "opens-new-networks", "opens-known-networks"} {
			b.Run(dialect+"/"+kind, func(b *testing.B) {
				db := dbtest.Open(b, dialect)
				s, _ := newService(db)
				ctx := context.Background()
				m, err := s.CreateMember(ctx, "ann", "Ann", "password-ann")
				if err != nil {
					b.Fatal(err)
				}
				tk, _, err := s.CreateToken(ctx, m.ID, acl.TokenInput{Name: tkPtr("Grandma")})
				if err != nil {
					b.Fatal(err)
				}
				const n = 500
				record := func(round int) {
					ev := acl.EventOpen
					if kind == "views" {
						ev = acl.EventView
					}
					for i := range n {
						net := fmt.Sprintf("10.%d.%d.%d", round%250, i/250, i%250)
						if kind == "opens-known-networks" {
							net = fmt.Sprintf("10.0.%d.%d", i/250, i%250)
						}
						s.Log.Record(acl.AccessEvent{At: s.Clock.Now(), TokenID: tk.ID, Event: ev, Network: net})
					}
				}
				// The known networks are known before the clock starts.
				record(0)
				if err := s.Log.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					record(i + 1)
					b.StartTimer()
					if err := s.Log.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
