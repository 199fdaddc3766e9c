package ftracktest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestStrictStatusCodes(t *testing.T) {
	s := newTestServer(t)
	mustPut(t, s.Emulator, "User", map[string]any{"id": "11111111-1111-1111-1111-111111111111", "username": "taken"})
	cases := []struct {
		name   string
		op     map[string]any
		exc    string
		status int
	}{
		{"validation", create("User", map[string]any{"bogus": 1}), ExcValidation, 400},
		{"missing username", create("User", map[string]any{"first_name": "x"}), ExcValidation, 400},
		{"duplicate", create("User", map[string]any{"username": "TAKEN"}), ExcDuplicateEntry, 409},
		{"not found", update("User", []any{"99999999-1111-1111-1111-111111111111"}, map[string]any{"is_active": true}), ExcNotFound, 404},
		{"delete missing", del("User", "99999999-1111-1111-1111-111111111111"), ExcNotFound, 404},
		{"bad query", map[string]any{"action": "query", "expression": "select from"}, ExcValidation, 400},
		{"unknown action", map[string]any{"action": "frobnicate"}, ExcValidation, 400},
	}
	for _, c := range cases {
		for _, strict := range []string{"", "false", "true"} {
			status, exc := callErr(t, s, map[string]string{"ftrack-strict-api": strict}, c.op)
			want := 200
			if strict == "true" {
				want = c.status
			}
			if status != want || exc["exception"] != c.exc {
				t.Errorf("%s strict=%q: status %d exception %v, want %d %s", c.name, strict, status, exc["exception"], want, c.exc)
			}
			if _, ok := exc["error_code"]; !ok {
				t.Errorf("%s: no error_code key", c.name)
			}
		}
	}
	// Malformed JSON is an exception body too.
	for _, body := range []string{`not json`, `{"action":"query"}`, `[1, 2]`} {
		status, _, out := post(t, s, body, map[string]string{"ftrack-strict-api": "true"})
		if m, ok := out.(map[string]any); status != 400 || !ok || m["exception"] != ExcValidation {
			t.Errorf("body %q: status %d, %v", body, status, out)
		}
	}
	// Wrong path and method.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api", nil)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api: %d", resp.StatusCode)
	}
	resp, err = s.Client().Post(s.URL+"/other", "application/json", strings.NewReader("[]"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /other: %d", resp.StatusCode)
	}
}

func TestBatchRollback(t *testing.T) {
	s := newTestServer(t)
	e := s.Emulator
	mustPut(t, e, "Group", map[string]any{"id": "g1", "name": "artists"})
	mustPut(t, e, "User", map[string]any{"id": "u1", "username": "keep", "is_active": true})
	mustPut(t, e, "Membership", map[string]any{"id": "m1", "user_id": "u1", "group_id": "g1"})
	before := map[string][]map[string]any{}
	for _, typ := range []string{"User", "Group", "Membership"} {
		before[typ] = e.Entities(typ)
	}
	// Creates, an update, a cascading delete, then a failing operation.
	_, exc := callErr(t, s, nil,
		create("User", map[string]any{"username": "new1"}),
		update("User", []any{"u1"}, map[string]any{"is_active": false, "email": "x@example.com"}),
		create("Group", map[string]any{"name": "new group"}),
		del("User", "u1"),
		create("Membership", map[string]any{"user_id": "nope", "group_id": "g1"}),
	)
	if exc["exception"] != ExcValidation {
		t.Fatalf("exception %v", exc)
	}
	for typ, want := range before {
		if got := e.Entities(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after rolled-back batch: %v, want %v", typ, got, want)
		}
	}
	// The unique index was restored too: "new1" is free, "keep" is taken.
	call(t, s, create("User", map[string]any{"username": "new1"}))
	if _, exc := callErr(t, s, nil, create("User", map[string]any{"username": "KEEP"})); exc["exception"] != ExcDuplicateEntry {
		t.Errorf("after rollback: %v", exc)
	}
	// FailOperation fails a chosen operation of an otherwise valid batch.
	e.SetFaults(Faults{FailOperation: func(op map[string]any) *APIError {
		if op["action"] == "delete" {
			return &APIError{Exception: ExcPermission, Content: "no"}
		}
		return nil
	}})
	status, exc := callErr(t, s, map[string]string{"ftrack-strict-api": "true"}, create("User", map[string]any{"username": "new2"}), del("Membership", "m1"))
	if status != 403 || exc["exception"] != ExcPermission {
		t.Errorf("FailOperation: %d %v", status, exc)
	}
	if len(e.Entities("User")) != seededUsers+2 || len(e.Entities("Membership")) != 1 {
		t.Errorf("FailOperation batch was not rolled back")
	}
}

func TestUniquenessAndValidation(t *testing.T) {
	s := newTestServer(t)
	e := s.Emulator
	mustPut(t, e, "User", map[string]any{"id": "u1", "username": "John.Doe@Example.com"})
	mustPut(t, e, "User", map[string]any{"id": "u2", "username": "other"})
	mustPut(t, e, "Group", map[string]any{"id": "g1", "name": "g"})
	cases := []struct {
		name string
		op   map[string]any
		exc  string
	}{
		{"case-insensitive duplicate", create("User", map[string]any{"username": "john.doe@example.COM"}), ExcDuplicateEntry},
		{"rename onto existing", update("User", []any{"u2"}, map[string]any{"username": "JOHN.DOE@example.com"}), ExcDuplicateEntry},
		{"duplicate id", create("User", map[string]any{"id": "u2", "username": "fresh"}), ExcDuplicateEntry},
		{"id used by another type", create("User", map[string]any{"id": "g1", "username": "fresh"}), ExcDuplicateEntry},
		{"empty username", create("User", map[string]any{"username": "  "}), ExcValidation},
		{"unknown attribute", create("User", map[string]any{"username": "x", "is_scim_managed": true}), ExcValidation},
		{"wrong type", create("User", map[string]any{"username": "x", "is_active": "yes"}), ExcValidation},
		{"immutable", update("User", []any{"u1"}, map[string]any{"resource_type": "group"}), ExcValidation},
		{"computed", create("User", map[string]any{"username": "x", "thumbnail_url": map[string]any{}}), ExcValidation},
		{"collection", create("User", map[string]any{"username": "x", "memberships": []any{}}), ExcValidation},
		{"required to null", update("User", []any{"u1"}, map[string]any{"username": nil}), ExcValidation},
		{"abstract", create("Resource", map[string]any{}), ExcValidation},
		{"unknown type", create("Task", map[string]any{}), ExcValidation},
		{"entity type mismatch", create("User", map[string]any{"username": "x", "__entity_type__": "Group"}), ExcValidation},
		{"membership user missing", create("Membership", map[string]any{"user_id": "nope", "group_id": "g1"}), ExcValidation},
		{"membership group missing", create("Membership", map[string]any{"user_id": "u1", "group_id": "nope"}), ExcValidation},
		{"membership without group", create("Membership", map[string]any{"user_id": "u1"}), ExcValidation},
		{"wrong key length", update("Metadata", []any{"u1"}, map[string]any{"value": "v"}), ExcValidation},
		{"bad user type", update("User", []any{"u1"}, map[string]any{"user_type_id": "nope"}), ExcValidation},
	}
	for _, c := range cases {
		_, exc := callErr(t, s, nil, c.op)
		if exc["exception"] != c.exc {
			t.Errorf("%s: %v, want %s", c.name, exc, c.exc)
		}
	}
	// Setting the same immutable value again is accepted.
	call(t, s, update("User", []any{"u1"}, map[string]any{"id": "u1", "resource_type": "user"}))
	// Membership pairs are unique; a scalar relation given as a reference sets the key.
	call(t, s, create("Membership", map[string]any{"user": map[string]any{"__entity_type__": "User", "id": "u1"}, "group_id": "g1"}))
	if _, exc := callErr(t, s, nil, create("Membership", map[string]any{"user_id": "u1", "group_id": "g1"})); exc["exception"] != ExcDuplicateEntry {
		t.Errorf("duplicate membership: %v", exc)
	}
	// Metadata: composite key, parent_type derived from the parent.
	res := call(t, s, create("Metadata", map[string]any{"parent_id": "u1", "key": "ldap_dn", "value": "uid=john,dc=x"}))
	md := res[0].(map[string]any)["data"].(map[string]any)
	if md["parent_type"] != "User" {
		t.Errorf("metadata %v", md)
	}
	call(t, s, update("Metadata", []any{"u1", "ldap_dn"}, map[string]any{"value": "uid=j"}))
	if got := e.Entities("Metadata"); len(got) != 1 || got[0]["value"] != "uid=j" {
		t.Errorf("metadata after update %v", got)
	}
	if _, exc := callErr(t, s, nil, create("Metadata", map[string]any{"parent_id": "u1", "key": "ldap_dn", "value": "x"})); exc["exception"] != ExcDuplicateEntry {
		t.Errorf("duplicate metadata key: %v", exc)
	}
	// Deleting the user cascades to memberships and metadata.
	call(t, s, del("User", "u1"))
	if len(e.Entities("Membership")) != 0 || len(e.Entities("Metadata")) != 0 {
		t.Errorf("cascade left %v %v", e.Entities("Membership"), e.Entities("Metadata"))
	}
	// A group with child groups cannot be deleted.
	mustPut(t, e, "Group", map[string]any{"id": "g2", "name": "child", "parent_id": "g1"})
	if _, exc := callErr(t, s, nil, del("Group", "g1")); exc["exception"] != ExcValidation {
		t.Errorf("delete parent group: %v", exc)
	}
	// Put validates like create.
	if err := e.Put("User", map[string]any{"username": "OTHER"}); err == nil {
		t.Error("Put accepted a duplicate username")
	}
}

func seedUsers(t *testing.T, e *Emulator, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		mustPut(t, e, "User", map[string]any{"id": fmt.Sprintf("00000000-0000-0000-0000-%012d", i), "username": fmt.Sprintf("user%03d", i), "is_active": i%2 == 0})
	}
}

func TestQueryPaging(t *testing.T) {
	s := newTestServer(t)
	seedUsers(t, s.Emulator, 7)
	var names []string
	offset := 0
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		res := query(t, s, fmt.Sprintf("select id, username from User order by username desc offset %d limit 3", offset))
		for _, r := range res["data"].([]any) {
			names = append(names, r.(map[string]any)["username"].(string))
		}
		next := res["metadata"].(map[string]any)["next"].(map[string]any)["offset"]
		if next == nil {
			break
		}
		if int(next.(float64)) != offset+len(res["data"].([]any)) {
			t.Fatalf("next.offset %v after offset %d", next, offset)
		}
		offset = int(next.(float64))
	}
	// The API user (testUser, created at start-up) sorts last.
	want := []string{"user006", "user005", "user004", "user003", "user002", "user001", "user000", testUser}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("paged names %v", names)
	}
	// An exact last page reports null.
	res := query(t, s, "select id from User order by id offset 5 limit 3")
	if len(res["data"].([]any)) != 3 || res["metadata"].(map[string]any)["next"].(map[string]any)["offset"] != nil {
		t.Errorf("exact last page: %v", res)
	}
	// Past the end: empty data, null next.
	res = query(t, s, "select id from User offset 50 limit 3")
	if len(res["data"].([]any)) != 0 || res["metadata"].(map[string]any)["next"].(map[string]any)["offset"] != nil {
		t.Errorf("past the end: %v", res)
	}
}

func usernames(rows []any) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.(map[string]any)["username"].(string))
	}
	sort.Strings(out)
	return out
}

func TestQueryLanguage(t *testing.T) {
	s := newTestServer(t)
	e := s.Emulator
	hostile := []string{
		`" or username like "%`,
		`back\slash`,
		`trail\`,
		"new\nline",
		`Ünïcødé 名前`,
		`it's`,
	}
	for i, u := range hostile {
		mustPut(t, e, "User", map[string]any{"id": fmt.Sprintf("h%d", i), "username": u, "email": fmt.Sprintf("h%d@example.com", i)})
	}
	mustPut(t, e, "User", map[string]any{"id": "p1", "username": "plain", "first_name": "Pat", "is_active": true})
	mustPut(t, e, "User", map[string]any{"id": "p2", "username": "john.doe", "first_name": "John", "is_active": false})
	mustPut(t, e, "Group", map[string]any{"id": "g1", "name": "Artists"})
	mustPut(t, e, "Group", map[string]any{"id": "g2", "name": "Leads", "parent_id": "g1"})
	mustPut(t, e, "Membership", map[string]any{"id": "m1", "user_id": "p1", "group_id": "g1"})
	mustPut(t, e, "Membership", map[string]any{"id": "m2", "user_id": "p2", "group_id": "g2"})

	// quote escapes a value the way a careful client does: \ and " escaped.
	quote := func(v string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	}
	for _, u := range hostile {
		got := usernames(queryData(t, s, "select username from User where username is "+quote(u)))
		if !reflect.DeepEqual(got, []string{u}) {
			t.Errorf("username is %s: %q", quote(u), got)
		}
	}
	// testUser is the API user's User the emulator starts with (active,
	// no names, no memberships); it matches some of the filters below.
	cases := []struct {
		where string
		want  []string
	}{
		{`username is "plain"`, []string{"plain"}},
		{`username = plain`, []string{"plain"}},
		{`username is 'john.doe'`, []string{"john.doe"}},
		{`username is "PLAIN"`, []string{}}, // is: case-sensitive
		{`username like "PLA%"`, []string{"plain"}},
		{`username like "%.%"`, []string{"john.doe", testUser}},
		{`username not_like "%a%" and is_active is true`, []string{}},
		{`username in ("plain", "john.doe", "nobody")`, []string{"john.doe", "plain"}},
		{`id in (p1, p2)`, []string{"john.doe", "plain"}},
		{`id not_in (p1) and first_name is_not none`, []string{"john.doe"}},
		{`is_active is true`, []string{"plain", testUser}},
		{`is_active = false and first_name is_not none`, []string{"john.doe"}},
		{`is_active = false`, []string{`" or username like "%`, `back\slash`, `trail\`, "new\nline", `Ünïcødé 名前`, `it's`, "john.doe"}},
		{`first_name is none and username is "it\'s"`, []string{"it's"}},
		{`first_name != "Pat" and first_name is_not None`, []string{"john.doe"}},
		{`username > "plain"`, []string{"trail\\", "Ünïcødé 名前"}},
		{`username >= "plain" and username < "t"`, []string{"plain"}},
		{`username after "o" and username before "q"`, []string{"plain"}},
		{`not (username is "plain" or username is "john.doe") and email is_not none and email like "h0@%"`, []string{`" or username like "%`}},
		{`memberships.group.name is "Artists"`, []string{"plain"}},
		{`memberships.group.parent.name is "Artists"`, []string{"john.doe"}},
		{`memberships any (group.name is "Leads")`, []string{"john.doe"}},
		{`not memberships any () and username like "%i%"`, []string{`" or username like "%`, "it's", "new\nline", "trail\\", testUser}},
		{`memberships any () `, []string{"john.doe", "plain"}},
		{`id in (select user_id from Membership where group.name is "Leads")`, []string{"john.doe"}},
		{`username is "plain" or username is "john.doe" and is_active is true`, []string{"plain"}},
		{`(username is "plain" or username is "john.doe") and is_active is false`, []string{"john.doe"}},
		{`username is "new\nline"`, []string{}}, // \n is not an escape: backslash stays
	}
	for _, c := range cases {
		got := usernames(queryData(t, s, "select username from User where "+c.where))
		want := append([]string{}, c.want...)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("where %s: %q, want %q", c.where, got, want)
		}
	}
	// A quoted injection attempt stays one value.
	if got := queryData(t, s, `select username from User where username is "\" or username like \"%"`); len(got) != 1 {
		t.Errorf("escaped injection matched %d rows", len(got))
	}
	// Without select: default projections; "from" optional.
	for _, expr := range []string{`User where username is "plain"`, `from User where username is "plain"`} {
		rows := queryData(t, s, expr)
		if len(rows) != 1 || !reflect.DeepEqual(sortedKeys(rows[0].(map[string]any)), []string{"__entity_type__", "id", "resource_type"}) {
			t.Errorf("%s: %v", expr, rows)
		}
	}
	// Polymorphic Resource query returns users and groups with their types.
	types := map[string]int{}
	for _, r := range queryData(t, s, `select id from Resource`) {
		types[r.(map[string]any)["__entity_type__"].(string)]++
	}
	if types["User"] != seededUsers+8 || types["Group"] != 2 {
		t.Errorf("Resource query types %v", types)
	}
	// Unset attributes come back as null; relations as objects/arrays.
	row := queryData(t, s, `select email, user_type.name, memberships.group.name, metadata from User where id is p1`)[0].(map[string]any)
	if v, ok := row["email"]; !ok || v != nil {
		t.Errorf("unset email: %v", row)
	}
	if ut := row["user_type"].(map[string]any); ut["id"] != DefaultUserTypeID || ut["name"] != "ftrack" {
		t.Errorf("user_type %v", ut)
	}
	if ms := row["memberships"].([]any); len(ms) != 1 || ms[0].(map[string]any)["group"].(map[string]any)["name"] != "Artists" {
		t.Errorf("memberships %v", row["memberships"])
	}
	if md, ok := row["metadata"].([]any); !ok || len(md) != 0 {
		t.Errorf("metadata %v", row["metadata"])
	}

	bad := []string{
		``,
		`select`,
		`select username from`,
		`select username User`,
		`select username from User where`,
		`select username from User where username`,
		`select username from User where username is`,
		`select username from User where username is "unterminated`,
		`select username from User where username is "a" and`,
		`select username from User where (username is "a"`,
		`select username from User where username frob "a"`,
		`select username from User where username is "a" trailing`,
		`select username from User limit -1`,
		`select username from User limit x`,
		`select username from User order username`,
		`select nosuch from User`,
		`select username from NoSuchType`,
		`select username from User where nosuch is 1`,
		`select username from User where is_active is maybe`,
		`select username from User where memberships is "x"`,
		`select username from User where username has (id is 1)`,
		`select username from User where username ! "x"`,
		`select username from User where username is "a" ; delete`,
		`select username.length from User`,
		`select username from User order by memberships`,
	}
	for _, expr := range bad {
		status, exc := callErr(t, s, map[string]string{"ftrack-strict-api": "true"}, map[string]any{"action": "query", "expression": expr})
		if status != 400 || exc["exception"] != ExcValidation {
			t.Errorf("%q: status %d %v", expr, status, exc)
		}
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := newTestServer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				body := fmt.Sprintf(`[{"action":"create","entity_type":"User","entity_data":{"username":"u%d-%d"}},{"action":"query","expression":"select id from User limit 5"}]`, i, j)
				status, _, out := post(t, s, body, nil)
				if l, ok := out.([]any); status != 200 || !ok || len(l) != 2 {
					errs <- fmt.Errorf("status %d %v", status, out)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(s.Emulator.Entities("User")); n != seededUsers+160 {
		t.Errorf("%d users, want %d (160 created and the API user)", n, seededUsers+160)
	}
	st := s.Emulator.Stats()
	if st.Requests != 160 || st.Operations != 320 || st.Actions["create"] != 160 || st.Batches != 160 {
		t.Errorf("stats %+v", st)
	}
	s.Emulator.ResetStats()
	if st := s.Emulator.Stats(); st.Requests != 0 || len(st.Actions) != 0 {
		t.Errorf("after reset %+v", st)
	}
}

func TestLoadSaveRoundTrip(t *testing.T) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	mustPut(t, e, "Group", map[string]any{"id": "g1", "name": "parent"})
	mustPut(t, e, "Group", map[string]any{"id": "g0", "name": "child", "parent_id": "g1"}) // sorts before its parent
	mustPut(t, e, "User", map[string]any{"id": "u1", "username": "Ünï\"code\\", "email": "a@example.com", "is_active": true})
	mustPut(t, e, "Membership", map[string]any{"id": "m1", "user_id": "u1", "group_id": "g0"})
	mustPut(t, e, "Metadata", map[string]any{"parent_id": "u1", "key": "k", "value": "v"})
	path := filepath.Join(t.TempDir(), "data.json")
	if err := e.Save(path); err != nil {
		t.Fatal(err)
	}
	f := New(Options{APIUser: testUser, APIKey: testKey})
	if err := f.Load(path); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"User", "Group", "Membership", "Metadata", "UserType"} {
		if !reflect.DeepEqual(e.Entities(typ), f.Entities(typ)) {
			t.Errorf("%s differs after round trip: %v vs %v", typ, e.Entities(typ), f.Entities(typ))
		}
	}
	// Constraints hold after Load.
	if err := f.Put("User", map[string]any{"username": "ünï\"CODE\\"}); err == nil {
		t.Error("duplicate username accepted after Load")
	}
	// A file with a dangling reference is refused and changes nothing.
	bad := filepath.Join(t.TempDir(), "bad.json")
	g := New(Options{APIUser: testUser, APIKey: testKey})
	mustPut(t, g, "User", map[string]any{"id": "x", "username": "x"})
	users := g.Entities("User")
	if err := g.Save(bad); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(bad, `{"entities":{"Membership":[{"id":"m","user_id":"nope","group_id":"nope"}]}}`); err != nil {
		t.Fatal(err)
	}
	if err := g.Load(bad); err == nil {
		t.Error("Load accepted dangling references")
	}
	if !reflect.DeepEqual(g.Entities("User"), users) {
		t.Errorf("failed Load changed the data: %v, want %v", g.Entities("User"), users)
	}
	if err := g.Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// No served type has a datetime attribute yet; check the generic path that
// would carry one (decode, normalise to naive UTC, encode as __type__).
func TestDatetimeValues(t *testing.T) {
	sc := &schema{ID: "X", Properties: map[string]property{"at": {Type: "string", Format: "date-time"}, "on": {Type: "string", Format: "date"}}}
	for in, want := range map[string]string{
		"2024-01-02T03:04:05":        "2024-01-02T03:04:05",
		"2024-01-02T03:04:05.123Z":   "2024-01-02T03:04:05.123",
		"2024-01-02T05:04:05+02:00":  "2024-01-02T03:04:05",
		"2024-01-02T03:04:05.000001": "2024-01-02T03:04:05.000001",
	} {
		got, err := normalizeValue(sc, "at", map[string]any{"__type__": "datetime", "value": in})
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
		enc := encodeValue(sc.Properties["at"], got)
		if m, ok := enc.(map[string]any); !ok || m["__type__"] != "datetime" || m["value"] != want {
			t.Errorf("encode %v", enc)
		}
	}
	if _, err := normalizeValue(sc, "at", "yesterday"); err == nil {
		t.Error("accepted a bad datetime")
	}
	got, err := normalizeValue(sc, "on", map[string]any{"__type__": "date", "value": "2024-02-29"})
	if err != nil || got != "2024-02-29" {
		t.Errorf("date: %v %v", got, err)
	}
	if m := encodeValue(sc.Properties["on"], got).(map[string]any); m["__type__"] != "date" {
		t.Errorf("date encoding %v", m)
	}
}

// TestCreateAnswersWhileOthersWrite creates users while other requests
// update, re-create and delete them, so that the race detector (go test
// -race) sees a create's answer, encoded after the emulator is unlocked,
// read its row while other batches change the store; every answer must
// show the row as created.
func TestCreateAnswersWhileOthersWrite(t *testing.T) {
	s := newTestServer(t)
	whileOthersWrite(t, s, func(id string) {
		res := call(t, s,
			create("User", map[string]any{"id": id, "username": id, "first_name": "created"}),
			update("User", []any{id}, map[string]any{"first_name": "updated"}),
			create("Metadata", map[string]any{"parent_id": id, "key": "k", "value": "v", "parent_type": "User"}),
		)
		if got := res[0].(map[string]any)["data"].(map[string]any)["first_name"]; got != "created" {
			t.Errorf("create answered first_name %v", got)
		}
	})
}

// whileOthersWrite runs each in four goroutines at once, for twenty user
// ids each ("w<goroutine>-u<n>"); after each call it updates the user
// and deletes it, so that every goroutine's batches change the store
// while the others' answers are written.
func whileOthersWrite(t *testing.T, s *Server, each func(id string)) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("w%d-u%02d", w, i)
				each(id)
				call(t, s, update("User", []any{id}, map[string]any{"first_name": "again"}), del("User", id))
			}
		}()
	}
	wg.Wait()
}

// TestDuplicateKeyMessages pins the content of the refusals of a create
// whose key is taken: by a row of the same type, or, for an id, by a row
// of another type.
func TestDuplicateKeyMessages(t *testing.T) {
	s := newTestServer(t)
	mustPut(t, s.Emulator, "User", map[string]any{"id": "u1", "username": "one"})
	mustPut(t, s.Emulator, "Group", map[string]any{"id": "g1", "name": "group"})
	mustPut(t, s.Emulator, "Metadata", map[string]any{"parent_id": "u1", "key": "k", "value": "v"})
	for _, c := range []struct {
		op   map[string]any
		want string
	}{
		{create("User", map[string]any{"id": "u1", "username": "two"}), `Duplicate entry: User ["u1"] already exists.`},
		{create("Group", map[string]any{"id": "g1", "name": "other"}), `Duplicate entry: Group ["g1"] already exists.`},
		{create("User", map[string]any{"id": "g1", "username": "two"}), `Duplicate entry: id g1 already exists.`},
		{create("Group", map[string]any{"id": "u1", "name": "other"}), `Duplicate entry: id u1 already exists.`},
		{create("Metadata", map[string]any{"parent_id": "u1", "key": "k", "value": "w"}), `Duplicate entry: Metadata ["u1","k"] already exists.`},
	} {
		if _, exc := callErr(t, s, nil, c.op); exc["exception"] != ExcDuplicateEntry || exc["content"] != c.want {
			t.Errorf("%v: %v %q, want %q", c.op, exc["exception"], exc["content"], c.want)
		}
	}
}
