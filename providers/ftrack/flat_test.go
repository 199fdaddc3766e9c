package ftrack

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// decodeFlat decodes one query result element whose rows are R; complete
// reports whether a row carries every projected attribute. ok is false
// when the element is not what the general decoder would accept without
// merging.
func decodeFlat[R any, P interface {
	*R
	flatRow
}](raw json.RawMessage, complete func(P) bool) (rows []R, next int, ok bool) {
	s := &scanner{b: raw}
	rows, next, ok = scanFlat[R, P](s, complete)
	s.ws()
	if !ok || s.i != len(raw) {
		return nil, 0, false
	}
	return rows, next, true
}

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

// TestScanResponse reads answers in one pass and wants what the general
// decoder reads from them, and refuses what it should leave to it.
func TestScanResponse(t *testing.T) {
	var got []groupRow
	dec := flatRows(func(r *groupRow) bool { return r.ID.set && r.Name.set }, func(rows []groupRow) { got = append(got, rows...) })
	general := func(body string) (ids, names []string, next int) {
		t.Helper()
		var elems []json.RawMessage
		if err := json.Unmarshal([]byte(body), &elems); err != nil {
			t.Fatal(err)
		}
		vals, err := decodeValues(elems)
		if err != nil {
			t.Fatal(err)
		}
		rows, next, err := queryResult(vals[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ids, names = append(ids, r.String("id")), append(names, r.String("name"))
		}
		return ids, names, next
	}
	for _, body := range []string{
		` [ { "action" : "query" , "data" : [ { "id" : "g1" , "name" : "a" } ] , "metadata" : { "next" : { "offset" : 1 } } } ] ` + "\n",
		`[{"data":[{"id":"g1","name":"\u00e9\n\"x\"\\","extra":{"a":[1,-2.5e3,{"b":null}],"c":true}}],"metadata":{"next":{"offset":null}}}]`,
		"[{\"data\":[{\"id\":\"g\xff1\",\"name\":\"bad \xc3 utf-8\"}],\"metadata\":{}}]",
		`[{"data":[{"id":"g1","name":7},{"id":"g2","name":{"__type__":"datetime","value":"2020-01-01T00:00:00"}}]}]`,
		`[{"data":[],"metadata":{"next":{}}}]`,
		`[{"metadata":{"next":{"offset":12}},"data":[{"name":"n","id":"g3"}],"action":"query"}]`,
	} {
		got = nil
		pages, ok := scanPages([]byte(body), []flatDecoder{dec}, 0)
		if !ok {
			t.Fatalf("scanPages refused %q", body)
		}
		pages[0].commit(pages[0].rows)
		ids, names, next := general(body)
		var gids, gnames []string
		for _, r := range got {
			gids, gnames = append(gids, r.ID.s), append(gnames, r.Name.s)
		}
		if !reflect.DeepEqual(gids, ids) || !reflect.DeepEqual(gnames, names) || pages[0].next != next {
			t.Fatalf("%q: one pass read %q %q next %d, the general decoder %q %q next %d", body, gids, gnames, pages[0].next, ids, names, next)
		}
	}
	for _, body := range []string{
		`[{"data":[{"id":"g1","name":"a"}]}] x`,
		`[{"data":[{"id":"g1","name":"a"}]},{"data":[]}]`,
		`[{"data":[{"id":"g1","name":"a","n":01}]}]`,
		`[{"data":[{"id":"g1","name":"a}]}]`,
		`[{"data":[{"i\u0064":"g1","name":"a"}]}]`,
		`[{"data":[{"id":"g1","name":"a"}],"metadata":{"next":{"offset":1.5}}}]`,
		`[{"data":[{"id":"g1","name":"a\x01"}]}]`,
		`[{"data":[{"id":"g1","name":"a","x":[1,]}]}]`,
		`{"exception":"ValidationError"}`,
		`[]`,
	} {
		if _, ok := scanPages([]byte(body), []flatDecoder{dec}, 0); ok {
			t.Errorf("scanPages accepted %q", body)
		}
	}
}
