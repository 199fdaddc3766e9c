package ftracktest

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkQueryAllUsersPaged pages through 5000 users (and the API
// user's) with their group names (500 per page), the read a sync run
// starts with.
func BenchmarkQueryAllUsersPaged(b *testing.B) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	for g := 0; g < 20; g++ {
		if err := e.Put("Group", map[string]any{"id": fmt.Sprintf("g%02d", g), "name": fmt.Sprintf("group%02d", g)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 5000; i++ {
		id := fmt.Sprintf("u%05d", i)
		if err := e.Put("User", map[string]any{"id": id, "username": fmt.Sprintf("user%05d@example.com", i), "is_active": true}); err != nil {
			b.Fatal(err)
		}
		for _, g := range []int{i % 20, (i + 7) % 20} {
			if err := e.Put("Membership", map[string]any{"user_id": id, "group_id": fmt.Sprintf("g%02d", g)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		offset, rows := 0, 0
		for {
			res, err := e.runQuery(fmt.Sprintf("select id, username, is_active, memberships.group.name from User order by id offset %d limit 500", offset), true)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(res); err != nil {
				b.Fatal(err)
			}
			rows += len(res["data"].([]any))
			next := res["metadata"].(map[string]any)["next"].(map[string]any)["offset"]
			if next == nil {
				break
			}
			offset = next.(int)
		}
		if rows != seededUsers+5000 {
			b.Fatalf("%d rows, want 5000 and the API user", rows)
		}
	}
}
