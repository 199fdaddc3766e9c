package ftracktest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestQueryOrderAsFullSort wants evalQuery's order (primary-key orders
// taken as rowsOf yields them, others sorted on values looked up once per
// row) to be that of a stable sort comparing each pair's values afresh,
// for orders by the primary key, parts of it, other attributes, paths
// through relations, unset values, descending terms and the polymorphic
// Resource.
func TestQueryOrderAsFullSort(t *testing.T) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	put := func(typ string, data map[string]any) {
		t.Helper()
		if err := e.Put(typ, data); err != nil {
			t.Fatal(err)
		}
	}
	for g := range 3 {
		put("Group", map[string]any{"id": fmt.Sprintf("g%d", 2-g), "name": fmt.Sprintf("group%d", g%2)})
	}
	for i := range 12 {
		id := fmt.Sprintf("u%02d", (i*7)%12)
		u := map[string]any{"id": id, "username": fmt.Sprintf("user%d", i), "is_active": i%3 == 0}
		if i%4 != 0 {
			u["first_name"] = fmt.Sprintf("F%d", i%3)
		}
		put("User", u)
		put("Metadata", map[string]any{"parent_id": id, "key": fmt.Sprintf("k%d", i%2), "value": fmt.Sprint(i % 5), "parent_type": "User"})
		put("Metadata", map[string]any{"parent_id": id, "key": "a", "value": fmt.Sprint(i % 3), "parent_type": "User"})
		put("Membership", map[string]any{"id": fmt.Sprintf("m%02d", i), "user_id": id, "group_id": fmt.Sprintf("g%d", i%3)})
	}
	queries := []string{
		"User order by id", "User order by id desc", "User order by first_name", "User order by first_name desc, id",
		"User order by is_active, username desc", "User order by id, username", "User where is_active is true order by id",
		"Metadata order by parent_id, key", "Metadata order by parent_id", "Metadata order by key, parent_id",
		"Metadata order by parent_id desc, key", "Metadata order by parent_id, key desc", "Metadata order by value, key",
		`Metadata where key in ("a", "k1") order by parent_id, key`, "Membership order by user.username", "Membership order by group.name desc, id",
		"Resource order by id", "Resource order by id desc", "Group order by name", "Group order by id",
	}
	for _, src := range queries {
		ast, aerr := parseQuery(src)
		if aerr != nil {
			t.Fatal(aerr)
		}
		q := e.newQctx()
		got, _, aerr := e.evalQuery(ast, q)
		if aerr != nil {
			t.Fatalf("%s: %v", src, aerr)
		}
		noOrder := *ast
		noOrder.Order = nil
		want, _, aerr := e.evalQuery(&noOrder, q)
		if aerr != nil {
			t.Fatal(aerr)
		}
		fullSort(q, want, ast.Order)
		if !reflect.DeepEqual(ids(e, got), ids(e, want)) {
			t.Errorf("%s:\n%v\nwant\n%v", src, ids(e, got), ids(e, want))
		}
	}
}

// fullSort sorts rows stably by order, looking every value up in each
// comparison: what evalQuery did before it took primary-key orders as
// they come and looked values up once per row.
func fullSort(q *qctx, rows []ent, order []orderTerm) {
	first := func(x ent, path string) any {
		if vs := q.values(x, strings.Split(path, ".")); len(vs) > 0 {
			return vs[0]
		}
		return nil
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, o := range order {
			if c := compareValues(first(rows[i], o.Path), first(rows[j], o.Path)); c != 0 {
				return c < 0 != o.Desc
			}
		}
		return false
	})
}

// ids lists the identities of rows, in order.
func ids(e *Emulator, rows []ent) []string {
	out := make([]string, len(rows))
	for i, x := range rows {
		out[i] = e.identity(x)
	}
	return out
}
