package httpstate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/httpstate"
	"github.com/ldapsync/ldapsync/state/httpstate/httpstatetest"
)

// fast are retry settings that keep the tests quick.
func fast(s httpstate.Settings) httpstate.Settings {
	s.RetryWaitMin, s.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	return s
}

func newBackend(t *testing.T, s httpstate.Settings, opts ...httpstate.Option) *httpstate.Backend {
	t.Helper()
	opts = append([]httpstate.Option{httpstate.WithLockPollInterval(20 * time.Millisecond), httpstate.WithLineageGenerator(func() string { return "lineage-test" })}, opts...)
	b, err := httpstate.New(fast(s), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gitlab is a backend for srv configured as for GitLab: POST and DELETE
// on the /lock address.
func gitlab(t *testing.T, srv *httpstatetest.Server, opts ...httpstate.Option) *httpstate.Backend {
	return newBackend(t, httpstate.Settings{Address: srv.URL(), LockAddress: srv.LockURL(), LockMethod: "POST", UnlockMethod: "DELETE"}, opts...)
}

func sample(la *engine.LastApplied) *engine.LastApplied {
	la.Serial++
	la.Users["alice"] = engine.AppliedUser{TargetID: "id-a", Username: "alice", Email: "a@example.com", Active: true, Groups: []string{"Artists"}}
	la.Missing = map[string]time.Time{"bob": time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	la.Plans["p1"] = engine.AppliedPlan{Status: engine.PlanApplied, Serial: la.Serial, Outcomes: map[string]engine.Outcome{"create user.alice": engine.OutcomeDone}}
	return la
}

func marshal(t *testing.T, la *engine.LastApplied) string {
	t.Helper()
	b, err := state.Marshal(la)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wrapper decodes the server's document's wrapper members.
type wrapper struct {
	FormatVersion string          `json:"format_version"`
	Lineage       string          `json:"lineage"`
	Serial        int64           `json:"serial"`
	Ldapsync      json.RawMessage `json:"ldapsync"`
}

func stored(t *testing.T, srv *httpstatetest.Server) wrapper {
	t.Helper()
	var w wrapper
	if err := json.Unmarshal(srv.State(), &w); err != nil {
		t.Fatalf("stored document: %v\n%s", err, srv.State())
	}
	return w
}

func TestLoadOfNothing(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	for range 2 {
		la, err := b.Load()
		if err != nil {
			t.Fatal(err)
		}
		if la.Exists || la.Lineage != "lineage-test" || la.Serial != 0 || len(la.Users) != 0 || la.Users == nil || la.Plans == nil {
			t.Fatalf("empty state: %+v", la)
		}
	}
	if srv.State() != nil {
		t.Error("Load stored something")
	}
	if b.Type() != "http" || b.Describe() != "http state "+srv.URL() {
		t.Errorf("Type %q, Describe %q", b.Type(), b.Describe())
	}
}

func TestSaveLoadRoundTripAndWriteSerial(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	la, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	la = sample(la)
	for i := 1; i <= 3; i++ { // an apply saves several snapshots of one apply serial
		if err := b.Save(la); err != nil {
			t.Fatal(err)
		}
		if w := stored(t, srv); w.Serial != int64(i) || w.Lineage != la.Lineage || w.FormatVersion != "1.0" {
			t.Fatalf("write %d: wrapper %+v", i, w)
		}
	}
	if got := fmt.Sprint(srv.Serials()); got != "[1 2 3]" {
		t.Errorf("versions %s, want [1 2 3]", got)
	}
	w := stored(t, srv)
	inner, err := state.Unmarshal(w.Ldapsync)
	if err != nil || inner.Serial != 1 {
		t.Fatalf("the ldapsync member: %+v, %v", inner, err)
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPost && r.Path == strings.TrimPrefix(srv.URL(), base(srv)) && (r.ContentMD5 == "" || r.ContentType != "application/json") {
			t.Errorf("save without Content-MD5 or Content-Type: %+v", r)
		}
	}

	// Another backend (a later run) reads it back and goes on counting.
	b2 := gitlab(t, srv)
	got, err := b2.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Exists || marshal(t, got) != marshal(t, la) {
		t.Fatalf("round trip:\n%s\nwant\n%s", marshal(t, got), marshal(t, la))
	}
	got.Serial++
	if err := b2.Save(got); err != nil {
		t.Fatal(err)
	}
	if w := stored(t, srv); w.Serial != 4 {
		t.Errorf("write serial %d after a Load of 3", w.Serial)
	}
	// A Save without a Load reads the serial first.
	b3 := gitlab(t, srv)
	if err := b3.Save(got); err != nil {
		t.Fatal(err)
	}
	if w := stored(t, srv); w.Serial != 5 {
		t.Errorf("write serial %d for a Save without Load after 4", w.Serial)
	}
}

func TestSaveSendsLockIDWhileLocked(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func(t *testing.T) (*httpstatetest.Server, *httpstate.Backend)
	}{
		{"terraform-default-methods", func(t *testing.T) (*httpstatetest.Server, *httpstate.Backend) {
			srv := httpstatetest.NewServer(t)
			return srv, newBackend(t, httpstate.Settings{Address: srv.URL()})
		}},
		{"gitlab", func(t *testing.T) (*httpstatetest.Server, *httpstate.Backend) {
			srv := httpstatetest.NewServer(t)
			return srv, gitlab(t, srv)
		}},
		{"custom-methods", func(t *testing.T) (*httpstatetest.Server, *httpstate.Backend) {
			srv := httpstatetest.NewServer(t, httpstatetest.WithLockMethods("ACQUIRE", "RELEASE"))
			return srv, newBackend(t, httpstate.Settings{Address: srv.URL(), LockMethod: "ACQUIRE", UnlockMethod: "RELEASE", UpdateMethod: "PUT"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, b := tc.srv(t)
			info := state.NewLockInfo("apply", "test")
			unlock, err := b.Lock(context.Background(), info, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if h, ok := srv.Holder(); !ok || h.ID != info.ID || h.Who != info.Who || h.Operation != "apply" {
				t.Fatalf("holder %+v, %v; want %+v", h, ok, info)
			}
			la, err := b.Load()
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Save(sample(la)); err != nil {
				t.Fatal(err) // the server refuses a write without the holder's ID
			}
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
			if _, ok := srv.Holder(); ok {
				t.Fatal("still locked after unlock")
			}
			if err := b.Save(la); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range srv.Requests() {
				if r.Method == http.MethodPost || r.Method == http.MethodPut {
					if r.Path == strings.TrimPrefix(srv.URL(), base(srv)) {
						ids = append(ids, r.Query.Get("ID"))
					}
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint([]string{info.ID, ""}) {
				t.Errorf("?ID= of the saves: %q, want [%s, none]", ids, info.ID)
			}
		})
	}
}

func TestTwoRunsLock(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	first, second := gitlab(t, srv), gitlab(t, srv)
	a := state.NewLockInfo("apply", "test")
	a.Who = "first@host"
	unlockA, err := first.Lock(context.Background(), a, time.Second)
	if err != nil {
		t.Fatal(err)
	}

	// With a short timeout the second gives up, naming the holder.
	b := state.NewLockInfo("apply", "test")
	_, err = second.Lock(context.Background(), b, 0)
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.ID != a.ID || le.Holder.Who != "first@host" {
		t.Fatalf("Lock while held: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{a.ID, "first@host", "http state " + srv.URL(), "Wait for it to finish", "ldapsync state force-unlock " + a.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}

	// With time to wait, it takes the lock once the first lets go.
	done := make(chan error, 1)
	var unlockB func() error
	go func() {
		var err error
		unlockB, err = second.Lock(context.Background(), b, time.Minute)
		done <- err
	}()
	waitFor(t, func() bool { return refusals(srv) >= 2 }) // the first and the waiting one's refusals
	if err := unlockA(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h, _ := srv.Holder(); h.ID != b.ID {
		t.Errorf("holder %s, want the second's %s", h.ID, b.ID)
	}
	if err := unlockB(); err != nil {
		t.Fatal(err)
	}

	// A cancelled wait says so.
	if !srv.Hold(a) {
		t.Fatal("held")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, func() bool { return refusals(srv) >= 4 })
		cancel()
	}()
	if _, err := second.Lock(ctx, b, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Lock: %v", err)
	}
}

// refusals counts the server's 423 answers.
func refusals(srv *httpstatetest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Status == http.StatusLocked {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Error("condition not reached in 30s")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForceUnlock(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	other := state.LockInfo{ID: "left-behind-1", Operation: "apply", Who: "ci@runner-7"}
	srv.Hold(other)
	err := b.ForceUnlock(context.Background(), "wrong-id")
	if err == nil || !strings.Contains(err.Error(), "left-behind-1") || !strings.Contains(err.Error(), "wrong-id") {
		t.Fatalf("force-unlock with a wrong ID: %v", err)
	}
	if _, ok := srv.Holder(); !ok {
		t.Fatal("a wrong ID released the lock")
	}
	if err := b.ForceUnlock(context.Background(), "left-behind-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Holder(); ok {
		t.Fatal("force-unlock did not release the lock")
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	var sent state.LockInfo
	if last.Method != http.MethodDelete || json.Unmarshal(last.Body, &sent) != nil || sent.ID != "left-behind-1" {
		t.Errorf("force-unlock sent %s %s", last.Method, last.Body)
	}
	// A lock this run held and lost: its release says so.
	unlock, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	srv.Release()
	srv.Hold(other)
	if err := unlock(); err == nil || !strings.Contains(err.Error(), "left-behind-1") {
		t.Errorf("release of a lost lock: %v", err)
	}
}

func TestSaveRefusedWhenLockedByAnother(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	la, _ := b.Load()
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	before := srv.State()
	srv.Hold(state.LockInfo{ID: "someone-else", Operation: "apply", Who: "x@y"})
	err := b.Save(la)
	if err == nil || !strings.Contains(err.Error(), "someone-else") || !strings.Contains(err.Error(), "holds no lock") {
		t.Fatalf("save while another holds the lock: %v", err)
	}
	if !bytes.Equal(srv.State(), before) {
		t.Error("the state changed")
	}
}

func TestBasicAuth(t *testing.T) {
	const pass = "s3cret-Pa55word"
	srv := httpstatetest.NewServer(t, httpstatetest.WithBasicAuth("gitlab-ci-token", pass))
	good := newBackend(t, httpstate.Settings{Address: srv.URL(), Username: "gitlab-ci-token", Password: pass})
	la, err := good.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	bad := newBackend(t, httpstate.Settings{Address: srv.URL(), Username: "gitlab-ci-token", Password: pass + "-wrong"})
	_, err = bad.Load()
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "gitlab-ci-token") || !strings.Contains(err.Error(), "check username and password") {
		t.Fatalf("wrong password: %v", err)
	}
	errs := []error{err, bad.Save(la)}
	_, err = bad.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	errs = append(errs, err, bad.ForceUnlock(context.Background(), "x"))
	none := newBackend(t, httpstate.Settings{Address: srv.URL()})
	_, err = none.Load()
	if err == nil || !strings.Contains(err.Error(), "set username and password") {
		t.Errorf("no credentials: %v", err)
	}
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), pass) {
			t.Errorf("error %v", err)
		}
	}
	if s := fmt.Sprint(httpstate.Settings{Address: srv.URL(), Password: pass}); strings.Contains(s, pass) {
		t.Errorf("Settings print the password: %s", s)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	var retries []string
	b := gitlab(t, srv, httpstate.WithOnRetry(func(attempt, max int, wait time.Duration, cause error) {
		retries = append(retries, fmt.Sprintf("%d/%d %v", attempt, max, cause))
	}))
	srv.FailNext(http.StatusServiceUnavailable)
	la, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(http.StatusBadGateway)
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(http.StatusInternalServerError)
	unlock, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(http.StatusInternalServerError)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	want := []string{"503 Service Unavailable", "502 Bad Gateway", "500 Internal Server Error", "500 Internal Server Error"}
	if len(retries) != len(want) {
		t.Fatalf("retries %q", retries)
	}
	for i, w := range want {
		if !strings.HasPrefix(retries[i], "1/2 ") || !strings.Contains(retries[i], w) {
			t.Errorf("retry %d: %q, want 1/2 … %s", i, retries[i], w)
		}
	}
	if w := stored(t, srv); w.Serial != 1 {
		t.Errorf("serial %d after one save", w.Serial)
	}

	// Without retries, the 5xx is the error.
	none := newBackend(t, httpstate.Settings{Address: srv.URL(), RetryMax: -1})
	srv.FailNext(http.StatusServiceUnavailable)
	if _, err := none.Load(); err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("Load on 503 without retries: %v", err)
	}
	// Past the retries too.
	for range 3 {
		srv.FailNext(http.StatusServiceUnavailable)
	}
	if _, err := gitlab(t, srv).Load(); err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("Load on three 503s: %v", err)
	}
}

func TestForeignDocumentsAreRefusedAndKept(t *testing.T) {
	terraform := []byte(`{"version":4,"terraform_version":"1.11.4","serial":3,"lineage":"tf-lineage","outputs":{},"resources":[],"check_results":null}`)
	bare, _ := state.Marshal(sample(engine.NewLastApplied("bare")))
	for _, tc := range []struct {
		name string
		doc  []byte
		want []string
	}{
		{"terraform", terraform, []string{"a Terraform state", `terraform_version "1.11.4"`, "serial 3", "will not read or overwrite it"}},
		{"bare-state-file", bare, []string{"bare ldapsync state file", `"ldapsync": <the state file>`}},
		{"other-object", []byte(`{"a":1,"b\u001b[31m":2}`), []string{`"a"`, `"b\x1b[31m"`, `no "ldapsync" member`}},
		{"not-json", []byte("{not json"), []string{"is corrupt", "not valid JSON"}},
		{"array", []byte("[1,2]"), []string{"is corrupt", "not an object (an array)"}},
		{"no-serial", []byte(`{"format_version":"1.0","lineage":"l","ldapsync":{}}`), []string{"is corrupt", "no serial"}},
		{"bad-serial", []byte(`{"format_version":"1.0","lineage":"l","serial":1.5,"ldapsync":{}}`), []string{"is corrupt", "serial is not a whole number"}},
		{"inner-corrupt", []byte(`{"format_version":"1.0","lineage":"l","serial":1,"ldapsync":{"format_version":"1.0"}}`), []string{"is corrupt", "no lineage"}},
		{"lineages-differ", []byte(`{"format_version":"1.0","lineage":"l","serial":1,"ldapsync":{"format_version":"1.0","lineage":"m"}}`), []string{"is corrupt", `lineage "l"`, `lineage "m" differ`}},
		{"newer", []byte(`{"format_version":"2.0","lineage":"l","serial":1,"ldapsync":{}}`), []string{"newer than this ldapsync understands", "upgrade ldapsync"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httpstatetest.NewServer(t)
			srv.Put(tc.doc)
			b := gitlab(t, srv)
			_, err := b.Load()
			if err == nil {
				t.Fatal("Load accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.ContainsAny(err.Error(), "\x1b\n") {
				t.Errorf("raw control characters: %q", err)
			}
			if err := b.Save(sample(engine.NewLastApplied("mine"))); err == nil {
				t.Error("Save overwrote it")
			}
			if err := gitlab(t, srv).Save(sample(engine.NewLastApplied("mine"))); err == nil {
				t.Error("Save without Load overwrote it")
			}
			if !bytes.Equal(srv.State(), tc.doc) {
				t.Errorf("the document changed: %s", srv.State())
			}
			for _, r := range srv.Requests() {
				if r.Method != http.MethodGet {
					t.Errorf("a %s was sent", r.Method)
				}
			}
		})
	}
}

func TestOtherLineageIsRefused(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	la, _ := b.Load()
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	before := srv.State()
	if err := b.Save(sample(engine.NewLastApplied("another"))); err == nil || !strings.Contains(err.Error(), `lineage "lineage-test"`) {
		t.Errorf("save of another lineage: %v", err)
	}
	// A state stored between a Load of nothing and the first Save is seen.
	srv2 := httpstatetest.NewServer(t)
	late := gitlab(t, srv2)
	la2, _ := late.Load()
	srv2.Put(before)
	la2.Lineage = "new-one"
	if err := late.Save(sample(la2)); err == nil {
		t.Error("a Save after a Load of nothing replaced a state stored since")
	}
	if !bytes.Equal(srv.State(), before) || !bytes.Equal(srv2.State(), before) {
		t.Error("the state changed")
	}
}

func TestUnknownMembersSurviveSave(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	srv.Put([]byte(`{"format_version":"1.3","lineage":"L","serial":9,"x_later":{"k":[1,2]},
	  "ldapsync":{"format_version":"1.2","lineage":"L","serial":4,"users":{},"plans":{},"future_field":"kept"}}`))
	b := gitlab(t, srv)
	la, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	if la.Serial != 4 || la.Lineage != "L" {
		t.Fatalf("loaded %+v", la)
	}
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		wrapper
		XLater json.RawMessage `json:"x_later"`
	}
	if err := json.Unmarshal(srv.State(), &doc); err != nil {
		t.Fatal(err)
	}
	var inner struct {
		Future string `json:"future_field"`
		Serial int64  `json:"serial"`
	}
	_ = json.Unmarshal(doc.Ldapsync, &inner)
	if doc.Serial != 10 || doc.FormatVersion != "1.0" || compact(doc.XLater) != `{"k":[1,2]}` || inner.Future != "kept" || inner.Serial != 5 {
		t.Errorf("saved:\n%s", srv.State())
	}
}

func compact(b []byte) string {
	var out bytes.Buffer
	_ = json.Compact(&out, b)
	return out.String()
}

func TestServerWithoutLocking(t *testing.T) {
	srv := httpstatetest.NewServer(t, httpstatetest.WithoutLocking())
	b := newBackend(t, httpstate.Settings{Address: srv.URL()})
	_, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "does not lock") || !strings.Contains(err.Error(), "405 Method Not Allowed") || !strings.Contains(err.Error(), `lock_address = ""`) {
		t.Fatalf("Lock on a server that does not lock: %v", err)
	}
	// Locking turned off on purpose: no lock requests at all.
	off := newBackend(t, httpstate.Settings{Address: srv.URL(), DisableLocking: true})
	unlock, err := off.Lock(context.Background(), state.NewLockInfo("apply", "test"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := off.Load()
	if err := off.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := off.ForceUnlock(context.Background(), "x"); err == nil {
		t.Error("ForceUnlock with locking off succeeded")
	}
	for _, r := range srv.Requests()[1:] {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			t.Errorf("a %s was sent with locking off", r.Method)
		}
	}
}

func TestAddressRules(t *testing.T) {
	for _, tc := range []struct {
		s    httpstate.Settings
		want string // "" accepts
	}{
		{httpstate.Settings{Address: "https://gitlab.example.com/api/v4/projects/1/terraform/state/x"}, ""},
		{httpstate.Settings{Address: "http://127.0.0.1:8080/state"}, ""},
		{httpstate.Settings{Address: "http://[::1]/state"}, ""},
		{httpstate.Settings{Address: "http://localhost/state"}, ""},
		{httpstate.Settings{Address: "http://state.example.com/x"}, "uses plain http"},
		{httpstate.Settings{Address: "http://state.example.com/x", InsecureAllowHTTP: true}, ""},
		{httpstate.Settings{Address: "https://u:pw@state.example.com/x"}, "must not contain credentials"},
		{httpstate.Settings{Address: "https://state.example.com/x", LockAddress: "http://state.example.com/x/lock"}, "lock_address"},
		{httpstate.Settings{Address: "state.example.com/x"}, "absolute http(s) URL"},
		{httpstate.Settings{Address: ""}, "address must not be empty"},
		{httpstate.Settings{Address: "https://h/x", UnlockMethod: "DELETE"}, "would delete the state"},
		{httpstate.Settings{Address: "https://h/x", LockMethod: "POST"}, "would write the lock information as the state"},
		{httpstate.Settings{Address: "https://h/x", LockAddress: "https://h/x/lock", LockMethod: "POST", UnlockMethod: "DELETE"}, ""},
		{httpstate.Settings{Address: "https://h/x", UpdateMethod: "GET"}, "cannot write the state"},
		{httpstate.Settings{Address: "https://h/x", LockMethod: "BAD METHOD"}, "is not an HTTP method"},
		{httpstate.Settings{Address: "https://h/x", RetryWaitMin: time.Minute, RetryWaitMax: time.Second}, "retry_wait_max"},
		{httpstate.Settings{Address: "https://h/x", CACertFile: "/nonexistent/ca.pem"}, "ca_cert_file"},
	} {
		_, err := httpstate.New(tc.s)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.s, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.s, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "pw@"):
			t.Errorf("the error shows credentials: %v", err)
		}
	}
}

func TestQueryIsSentButNeverShown(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := newBackend(t, httpstate.Settings{Address: srv.URL() + "?token=query-secret", LockAddress: srv.LockURL() + "?token=query-secret", LockMethod: "POST", UnlockMethod: "DELETE", RetryMax: -1})
	if strings.Contains(b.Describe(), "query-secret") {
		t.Errorf("Describe: %s", b.Describe())
	}
	unlock, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := b.Load()
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	_ = unlock()
	for _, r := range srv.Requests() {
		if r.Query.Get("token") != "query-secret" {
			t.Errorf("%s %s lost the address's query: %v", r.Method, r.Path, r.Query)
		}
	}
	srv.FailNext(http.StatusForbidden)
	if _, err := b.Load(); err == nil || strings.Contains(err.Error(), "query-secret") || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Errorf("error: %v", err)
	}
	dead := newBackend(t, httpstate.Settings{Address: "http://127.0.0.1:1/state?token=query-secret", RetryMax: -1})
	if _, err := dead.Load(); err == nil || strings.Contains(err.Error(), "query-secret") {
		t.Errorf("network error: %v", err)
	}
}

func TestConcurrentUseOfOneBackend(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	la, _ := b.Load()
	la = sample(la)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Save(la); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := fmt.Sprint(srv.Serials()); got != "[1 2 3 4 5 6 7 8]" {
		t.Errorf("serials %s", got)
	}
}

func base(srv *httpstatetest.Server) string {
	u := srv.URL()
	return u[:strings.Index(u, "/api/")]
}

// TestLockWhoseAnswerWasLost: a lock the server names as held by this
// run's own ID (an earlier attempt took it, its answer lost) is this
// run's.
func TestLockWhoseAnswerWasLost(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	b := gitlab(t, srv)
	info := state.NewLockInfo("apply", "test")
	srv.Hold(info)
	unlock, err := b.Lock(context.Background(), info, 0)
	if err != nil {
		t.Fatal(err)
	}
	la, _ := b.Load()
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, held := srv.Holder(); held {
		t.Error("still locked")
	}
}

func TestTLSWithCACertFile(t *testing.T) {
	srv := httpstatetest.NewServer(t, httpstatetest.WithTLS())
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("URL %s", srv.URL())
	}
	// Not trusted without the CA: refused at once (a certificate error is
	// not retried).
	var retries int
	untrusting := newBackend(t, httpstate.Settings{Address: srv.URL()}, httpstate.WithOnRetry(func(int, int, time.Duration, error) { retries++ }))
	if _, err := untrusting.Load(); err == nil || !strings.Contains(err.Error(), "certificate") || retries != 0 {
		t.Errorf("Load of an untrusted server: %v (%d retries)", err, retries)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, httpstate.Settings{Address: srv.URL(), LockAddress: srv.LockURL(), LockMethod: "POST", UnlockMethod: "DELETE", CACertFile: ca})
	unlock, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	la, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(sample(la)); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := httpstate.New(httpstate.Settings{Address: srv.URL(), CACertFile: ca}); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("a ca_cert_file without certificates: %v", err)
	}
}
