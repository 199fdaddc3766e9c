package httpstatetest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/state"
	"github.com/ldapsync/ldapsync/state/httpstate/httpstatetest"
)

// send makes one request and returns its status and body.
func send(t *testing.T, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k != "user" && k != "pass" {
			req.Header.Set(k, v)
		}
	}
	if u, ok := hdr["user"]; ok {
		req.SetBasicAuth(u, hdr["pass"])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerProtocol(t *testing.T) {
	srv := httpstatetest.NewServer(t)
	if st, _ := send(t, "GET", srv.URL(), "", nil); st != http.StatusNoContent {
		t.Errorf("GET of nothing: %d", st)
	}
	if st, _ := send(t, "POST", srv.URL(), `{"no":"serial"}`, nil); st != http.StatusBadRequest {
		t.Errorf("write without serial: %d", st)
	}
	sum := md5.Sum([]byte(`{"serial":1}`))
	if st, _ := send(t, "POST", srv.URL(), `{"serial":2}`, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}); st != http.StatusBadRequest {
		t.Errorf("write with a wrong Content-MD5: %d", st)
	}
	if st, _ := send(t, "POST", srv.URL(), `{"serial":1}`, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}); st != http.StatusOK {
		t.Errorf("write: %d", st)
	}
	if st, body := send(t, "GET", srv.URL(), "", nil); st != http.StatusOK || body != `{"serial":1}` {
		t.Errorf("GET: %d %s", st, body)
	}

	// Locked: writes need the holder's ID; another lock and a wrong
	// unlock get the holder's LockInfo.
	if st, _ := send(t, "LOCK", srv.URL(), `{"ID":"one","Who":"a@b"}`, nil); st != http.StatusOK {
		t.Fatalf("LOCK: %d", st)
	}
	if st, body := send(t, "POST", srv.LockURL(), `{"ID":"two"}`, nil); st != http.StatusLocked || !strings.Contains(body, `"one"`) {
		t.Errorf("second lock: %d %s", st, body)
	}
	if st, body := send(t, "POST", srv.URL(), `{"serial":2}`, nil); st != http.StatusConflict || !strings.Contains(body, `"a@b"`) {
		t.Errorf("write without ID while locked: %d %s", st, body)
	}
	if st, _ := send(t, "POST", srv.URL()+"?ID=one", `{"serial":2}`, nil); st != http.StatusOK {
		t.Errorf("write with the holder's ID: %d", st)
	}
	if st, _ := send(t, "UNLOCK", srv.URL(), `{"ID":"two"}`, nil); st != http.StatusConflict {
		t.Errorf("UNLOCK with a wrong ID: %d", st)
	}
	if st, _ := send(t, "DELETE", srv.URL(), "", nil); st != http.StatusConflict {
		t.Errorf("DELETE without ID while locked: %d", st)
	}
	if st, _ := send(t, "DELETE", srv.LockURL(), `{"ID":"one"}`, nil); st != http.StatusOK {
		t.Errorf("unlock: %d", st)
	}
	if _, held := srv.Holder(); held {
		t.Error("still locked")
	}
	if got := srv.Serials(); len(got) != 2 || got[1] != 2 {
		t.Errorf("versions %v", got)
	}
	if v, ok := srv.Version(1); !ok || !bytes.Equal(v, []byte(`{"serial":1}`)) {
		t.Errorf("version 1: %s", v)
	}
	// DELETE removes the state.
	if st, _ := send(t, "DELETE", srv.URL(), "", nil); st != http.StatusOK || srv.State() != nil || len(srv.Serials()) != 0 {
		t.Errorf("DELETE: %d, state %s", st, srv.State())
	}
	// Faults come first, once each.
	srv.FailNext(http.StatusBadGateway)
	if st, _ := send(t, "GET", srv.URL(), "", nil); st != http.StatusBadGateway {
		t.Errorf("fault: %d", st)
	}
	if st, _ := send(t, "GET", srv.URL(), "", nil); st != http.StatusNoContent {
		t.Errorf("after the fault: %d", st)
	}
	// Hold and a no-ID unlock (terraform force-unlock's empty body).
	if !srv.Hold(state.LockInfo{ID: "x"}) || srv.Hold(state.LockInfo{ID: "y"}) {
		t.Error("Hold")
	}
	if st, _ := send(t, "UNLOCK", srv.URL(), "", nil); st != http.StatusOK {
		t.Errorf("unlock without ID: %d", st)
	}
	if _, held := srv.Holder(); held {
		t.Error("still locked")
	}
}

func TestServerOptions(t *testing.T) {
	srv := httpstatetest.NewServer(t, httpstatetest.WithBasicAuth("u", "p"), httpstatetest.WithLockMethods("ACQUIRE", "RELEASE"))
	if st, _ := send(t, "GET", srv.URL(), "", nil); st != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", st)
	}
	if st, _ := send(t, "GET", srv.URL(), "", map[string]string{"user": "u", "pass": "wrong"}); st != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", st)
	}
	auth := map[string]string{"user": "u", "pass": "p"}
	if st, _ := send(t, "ACQUIRE", srv.URL(), `{"ID":"a"}`, auth); st != http.StatusOK {
		t.Errorf("ACQUIRE: %d", st)
	}
	if st, _ := send(t, "RELEASE", srv.URL(), `{"ID":"a"}`, auth); st != http.StatusOK {
		t.Errorf("RELEASE: %d", st)
	}
	if st, _ := send(t, "LOCK", srv.URL(), `{"ID":"a"}`, auth); st != http.StatusMethodNotAllowed {
		t.Errorf("LOCK with other lock methods: %d", st)
	}
	none := httpstatetest.NewServer(t, httpstatetest.WithoutLocking())
	for _, m := range []string{"LOCK", "UNLOCK"} {
		if st, _ := send(t, m, none.URL(), `{"ID":"a"}`, nil); st != http.StatusMethodNotAllowed {
			t.Errorf("%s without locking: %d", m, st)
		}
	}
	if st, _ := send(t, "POST", none.LockURL(), `{"ID":"a"}`, nil); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /lock without locking: %d", st)
	}
}
