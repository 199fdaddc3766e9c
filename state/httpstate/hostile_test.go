package httpstate_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/httpstate"
)

const hostilePassword = "hunter2-very-secret"

// hostile serves h and returns a backend for it with basic auth.
func hostile(t *testing.T, h http.HandlerFunc, opts ...httpstate.Option) *httpstate.Backend {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return newBackend(t, httpstate.Settings{Address: ts.URL + "/state", Username: "user", Password: hostilePassword, RetryMax: -1}, opts...)
}

// checkClean fails when msg holds a control character, the password (in
// any form) or is longer than limit.
func checkClean(t *testing.T, msg string, limit int) {
	t.Helper()
	for _, r := range msg {
		if unicode.IsControl(r) || r == '\u202e' {
			t.Errorf("message holds %U: %q", r, clipTest(msg))
			break
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte("user:" + hostilePassword))
	if strings.Contains(msg, hostilePassword) || strings.Contains(msg, auth) || strings.Contains(msg, "hunter2") {
		t.Errorf("message holds the password: %s", clipTest(msg))
	}
	if len(msg) > limit {
		t.Errorf("message is %d bytes: %s", len(msg), clipTest(msg))
	}
}

func clipTest(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

func TestHostileLockHolder(t *testing.T) {
	evil := "\x1b[2J\x1b]0;owned\x07\u202eevil\r\n"
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"control-characters", mustJSON(state.LockInfo{ID: "id" + evil, Operation: evil, Who: "who" + evil, Info: evil}), `\x1b[2J`},
		{"long-fields", mustJSON(state.LockInfo{ID: strings.Repeat("i", 20000), Operation: strings.Repeat("o", 5000), Who: strings.Repeat("w\x00", 2000)}), "iiii"},
		{"garbage", []byte("\x1b]0;pwned\x07 not json"), "the server did not say which"},
		{"empty", nil, "the server did not say which"},
		{"huge", []byte(`{"ID":"` + strings.Repeat("x", 200<<10) + `"}`), "more than 64 KiB"},
		{"echoes-password", []byte(`{"ID":"a","Operation":"apply","Who":"` + hostilePassword + `"}`), "lock a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusLocked)
				_, _ = w.Write(tc.body)
			})
			_, err := b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
			if err == nil {
				t.Fatal("Lock succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error lacks %q: %s", tc.want, clipTest(err.Error()))
			}
			checkClean(t, err.Error(), 2000)
			var le *state.LockedError
			if errors.As(err, &le) && strings.Contains(le.Remedy, "\x1b") {
				t.Errorf("remedy: %q", le.Remedy)
			}
			// The same bodies in answer to a save and a force-unlock.
			err = b.ForceUnlock(context.Background(), "x")
			if err == nil {
				t.Fatal("ForceUnlock succeeded")
			}
			checkClean(t, err.Error(), 2000)
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestHostileErrorBodies(t *testing.T) {
	b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "\x1b[31mYour password is "+hostilePassword+" and your header "+r.Header.Get("Authorization")+"\x1b[0m"+strings.Repeat("z", 100000))
	})
	_, err := b.Load()
	if err == nil || !strings.Contains(err.Error(), "418") {
		t.Fatalf("Load: %v", err)
	}
	checkClean(t, err.Error(), 1000)
	_, err = b.Lock(context.Background(), state.NewLockInfo("apply", "test"), 0)
	if err == nil {
		t.Fatal("Lock succeeded")
	}
	checkClean(t, err.Error(), 1000)
	if err := b.Save(engine.NewLastApplied("x")); err == nil {
		t.Fatal("Save succeeded")
	} else {
		checkClean(t, err.Error(), 1000)
	}
}

func TestHostileStateBodies(t *testing.T) {
	t.Run("larger-than-64MiB", func(t *testing.T) {
		b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat(" ", 1<<20))
			_, _ = w.Write([]byte("{"))
			for range 65 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		_, err := b.Load()
		if err == nil || !strings.Contains(err.Error(), "more than 64 MiB") {
			t.Fatalf("Load: %v", err)
		}
	})
	t.Run("content-md5-mismatch", func(t *testing.T) {
		b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(make([]byte, 16)))
			_, _ = io.WriteString(w, `{"format_version":"1.0","lineage":"l","serial":1,"ldapsync":{"format_version":"1.0","lineage":"l"}}`)
		})
		if _, err := b.Load(); err == nil || !strings.Contains(err.Error(), "Content-MD5") {
			t.Fatalf("Load: %v", err)
		}
	})
	t.Run("control-characters-in-fields", func(t *testing.T) {
		b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"format_version":"9\u001b[2J","lineage":"l\u001b","serial":1,"ldapsync":{}}`)
		})
		_, err := b.Load()
		if err == nil {
			t.Fatal("Load succeeded")
		}
		checkClean(t, err.Error(), 1000)
	})
}

func TestRetryAfterIsCapped(t *testing.T) {
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	var waits []time.Duration
	b := newBackend(t, httpstate.Settings{Address: ts.URL}, httpstate.WithOnRetry(func(_, _ int, wait time.Duration, _ error) { waits = append(waits, wait) }))
	if _, err := b.Load(); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] > 5*time.Millisecond {
		t.Errorf("waits %v, want one of at most retry_wait_max", waits)
	}
}

func TestRedirectsKeepTheHTTPSRule(t *testing.T) {
	b := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://state.example.invalid/steal", http.StatusTemporaryRedirect)
	})
	_, err := b.Load()
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("Load: %v", err)
	}
}
