package ftrack

// Execute works in four steps. (1) It resolves the group names that
// membership changes need (one read of all groups, cached; missing groups
// are created when create_groups allows). (2) It reads the current state of
// every user the changes touch (user row, ldapsync metadata, memberships)
// by id, so that every change is planned as "make it so" against what is
// there: a create whose id exists, a membership already present or already
// gone, a value already in place all plan to nothing. (3) Changes are
// grouped per user (keeping their order) and those groups are packed into
// requests of at most BatchSize operations; up to Parallelism requests run
// at once. (4) A request rejected as a whole is split in two and each half
// retried in order, down to the single change at fault, so one broken user
// never blocks the others. Transient failures are the client's business
// (Client.Write): it resends (creates carry their ids, updates set
// values), and reads back what was applied only when an answer is
// ambiguous.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
)

// Metadata keys of the ownership marker.
const (
	// MetaOwner holds the name of the mapping that owns the user.
	MetaOwner = "ldapsync.owner"
	// MetaSourceID holds the directory's stable id of the user.
	MetaSourceID = "ldapsync.source_id"
)

// Target is the ftrack engine.Target.
type Target struct {
	name     string
	endpoint string
	s        Settings
	client   *Client

	// slots holds one token per request allowed in flight (Parallelism),
	// shared by concurrent Execute calls.
	slots chan struct{}

	mu     sync.Mutex
	groups map[string]string // group name -> id (first by id when names repeat)
	// roleCat is the security roles and projects, read by ReadRoles or
	// by the first role change; customCat the user custom attributes.
	roleCat   *roleCatalog
	customCat *customCatalog
	// userTypeIDs maps user type names to ids, read with the accounts.
	userTypeIDs map[string]string
}

var (
	_ engine.Target                = (*Target)(nil)
	_ engine.RoleReader            = (*Target)(nil)
	_ engine.CustomAttributeReader = (*Target)(nil)
)

// NewTarget checks the settings and returns the target; it does not
// contact the server.
func NewTarget(name string, s Settings) (*Target, error) {
	if s.BatchSize <= 0 {
		s.BatchSize = 100
	}
	if s.Parallelism <= 0 {
		s.Parallelism = 4
	}
	c, err := NewClient(Options{
		ServerURL: s.ServerURL, APIUser: s.APIUser, APIKey: s.APIKey,
		InsecureAllowHTTP: s.InsecureAllowHTTP, CACertFile: s.CACertFile, Timeout: s.Timeout,
		Retry:    RetryPolicy{MaxRetries: s.MaxRetries, InitialInterval: s.RetryInitialInterval, MaxElapsedTime: s.RetryMaxElapsed, OnRetry: s.OnRetry},
		PageSize: s.PageSize, MaxConns: s.Parallelism,
	})
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", name, err)
	}
	base, _ := CheckServerURL(s.ServerURL, s.InsecureAllowHTTP)
	return &Target{name: name, endpoint: base, s: s, client: c, slots: make(chan struct{}, s.Parallelism)}, nil
}

// Info names the target; Endpoint is the server URL.
func (t *Target) Info() engine.TargetInfo {
	return engine.TargetInfo{Type: "ftrack", Name: t.name, Endpoint: t.endpoint}
}

// Capabilities: Execute may run concurrently with itself (concurrent
// calls share the Parallelism request slots, so apply can start the next
// batch while the last requests of the current one finish), and one call
// should get BatchSize × Parallelism × 5 changes (at least 100) to keep
// every connection busy: Execute waits for all its requests before it
// returns, and with the usual three operations per created user that is
// fifteen full rounds of requests.
func (t *Target) Capabilities() engine.TargetCapabilities {
	return engine.TargetCapabilities{ConcurrentExecute: true, ExecuteBatch: max(100, t.s.BatchSize*t.s.Parallelism*5), CreateGroups: t.s.CreateGroups}
}

// ReadGroups returns the names of ftrack's groups (and refreshes the
// name -> id cache Execute resolves memberships with).
func (t *Target) ReadGroups(ctx context.Context) ([]string, error) {
	groups, err := t.client.Query(ctx, "select id, name from Group")
	if err != nil {
		return nil, fmt.Errorf("reading groups: %w", err)
	}
	t.setGroups(groups)
	seen := map[string]bool{}
	var names []string
	for _, g := range groups {
		if n := g.String("name"); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Client returns the underlying API client.
func (t *Target) Client() *Client { return t.client }

// Stats returns the client's traffic counters.
func (t *Target) Stats() Stats { return t.client.Stats() }

const (
	userProjection = "id, username, email, first_name, last_name, is_active, user_type_id"
	metaCriterion  = `key in ("` + MetaOwner + `", "` + MetaSourceID + `")`
)

// ReadAccounts reads all users, the ldapsync metadata, memberships,
// groups and user types with flat paged queries and joins them (an
// account's UserType is its type's name; the id when the site has no
// UserType of that id). Pages are converted as
// they arrive (QueryPages, several in flight), so only compact rows are
// kept, never the decoded entities of a whole site. When the rows move
// under the read (ErrChanged: users added or removed meanwhile) it reads
// again, a few times, rather than miss or repeat a row.
func (t *Target) ReadAccounts(ctx context.Context) ([]engine.Account, error) {
	var (
		accts   *accountRows
		members chunked[member]
		groups  []Entity
		types   []Entity
		// The users, memberships and groups are usually all read well
		// before the metadata (half the pages here): the memberships are
		// then joined and the accounts' order worked out beside the
		// paging (joinEarly), not after the last page.
		joined    chan memberJoin
		waitingOn int
	)
	queryDone := func() {
		if waitingOn--; waitingOn > 0 {
			return
		}
		ch, rows, byID, ms, gs := make(chan memberJoin, 1), &accts.rows, accts.byID, members, groups
		joined = ch
		// Nothing writes byID or the rows' usernames and ids any more
		// (markers set other fields), nor the memberships and groups.
		go func() { ch <- joinEarly(rows, byID, ms, gs) }()
	}
	takeMetas := func(rows []MetadataRow) {
		for _, m := range rows {
			if m.ParentType != "" && m.ParentType != "User" {
				continue
			}
			accts.marker(m.ParentID, m.Key, m.Value)
		}
	}
	read := func() error {
		accts, members, groups, types, joined, waitingOn = newAccountRows(), chunked[member]{}, nil, nil, nil, 3
		return t.client.QueryPages(ctx, func(q int, rows []Entity) error {
			switch q {
			case 0:
				for _, u := range rows {
					active, _ := u.Bool("is_active")
					accts.add(acctRow{
						id: u.String("id"), username: u.String("username"), email: u.String("email"),
						firstName: u.String("first_name"), lastName: u.String("last_name"), active: active,
						typeID: u.String("user_type_id"),
					})
				}
			case 1:
				ms := make([]MetadataRow, len(rows))
				for i, m := range rows {
					ms[i] = MetadataRowOf(m)
				}
				takeMetas(ms)
			case 2:
				for _, m := range rows {
					members.add(member{m.String("id"), m.String("user_id"), m.String("group_id")})
				}
			case 3:
				groups = append(groups, rows...)
			case 4:
				types = append(types, rows...)
			}
			return nil
		},
			PagedQuery{Expression: "select " + userProjection + " from User", flat: flatUsers(accts), done: queryDone},
			MetadataQuery(metaCriterion, takeMetas),
			PagedQuery{Expression: "select id, user_id, group_id from Membership",
				flat: flatRows(func(r *memberRow) bool { return r.ID.set && r.UserID.set && r.GroupID.set }, func(rows []memberRow) {
					for _, m := range rows {
						members.add(member{m.ID.s, m.UserID.s, m.GroupID.s})
					}
				}), done: queryDone},
			PagedQuery{Expression: "select id, name from Group", flat: flatNamed(&groups), done: queryDone},
			PagedQuery{Expression: "select id, name from UserType", flat: flatNamed(&types)},
		)
	}
	err := read()
	for attempt := 0; errors.Is(err, ErrChanged) && attempt < changedRetries; attempt++ {
		err = read() // users were added or removed during the read: read again
	}
	if err != nil {
		return nil, fmt.Errorf("target %q: reading accounts: %w", t.name, err)
	}
	t.setGroups(groups)
	typeName := make(map[string]string, len(types))
	for _, ut := range types {
		typeName[ut.String("id")] = ut.String("name")
	}
	keep(t, &t.userTypeIDs, firstIDByName(types))

	// The accounts come out sorted by lower-case username, then id: keys
	// are sorted (the row's index last, so an unstable sort gives the
	// stable order), then each row is written once into the exact-size
	// result, its markers and memberships with it. The rows stay where
	// they were read (chunks), so nothing of the size of the result is
	// copied while it grows, and what only joins them (the memberships,
	// byID) is let go before the result is allocated: the end of this read
	// is a steady-state plan's peak of memory (see accountrows.go).
	var j memberJoin
	if joined != nil {
		j = <-joined
	} else {
		j = joinEarly(&accts.rows, accts.byID, members, groups)
	}
	accts.finish()
	rows := &accts.rows
	n := rows.len()
	keys, memberships, groupsOf := j.keys, j.memberships, j.groupsOf
	members, j, accts.byID = chunked[member]{}, memberJoin{}, nil
	out := make([]engine.Account, n)
	for k, key := range keys {
		i := key.i
		r := rows.at(int(i))
		userType := r.typeID
		if name, ok := typeName[userType]; ok {
			userType = name
		}
		out[k] = engine.Account{
			ID: r.id, Username: r.username, Email: r.email, FirstName: r.firstName, LastName: r.lastName,
			Active: r.active, Owner: r.owner, SourceID: r.sourceID, UserType: userType,
		}
		if g := groupsOf[i]; g != nil {
			sort.Strings(g)
			out[k].Groups, out[k].Memberships = g, memberships[i]
		}
	}
	return out, nil
}

// member is a membership row as ReadAccounts keeps it.
type member struct{ id, user, group string }

// memberJoin is what joinEarly gives: the accounts' rows in their final
// order, and each row's memberships (group name -> membership id) and
// group names.
type memberJoin struct {
	keys        []acctKey
	memberships map[int32]map[string]string
	groupsOf    map[int32][]string
}

// joinEarly joins the memberships to the rows and sorts the rows' keys
// (lower-case username, id, then the row's place in the read, so an
// unstable sort gives the stable order). It reads the rows' usernames
// and ids and byID only, which may be read while markers are set.
func joinEarly(rows *chunked[acctRow], byID map[string]int32, members chunked[member], groups []Entity) memberJoin {
	groupName := map[string]string{}
	for _, g := range groups {
		groupName[g.String("id")] = g.String("name")
	}
	var j memberJoin
	members.each(func(_ int, m *member) { // ordered by id: the first membership per group name wins
		i, ok := byID[m.user]
		name, gok := groupName[m.group]
		if !ok || !gok {
			return
		}
		if j.memberships == nil {
			j.memberships, j.groupsOf = map[int32]map[string]string{}, map[int32][]string{}
		}
		ms := j.memberships[i]
		if ms == nil {
			ms = map[string]string{}
			j.memberships[i] = ms
		}
		if _, dup := ms[name]; !dup {
			ms[name] = m.id
			j.groupsOf[i] = append(j.groupsOf[i], name)
		}
	})
	j.keys = make([]acctKey, rows.len())
	rows.each(func(i int, r *acctRow) {
		j.keys[i] = acctKey{lower: strings.ToLower(r.username), id: r.id, i: int32(i)}
	})
	slices.SortFunc(j.keys, func(a, b acctKey) int {
		if c := strings.Compare(a.lower, b.lower); c != 0 {
			return c
		}
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	return j
}

// acctKey is what ReadAccounts sorts the accounts by: the lower-case
// username, the id, then the row's place in the read.
type acctKey struct {
	lower, id string
	i         int32
}

func (t *Target) setGroups(groups []Entity) { keep(t, &t.groups, firstIDByName(groups)) }

// firstIDByName maps the names of rows (ordered by id) to their ids, the
// first row's id when names repeat.
func firstIDByName(rows []Entity) map[string]string {
	m := make(map[string]string, len(rows))
	for _, r := range rows {
		if _, dup := m[r.String("name")]; !dup {
			m[r.String("name")] = r.String("id")
		}
	}
	return m
}

// keep stores v in *field, a field of t guarded by t.mu.
func keep[T any](t *Target, field *T, v T) {
	t.mu.Lock()
	*field = v
	t.mu.Unlock()
}

// cached returns the value in *field (a field of t guarded by t.mu) when
// complete accepts it; otherwise it reads the value again with read and
// keeps it.
func cached[T any](t *Target, field *T, complete func(T) bool, read func() (T, error)) (T, error) {
	t.mu.Lock()
	v := *field
	t.mu.Unlock()
	if complete(v) {
		return v, nil
	}
	v, err := read()
	if err != nil {
		var zero T
		return zero, err
	}
	keep(t, field, v)
	return v, nil
}

// resolveGroups returns group name -> id for names. A missing name in
// create (a membership addition's group) gets an error in errs: groups are
// created only by create_group changes, which apply runs first. Names only
// used for removal are left out of both maps: nothing to remove.
func (t *Target) resolveGroups(ctx context.Context, names []string, create map[string]bool) (map[string]string, map[string]error) {
	ids, errs := map[string]string{}, map[string]error{}
	lookup := func() (missing []string) {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, n := range names {
			if id, ok := t.groups[n]; ok {
				ids[n] = id
			} else {
				missing = append(missing, n)
			}
		}
		return missing
	}
	missing := lookup()
	if len(missing) == 0 {
		return ids, errs
	}
	groups, err := t.client.Query(ctx, "select id, name from Group")
	if err != nil {
		for _, n := range missing {
			errs[n] = fmt.Errorf("reading groups: %w", err)
		}
		return ids, errs
	}
	t.setGroups(groups)
	for _, n := range lookup() {
		if create[n] {
			errs[n] = fmt.Errorf("group %q does not exist in ftrack (the plan creates groups with create_group changes): %w", n, ErrNotFound)
		}
	}
	return ids, errs
}

// userState is what ftrack holds for one user, as far as changes need it.
type userState struct {
	exists      bool
	fields      map[string]any       // username, email, first_name, last_name, is_active
	meta        map[string]string    // ldapsync metadata key -> value
	memberships map[string]string    // membership id -> group id
	roles       map[string]*heldRole // security role id -> held role (read for role changes only)
	custom      map[string]any       // custom attribute configuration id -> value (read for custom attribute writes only)
}

func (st *userState) membershipOf(groupID string) string {
	ids := make([]string, 0, len(st.memberships))
	for id, g := range st.memberships {
		if g == groupID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// execCtx is what planChange resolves names with: group ids (and why a
// group could not be resolved), the security roles, the user custom
// attributes and the user types.
type execCtx struct {
	groupIDs  map[string]string
	groupErrs map[string]error
	roles     *roleCatalog
	custom    *customCatalog
	userTypes map[string]string // user type name -> id
}

// stateParts says what readState reads beside users, metadata and
// memberships.
type stateParts struct{ roles, custom bool }

// readState reads users, their ldapsync metadata and memberships by id,
// and as parts asks their security roles and custom attribute values.
func (t *Target) readState(ctx context.Context, ids []string, parts stateParts) (map[string]*userState, error) {
	states := map[string]*userState{}
	for _, id := range ids {
		states[id] = newUserState()
	}
	err := byIDChunks(ids, func(part []string) error {
		byID, err1 := In("id", part)
		byParent, err2 := In("parent_id", part)
		byUser, err3 := In("user_id", part)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		res, err := t.client.QueryMany(ctx,
			PagedQuery{Expression: "select " + userProjection + " from User where " + byID},
			PagedQuery{Expression: "select parent_id, key, value, parent_type from Metadata where " + byParent + " and " + metaCriterion, OrderBy: "parent_id, key"},
			PagedQuery{Expression: "select id, user_id, group_id from Membership where " + byUser},
		)
		if err != nil {
			return err
		}
		for _, u := range res[0] {
			if st := states[u.String("id")]; st != nil {
				st.exists = true
				for _, k := range []string{"username", "email", "first_name", "last_name", "is_active", "user_type_id"} {
					st.fields[k] = u[k]
				}
			}
		}
		for _, m := range res[1] {
			if pt := m.String("parent_type"); pt != "" && pt != "User" {
				continue
			}
			if st := states[m.String("parent_id")]; st != nil {
				st.meta[m.String("key")] = m.String("value")
			}
		}
		for _, m := range res[2] {
			if st := states[m.String("user_id")]; st != nil {
				st.memberships[m.String("id")] = m.String("group_id")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if parts.roles {
		if err := t.readRoleState(ctx, ids, states); err != nil {
			return nil, err
		}
	}
	if parts.custom {
		if err := t.readCustomState(ctx, ids, states); err != nil {
			return nil, err
		}
	}
	return states, nil
}

// idChunk is how many keys one "in (...)" criterion of a read lists.
const idChunk = 100

// byIDChunks calls fn with keys idChunk at a time, in order, and stops at
// the first error.
func byIDChunks[K any](keys []K, fn func(part []K) error) error {
	for start := 0; start < len(keys); start += idChunk {
		if err := fn(keys[start:min(start+idChunk, len(keys))]); err != nil {
			return err
		}
	}
	return nil
}

// unit is one change with its planned operations.
type unit struct {
	idx int
	ops []Operation
}

// Execute carries out changes; see the file comment for how.
func (t *Target) Execute(ctx context.Context, changes []engine.Change) []engine.Result {
	var groupIdx, userIdx []int
	for i, c := range changes {
		if c.Action == engine.ActionCreateGroup {
			groupIdx = append(groupIdx, i)
		} else {
			userIdx = append(userIdx, i)
		}
	}
	if len(groupIdx) == 0 {
		return t.executeUsers(ctx, changes)
	}
	results := make([]engine.Result, len(changes))
	for _, i := range groupIdx {
		results[i] = engine.Result{Address: changes[i].Address, Err: t.createGroup(ctx, changes[i])}
	}
	if len(userIdx) > 0 {
		sub := make([]engine.Change, len(userIdx))
		for k, i := range userIdx {
			sub[k] = changes[i]
		}
		for k, r := range t.executeUsers(ctx, sub) {
			results[userIdx[k]] = r
		}
	}
	return results
}

// createGroup executes a create_group change: the group with the plan's
// id, unless a group of that name exists already (an interrupted run, or
// someone else): then it is done.
func (t *Target) createGroup(ctx context.Context, c engine.Change) error {
	if !IsID(c.TargetID) {
		return fmt.Errorf("create_group %s: target id %q is not an ftrack id", c.Address, c.TargetID)
	}
	if !t.s.CreateGroups {
		return fmt.Errorf("create_group %s: create_groups = false: ldapsync creates no groups in this ftrack", c.Address)
	}
	exists := func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		_, ok := t.groups[c.Group]
		return ok
	}
	if _, err := t.ReadGroups(ctx); err != nil {
		return fmt.Errorf("create_group %s: %w", c.Address, err)
	}
	if exists() {
		return nil
	}
	op := CreateOp("Group", []string{c.TargetID}, map[string]any{"name": c.Group, "local": false})
	if _, err := t.client.Write(ctx, []Operation{op}); err != nil {
		if _, rerr := t.ReadGroups(ctx); rerr == nil && exists() {
			return nil // created meanwhile (or by an earlier attempt of this write)
		}
		return fmt.Errorf("create_group %s: %w", c.Address, err)
	}
	t.mu.Lock()
	if _, ok := t.groups[c.Group]; !ok {
		t.groups[c.Group] = c.TargetID
	}
	t.mu.Unlock()
	return nil
}

// executeUsers executes changes to users and their memberships.
func (t *Target) executeUsers(ctx context.Context, changes []engine.Change) []engine.Result {
	results := make([]engine.Result, len(changes))
	for i, c := range changes {
		results[i].Address = c.Address
	}
	fail := func(i int, err error) {
		results[i].Err = fmt.Errorf("%s %s: %w", changes[i].Action, changes[i].Address, err)
	}
	failWhere := func(needs func(c engine.Change) bool, err error) {
		for i, c := range changes {
			if needs(c) {
				fail(i, err)
			}
		}
	}

	// (1) groups
	var groupNames []string
	create := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range changes {
		if c.Action == engine.ActionAddMembership || c.Action == engine.ActionRemoveMembership {
			if !seen[c.Group] {
				seen[c.Group] = true
				groupNames = append(groupNames, c.Group)
			}
			if c.Action == engine.ActionAddMembership {
				create[c.Group] = true
			}
		}
	}
	var groupIDs map[string]string
	var groupErrs map[string]error
	if len(groupNames) > 0 {
		groupIDs, groupErrs = t.resolveGroups(ctx, groupNames, create)
	}
	// (1b) security roles and projects
	var roleNames, projectNames []string
	for _, c := range changes {
		if c.Role != "" {
			roleNames = append(roleNames, c.Role)
		}
		if c.Project != "" {
			projectNames = append(projectNames, c.Project)
		}
	}
	var customCat *customCatalog
	if keys := customKeysOf(changes); len(keys) > 0 {
		var err error
		if customCat, err = t.customCatalogFor(ctx, keys); err != nil {
			failWhere(func(c engine.Change) bool { return c.After != nil && len(c.After.Custom) > 0 }, err)
		}
	}
	var cat *roleCatalog
	if len(roleNames) > 0 {
		var err error
		if cat, err = t.catalog(ctx, roleNames, projectNames); err != nil {
			failWhere(func(c engine.Change) bool { return c.Role != "" }, err)
		}
	}

	var userTypes map[string]string
	if writesUserType(changes) {
		var err error
		if userTypes, err = t.userTypes(ctx); err != nil {
			failWhere(func(c engine.Change) bool { return c.After != nil && c.After.UserType != nil }, err)
		}
	}

	// (2) state of the users touched. A user this call creates (with the id
	// the plan generated) is assumed absent and not read: apply has just
	// classified the create as pending against a fresh read of ftrack. Should
	// the assumption be wrong, the server rejects the create (the id exists)
	// and step 5 reads the user and plans again.
	var ids []string
	idSeen := map[string]bool{}
	assumed := map[string]bool{}
	for i, c := range changes {
		if !IsID(c.TargetID) {
			fail(i, fmt.Errorf("target id %q is not an ftrack id", c.TargetID))
			continue
		}
		if c.Action == engine.ActionCreate && !idSeen[c.TargetID] {
			assumed[c.TargetID] = true
		}
		if !idSeen[c.TargetID] {
			idSeen[c.TargetID] = true
			ids = append(ids, c.TargetID)
		}
	}
	var readIDs []string
	for _, id := range ids {
		if !assumed[id] {
			readIDs = append(readIDs, id)
		}
	}
	parts := stateParts{roles: len(roleNames) > 0, custom: customCat != nil}
	states, err := t.readState(ctx, readIDs, parts)
	if err != nil {
		for i := range changes {
			if results[i].Err == nil {
				fail(i, fmt.Errorf("reading current state: %w", err))
			}
		}
		return results
	}
	for id := range assumed {
		states[id] = newUserState()
	}

	// (3) plan and pack, (4) run
	var all []int
	for i := range changes {
		if results[i].Err == nil {
			all = append(all, i)
		}
	}
	ex := &execCtx{groupIDs: groupIDs, groupErrs: groupErrs, roles: cat, custom: customCat, userTypes: userTypes}
	t.planAndRun(ctx, changes, all, states, ex, fail, false)

	// (5) a request the server rejected is not split on the first pass:
	// its users are read (verify before resending), planned again against
	// what ftrack holds (a create whose id exists is done, or only what is
	// missing is written), and run again, now splitting a rejected request
	// down to the change at fault.
	var again []int
	var againIDs []string
	retry := map[string]bool{}
	for _, i := range all {
		if id := changes[i].TargetID; results[i].Err != nil && IsRejection(results[i].Err) && !retry[id] {
			retry[id] = true
			againIDs = append(againIDs, id)
		}
	}
	if len(againIDs) == 0 {
		return results
	}
	fresh, err := t.readState(ctx, againIDs, parts)
	if err != nil {
		return results // the first errors stand
	}
	for _, i := range all {
		if retry[changes[i].TargetID] {
			results[i].Err = nil
			again = append(again, i)
		}
	}
	t.planAndRun(ctx, changes, again, fresh, ex, fail, true)
	return results
}

func newUserState() *userState {
	return &userState{fields: map[string]any{}, meta: map[string]string{}, memberships: map[string]string{}, roles: map[string]*heldRole{}, custom: map[string]any{}}
}

// planAndRun plans the changes at idxs (per user, in order) against
// states, packs them into requests and runs them; failures go to fail.
// With split, a request rejected as a whole is split (see runPack).
func (t *Target) planAndRun(ctx context.Context, changes []engine.Change, idxs []int, states map[string]*userState,
	ex *execCtx, fail func(int, error), split bool) {
	chains := map[string][]unit{}
	var order []string
	for _, i := range idxs {
		c := changes[i]
		ops, err := planChange(c, states[c.TargetID], ex)
		if err != nil {
			fail(i, err)
			continue
		}
		if len(ops) == 0 {
			continue // already done
		}
		if _, ok := chains[c.TargetID]; !ok {
			order = append(order, c.TargetID)
		}
		chains[c.TargetID] = append(chains[c.TargetID], unit{idx: i, ops: ops})
	}
	jobs := packJobs(order, chains, t.s.BatchSize)

	var wg sync.WaitGroup
	sem := t.slots
	if sem == nil { // a Target not made by NewTarget
		sem = make(chan struct{}, max(1, t.s.Parallelism))
	}
	var rmu sync.Mutex
	setErr := func(i int, err error) {
		rmu.Lock()
		fail(i, err)
		rmu.Unlock()
	}
	// Each job's first request is encoded ahead, up to one per slot, so
	// that a slot that frees is refilled at once: encoding a request of a
	// hundred operations (about half a millisecond) was done while
	// holding the slot, and no request was in flight for it meanwhile.
	ready := make(chan preparedJob, cap(sem))
	go func() {
		defer close(ready)
		for _, job := range jobs {
			ready <- preparedJob{job: job, first: newWriteRequest(job[0])}
		}
	}()
	for pj := range ready {
		wg.Add(1)
		sem <- struct{}{}
		go func(pj preparedJob) {
			defer wg.Done()
			defer func() { <-sem }()
			req := pj.first
			for k, pack := range pj.job {
				if k > 0 {
					req = newWriteRequest(pack)
				}
				t.runPack(ctx, pack, req, setErr, split)
			}
		}(pj)
	}
	wg.Wait()
}

// preparedJob is a job (see packJobs) with its first request encoded.
type preparedJob struct {
	job   [][]unit
	first writeRequest
}

// writeRequest is a pack's operations, in order, and their encoded
// request body.
type writeRequest struct {
	ops  []Operation
	body []byte // nil when encoding failed: Write encodes again and says why
}

// newWriteRequest collects the operations of pack's units and encodes them.
func newWriteRequest(pack []unit) writeRequest {
	n := 0
	for _, u := range pack {
		n += len(u.ops)
	}
	ops := make([]Operation, 0, n)
	for _, u := range pack {
		ops = append(ops, u.ops...)
	}
	body, _ := encodeOps(ops)
	return writeRequest{ops: ops, body: body}
}

// packJobs packs per-user chains into requests of at most batch operations.
// A job is a sequence of requests run in order; a chain longer than one
// request gets a job of its own, so a user's changes always stay in order.
func packJobs(order []string, chains map[string][]unit, batch int) [][][]unit {
	var jobs [][][]unit
	var cur []unit
	n := 0
	flush := func() {
		if len(cur) > 0 {
			jobs = append(jobs, [][]unit{cur})
			cur, n = nil, 0
		}
	}
	for _, key := range order {
		chain := chains[key]
		total := 0
		for _, u := range chain {
			total += len(u.ops)
		}
		if total > batch {
			flush()
			var job [][]unit
			var pack []unit
			pn := 0
			for _, u := range chain {
				if pn > 0 && pn+len(u.ops) > batch {
					job = append(job, pack)
					pack, pn = nil, 0
				}
				pack = append(pack, u)
				pn += len(u.ops)
			}
			job = append(job, pack)
			jobs = append(jobs, job)
			continue
		}
		if n+total > batch {
			flush()
		}
		cur = append(cur, chain...)
		n += total
	}
	flush()
	return jobs
}

// runPack sends req, the pack's request; when the server rejects it as
// a whole and split is set, it splits the pack in two and runs the
// halves in order.
func (t *Target) runPack(ctx context.Context, pack []unit, req writeRequest, setErr func(int, error), split bool) {
	_, err := t.client.writeEncoded(ctx, req.ops, req.body)
	if err == nil {
		return
	}
	if !split || len(pack) == 1 || !IsRejection(err) {
		for _, u := range pack {
			setErr(u.idx, err)
		}
		return
	}
	half := len(pack) / 2
	t.runPack(ctx, pack[:half], newWriteRequest(pack[:half]), setErr, split)
	t.runPack(ctx, pack[half:], newWriteRequest(pack[half:]), setErr, split)
}

// planChange returns the operations that bring ftrack to the change's After
// state from st (updated as if they had run); none when already there.
func planChange(c engine.Change, st *userState, ex *execCtx) ([]Operation, error) {
	a := c.After
	if a == nil {
		a = &engine.Fields{}
	}
	switch c.Action {
	case engine.ActionCreate, engine.ActionUpdate, engine.ActionAdopt:
		return planUser(c, a, st, ex)
	case engine.ActionDeactivate, engine.ActionReactivate:
		if !st.exists {
			return nil, fmt.Errorf("user %s does not exist in ftrack: %w", c.TargetID, ErrNotFound)
		}
		want := c.Action == engine.ActionReactivate
		if a.IsActive != nil {
			want = *a.IsActive
		}
		return fieldOps(c.TargetID, &engine.Fields{IsActive: &want}, st, nil) // is_active only: no user type to resolve
	case engine.ActionAddMembership, engine.ActionRemoveMembership:
		return planMembership(c, st, ex)
	case engine.ActionAddRole, engine.ActionRemoveRole, engine.ActionGrantRoleProject, engine.ActionRevokeRoleProject:
		return planRoleChange(c, st, ex.roles)
	}
	return nil, fmt.Errorf("unsupported action %q", c.Action)
}

// planUser plans a create, update or adopt: the User row (created when a
// create finds none), then the ownership marker and custom attributes.
func planUser(c engine.Change, a *engine.Fields, st *userState, ex *execCtx) ([]Operation, error) {
	id := c.TargetID
	var ops []Operation
	switch {
	case c.Action == engine.ActionCreate && !st.exists:
		if a.Username == nil || *a.Username == "" {
			return nil, errors.New("create without a username")
		}
		data, err := fieldValues(a, ex.userTypes)
		if err != nil {
			return nil, err
		}
		if _, ok := data["is_active"]; !ok {
			data["is_active"] = true
		}
		ops = append(ops, CreateOp("User", []string{id}, data))
		st.exists = true
		for k, v := range data {
			st.fields[k] = v
		}
	case !st.exists:
		return nil, fmt.Errorf("user %s does not exist in ftrack: %w", id, ErrNotFound)
	default:
		if c.Action == engine.ActionAdopt && (a.Owner == nil || *a.Owner == "") {
			return nil, errors.New("adopt without an owner")
		}
		fops, err := fieldOps(id, a, st, ex.userTypes)
		if err != nil {
			return nil, err
		}
		ops = append(ops, fops...)
	}
	ops = append(ops, metaOps(id, a, st)...)
	cops, err := customOps(id, a, st, ex.custom)
	if err != nil {
		return nil, err
	}
	return append(ops, cops...), nil
}

// planMembership plans a membership's addition or removal.
func planMembership(c engine.Change, st *userState, ex *execCtx) ([]Operation, error) {
	if c.Action == engine.ActionAddMembership {
		if err := ex.groupErrs[c.Group]; err != nil {
			return nil, err
		}
		gid, ok := ex.groupIDs[c.Group]
		if !ok {
			return nil, fmt.Errorf("group %q could not be resolved", c.Group)
		}
		if !st.exists {
			return nil, fmt.Errorf("user %s does not exist in ftrack: %w", c.TargetID, ErrNotFound)
		}
		if st.membershipOf(gid) != "" {
			return nil, nil
		}
		mid := uuid.NewString()
		st.memberships[mid] = gid
		return []Operation{CreateOp("Membership", []string{mid}, map[string]any{"user_id": c.TargetID, "group_id": gid})}, nil
	}
	mid := ""
	if _, ok := st.memberships[c.MembershipID]; ok && c.MembershipID != "" {
		mid = c.MembershipID
	} else if gid, ok := ex.groupIDs[c.Group]; ok {
		mid = st.membershipOf(gid)
	} else if err := ex.groupErrs[c.Group]; err != nil {
		return nil, err // the groups could not be read: "gone" is unknown
	}
	if mid == "" {
		return nil, nil // already gone
	}
	delete(st.memberships, mid)
	return []Operation{DeleteOp("Membership", []string{mid})}, nil
}

// userAttributes maps the engine's user fields kept as ftrack User
// attributes to the attribute names; markerKeys those kept as Metadata to
// their keys. Every field of engine.UserFields is in one of the two.
var (
	userAttributes = map[string]string{"username": "username", "email": "email", "first_name": "first_name", "last_name": "last_name", "is_active": "is_active", "user_type": "user_type_id"}
	markerKeys     = map[string]string{"owner": MetaOwner, "source_id": MetaSourceID}
)

// fieldValues returns the User attributes set in f, a user type as the
// id of its name in types.
func fieldValues(f *engine.Fields, types map[string]string) (map[string]any, error) {
	m := map[string]any{}
	for _, uf := range engine.UserFields() {
		if attr, ok := userAttributes[uf.Name]; ok {
			if v, set := uf.Value(f); set {
				m[attr] = v
			}
		}
	}
	if name, ok := m["user_type_id"].(string); ok {
		id, known := types[name]
		if !known {
			return nil, fmt.Errorf("ftrack has no user type %q: %w", name, ErrNotFound)
		}
		m["user_type_id"] = id
	}
	return m, nil
}

// fieldOps updates the User attributes of f that differ from st.
func fieldOps(id string, f *engine.Fields, st *userState, types map[string]string) ([]Operation, error) {
	vals, err := fieldValues(f, types)
	if err != nil {
		return nil, err
	}
	data := map[string]any{}
	for k, v := range vals {
		if !sameValue(st.fields[k], v) {
			data[k] = v
			st.fields[k] = v
		}
	}
	if len(data) == 0 {
		return nil, nil
	}
	return []Operation{UpdateOp("User", []string{id}, data)}, nil
}

// writesUserType reports whether a change writes a user type.
func writesUserType(changes []engine.Change) bool {
	for _, c := range changes {
		if c.After != nil && c.After.UserType != nil {
			return true
		}
	}
	return false
}

// userTypes returns user type name -> id, read when the accounts were
// not read yet by this target.
func (t *Target) userTypes(ctx context.Context) (map[string]string, error) {
	return cached(t, &t.userTypeIDs, func(types map[string]string) bool { return types != nil }, func() (map[string]string, error) {
		rows, err := t.client.Query(ctx, "select id, name from UserType")
		if err != nil {
			return nil, fmt.Errorf("reading user types: %w", err)
		}
		return firstIDByName(rows), nil
	})
}

// metaOps writes the ownership marker values set in f that differ from st.
func metaOps(id string, f *engine.Fields, st *userState) []Operation {
	var ops []Operation
	put := func(key string, v *string) {
		if v == nil || *v == "" {
			return
		}
		cur, ok := st.meta[key]
		switch {
		case !ok:
			ops = append(ops, CreateOp("Metadata", []string{id, key}, map[string]any{"value": *v, "parent_type": "User"}))
		case cur != *v:
			ops = append(ops, UpdateOp("Metadata", []string{id, key}, map[string]any{"value": *v}))
		default:
			return
		}
		st.meta[key] = *v
	}
	for _, uf := range engine.UserFields() {
		if key, ok := markerKeys[uf.Name]; ok {
			if v, set := uf.Get(f); set {
				put(key, &v)
			}
		}
	}
	return ops
}

// APIUser is the username the target signs in to ftrack as; plan and
// apply never change that account.
func (t *Target) APIUser() string { return t.s.APIUser }
