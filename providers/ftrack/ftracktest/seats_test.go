package ftracktest

import (
	"net/http"
	"reflect"
	"testing"
)

func TestLicenceSeats(t *testing.T) {
	// Three seats: the API user's active User takes one.
	s := NewServer(Options{APIUser: testUser, APIKey: testKey, Seats: 3})
	t.Cleanup(s.Close)
	activeUser := func(name string) map[string]any {
		return map[string]any{"action": "create", "entity_type": "User", "entity_data": map[string]any{"id": name, "username": name, "is_active": true}}
	}
	call(t, s, activeUser("u1"), activeUser("u2")) // 3 of 3
	users := s.Emulator.Entities("User")
	roles := s.Emulator.Entities("UserSecurityRole")

	m := wantErr(t, s, ExcLicense, []string{"No user licence free: 3 of 3 seats are in use."}, activeUser("u3"))
	if m["error_code"] != nil {
		t.Errorf("error_code %v", m["error_code"])
	}
	status, _ := callErr(t, s, map[string]string{"ftrack-strict-api": "true"}, activeUser("u3"))
	if status != http.StatusForbidden {
		t.Errorf("strict status %d, want 403", status)
	}
	// The refused create left nothing, its default role included.
	if !reflect.DeepEqual(s.Emulator.Entities("User"), users) || !reflect.DeepEqual(s.Emulator.Entities("UserSecurityRole"), roles) {
		t.Errorf("a refused batch changed users or roles")
	}

	// An inactive user takes no seat; activating it needs one.
	call(t, s, create("User", map[string]any{"id": "u3", "username": "u3", "is_active": false}))
	wantErr(t, s, ExcLicense, []string{"3 of 3 seats"}, update("User", []any{"u3"}, map[string]any{"is_active": true}))
	// Setting is_active true on an active user activates nobody.
	call(t, s, update("User", []any{"u1"}, map[string]any{"is_active": true, "email": "u1@example.com"}))

	// Activation before the deactivation fails (operations count in
	// order); the deactivation first frees the seat.
	wantErr(t, s, ExcLicense, []string{"3 of 3 seats"},
		update("User", []any{"u3"}, map[string]any{"is_active": true}),
		update("User", []any{"u2"}, map[string]any{"is_active": false}))
	if u := s.Emulator.Entities("User"); !activeIs(u, "u2", true) || !activeIs(u, "u3", false) {
		t.Errorf("the refused batch changed users: %v", u)
	}
	call(t, s,
		update("User", []any{"u2"}, map[string]any{"is_active": false}),
		update("User", []any{"u3"}, map[string]any{"is_active": true}))
	if u := s.Emulator.Entities("User"); !activeIs(u, "u2", false) || !activeIs(u, "u3", true) {
		t.Errorf("deactivate-then-activate: %v", u)
	}
	// Deleting an active user frees its seat.
	call(t, s, del("User", "u3"), activeUser("u4"))

	// Seeded users are not counted against the seats when put; a site
	// over its seats still takes writes that activate nobody.
	mustPut(t, s.Emulator, "User", map[string]any{"id": "x1", "username": "x1", "is_active": true})
	call(t, s, update("User", []any{"u1"}, map[string]any{"is_active": false}), create("User", map[string]any{"username": "idle"}))
	wantErr(t, s, ExcLicense, []string{"No user licence free: 3 of 3 seats are in use."}, update("User", []any{"u1"}, map[string]any{"is_active": true}))

	// Without Seats, any number.
	free := newTestServer(t)
	for i := 0; i < 5; i++ {
		call(t, free, create("User", map[string]any{"username": "f" + string(rune('0'+i)), "is_active": true}))
	}
}

func activeIs(users []map[string]any, id string, active bool) bool {
	for _, u := range users {
		if u["id"] == id {
			return u["is_active"] == active
		}
	}
	return false
}
