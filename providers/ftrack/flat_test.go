package ftrack

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// TestReadAccountsFlatMatchesGeneral reads the same site with the flat
// page decoders and with the general decoder, over several pages and with
// values that need JSON escapes, and wants the same accounts.
func TestReadAccountsFlatMatchesGeneral(t *testing.T) {
	s := newServer(t)
	ids := putUsers(t, s, 18)
	odd := []string{`quote " and \ backslash`, "tab\there", "é ü 日本", "\u2028line", "<&>"}
	for i, v := range odd {
		ids = append(ids, fmt.Sprintf("odd-%d", i))
		if err := s.Emulator.Put("User", map[string]any{"id": ids[len(ids)-1], "username": fmt.Sprintf("odd%d", i), "email": nil,
			"first_name": v, "last_name": v, "is_active": i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	for g := range 3 {
		if err := s.Emulator.Put("Group", map[string]any{"id": fmt.Sprintf("g%d", g), "name": fmt.Sprintf("group \"%d\" é", g)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		for k, v := range map[string]string{MetaOwner: "users", MetaSourceID: "sid-" + odd[i%len(odd)]} {
			if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": id, "key": k, "value": v, "parent_type": "User"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Emulator.Put("Membership", map[string]any{"id": fmt.Sprintf("m%02d", i), "user_id": id, "group_id": fmt.Sprintf("g%d", i%3)}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(noFlat bool) any {
		t.Helper()
		noFlatDecode = noFlat
		defer func() { noFlatDecode = false }()
		st := testSettings(s.URL)
		st.PageSize = 7
		tg, err := NewTarget("studio", st)
		if err != nil {
			t.Fatal(err)
		}
		accts, err := tg.ReadAccounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return []any{accts, tg.groups}
	}
	flat, general := read(false), read(true)
	if !reflect.DeepEqual(flat, general) {
		t.Fatalf("flat decoding differs from the general decoder:\nflat    %+v\ngeneral %+v", flat, general)
	}
	accts := withoutAPIUser(flat.([]any)[0].([]engine.Account))
	if len(accts) != 23 || accts[0].Owner != "users" || len(accts[0].Groups) != 1 {
		t.Fatalf("unexpected accounts: %+v", accts)
	}
}

// TestDecodeFlat checks the flat decoder's values and that it declines
// what only the general decoder handles.
func TestDecodeFlat(t *testing.T) {
	complete := func(r *groupRow) bool { return r.ID.set && r.Name.set }
	rows, next, ok := decodeFlat(json.RawMessage(`{"action":"query","data":[{"__entity_type__":"Group","id":"g1","name":"a\"b\u00e9"},{"id":"g2","name":null}],"metadata":{"next":{"offset":2}}}`), complete)
	if !ok || next != 2 || len(rows) != 2 || rows[0].Name.s != `a"bé` || rows[1].Name.s != "" || !rows[1].Name.set {
		t.Fatalf("decodeFlat = %+v, %d, %v", rows, next, ok)
	}
	if _, next, ok := decodeFlat(json.RawMessage(`{"data":[],"metadata":{"next":{"offset":null}}}`), complete); !ok || next != -1 {
		t.Fatalf("last page: next %d ok %v", next, ok)
	}
	for _, raw := range []string{
		`{"data":[{"__entity_type__":"Group","id":"g1"}]}`, // a reference: the entity is encoded elsewhere
		`{"data":[null]}`,
		`{"data":{"id":"g1"}}`,
		`{"data":null}`,
		`{"data":[],"metadata":{"next":{"offset":"2"}}}`,
		`[1,2]`,
	} {
		if _, _, ok := decodeFlat(json.RawMessage(raw), complete); ok {
			t.Errorf("decodeFlat(%s) accepted; want the general decoder", raw)
		}
	}
}
