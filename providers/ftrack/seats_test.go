package ftrack

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// TestReadAccountsReadsUserTypes reads every account's user type by name,
// through the flat decoder and the general one.
func TestReadAccountsReadsUserTypes(t *testing.T) {
	s := newServer(t)
	types := map[string]string{"alice": "ftrack", "svc-render": "service", "demo": "demo", "ldapuser": "ldap"}
	for name, ut := range types {
		if err := s.Emulator.Put("User", map[string]any{"id": uuid.NewString(), "username": name, "email": name + "@example.com",
			"first_name": "F", "last_name": "L", "is_active": true, "user_type_id": ftracktest.UserTypeID(ut)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, noFlat := range []bool{false, true} {
		noFlatDecode = noFlat
		accts, err := newTarget(t, s.URL).ReadAccounts(context.Background())
		noFlatDecode = false
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range withoutAPIUser(accts) {
			got[a.Username] = a.UserType
		}
		if fmt.Sprint(got) != fmt.Sprint(types) {
			t.Errorf("noFlat=%v: user types %v, want %v", noFlat, got, types)
		}
	}
}

// TestLicenceErrorIsNoSeats creates users on a site with two seats (the
// API user holds one): the first create fits, the others fail with an
// error that is ErrNoSeats and engine.ErrNoSeats, and nothing else
// does.
func TestLicenceErrorIsNoSeats(t *testing.T) {
	s := ftracktest.NewServer(ftracktest.Options{APIUser: testUser, APIKey: testKey, Seats: 2})
	t.Cleanup(s.Close)
	tg := newTarget(t, s.URL)
	ctx := context.Background()
	creates := []engine.Change{createChange("ann", "ann", "sid-1"), createChange("ben", "ben", "sid-2"), createChange("cid", "cid", "sid-3")}
	res := tg.Execute(ctx, creates)
	var ok, noSeats int
	for _, r := range res {
		switch {
		case r.Err == nil:
			ok++
		case errors.Is(r.Err, ErrNoSeats) && errors.Is(r.Err, engine.ErrNoSeats):
			noSeats++
		default:
			t.Errorf("%s: %v, want a seat error", r.Address, r.Err)
		}
	}
	if ok != 1 || noSeats != 2 {
		t.Fatalf("%d created, %d refused for seats; want 1 and 2 (results %v)", ok, noSeats, res)
	}
	if users := s.Emulator.Entities("User"); len(users) != siteUsers+1 {
		t.Errorf("%d users in ftrack, want the API user and one", len(users))
	}
	var other error = &APIError{Exception: "ValidationError", Status: 400}
	if errors.Is(other, engine.ErrNoSeats) || errors.Is(other, ErrNoSeats) {
		t.Error("a validation error reads as a seat error")
	}
}

// TestFlatUsersReadUserTypeID: the one-pass decoder takes user_type_id
// (resolved to the name by ReadAccounts), and a row without it goes to
// the general decoder.
func TestFlatUsersReadUserTypeID(t *testing.T) {
	accts := newAccountRows()
	dec := flatUsers(accts)
	row := `{"id":"u1","username":"svc","email":"","first_name":"","last_name":"","is_active":true%s}`
	pages, ok := scanPages([]byte(`[{"action":"query","data":[`+fmt.Sprintf(row, `,"user_type_id":"t-service"`)+`],"metadata":{"next":{"offset":null}}}]`), []flatDecoder{dec}, 0)
	if !ok {
		t.Fatal("the flat decoder refused a complete user row")
	}
	pages[0].commit(pages[0].rows)
	if accts.rows.len() != 1 || accts.rows.at(0).typeID != "t-service" || !accts.rows.at(0).active {
		t.Fatalf("decoded %+v", accts.rows.chunks)
	}
	if _, ok := scanPages([]byte(`[{"action":"query","data":[`+fmt.Sprintf(row, "")+`]}]`), []flatDecoder{dec}, 0); ok {
		t.Error("a user row without user_type_id was taken as complete")
	}
}
