package ftrack

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// joinAccounts is ReadAccounts' join done the plain way, after every row
// is read: the reference the join done during the read must match.
func joinAccounts(users, metas, members, groups, types []map[string]any) []engine.Account {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	byID := map[string]int{}
	typeName := map[string]string{}
	for _, ut := range types {
		typeName[str(ut, "id")] = str(ut, "name")
	}
	accts := make([]engine.Account, 0, len(users))
	sort.Slice(users, func(i, j int) bool { return str(users[i], "id") < str(users[j], "id") })
	for i, u := range users {
		active, _ := u["is_active"].(bool)
		ut := str(u, "user_type_id")
		if n, ok := typeName[ut]; ok {
			ut = n
		}
		accts = append(accts, engine.Account{ID: str(u, "id"), Username: str(u, "username"), Email: str(u, "email"),
			FirstName: str(u, "first_name"), LastName: str(u, "last_name"), Active: active, UserType: ut})
		byID[str(u, "id")] = i
	}
	sort.Slice(metas, func(i, j int) bool {
		a, b := metas[i], metas[j]
		return str(a, "parent_id") < str(b, "parent_id") || str(a, "parent_id") == str(b, "parent_id") && str(a, "key") < str(b, "key")
	})
	for _, m := range metas {
		i, ok := byID[str(m, "parent_id")]
		if pt := str(m, "parent_type"); !ok || pt != "" && pt != "User" {
			continue
		}
		switch str(m, "key") {
		case MetaOwner:
			accts[i].Owner = str(m, "value")
		case MetaSourceID:
			accts[i].SourceID = str(m, "value")
		}
	}
	groupName := map[string]string{}
	for _, g := range groups {
		groupName[str(g, "id")] = str(g, "name")
	}
	sort.Slice(members, func(i, j int) bool { return str(members[i], "id") < str(members[j], "id") })
	for _, m := range members {
		i, ok := byID[str(m, "user_id")]
		name, gok := groupName[str(m, "group_id")]
		if !ok || !gok {
			continue
		}
		a := &accts[i]
		if a.Memberships == nil {
			a.Memberships = map[string]string{}
		}
		if _, dup := a.Memberships[name]; !dup {
			a.Memberships[name] = str(m, "id")
			a.Groups = append(a.Groups, name)
		}
	}
	for i := range accts {
		sort.Strings(accts[i].Groups)
	}
	sort.SliceStable(accts, func(i, j int) bool {
		a, b := strings.ToLower(accts[i].Username), strings.ToLower(accts[j].Username)
		return a < b || a == b && accts[i].ID < accts[j].ID
	})
	return accts
}

// TestReadAccountsJoinAnyPaging reads a site whose queries end at
// different times (more memberships than users, few metadata rows, a
// second site where metadata outlasts the users), with awkward rows
// (repeated group names, metadata keys ReadAccounts does not keep, upper
// and lower case usernames, ids not in username order), at page sizes from two rows to all in one page and through both
// decoders, and wants the plain join of every row each time.
func TestReadAccountsJoinAnyPaging(t *testing.T) {
	put := func(t *testing.T, s *ftracktest.Server, typ string, data map[string]any) {
		t.Helper()
		if err := s.Emulator.Put(typ, data); err != nil {
			t.Fatal(err)
		}
	}
	build := func(t *testing.T, users, metasPerUser, membersPerUser int) *ftracktest.Server {
		s := newServer(t)
		for g := range 4 {
			put(t, s, "Group", map[string]any{"id": fmt.Sprintf("g%d", g), "name": fmt.Sprintf("team%d", g%3)}) // g3 is a second team0
		}
		for i := range users {
			id := fmt.Sprintf("u%03d", (i*37)%users) // ids not in username order
			name := fmt.Sprintf("user%02d", i)
			if i%2 == 1 {
				name = strings.ToUpper(name) // before all lower-case names byte by byte, not folded
			}
			ut := ftracktest.UserTypeID([]string{"ftrack", "service", "demo"}[i%3])
			put(t, s, "User", map[string]any{"id": id, "username": name, "email": name + "@example.com",
				"first_name": "F", "last_name": fmt.Sprint(i), "is_active": i%4 != 0, "user_type_id": ut})
			keys := []string{MetaOwner, MetaSourceID, "other.key"}
			for k := range metasPerUser {
				put(t, s, "Metadata", map[string]any{"parent_id": id, "key": keys[k%len(keys)], "value": fmt.Sprintf("v%d-%d", i, k), "parent_type": "User"})
			}
			for k := range membersPerUser {
				put(t, s, "Membership", map[string]any{"id": fmt.Sprintf("m%03d-%d", (i*53)%users, k), "user_id": id, "group_id": fmt.Sprintf("g%d", (i+k)%4)})
			}
		}
		return s
	}
	for _, site := range []struct {
		name                         string
		users, metas, membersPerUser int
	}{
		{"memberships outlast users", 30, 1, 3},
		{"metadata outlasts users", 30, 3, 1},
		{"no metadata or memberships", 12, 0, 0},
	} {
		t.Run(site.name, func(t *testing.T) {
			s := build(t, site.users, site.metas, site.membersPerUser)
			want := joinAccounts(s.Emulator.Entities("User"), s.Emulator.Entities("Metadata"), s.Emulator.Entities("Membership"),
				s.Emulator.Entities("Group"), s.Emulator.Entities("UserType"))
			for _, page := range []int{2, 3, 5, 1000} {
				for _, noFlat := range []bool{false, true} {
					noFlatDecode = noFlat
					st := testSettings(s.URL)
					st.PageSize = page
					tg, err := NewTarget("studio", st)
					if err != nil {
						t.Fatal(err)
					}
					got, err := tg.ReadAccounts(context.Background())
					noFlatDecode = false
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("page size %d, noFlat %v: accounts differ from the plain join:\ngot  %+v\nwant %+v", page, noFlat, got, want)
					}
				}
			}
		})
	}
}
