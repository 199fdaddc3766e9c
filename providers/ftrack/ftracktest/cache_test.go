package ftracktest

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

// TestQueryCacheFollowsWrites checks that the evaluated-query cache and the
// incrementally merged key order never serve a stale answer: pages read
// between creates, updates, deletes and a rolled-back batch always match a
// fresh evaluation.
func TestQueryCacheFollowsWrites(t *testing.T) {
	s := newTestServer(t)
	rng := rand.New(rand.NewSource(7))
	want := map[string]string{} // id -> username
	newID := func() string {
		return fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), rng.Uint64()&0xffffffffffff)
	}
	check := func(step string) {
		t.Helper()
		var got []string
		for offset := 0; ; offset += 7 {
			res := query(t, s, fmt.Sprintf("select id, username from User where username like \"u%%\" order by id offset %d limit 7", offset))
			for _, r := range res["data"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string)+"="+r.(map[string]any)["username"].(string))
			}
			if res["metadata"].(map[string]any)["next"].(map[string]any)["offset"] == nil {
				break
			}
		}
		var ids []string
		for id := range want {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var exp []string
		for _, id := range ids {
			exp = append(exp, id+"="+want[id])
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Fatalf("%s: paged query answered\n%v\nwant\n%v", step, got, exp)
		}
	}
	for round := range 5 {
		for range 9 {
			id := newID()
			want[id] = fmt.Sprintf("u%d-%s", round, id[:8])
			call(t, s, create("User", map[string]any{"id": id, "username": want[id]}))
		}
		check(fmt.Sprintf("round %d after creates", round))
		for id := range want { // one update
			want[id] += "x"
			call(t, s, update("User", []any{id}, map[string]any{"username": want[id]}))
			break
		}
		check(fmt.Sprintf("round %d after an update", round))
		for id := range want { // one delete
			delete(want, id)
			call(t, s, del("User", id))
			break
		}
		check(fmt.Sprintf("round %d after a delete", round))
		// A batch that fails is rolled back: its create must not show.
		callErr(t, s, nil,
			create("User", map[string]any{"id": newID(), "username": "u-rolled-back"}),
			create("User", map[string]any{"id": newID(), "username": "U-ROLLED-BACK"}))
		check(fmt.Sprintf("round %d after a rolled-back batch", round))
	}
}
