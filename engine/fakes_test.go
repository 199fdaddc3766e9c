package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// In-memory fakes of the engine's own interfaces, for pure engine logic.

type fakeSource struct {
	name    string
	entries []Entry
	err     error
}

func (s *fakeSource) Info() SourceInfo { return SourceInfo{Type: "ldap", Name: s.name} }

func (s *fakeSource) Read(ctx context.Context, attrs []string, fn func(Entry) error) error {
	if s.err != nil {
		return s.err
	}
	for _, e := range s.entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// fakeMapper maps uid/mail/givenName/sn; "groups" lists ftrack groups.
type fakeMapper struct {
	name     string
	groups   bool
	previous []string
}

func (m *fakeMapper) Name() string { return m.name }
func (m *fakeMapper) Attributes() []string {
	return []string{"givenName", "groups", "mail", "sn", "uid"}
}
func (m *fakeMapper) MapsGroups() bool { return m.groups }

func (m *fakeMapper) PreviousNames() []string { return m.previous }

func (m *fakeMapper) FieldAttributes(field string) []string {
	return map[string][]string{"username": {"uid"}, "email": {"mail"}, "first_name": {"givenName"}, "last_name": {"sn"}}[field]
}
func (m *fakeMapper) Map(e Entry) (User, error) {
	get := func(k string) string {
		if v := e.Attrs[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("mail") == "" {
		return User{}, fmt.Errorf("missing required attribute mail")
	}
	u := User{Key: strings.ToLower(get("uid")), Username: strings.ToLower(get("uid")), Email: get("mail"),
		FirstName: get("givenName"), LastName: get("sn"), Disabled: e.Disabled, DisabledReason: e.DisabledReason,
		Source: e.Source, SourceID: e.StableID, DN: e.DN}
	if m.groups {
		u.Groups = append([]string{}, e.Attrs["groups"]...)
		sort.Strings(u.Groups)
	}
	return u, nil
}

// fakeTarget is an in-memory ftrack.
type fakeTarget struct {
	info     TargetInfo
	groups   map[string]bool // groups created by create_group
	noGroups bool            // the target has create_groups = false
	accounts map[string]*Account
	// failAfter > 0 makes every change after that many successful
	// executions fail (an interruption).
	failAfter int
	failAddr  map[string]bool
	executed  map[string]int // ChangeID -> times executed successfully
	calls     int
	batches   [][]string
	nextMID   int
}

func newTarget(accts ...Account) *fakeTarget {
	t := &fakeTarget{info: TargetInfo{Type: "ftrack", Name: "studio", Endpoint: "https://studio.example.test"},
		accounts: map[string]*Account{}, executed: map[string]int{}, failAddr: map[string]bool{}}
	for _, a := range accts {
		a := a
		if a.Memberships == nil {
			a.Memberships = map[string]string{}
			for _, g := range a.Groups {
				a.Memberships[g] = "m-" + a.ID + "-" + g
			}
		}
		t.accounts[a.ID] = &a
	}
	return t
}

func (t *fakeTarget) Info() TargetInfo { return t.info }

func (t *fakeTarget) Capabilities() TargetCapabilities {
	return TargetCapabilities{CreateGroups: !t.noGroups}
}

// ReadGroups returns the groups some account is a member of, and those
// created.
func (t *fakeTarget) ReadGroups(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for g := range t.groups {
		seen[g] = true
	}
	for _, a := range t.accounts {
		for _, g := range a.Groups {
			seen[g] = true
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

func (t *fakeTarget) ReadAccounts(ctx context.Context) ([]Account, error) {
	var out []Account
	for _, a := range t.accounts {
		c := *a
		c.Groups = append([]string(nil), a.Groups...)
		c.Memberships = map[string]string{}
		for k, v := range a.Memberships {
			c.Memberships[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (t *fakeTarget) Execute(ctx context.Context, changes []Change) []Result {
	t.calls++
	var names []string
	res := make([]Result, len(changes))
	for i, c := range changes {
		names = append(names, ChangeID(c))
		res[i].Address = c.Address
		done := 0
		for _, n := range t.executed {
			done += n
		}
		if t.failAddr[c.Address] || (t.failAfter > 0 && done >= t.failAfter) {
			res[i].Err = fmt.Errorf("server error 500 for %s", c.Address)
			continue
		}
		if err := t.apply(c); err != nil {
			res[i].Err = err
			continue
		}
		t.executed[ChangeID(c)]++
	}
	t.batches = append(t.batches, names)
	return res
}

func (t *fakeTarget) apply(c Change) error {
	if c.Action == ActionCreateGroup {
		if t.groups == nil {
			t.groups = map[string]bool{}
		}
		t.groups[c.Group] = true
		return nil
	}
	a := t.accounts[c.TargetID]
	if c.Action == ActionCreate {
		if a != nil {
			return nil // idempotent by id
		}
		a = &Account{ID: c.TargetID, Memberships: map[string]string{}}
		t.accounts[c.TargetID] = a
	}
	if a == nil {
		return fmt.Errorf("no user %s", c.TargetID)
	}
	switch c.Action {
	case ActionAddMembership:
		if !slices.Contains(a.Groups, c.Group) {
			a.Groups = append(a.Groups, c.Group)
			sort.Strings(a.Groups)
			t.nextMID++
			a.Memberships[c.Group] = fmt.Sprintf("m%d", t.nextMID)
		}
		return nil
	case ActionRemoveMembership:
		a.Groups = slices.DeleteFunc(a.Groups, func(g string) bool { return g == c.Group })
		delete(a.Memberships, c.Group)
		return nil
	}
	if f := c.After; f != nil {
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&a.Username, f.Username)
		set(&a.Email, f.Email)
		set(&a.FirstName, f.FirstName)
		set(&a.LastName, f.LastName)
		set(&a.Owner, f.Owner)
		set(&a.SourceID, f.SourceID)
		if f.IsActive != nil {
			a.Active = *f.IsActive
		}
	}
	return nil
}

// memState is an in-memory StateStore that copies through JSON, like a file.
type memState struct {
	data  []byte
	saves int
	fail  bool
}

func newMemState(lineage string) *memState {
	s := &memState{}
	_ = s.Save(NewLastApplied(lineage))
	s.saves = 0
	return s
}

func (s *memState) Load() (*LastApplied, error) {
	if s.data == nil { // never saved: what a backend with no state returns
		return NewLastApplied("fresh-lineage"), nil
	}
	var la LastApplied
	if err := json.Unmarshal(s.data, &la); err != nil {
		return nil, err
	}
	la.ensure()
	la.Exists = true
	return &la, nil
}

func (s *memState) Save(la *LastApplied) error {
	if s.fail {
		return fmt.Errorf("disk full")
	}
	b, err := json.Marshal(la)
	if err != nil {
		return err
	}
	s.data = b
	s.saves++
	return nil
}

// entry builds a directory entry; extra attributes as "attr=value" pairs.
func entry(uid, mail, first, last, sid string, extra ...string) Entry {
	e := Entry{Source: "corp", DN: "uid=" + uid + ",ou=users,dc=example,dc=com", StableID: sid, Attrs: map[string][]string{
		"uid": {uid}, "givenName": {first}, "sn": {last},
	}}
	if mail != "" {
		e.Attrs["mail"] = []string{mail}
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		e.Attrs[k] = append(e.Attrs[k], v)
	}
	return e
}

func disabled(e Entry) Entry {
	e.Disabled = true
	e.DisabledReason = "pwdAccountLockedTime is set"
	return e
}

// owned builds an active account owned by mapping "users".
func owned(id, username, email, first, last, sid string, groups ...string) Account {
	return Account{ID: id, Username: username, Email: email, FirstName: first, LastName: last, Active: true, Owner: "users", SourceID: sid, Groups: groups}
}

var clock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seqID is a deterministic id generator.
func seqID() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
}

func planReq(src []Source, m Mapper, t Target, pol Policy) PlanRequest {
	return PlanRequest{Sources: src, Mapper: m, Target: t, Policy: pol, ConfigDigest: "sha256:cfg", ToolVersion: "test",
		Now: clock, NewID: seqID()}
}

func mustPlan(t testing.TB, req PlanRequest) *Plan {
	t.Helper()
	p, err := BuildPlan(context.Background(), req)
	if err != nil {
		t.Fatalf("BuildPlan: %v", err)
	}
	return p
}

// changeLines renders changes as "action address" lines.
func changeLines(p *Plan) []string {
	out := []string{}
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Address)
	}
	return out
}
