package ftracktest

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestAPIUserAtStartUp: like a real site, the emulator has an active User
// for its API user from the start, and keeps one through Reset and Load.
func TestAPIUserAtStartUp(t *testing.T) {
	e := New(Options{APIUser: testUser, APIKey: testKey})
	start := e.Entities("User")
	if len(start) != 1 || start[0]["id"] != APIUserID(testUser) || start[0]["username"] != testUser || start[0]["is_active"] != true {
		t.Fatalf("users at start-up: %v, want one active %s with id %s", start, testUser, APIUserID(testUser))
	}
	if err := e.Put("User", map[string]any{"username": strings.ToUpper(testUser)}); err == nil {
		t.Error("a second user with the API user's username was accepted")
	}

	// Deleted, the name is free for an account of the test's choosing.
	if err := e.Delete("User", APIUserID(testUser)); err != nil {
		t.Fatal(err)
	}
	mustPut(t, e, "User", map[string]any{"id": "own", "username": testUser, "is_active": true})

	mustPut(t, e, "User", map[string]any{"id": "u1", "username": "someone"})
	e.Reset()
	if got := e.Entities("User"); !reflect.DeepEqual(got, start) {
		t.Errorf("after Reset: %v, want %v", got, start)
	}

	// A data file without the API user gets it; one that has it (here
	// deactivated, under another id) keeps its own.
	dir := t.TempDir()
	without := filepath.Join(dir, "without.json")
	if err := writeFile(without, `{"entities":{"User":[{"id":"u1","username":"someone"}]}}`); err != nil {
		t.Fatal(err)
	}
	if err := e.Load(without); err != nil {
		t.Fatal(err)
	}
	if got := jsUsernames(e.Entities("User")); got != testUser+",someone" {
		t.Errorf("after loading a file without the API user: %s", got)
	}
	with := filepath.Join(dir, "with.json")
	if err := writeFile(with, `{"entities":{"User":[{"id":"u2","username":"API@example.com","is_active":false}]}}`); err != nil {
		t.Fatal(err)
	}
	if err := e.Load(with); err != nil {
		t.Fatal(err)
	}
	if got := e.Entities("User"); len(got) != 1 || got[0]["id"] != "u2" || got[0]["is_active"] != false {
		t.Errorf("after loading a file with the API user: %v, want only the file's", got)
	}

	if got := New(Options{}).Entities("User"); len(got) != 0 {
		t.Errorf("without an API user configured: %v, want no users", got)
	}
	if a, b := APIUserID("a@example.com"), APIUserID("b@example.com"); a == b || !uuidRE.MatchString(a) {
		t.Errorf("APIUserID gives %q and %q, want distinct UUIDs", a, b)
	}
}
