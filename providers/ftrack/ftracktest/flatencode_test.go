package ftracktest

import (
	"fmt"
	"reflect"
	"testing"
)

// TestFlatPageEncodesAsDeduplicated sends queries with and without
// relations, with default projections and paged, normalised and
// denormalised, and wants the same answers whether runQuery's flat page
// shortcut is on or off.
func TestFlatPageEncodesAsDeduplicated(t *testing.T) {
	s := newTestServer(t)
	put := func(typ string, data map[string]any) {
		t.Helper()
		if err := s.Emulator.Put(typ, data); err != nil {
			t.Fatal(err)
		}
	}
	for g := range 2 {
		put("Group", map[string]any{"id": fmt.Sprintf("g%d", g), "name": fmt.Sprintf("group%d", g)})
	}
	for i := range 6 {
		id := fmt.Sprintf("u%d", i)
		put("User", map[string]any{"id": id, "username": fmt.Sprintf("user%d", i), "first_name": "F", "last_name": "L", "is_active": i%2 == 0})
		put("Metadata", map[string]any{"parent_id": id, "key": "k", "value": fmt.Sprint(i), "parent_type": "User"})
		put("Membership", map[string]any{"id": fmt.Sprintf("m%d", i), "user_id": id, "group_id": fmt.Sprintf("g%d", i%2)})
	}
	queries := []string{
		"select id, username, email, first_name, last_name, is_active, user_type_id from User order by id offset 2 limit 3",
		"select parent_id, key, value, parent_type from Metadata order by parent_id, key",
		"select id, user_id, group_id from Membership",
		"select id, name from Group",
		"User",
		"Membership",
		"select user.username, group.name from Membership",
		"select id, memberships from User",
		"select username, user_type.name from User",
	}
	for _, opts := range []map[string]string{nil, {"ftrack-api-options": "strict=1;denormalize=1"}} {
		for _, q := range queries {
			body := fmt.Sprintf(`[{"action":"query","expression":%q},{"action":"query","expression":%q}]`, q, q)
			noFlatEncode = true
			_, _, slow := post(t, s, body, opts)
			noFlatEncode = false
			_, _, fast := post(t, s, body, opts)
			if !reflect.DeepEqual(slow, fast) {
				t.Errorf("%s (%v):\nflat shortcut %v\nencode        %v", q, opts, fast, slow)
			}
		}
	}
}

// TestFlatPageAnswersTheRowsAsQueried checks that a flat page, written
// after the emulator is unlocked, shows its rows as the query found them:
// an update or delete later in the same batch, and batches of other
// requests (under go test -race), must not show in it.
func TestFlatPageAnswersTheRowsAsQueried(t *testing.T) {
	s := newTestServer(t)
	call(t, s, create("User", map[string]any{"id": "u0", "username": "u0", "first_name": "before"}))
	res := call(t, s,
		map[string]any{"action": "query", "expression": `select id, first_name from User where id is "u0"`},
		update("User", []any{"u0"}, map[string]any{"first_name": "after"}),
		map[string]any{"action": "query", "expression": `select id, first_name from User where id is "u0"`},
		del("User", "u0"))
	first := res[0].(map[string]any)["data"].([]any)
	second := res[2].(map[string]any)["data"].([]any)
	if len(first) != 1 || first[0].(map[string]any)["first_name"] != "before" ||
		len(second) != 1 || second[0].(map[string]any)["first_name"] != "after" {
		t.Fatalf("pages %v and %v, want first_name before, then after", first, second)
	}

	whileOthersWrite(t, s, func(id string) {
		res := call(t, s,
			create("User", map[string]any{"id": id, "username": id, "first_name": "created"}),
			map[string]any{"action": "query", "expression": fmt.Sprintf("select id, first_name from User where id is %q", id)},
			update("User", []any{id}, map[string]any{"first_name": "updated"}))
		page := res[1].(map[string]any)["data"].([]any)
		if len(page) != 1 || page[0].(map[string]any)["first_name"] != "created" {
			t.Errorf("page %v, want %s as created", page, id)
		}
		for range 2 { // pages of every user, while others write
			queryData(t, s, "select id, username, first_name from User order by id offset 3 limit 10")
		}
	})
}
