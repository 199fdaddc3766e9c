package engine

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestEmailCollisions: a directory user whose username ftrack lacks, but
// whose e-mail an account has, is never created a second time: an
// unowned account is adopted (with both names in the change), anything
// ambiguous is held with a warning naming the accounts.
func TestEmailCollisions(t *testing.T) {
	mike := entry("mike", "Mike.Ross@studio.test", "Mike", "Ross", "sid-m")
	unowned := Account{ID: "id-m", Username: "mike.ross@studio.test", Email: "mike.ross@studio.test", FirstName: "Mike", LastName: "Ross", Active: true}
	cases := []struct {
		name     string
		entries  []Entry
		accounts []Account
		adopt    bool
		want     []string
		warning  string
	}{
		{"adopted under the directory's username", []Entry{mike}, []Account{unowned}, true,
			[]string{"adopt user.mike"}, ""},
		{"adopt_existing off: held", []Entry{mike}, []Account{unowned}, false,
			[]string{}, `ftrack account "mike.ross@studio.test" has its e-mail and no ldapsync marker, and adopt_existing = false`},
		{"another mapping's account: held", []Entry{mike}, []Account{func() Account { a := unowned; a.Owner = "other"; return a }()}, true,
			[]string{}, `owned by mapping "other", has its e-mail`},
		{"two accounts with the e-mail: held", []Entry{mike}, []Account{unowned, {ID: "id-m2", Username: "mross", Email: "MIKE.ROSS@studio.test", Active: true}}, true,
			[]string{}, `ftrack accounts "mike.ross@studio.test", "mross" have its e-mail`},
		{"two directory users with one e-mail: held", []Entry{mike, entry("mross", "mike.ross@studio.test", "M", "R", "sid-x")}, nil, true,
			[]string{}, `directory users "mike", "mross" share the e-mail`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pol := DefaultPolicy()
			pol.AdoptExisting = tc.adopt
			p := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: tc.entries}}, &fakeMapper{name: "users"}, newTarget(tc.accounts...), pol))
			if got := strings.Join(changeLines(p), ","); got != strings.Join(tc.want, ",") {
				t.Fatalf("changes %q, want %q", got, tc.want)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tc.warning) {
				t.Errorf("no warning %q in %q", tc.warning, p.Warnings)
			}
			if len(tc.want) == 1 {
				c := p.Changes[0]
				if c.Reason != ReasonEmailMatchesDirectoryUser || *c.Before.Username != "mike.ross@studio.test" || *c.After.Username != "mike" || c.TargetID != "id-m" {
					t.Errorf("adopt %+v %s", c, c.Why())
				}
			}
		})
	}
}

// TestRenamedMapping: accounts owned by another mapping name that match
// directory users block the plan; declared as a previous name, they are
// handed over (re-marked, not counted as updates), leavers included.
func TestRenamedMapping(t *testing.T) {
	var entries []Entry
	var accounts []Account
	for _, u := range []string{"a1", "a2", "a3"} {
		entries = append(entries, entry(u, u+"@example.com", "A", u, "sid-"+u))
		a := owned("id-"+u, u, u+"@example.com", "A", u, "sid-"+u)
		a.Owner = "users"
		accounts = append(accounts, a)
	}
	gone := owned("id-gone", "gone", "gone@example.com", "G", "G", "sid-gone")
	gone.Owner = "users"
	accounts = append(accounts, gone)
	src := []Source{&fakeSource{name: "corp", entries: entries}}

	p := mustPlan(t, planReq(src, &fakeMapper{name: "studio"}, newTarget(accounts...), DefaultPolicy()))
	if !p.IsBlocked() || !strings.Contains(strings.Join(p.Blocked.Reasons, ";"), `3 ftrack accounts that match directory users are owned by mapping "users", not "studio"`) || len(p.Changes) != 0 {
		t.Fatalf("renamed mapping: blocked %+v, changes %q", p.Blocked, changeLines(p))
	}

	pol := DefaultPolicy()
	pol.MaxUpdates, _ = ParseLimit("0") // handovers write only the marker: not updates
	p = mustPlan(t, planReq(src, &fakeMapper{name: "studio", previous: []string{"users"}}, newTarget(accounts...), pol))
	want := "deactivate user.gone,adopt user.a1,adopt user.a2,adopt user.a3,adopt user.gone"
	if got := strings.Join(changeLines(p), ","); got != want || p.IsBlocked() {
		t.Fatalf("handover: %q (blocked %+v), want %q", got, p.Blocked, want)
	}
	for _, c := range p.Changes {
		if c.Action == ActionAdopt && (c.Reason != ReasonPreviousName || *c.Before.Owner != "users" || *c.After.Owner != "studio" || len(fieldNames(c.After)) != 1) {
			t.Errorf("handover change %+v", c)
		}
	}
}

// TestAPIUserIsNeverAdoptedByEmail: a directory user with the e-mail of
// the API user's (unowned) account is held, never joined to it.
func TestAPIUserIsNeverAdoptedByEmail(t *testing.T) {
	api := Account{ID: "id-api", Username: "ftrack-api", Email: "it@studio.test", Active: true}
	req := planReq([]Source{&fakeSource{name: "corp", entries: []Entry{entry("bob", "it@studio.test", "B", "B", "sid-b")}}}, &fakeMapper{name: "users"}, newTarget(api), DefaultPolicy())
	req.TargetUser = "ftrack-api"
	p := mustPlan(t, req)
	if len(p.Changes) != 0 || !strings.Contains(strings.Join(p.Warnings, "\n"), `is that of the API user ldapsync signs in as ("ftrack-api")`) {
		t.Fatalf("changes %q, warnings %q", changeLines(p), p.Warnings)
	}
}

// TestJoinIndexesOfUnjoinedUsers: the stable-id and e-mail indexes hold
// only the accounts the users without a username match can find
// (unjoined); over a directory where most users match by username and
// some are renamed, matched by e-mail, share an e-mail or meet several
// accounts with theirs, the join decides exactly as over full indexes.
func TestJoinIndexesOfUnjoinedUsers(t *testing.T) {
	mk := func() *view {
		v := &view{mapper: "users", held: map[string]holdReason{}, previous: map[string]bool{}}
		for i := range 300 {
			k := fmt.Sprintf("u%03d", i)
			u := User{Key: k, Username: k, Email: k + "@studio.test", SourceID: "sid-" + k}
			a := Account{ID: "id-" + k, Username: k, Email: u.Email, Owner: "users", SourceID: u.SourceID, Active: true}
			switch i % 10 {
			case 1: // renamed in the directory: found by stable id
				a.Username = "old" + k
			case 2: // an unowned account with its e-mail
				a.Username, a.Owner, a.SourceID = "mail"+k, "", ""
			case 3: // no account, the e-mail of a renamed user
				u.Email = fmt.Sprintf("u%03d@studio.test", i-2)
				a = Account{}
			case 4: // two accounts with its e-mail
				a.Username, a.Owner, a.SourceID = "x"+k, "", ""
				v.accounts = append(v.accounts, Account{ID: "id2-" + k, Username: "y" + k, Email: strings.ToUpper(u.Email), Active: true})
			case 5: // no account at all
				a = Account{}
			}
			v.desired = append(v.desired, u)
			if a.ID != "" {
				v.accounts = append(v.accounts, a)
			}
		}
		sortAccounts(v)
		return v
	}
	run := func(all bool) (string, map[string]holdReason) {
		joinIndexAll = all
		defer func() { joinIndexAll = false }()
		v := mk()
		res := &diffResult{missing: map[string]time.Time{}, foreign: map[string]int{}}
		j := join(v, res)
		var b strings.Builder
		for _, m := range j.matches {
			id := ""
			if m.account != nil {
				id = m.account.ID
			}
			fmt.Fprintf(&b, "%s>%s rename=%v email=%v\n", m.user.Key, id, m.rename, m.byEmail)
		}
		for _, a := range j.unmatched {
			fmt.Fprintf(&b, "unmatched %s\n", a.ID)
		}
		fmt.Fprintf(&b, "warnings %q owned %d\n", res.warnings, res.owned)
		return b.String(), v.held
	}
	got, gotHeld := run(false)
	want, wantHeld := run(true)
	if got != want {
		t.Errorf("join over the unjoined users' indexes:\n%s\nover full indexes:\n%s", got, want)
	}
	if !maps.Equal(gotHeld, wantHeld) {
		t.Errorf("held %v, want %v", gotHeld, wantHeld)
	}
	for _, w := range []string{"u011>id-u011 rename=true", "u012>id-u012 rename=false email=true", "share the e-mail", "have its e-mail"} {
		if !strings.Contains(got, w) {
			t.Errorf("the case %q is not exercised:\n%s", w, got)
		}
	}
}
