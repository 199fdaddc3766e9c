package ftrackstate

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
)

// userRecord is the value of ldapsync.last_applied: an engine.AppliedUser
// without its TargetID (the Metadata's parent is the user) and with the
// join key the state files it under.
type userRecord struct {
	Key       string   `json:"key"`
	SourceID  string   `json:"source_id,omitempty"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Active    bool     `json:"active"`
	Groups    []string `json:"groups,omitempty"`
	// Roles, Custom and UserType are left out when empty, so records of
	// configurations without them are written as before.
	Roles    []string          `json:"roles,omitempty"`
	Custom   map[string]string `json:"custom_attributes,omitempty"`
	UserType string            `json:"user_type,omitempty"`
}

func encodeUser(key string, u engine.AppliedUser) (string, error) {
	b, err := marshal(userRecord{Key: key, SourceID: u.SourceID, Username: u.Username, Email: u.Email,
		FirstName: u.FirstName, LastName: u.LastName, Active: u.Active, Groups: u.Groups,
		Roles: u.Roles, Custom: u.Custom, UserType: u.UserType})
	return string(b), err
}

func decodeUser(parent, value string) (string, engine.AppliedUser, error) {
	var r userRecord
	if err := unmarshalStrict([]byte(value), &r); err != nil {
		return "", engine.AppliedUser{}, err
	}
	key := r.Key
	if key == "" {
		key = strings.ToLower(r.Username)
	}
	if key == "" {
		return "", engine.AppliedUser{}, fmt.Errorf("it names neither a key nor a username")
	}
	return key, engine.AppliedUser{TargetID: parent, SourceID: r.SourceID, Username: r.Username, Email: r.Email,
		FirstName: r.FirstName, LastName: r.LastName, Active: r.Active, Groups: r.Groups,
		Roles: r.Roles, Custom: r.Custom, UserType: r.UserType}, nil
}

// root is the value of ldapsync.state, the site record: written last by
// every Save, it is what makes the state exist.
type root struct {
	FormatVersion string  `json:"format_version"`
	Lineage       string  `json:"lineage"`
	Serial        int64   `json:"serial"`
	Body          blobRef `json:"body"`
}

// body is the site record's blob (chunks ldapsync.state.HASH): the
// managed groups and roles, the journal's plan ids newest first, and the entries of
// users and missing that have no user to live on (overflow).
type body struct {
	ManagedGroups []string                      `json:"managed_groups,omitempty"`
	ManagedRoles  []string                      `json:"managed_roles,omitempty"`
	Plans         []string                      `json:"plans"`
	Users         map[string]engine.AppliedUser `json:"users,omitempty"`
	Missing       map[string]time.Time          `json:"missing,omitempty"`
}

// planHeader is the value of ldapsync.plan.NAME: one journal entry without
// its outcomes, and the reference of the blob of its outcome lines
// (chunks ldapsync.plan.NAME.HASH).
type planHeader struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	BaseSerial int64     `json:"base_serial"`
	Serial     int64     `json:"serial"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Outcomes   blobRef   `json:"outcomes"`
}

// planName is the part of a plan's keys that names it: the plan id when
// it is an ftrack-style UUID (engine plan ids are), else "h" and a hash
// of it, so that no plan id can make a key that is not a plain name.
func planName(id string) string {
	if ftrack.IsID(id) {
		return id
	}
	return "h" + chunkHash([]byte(id))
}

// planLines encodes a journal entry's outcomes as lines, one per change
// id: ["ID","OUTCOME"] or ["ID","OUTCOME","ERROR"]. The ids in order (the
// order of the stored journal) come first, as they were, then the new
// ones sorted: a journal that grows by a batch changes only at its end.
func planLines(p engine.AppliedPlan, order []string) (lines [][]byte, cuts []bool, ids []string, err error) {
	seen := map[string]bool{}
	for _, id := range order {
		_, o := p.Outcomes[id]
		_, e := p.Errors[id]
		if (o || e) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var fresh []string
	for id := range p.Outcomes {
		if !seen[id] {
			seen[id] = true
			fresh = append(fresh, id)
		}
	}
	for id := range p.Errors {
		if !seen[id] {
			seen[id] = true
			fresh = append(fresh, id)
		}
	}
	sort.Strings(fresh)
	ids = append(ids, fresh...)
	for _, id := range ids {
		line := []string{id, string(p.Outcomes[id])}
		if e, ok := p.Errors[id]; ok {
			line = append(line, e)
		}
		b, err := marshal(line)
		if err != nil {
			return nil, nil, nil, err
		}
		lines = append(lines, append(b, '\n'))
		cuts = append(cuts, lineCut(id))
	}
	return lines, cuts, ids, nil
}

// parsePlanLines decodes outcome lines into p and returns the ids in
// their stored order.
func parsePlanLines(data []byte, p *engine.AppliedPlan) ([]string, error) {
	p.Outcomes = map[string]engine.Outcome{}
	var ids []string
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		var f []string
		if err := json.Unmarshal([]byte(line), &f); err != nil || len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("line %d is not [\"change id\", \"outcome\"(, \"error\")]", n+1)
		}
		ids = append(ids, f[0])
		if f[1] != "" {
			p.Outcomes[f[0]] = engine.Outcome(f[1])
		}
		if len(f) == 3 {
			if p.Errors == nil {
				p.Errors = map[string]string{}
			}
			p.Errors[f[0]] = f[2]
		}
	}
	return ids, nil
}

// keepApplied is how many applied plans the journal keeps, as the engine
// does (engine.prunePlans): unfinished plans are always kept, to resume.
const keepApplied = 50

// planOrder returns the ids of la's plans to store, newest first (by
// serial, then start, then id), without applied plans beyond the
// keepApplied newest.
func planOrder(plans map[string]engine.AppliedPlan) []string {
	ids := make([]string, 0, len(plans))
	for id := range plans {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := plans[ids[i]], plans[ids[j]]
		if a.Serial != b.Serial {
			return a.Serial > b.Serial
		}
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.After(b.StartedAt)
		}
		return ids[i] < ids[j]
	})
	applied := 0
	return slices.DeleteFunc(ids, func(id string) bool {
		if plans[id].Status != engine.PlanApplied {
			return false
		}
		applied++
		return applied > keepApplied
	})
}

// quote shows a value read from ftrack in a message: quoted, control
// characters escaped, cut at 120 bytes.
func quote(s string) string {
	if len(s) > 120 {
		cut := 120
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		return strconv.QuoteToASCII(s[:cut]) + "…"
	}
	return strconv.QuoteToASCII(s)
}
