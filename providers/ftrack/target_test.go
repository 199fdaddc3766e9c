package ftrack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

func createChange(key, username, sourceID string) engine.Change {
	return engine.Change{
		Address: "user." + key, Action: engine.ActionCreate, Key: key, TargetID: uuid.NewString(), SourceID: sourceID,
		After: &engine.Fields{
			Username: engine.Str(username), Email: engine.Str(key + "@example.com"),
			FirstName: engine.Str("First " + key), LastName: engine.Str("Last " + key),
			IsActive: engine.Bool(true), Owner: engine.Str("users"), SourceID: engine.Str(sourceID),
		},
	}
}

func requireOK(t *testing.T, res []engine.Result, changes []engine.Change) {
	t.Helper()
	if len(res) != len(changes) {
		t.Fatalf("%d results for %d changes", len(res), len(changes))
	}
	for i, r := range res {
		if r.Address != changes[i].Address {
			t.Fatalf("result %d is for %s, want %s", i, r.Address, changes[i].Address)
		}
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Address, r.Err)
		}
	}
}

// TestExecuteUnderFaults: 1,000 creates then 1,000 updates through the
// Target while the server answers 30% 503s, rate-limits every 5th request
// and drops one connection after applying a batch. The outcome must be
// exactly the plan: no duplicate, nothing missing, every value right.
func TestExecuteUnderFaults(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	const n = 1000
	faults := ftracktest.Faults{ErrorRate: 0.3, RateLimitEvery: 5, RetryAfter: -1, Seed: 42, DropAfterOperations: 700}

	creates := make([]engine.Change, n)
	want := map[string]engine.Account{}
	for i := range n {
		key := fmt.Sprintf("user%04d", i)
		creates[i] = createChange(key, key, fmt.Sprintf("sid-%04d", i))
		want[creates[i].TargetID] = engine.Account{
			ID: creates[i].TargetID, Username: key, Email: key + "@example.com", FirstName: "First " + key, LastName: "Last " + key,
			Active: true, Owner: "users", SourceID: fmt.Sprintf("sid-%04d", i), UserType: "ftrack",
		}
	}
	s.Emulator.SetFaults(faults)
	requireOK(t, tg.Execute(ctx, creates), creates)
	st := s.Emulator.Stats()
	if st.Dropped != 1 || st.Unavailable == 0 || st.RateLimited == 0 {
		t.Fatalf("faults not injected: %+v", st)
	}

	updates := make([]engine.Change, n)
	for i, c := range creates {
		a := want[c.TargetID]
		after := &engine.Fields{Email: engine.Str(fmt.Sprintf("new.%04d@example.org", i)), LastName: engine.Str(fmt.Sprintf("Renamed %d", i))}
		a.Email, a.LastName = *after.Email, *after.LastName
		action := engine.ActionUpdate
		if i%10 == 0 {
			after = &engine.Fields{IsActive: engine.Bool(false)}
			a = want[c.TargetID]
			a.Active = false
			action = engine.ActionDeactivate
		}
		if i%7 == 0 && action == engine.ActionUpdate {
			after.SourceID = engine.Str(fmt.Sprintf("moved-%04d", i))
			a.SourceID = *after.SourceID
		}
		want[c.TargetID] = a
		updates[i] = engine.Change{Address: c.Address, Action: action, Key: c.Key, TargetID: c.TargetID, After: after}
	}
	s.Emulator.SetFaults(faults)
	requireOK(t, tg.Execute(ctx, updates), updates)
	if st := s.Emulator.Stats(); st.Dropped != 2 {
		t.Fatalf("second drop not injected: %+v", st)
	} else {
		t.Logf("emulator: %d requests, %d 503, %d 429, %d dropped; client: %+v", st.Requests, st.Unavailable, st.RateLimited, st.Dropped, tg.Stats())
	}
	s.Emulator.SetFaults(ftracktest.Faults{})

	if users := s.Emulator.Entities("User"); len(users) != siteUsers+n {
		t.Fatalf("%d users in ftrack, want %d and the API user", len(users), n)
	}
	if meta := s.Emulator.Entities("Metadata"); len(meta) != 2*n {
		t.Fatalf("%d metadata rows, want %d", len(meta), 2*n)
	}
	accts, err := tg.ReadAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accts = withoutAPIUser(accts)
	if len(accts) != n {
		t.Fatalf("ReadAccounts: %d accounts besides the API user's", len(accts))
	}
	for i, a := range accts {
		if i > 0 && accts[i-1].Username >= a.Username {
			t.Fatalf("accounts not sorted at %d", i)
		}
		if !reflect.DeepEqual(a, want[a.ID]) {
			t.Fatalf("account %s:\n got %+v\nwant %+v", a.Username, a, want[a.ID])
		}
	}
	// Re-running the same creates is a no-op that succeeds: the creates,
	// sent without a pre-read, are rejected as a whole (their ids exist),
	// then the users are read and found done. Nothing is stored twice and
	// the requests stay few (no splitting down to single users).
	// The client's count, not the emulator's: the read above may leave
	// a page request it no longer wanted (cancelled when the read ended)
	// to reach the emulator after it returned.
	requests := tg.Stats().Requests
	requireOK(t, tg.Execute(ctx, creates[:50]), creates[:50])
	if users, meta := len(s.Emulator.Entities("User")), len(s.Emulator.Entities("Metadata")); users != siteUsers+n || meta != 2*n {
		t.Fatalf("after the re-run: %d users, %d metadata rows, want %d and %d", users, meta, siteUsers+n, 2*n)
	}
	if sent := tg.Stats().Requests - requests; sent > 4 {
		t.Fatalf("re-run of 50 applied creates took %d requests", sent)
	}
}

var hostileNames = []string{
	`quote"inside`,
	`back\slash`,
	`" or username like "%`,
	`trailing\`,
	"new\nline",
	"josé.müller",
	"名前",
	`'single' and "double"`,
	`x") or (id is_not none`,
	"tab\tand space",
}

// TestHostileUsernames: usernames that would change a query's meaning if
// interpolated are created, updated and read back exactly, and no other
// user is touched.
func TestHostileUsernames(t *testing.T) {
	s := newServer(t)
	bystanders := putUsers(t, s, 3)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	var creates []engine.Change
	for i, name := range hostileNames {
		c := createChange(fmt.Sprintf("h%d", i), name, name) // the source id is hostile too
		creates = append(creates, c)
	}
	requireOK(t, tg.Execute(ctx, creates), creates)
	var updates []engine.Change
	for i, c := range creates {
		renamed := hostileNames[(i+1)%len(hostileNames)] + "2"
		updates = append(updates, engine.Change{Address: c.Address, Action: engine.ActionUpdate, Key: c.Key, TargetID: c.TargetID,
			After: &engine.Fields{Username: engine.Str(renamed), FirstName: engine.Str(hostileNames[i]), SourceID: engine.Str("sid\"" + renamed)}})
	}
	requireOK(t, tg.Execute(ctx, updates), updates)
	accts, err := tg.ReadAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]engine.Account{}
	for _, a := range accts {
		byID[a.ID] = a
	}
	if len(accts) != siteUsers+len(hostileNames)+len(bystanders) {
		t.Fatalf("%d accounts", len(accts))
	}
	for i, c := range creates {
		a := byID[c.TargetID]
		renamed := hostileNames[(i+1)%len(hostileNames)] + "2"
		if a.Username != renamed || a.FirstName != hostileNames[i] || a.SourceID != "sid\""+renamed || a.Owner != "users" || !a.Active {
			t.Errorf("%q read back as %+v", hostileNames[i], a)
		}
	}
	for i, id := range bystanders {
		a := byID[id]
		if a.Username != fmt.Sprintf("user%04d", i) || a.Email != fmt.Sprintf("user%04d@example.com", i) || a.Owner != "" || !a.Active {
			t.Errorf("bystander changed: %+v", a)
		}
	}
	// A hostile username can never reach an expression.
	for _, name := range hostileNames {
		if _, ok := Is("username", name); ok {
			t.Errorf("Is accepted %q", name)
		}
	}
}

func TestMembershipsAndOwnership(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	existing := uuid.NewString()
	if err := s.Emulator.Put("Group", map[string]any{"id": existing, "name": "Leads", "local": true}); err != nil {
		t.Fatal(err)
	}
	// An unowned user made by hand in ftrack, to adopt.
	handID := uuid.NewString()
	if err := s.Emulator.Put("User", map[string]any{"id": handID, "username": "carol", "email": "old@example.com", "is_active": true}); err != nil {
		t.Fatal(err)
	}

	ann := createChange("ann", "ann", "sid-ann")
	addMem := func(c engine.Change, g string) engine.Change {
		return engine.Change{Address: "membership." + c.Key + "." + g, Action: engine.ActionAddMembership, Key: c.Key, TargetID: c.TargetID, Group: g}
	}
	carol := engine.Change{TargetID: handID, Key: "carol"}
	createGroup := func(g string) engine.Change {
		return engine.Change{Address: "group." + g, Action: engine.ActionCreateGroup, Group: g, TargetID: uuid.NewString()}
	}
	// Groups are created by create_group changes only (apply runs them
	// before the memberships); a membership of a group ftrack lacks fails.
	missing := addMem(engine.Change{TargetID: handID, Key: "carol"}, "Nowhere")
	if res := tg.Execute(ctx, []engine.Change{missing}); res[0].Err == nil || !errors.Is(res[0].Err, ErrNotFound) {
		t.Fatalf("membership of a missing group: %v", res[0].Err)
	}
	creates := []engine.Change{createGroup("Artists"), createGroup("Leads"), createGroup("VFX Artists (London)")}
	requireOK(t, tg.Execute(ctx, creates), creates)
	if n := len(s.Emulator.Entities("Group")); n != 3 { // Leads existed: not created twice
		t.Fatalf("%d groups after create_group, want 3", n)
	}
	changes := []engine.Change{
		ann, addMem(ann, "Artists"), addMem(ann, "Leads"), addMem(ann, "VFX Artists (London)"),
		{Address: "user.carol", Action: engine.ActionAdopt, Key: "carol", TargetID: handID,
			After: &engine.Fields{Email: engine.Str("carol@example.com"), Owner: engine.Str("users"), SourceID: engine.Str("sid-carol")}},
		addMem(carol, "Artists"),
	}
	requireOK(t, tg.Execute(ctx, changes), changes)
	// Again: everything is already done and nothing new is stored (the
	// create is sent without a pre-read, rejected as a duplicate, then
	// verified and found done).
	stored := func() string {
		return fmt.Sprint(len(s.Emulator.Entities("User")), len(s.Emulator.Entities("Metadata")),
			len(s.Emulator.Entities("Membership")), len(s.Emulator.Entities("Group")))
	}
	before := stored()
	requireOK(t, tg.Execute(ctx, changes), changes)
	if after := stored(); after != before {
		t.Fatalf("repeat changed what is stored: users, metadata, memberships, groups %s -> %s", before, after)
	}

	accts, err := tg.ReadAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accts = withoutAPIUser(accts)
	if len(accts) != 2 || accts[0].Username != "ann" || accts[1].Username != "carol" {
		t.Fatalf("accounts %+v", accts)
	}
	a, c := accts[0], accts[1]
	if a.Owner != "users" || a.SourceID != "sid-ann" || c.Owner != "users" || c.SourceID != "sid-carol" || c.Email != "carol@example.com" {
		t.Fatalf("ownership marker: ann %+v carol %+v", a, c)
	}
	if !reflect.DeepEqual(a.Groups, []string{"Artists", "Leads", "VFX Artists (London)"}) || !reflect.DeepEqual(c.Groups, []string{"Artists"}) {
		t.Fatalf("groups: ann %v carol %v", a.Groups, c.Groups)
	}
	groups := s.Emulator.Entities("Group")
	if len(groups) != 3 {
		t.Fatalf("groups %v", groups)
	}
	for _, g := range groups {
		if g["name"] != "Leads" && g["local"] != false {
			t.Errorf("created group is local: %v", g)
		}
	}
	for _, m := range s.Emulator.Entities("Metadata") {
		if m["parent_type"] != "User" {
			t.Errorf("metadata parent_type %v", m)
		}
	}

	// Remove: one by membership id, one by group name only, one already gone.
	rm := []engine.Change{
		{Address: "membership.ann.Artists", Action: engine.ActionRemoveMembership, Key: "ann", TargetID: ann.TargetID, Group: "Artists", MembershipID: a.Memberships["Artists"]},
		{Address: "membership.ann.Leads", Action: engine.ActionRemoveMembership, Key: "ann", TargetID: ann.TargetID, Group: "Leads"},
		{Address: "membership.carol.Leads", Action: engine.ActionRemoveMembership, Key: "carol", TargetID: handID, Group: "Leads", MembershipID: uuid.NewString()},
	}
	requireOK(t, tg.Execute(ctx, rm), rm)
	requireOK(t, tg.Execute(ctx, rm), rm)
	accts, _ = tg.ReadAccounts(ctx)
	accts = withoutAPIUser(accts)
	if !reflect.DeepEqual(accts[0].Groups, []string{"VFX Artists (London)"}) || !reflect.DeepEqual(accts[1].Groups, []string{"Artists"}) {
		t.Fatalf("after removal: %v %v", accts[0].Groups, accts[1].Groups)
	}
	if len(s.Emulator.Entities("Membership")) != 2 {
		t.Fatalf("memberships %v", s.Emulator.Entities("Membership"))
	}

	// create_groups = false is a capability the plan reads (it then plans
	// no create_group); a missing group is an error for that change only.
	set := testSettings(s.URL)
	set.CreateGroups = false
	tg2, err := NewTarget("studio", set)
	if err != nil {
		t.Fatal(err)
	}
	if tg2.Capabilities().CreateGroups || !tg.Capabilities().CreateGroups {
		t.Fatalf("CreateGroups capability: %v %v", tg2.Capabilities().CreateGroups, tg.Capabilities().CreateGroups)
	}
	two := []engine.Change{addMem(ann, "Nowhere"), addMem(ann, "Leads")}
	res := tg2.Execute(ctx, two)
	if res[0].Err == nil || !errors.Is(res[0].Err, ErrNotFound) || res[1].Err != nil {
		t.Fatalf("missing group: %v / %v", res[0].Err, res[1].Err)
	}
}

func TestCreateWhenUserAlreadyExists(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	c := createChange("dave", "dave", "sid-dave")
	// An earlier interrupted apply created the user but not its metadata.
	if err := s.Emulator.Put("User", map[string]any{"id": c.TargetID, "username": "dave", "is_active": true}); err != nil {
		t.Fatal(err)
	}
	requireOK(t, tg.Execute(context.Background(), []engine.Change{c}), []engine.Change{c})
	accts, err := tg.ReadAccounts(context.Background())
	accts = withoutAPIUser(accts)
	if err != nil || len(accts) != 1 {
		t.Fatal(accts, err)
	}
	if a := accts[0]; a.Owner != "users" || a.SourceID != "sid-dave" || a.Email != "dave@example.com" {
		t.Fatalf("%+v", a)
	}
}

// TestFailureIsolation: one change the server rejects (an injected
// failure, a taken username) fails alone; the rest of its batch is applied.
func TestFailureIsolation(t *testing.T) {
	s := newServer(t)
	putUsers(t, s, 1) // user0000 is taken
	tg := newTarget(t, s.URL)
	var changes []engine.Change
	for i := range 60 {
		changes = append(changes, createChange(fmt.Sprintf("n%02d", i), fmt.Sprintf("n%02d", i), fmt.Sprintf("s%02d", i)))
	}
	changes[17] = createChange("user0000", "USER0000", "s-dup")
	s.Emulator.SetFaults(ftracktest.Faults{FailOperation: func(op map[string]any) *ftracktest.APIError {
		if d, ok := op["entity_data"].(map[string]any); ok && d["username"] == "n42" {
			return &ftracktest.APIError{Exception: ftracktest.ExcServer, Content: "cannot create n42"}
		}
		return nil
	}})
	res := tg.Execute(context.Background(), changes)
	var failed []string
	for _, r := range res {
		if r.Err != nil {
			failed = append(failed, r.Address)
			if strings.Contains(r.Err.Error(), testKey) {
				t.Fatalf("error shows key: %v", r.Err)
			}
		}
	}
	sort.Strings(failed)
	if !reflect.DeepEqual(failed, []string{"user.n42", "user.user0000"}) {
		t.Fatalf("failed %v", failed)
	}
	if !strings.Contains(res[17].Err.Error(), "Duplicate") {
		t.Errorf("duplicate error: %v", res[17].Err)
	}
	if n := len(s.Emulator.Entities("User")); n != siteUsers+1+58 {
		t.Fatalf("%d users, want %d (the API user, user0000 and 58 created)", n, siteUsers+1+58)
	}
}

func TestPackJobsKeepsUserOrder(t *testing.T) {
	op := Operation{Action: "create"}
	chains := map[string][]unit{
		"a": {{0, []Operation{op, op}}, {1, []Operation{op}}},
		"b": {{2, []Operation{op, op, op}}, {3, []Operation{op, op, op}}, {4, []Operation{op}}}, // longer than a batch
		"c": {{5, []Operation{op}}},
		"d": {{6, []Operation{op, op}}},
	}
	jobs := packJobs([]string{"a", "b", "c", "d"}, chains, 4)
	var got [][][]int
	for _, j := range jobs {
		var packs [][]int
		for _, p := range j {
			var idx []int
			for _, u := range p {
				idx = append(idx, u.idx)
			}
			packs = append(packs, idx)
		}
		got = append(got, packs)
	}
	want := [][][]int{{{0, 1}}, {{2}, {3, 4}}, {{5, 6}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
}

func TestTargetInfoAndURLPolicy(t *testing.T) {
	if _, err := NewTarget("studio", Settings{ServerURL: "http://ftrack.example.com", APIUser: "u", APIKey: "k"}); err == nil || !strings.Contains(err.Error(), "https is required") {
		t.Fatalf("plain http accepted: %v", err)
	}
	tg, err := NewTarget("studio", Settings{ServerURL: "http://ftrack.example.com/", APIUser: "u", APIKey: "k", InsecureAllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.Info(); got != (engine.TargetInfo{Type: "ftrack", Name: "studio", Endpoint: "http://ftrack.example.com"}) {
		t.Fatalf("info %+v", got)
	}
}

func TestExecuteRefusesBadTargetID(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	c := createChange("eve", "eve", "sid")
	c.TargetID = `x" or id is_not none`
	res := tg.Execute(context.Background(), []engine.Change{c})
	if res[0].Err == nil || len(s.Emulator.Entities("User")) != siteUsers {
		t.Fatalf("bad id accepted: %v", res[0].Err)
	}
}

// TestCreateOfExistingID: a create whose id already exists (an earlier,
// interrupted run made it) counts as done and only what is missing is
// written, also when it shares a request with creates that are new.
func TestCreateOfExistingID(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	var changes []engine.Change
	for i := range 6 {
		changes = append(changes, createChange(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d", i), fmt.Sprintf("sid-%d", i)))
	}
	// u2 exists completely; u4 exists without its ownership marker.
	for _, i := range []int{2, 4} {
		c := changes[i]
		if err := s.Emulator.Put("User", map[string]any{"id": c.TargetID, "username": *c.After.Username, "email": *c.After.Email,
			"first_name": *c.After.FirstName, "last_name": *c.After.LastName, "is_active": true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{MetaOwner, MetaSourceID} {
		v := map[string]string{MetaOwner: "users", MetaSourceID: "sid-2"}[k]
		if err := s.Emulator.Put("Metadata", map[string]any{"parent_id": changes[2].TargetID, "key": k, "value": v, "parent_type": "User"}); err != nil {
			t.Fatal(err)
		}
	}
	requireOK(t, tg.Execute(ctx, changes), changes)
	accts, err := tg.ReadAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accts = withoutAPIUser(accts)
	if len(accts) != 6 {
		t.Fatalf("%d accounts, want 6: %+v", len(accts), accts)
	}
	for i, a := range accts {
		if a.ID != changes[i].TargetID || a.Owner != "users" || a.SourceID != fmt.Sprintf("sid-%d", i) || !a.Active {
			t.Errorf("account %d: %+v", i, a)
		}
	}
	if n := len(s.Emulator.Entities("Metadata")); n != 12 {
		t.Errorf("%d metadata rows, want 12", n)
	}
}

// TestConcurrentExecuteSharesParallelism runs three Execute calls at once
// (as apply's pipelining does): together they never have more than
// Parallelism requests in flight, and every change is carried out.
func TestConcurrentExecuteSharesParallelism(t *testing.T) {
	em := ftracktest.New(ftracktest.Options{APIUser: testUser, APIKey: testKey})
	em.SetFaults(ftracktest.Faults{Latency: 5 * time.Millisecond})
	var mu sync.Mutex
	inFlight, most := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		em.ServeHTTP(w, r)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	s := testSettings(srv.URL)
	s.BatchSize, s.Parallelism = 3, 2 // one created user per request
	tg, err := NewTarget("studio", s)
	if err != nil {
		t.Fatal(err)
	}
	if !tg.Capabilities().ConcurrentExecute {
		t.Fatal("the ftrack target does not allow concurrent Execute calls")
	}
	var wg sync.WaitGroup
	for call := range 3 {
		var changes []engine.Change
		for i := range 10 {
			key := fmt.Sprintf("c%du%02d", call, i)
			changes = append(changes, createChange(key, key, "sid-"+key))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := tg.Execute(context.Background(), changes)
			for i, r := range res {
				if r.Err != nil || r.Address != changes[i].Address {
					t.Errorf("%s: %+v", changes[i].Address, r)
				}
			}
		}()
	}
	wg.Wait()
	if most > s.Parallelism {
		t.Errorf("%d requests in flight at once, parallelism is %d", most, s.Parallelism)
	}
	if n := len(em.Entities("User")) - siteUsers; n != 30 {
		t.Errorf("%d users created, want 30", n)
	}
}

// TestEveryUserFieldIsMapped: each field of the engine's field table is
// kept either as a User attribute or as ownership Metadata, never both,
// so a field added to the table cannot be silently dropped on writes.
func TestEveryUserFieldIsMapped(t *testing.T) {
	for _, uf := range engine.UserFields() {
		_, attr := userAttributes[uf.Name]
		_, meta := markerKeys[uf.Name]
		if attr == meta {
			t.Errorf("field %s: User attribute %v, Metadata %v; want exactly one", uf.Name, attr, meta)
		}
		if meta != (uf.Kind == engine.FieldMarker) {
			t.Errorf("field %s: kind %v but kept as Metadata = %v", uf.Name, uf.Kind, meta)
		}
	}
	if len(userAttributes)+len(markerKeys) != len(engine.UserFields()) {
		t.Errorf("the mapping names fields the table does not have")
	}
}

// TestUserTypesUnreadable: when the user types cannot be read, a change
// that writes a user type fails with that reason and writes nothing; the
// other changes go ahead.
func TestUserTypesUnreadable(t *testing.T) {
	s := newServer(t)
	tg := newTarget(t, s.URL) // has not read the accounts: the user types are not cached
	typed := createChange("ann", "ann", "sid-ann")
	typed.After.UserType = engine.Str("ldap")
	plain := createChange("bob", "bob", "sid-bob")
	s.Emulator.SetFaults(ftracktest.Faults{FailOperation: func(op map[string]any) *ftracktest.APIError {
		if e, _ := op["expression"].(string); strings.Contains(e, "from UserType") {
			return &ftracktest.APIError{Exception: ftracktest.ExcPermission, Content: "no access to UserType"}
		}
		return nil
	}})
	res := tg.Execute(context.Background(), []engine.Change{typed, plain})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "reading user types") {
		t.Fatalf("typed create: %v, want the user types' read error", res[0].Err)
	}
	if res[1].Err != nil {
		t.Fatalf("plain create: %v", res[1].Err)
	}
	for _, u := range s.Emulator.Entities("User") {
		if u["username"] == "ann" {
			t.Fatalf("ann was created without her user type: %v", u)
		}
	}
}
