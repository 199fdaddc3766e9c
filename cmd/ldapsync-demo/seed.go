package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

// noRedirects is the demo's HTTP client for the emulator: like the ftrack
// client it never follows a redirect, which would carry the API key to
// wherever Location points.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// seedFtrack gives the emulator the accounts a studio has before its first
// sync: an administrator (the API user ldapsync signs in as), two accounts
// an earlier ldapsync run manages (one with an outdated address, one for
// someone who has since left), and one created by hand for a person who
// is also in the directory.
//
// The emulator starts with a bare active User for its API user, as every
// site has one; the demo replaces it, under the same id, with one that has
// a name and an address.
func seedFtrack(e *ftracktest.Emulator) error {
	adminID := ftracktest.APIUserID(demoAPIUser)
	if err := e.Delete("User", adminID); err != nil {
		return err
	}
	users := []map[string]any{
		{"id": adminID, "username": demoAPIUser, "email": "it@example.com", "first_name": "Studio", "last_name": "Admin", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000002", "username": "asmith", "email": "alice.smith@old-domain.example.com", "first_name": "Alice", "last_name": "Smith", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000003", "username": "jdoe", "email": "jdoe@example.com", "first_name": "John", "last_name": "Doe", "is_active": true},
		{"id": "00000000-0000-4000-8000-000000000004", "username": "dobrien", "email": "dobrien@example.com", "first_name": "David", "last_name": "O'Brien", "is_active": true},
	}
	for _, u := range users {
		if err := e.Put("User", u); err != nil {
			return err
		}
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"} {
		if err := e.Put("Metadata", map[string]any{"parent_id": id, "parent_type": "User", "key": "ldapsync.owner", "value": "users"}); err != nil {
			return err
		}
	}
	return nil
}

// editByHand changes one attribute of a user through the ftrack API, as an
// administrator would in the ftrack web UI.
func editByHand(srv *ftracktest.Server, apiUser, apiKey, username, attr, value string) error {
	id := ""
	for _, u := range srv.Emulator.Entities("User") {
		if u["username"] == username {
			id = fmt.Sprint(u["id"])
		}
	}
	if id == "" {
		return fmt.Errorf("no ftrack user %q", username)
	}
	body, err := json.Marshal([]map[string]any{{
		"action": "update", "entity_type": "User", "entity_key": []string{id},
		"entity_data": map[string]any{"__entity_type__": "User", attr: value},
	}})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ftrack-user", apiUser)
	req.Header.Set("ftrack-api-key", apiKey)
	resp, err := noRedirects.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"exception"`)) {
		return fmt.Errorf("ftrack update: %s: %s", resp.Status, reply)
	}
	return nil
}

// listUsers prints the ftrack accounts as a small table.
func listUsers(e *ftracktest.Emulator) {
	owners := map[string]string{}
	for _, m := range e.Entities("Metadata") {
		if m["key"] == "ldapsync.owner" {
			owners[fmt.Sprint(m["parent_id"])] = fmt.Sprint(m["value"])
		}
	}
	users := e.Entities("User")
	sort.Slice(users, func(i, j int) bool { return fmt.Sprint(users[i]["username"]) < fmt.Sprint(users[j]["username"]) })
	fmt.Printf("\nftrack users now:\n")
	fmt.Printf("    %-10s %-36s %-22s %-7s %s\n", "username", "email", "name", "active", "managed by")
	for _, u := range users {
		name := strings.TrimSpace(fmt.Sprint(u["first_name"], " ", u["last_name"]))
		owner := owners[fmt.Sprint(u["id"])]
		if owner == "" {
			owner = "-"
		}
		fmt.Printf("    %-10s %-36s %-22s %-7v %s\n", u["username"], u["email"], name, u["is_active"], owner)
	}
}
