package ftrackstate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack/ftracktest"
)

const bigPlan = "3f2b8c1e-0000-4000-8000-0000000000bb"

// withBigJournal adds a journal entry of n outcomes (some failed, with
// errors) to la.
func withBigJournal(la *engine.LastApplied, n int) {
	p := engine.AppliedPlan{Status: engine.PlanInProgress, BaseSerial: la.Serial, Serial: la.Serial + 1,
		StartedAt: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), Outcomes: map[string]engine.Outcome{}, Errors: map[string]string{}}
	for i := range n {
		id := fmt.Sprintf("add_membership %q %q", fmt.Sprintf("user%05d", i), "Artists")
		p.Outcomes[id] = engine.OutcomeDone
		if i%97 == 0 {
			p.Outcomes[id] = engine.OutcomeFailed
			p.Errors[id] = "ftrack: ValidationError: näh " + strings.Repeat("€", i%50)
		}
	}
	la.Plans[bigPlan] = p
}

// keysWithPrefix lists the Metadata keys on the API user starting with p.
func keysWithPrefix(s *ftracktest.Server, p string) []string {
	var out []string
	for k := range metadata(s) {
		if k.parent == apiID() && strings.HasPrefix(k.key, p) {
			out = append(out, k.key)
		}
	}
	return out
}

func TestBigJournalIsChunked(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 2))
	withBigJournal(la, 5000)
	b := newBackend(t, s)
	roundTrip(t, b, la)
	chunks := keysWithPrefix(s, planPrefix+bigPlan+".")
	if len(chunks) < 5 {
		t.Fatalf("a journal of 5,000 outcomes is in %d chunks", len(chunks))
	}
	for k, v := range metadata(s) {
		if len(v) > maxChunk {
			t.Errorf("%s holds %d bytes, more than %d", k.key, len(v), maxChunk)
		}
	}
	// Growing it by a batch rewrites its end only.
	p := la.Plans[bigPlan]
	for i := range 50 {
		p.Outcomes[fmt.Sprintf("update %q", fmt.Sprintf("zz%03d", i))] = engine.OutcomeDone
	}
	s.Emulator.ResetStats()
	roundTrip(t, b, la)
	st := s.Emulator.Stats()
	if w := st.Actions["create"] + st.Actions["update"] + st.Actions["delete"]; w > 4 {
		t.Fatalf("growing a %d-chunk journal by 50 outcomes wrote %d operations", len(chunks), w)
	}
	// Pruned plans lose their keys.
	delete(la.Plans, bigPlan)
	roundTrip(t, b, la)
	if left := keysWithPrefix(s, planPrefix+bigPlan); len(left) > 0 {
		t.Fatalf("a plan's keys outlive it: %v", left)
	}
}

func TestOnlyTheNewestAppliedPlansAreKept(t *testing.T) {
	s := newServer(t)
	la := engine.NewLastApplied("l")
	for i := range keepApplied + 5 {
		la.Plans[fmt.Sprintf("plan-%03d", i)] = engine.AppliedPlan{Status: engine.PlanApplied, Serial: int64(i), Outcomes: map[string]engine.Outcome{}}
	}
	la.Plans["plan-unfinished"] = engine.AppliedPlan{Status: engine.PlanIncomplete, Serial: 0, Outcomes: map[string]engine.Outcome{}}
	b := newBackend(t, s)
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Plans) != keepApplied+1 {
		t.Fatalf("%d plans kept, want %d", len(got.Plans), keepApplied+1)
	}
	if _, ok := got.Plans["plan-004"]; ok {
		t.Fatal("an old applied plan was kept")
	}
	if _, ok := got.Plans["plan-unfinished"]; !ok {
		t.Fatal("an unfinished plan was dropped")
	}
	if n := len(keysWithPrefix(s, planPrefix)); n != keepApplied+1 {
		t.Fatalf("%d journal keys for %d plans (a header each, no outcomes)", n, keepApplied+1)
	}
}

// corrupted saves a state with a big journal, lets f damage it, and
// returns the error of a fresh Load.
func corrupted(t *testing.T, f func(s *ftracktest.Server, la *engine.LastApplied)) error {
	t.Helper()
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	withBigJournal(la, 3000)
	if err := newBackend(t, s).Save(la); err != nil {
		t.Fatal(err)
	}
	f(s, la)
	got, err := newBackend(t, s).Load()
	if err == nil {
		t.Fatalf("Load of a damaged state succeeded: %d users", len(got.Users))
	}
	if strings.ContainsAny(err.Error(), "\x00\x1b\r") {
		t.Fatalf("control characters in the error: %q", err)
	}
	return err
}

func firstKey(t *testing.T, s *ftracktest.Server, prefix string) string {
	t.Helper()
	keys := keysWithPrefix(s, prefix)
	if len(keys) == 0 {
		t.Fatalf("no key %s*", prefix)
	}
	return keys[0]
}

// leftOut saves a state of three users, lets f damage a per-user value,
// and returns a fresh Load's view and warnings: one bad row on one user
// is left out, said, and stops nothing.
func leftOut(t *testing.T, f func(s *ftracktest.Server, la *engine.LastApplied)) (*engine.LastApplied, []string) {
	t.Helper()
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	if err := newBackend(t, s).Save(la); err != nil {
		t.Fatal(err)
	}
	f(s, la)
	var warnings []string
	got, err := newBackend(t, s, WithOnWarning(func(w string) { warnings = append(warnings, w) })).Load()
	if err != nil {
		t.Fatalf("one damaged user record stopped Load: %v", err)
	}
	for _, w := range warnings {
		if strings.ContainsAny(w, "\x00\x1b\r") {
			t.Fatalf("control characters in a warning: %q", w)
		}
	}
	return got, warnings
}

func TestCorruptUserRecord(t *testing.T) {
	got, warnings := leftOut(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		setValue(t, s, la.Users["user00001"].TargetID, KeyLastApplied, "{\"key\":\x1b[31m")
	})
	if _, ok := got.Users["user00001"]; ok || len(got.Users) != 2 {
		t.Fatalf("users %v: want the damaged record left out and the others kept", got.Users)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], KeyLastApplied) || !strings.Contains(warnings[0], `"user00001"`) || !strings.Contains(warnings[0], `\x1b`) {
		t.Fatalf("the warning does not name the key and the user: %q", warnings)
	}
}

func TestCorruptMissingSince(t *testing.T) {
	got, warnings := leftOut(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		setValue(t, s, la.Users["user00001"].TargetID, KeyMissingSince, "yesterday\r\n")
	})
	if _, ok := got.Missing["user00001"]; ok || len(got.Users) != 3 {
		t.Fatalf("missing %v, %d users: want the clock left out, the record kept", got.Missing, len(got.Users))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], KeyMissingSince) || !strings.Contains(warnings[0], `"user00001"`) {
		t.Fatalf("%q", warnings)
	}
}

func TestMissingChunk(t *testing.T) {
	err := corrupted(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		if err := s.Emulator.Delete("Metadata", apiID(), firstKey(t, s, planPrefix+bigPlan+".")); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(err.Error(), "is missing") || !strings.Contains(err.Error(), bigPlan) {
		t.Fatalf("%v", err)
	}
}

func TestBadChunkChecksum(t *testing.T) {
	err := corrupted(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		k := firstKey(t, s, planPrefix+bigPlan+".")
		setValue(t, s, apiID(), k, strings.Replace(metadata(s)[metaKey{apiID(), k}], "done", "dona", 1))
	})
	if !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("%v", err)
	}
}

func TestBadWholeChecksum(t *testing.T) {
	// Chunks that each match their key but are not the blob the header
	// names: a header from one version, chunks of another.
	err := corrupted(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		hk := planPrefix + bigPlan
		var h planHeader
		if err := unmarshalStrict([]byte(metadata(s)[metaKey{apiID(), hk}]), &h); err != nil {
			t.Fatal(err)
		}
		h.Outcomes.Chunks[0], h.Outcomes.Chunks[1] = h.Outcomes.Chunks[1], h.Outcomes.Chunks[0]
		v, _ := marshal(h)
		setValue(t, s, apiID(), hk, string(v))
	})
	if !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "torn") {
		t.Fatalf("%v", err)
	}
}

func TestCorruptSiteRecord(t *testing.T) {
	err := corrupted(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		setValue(t, s, apiID(), KeyState, "\x00garbage")
	})
	if !strings.Contains(err.Error(), KeyState) || !strings.Contains(err.Error(), "the API user") {
		t.Fatalf("%v", err)
	}
}

func TestForgedRecordIsReturnedAsItIs(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 3))
	b := newBackend(t, s)
	if err := b.Save(la); err != nil {
		t.Fatal(err)
	}
	victim := la.Users["user00002"].TargetID
	forged := map[string]string{
		"another key":      `{"key":"user00000","username":"evil","email":"\u0000\u001b[2J","active":false,"groups":["Admins"]}`,
		"no key":           `{"username":"Mallory","active":true}`,
		"unknown members":  `{"key":"user00002","username":"user00002","extra":{"deep":[1,2,3]},"active":true}`,
		"wrong types":      `{"key":"user00002","username":5}`,
		"not an object":    `[1,2,3]`,
		"empty":            ``,
		"nothing to key":   `{}`,
		"trailing garbage": `{"key":"user00002","username":"x"} {"key":"y"}`,
	}
	for name, v := range forged {
		setValue(t, s, victim, KeyLastApplied, v)
		var warnings []string
		got, err := newBackend(t, s, WithOnWarning(func(w string) { warnings = append(warnings, w) })).Load()
		switch name {
		case "another key":
			// Two users claim user00000: neither record is believed.
			if _, ok := got.Users["user00000"]; err != nil || ok || len(warnings) != 1 || !strings.Contains(warnings[0], "all claim it") {
				t.Fatalf("%s: %v %+v %q", name, err, got, warnings)
			}
		case "no key":
			if err != nil || got.Users["mallory"].TargetID != victim {
				t.Fatalf("%s: %v", name, err)
			}
		case "unknown members":
			if err != nil || got.Users["user00002"].TargetID != victim {
				t.Fatalf("%s: %v", name, err)
			}
		default:
			if _, ok := got.Users["user00002"]; err != nil || ok || len(warnings) != 1 || !strings.Contains(warnings[0], KeyLastApplied) {
				t.Fatalf("%s: Load = %v, warnings %q", name, err, warnings)
			}
		}
	}
	// Two users claiming one key: neither is believed, and a Save repairs
	// both from the view it is given.
	setValue(t, s, victim, KeyLastApplied, `{"key":"user00000","username":"twin"}`)
	b2 := newBackend(t, s)
	got, err := b2.Load()
	if err != nil || len(got.Users) != 1 {
		t.Fatalf("two claims of one key: %v, %d users", err, len(got.Users))
	}
	roundTrip(t, b2, la)
	if reflect.DeepEqual(metadata(s)[metaKey{victim, KeyLastApplied}], "") {
		t.Fatal("the repaired record is gone")
	}
}

func TestHugeValueRejected(t *testing.T) {
	got, warnings := leftOut(t, func(s *ftracktest.Server, la *engine.LastApplied) {
		setValue(t, s, la.Users["user00000"].TargetID, KeyLastApplied, `{"key":"user00000","username":"`+strings.Repeat("A", MaxValueBytes)+`"}`)
	})
	if _, ok := got.Users["user00000"]; ok {
		t.Fatal("a record over the size limit was read")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "more than the 1048576") || !strings.Contains(warnings[0], `"user00000"`) || len(warnings[0]) > 2000 {
		t.Fatalf("%.300q", warnings)
	}
}

func TestHugeRecordGoesToTheOverflow(t *testing.T) {
	s := newServer(t)
	la := sample(t, putUsers(t, s, 2))
	u := la.Users["user00000"]
	for i := range 3000 {
		u.Groups = append(u.Groups, fmt.Sprintf("group-%05d", i))
	}
	la.Users["user00000"] = u
	roundTrip(t, newBackend(t, s), la)
	for k, v := range metadata(s) {
		if len(v) > maxChunk {
			t.Errorf("%s holds %d bytes", k.key, len(v))
		}
	}
	if _, ok := metadata(s)[metaKey{u.TargetID, KeyLastApplied}]; ok {
		t.Error("a record above the bound was written beside its user")
	}
}
