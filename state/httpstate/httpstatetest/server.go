// Package httpstatetest is a server for Terraform's http backend
// protocol, for tests: it keeps state the way GitLab's managed Terraform
// state API does, so that ldapsync's http backend (package httpstate) and
// the real Terraform CLI can both be run against it over real HTTP
// (TestTerraformAgainstServer proves it faithful with Terraform itself).
//
// The state lives at URL(), the lock at LockURL() = URL() + "/lock":
//
//   - GET URL(): 200 with the current document, 204 when there is none.
//   - POST or PUT URL(): store the body as a new version, keyed by the
//     integer "serial" at its top level (400 without one; a write with the
//     current serial replaces that version). While the state is locked,
//     the write must carry the holder's ?ID=, else 409 with the holder's
//     LockInfo. A Content-MD5 header must match the body (400).
//   - DELETE URL(): remove the state and its versions (same lock rule).
//   - POST LockURL(), or the lock method (default LOCK) on URL(): take the
//     lock with the LockInfo JSON body; 200, or 423 Locked with the
//     holder's LockInfo when it is held (also by the same ID, as GitLab).
//   - DELETE LockURL(), or the unlock method (default UNLOCK) on URL():
//     release the lock whose ID the body (or ?ID=) names; 200, also when
//     nothing is locked; 409 with the holder's LockInfo for another ID. A
//     request that names no ID releases any lock: that is what terraform
//     force-unlock sends (Terraform 1.11 sends an empty body, the ID it
//     was given going nowhere), and what GitLab takes as a force-unlock.
//
// Options add https, basic authentication (401 without it), other lock
// and unlock methods on URL(), no locking at all (405), and FailNext
// injects a status for the next request.
package httpstatetest

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ldapsync/ldapsync/state"
)

// statePath is where the server keeps the state, like a GitLab project's
// state named "ldapsync".
const statePath = "/api/v4/projects/1/terraform/state/ldapsync"

// maxBody caps a request body the server reads.
const maxBody = 128 << 20

// Server is a Terraform http backend server for a test.
type Server struct {
	ts                       *httptest.Server
	user, pass               string
	lockMethod, unlockMethod string
	noLocking                bool
	tls                      bool

	mu       sync.Mutex
	current  []byte // nil: no state
	serial   int64
	versions map[int64][]byte
	lock     *state.LockInfo
	lockRaw  []byte
	faults   []int
	requests []Request
}

// Request is a request the server was sent, as recorded.
type Request struct {
	// Method and Path are the request's; Query its query.
	Method, Path string
	Query        url.Values
	// ContentType and ContentMD5 are the request's headers.
	ContentType, ContentMD5 string
	// Body is the request body.
	Body []byte
	// Status is what the server answered.
	Status int
}

// Option configures a Server.
type Option func(*Server)

// WithBasicAuth makes every request need basic authentication with user
// and pass (401 otherwise).
func WithBasicAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithLockMethods sets the methods that lock and unlock on URL() (default
// LOCK and UNLOCK, Terraform's).
func WithLockMethods(lock, unlock string) Option {
	return func(s *Server) { s.lockMethod, s.unlockMethod = lock, unlock }
}

// WithoutLocking makes the server not lock: lock and unlock requests are
// answered 405 Method Not Allowed.
func WithoutLocking() Option {
	return func(s *Server) { s.noLocking = true }
}

// WithTLS serves https with a certificate of its own (CertificatePEM).
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// NewServer starts a server, stopped when the test ends.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := Start(opts...)
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server the caller stops with Close: for harnesses that
// have no testing.TB (a testscript command).
func Start(opts ...Option) *Server {
	s := &Server{lockMethod: "LOCK", unlockMethod: "UNLOCK", versions: map[int64][]byte{}}
	for _, o := range opts {
		o(s)
	}
	if s.tls {
		s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	} else {
		s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	}
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// CertificatePEM is the PEM of the certificate a WithTLS server presents
// (nil for a plain one), for a ca_cert_file.
func (s *Server) CertificatePEM() []byte {
	if s.ts.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// URL is the state's address.
func (s *Server) URL() string { return s.ts.URL + statePath }

// LockURL is the GitLab-style lock address (POST to lock, DELETE to
// unlock): URL() + "/lock".
func (s *Server) LockURL() string { return s.URL() + "/lock" }

// State returns the current document, nil when there is none.
func (s *Server) State() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.current)
}

// Serial returns the current document's serial, and false when there is
// none.
func (s *Server) Serial() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serial, s.current != nil
}

// Serials returns the serials of the stored versions, in order.
func (s *Server) Serials() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.versions))
	for k := range s.versions {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Version returns the stored version with serial.
func (s *Server) Version(serial int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[serial]
	return bytes.Clone(v), ok
}

// Put stores doc as the current document, as a write would (its
// top-level serial, 0 when it has none), without the lock rule: a test
// puts a document there beforehand.
func (s *Server) Put(doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	serial, _ := docSerial(doc)
	s.store(bytes.Clone(doc), serial)
}

// Hold takes the lock as another client would, with info; it reports
// false when the lock is held already.
func (s *Server) Hold(info state.LockInfo) bool {
	raw, _ := json.Marshal(info)
	return s.HoldRaw(info, raw)
}

// HoldRaw takes the lock as info, answering raw as the holder's lock
// information (a hostile or broken server's body); false when held.
func (s *Server) HoldRaw(info state.LockInfo, raw []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock != nil {
		return false
	}
	s.lock, s.lockRaw = &info, bytes.Clone(raw)
	return true
}

// Holder returns the lock's holder, and false when it is not held.
func (s *Server) Holder() (state.LockInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return state.LockInfo{}, false
	}
	return *s.lock, true
}

// Release drops the lock, whoever holds it.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lock, s.lockRaw = nil, nil
}

// FailNext answers the next request with status (a 5xx to test retries),
// without acting on it; calls queue.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, status)
}

// Requests returns the requests the server was sent, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) store(doc []byte, serial int64) {
	s.current, s.serial = doc, serial
	s.versions[serial] = doc
}

// docSerial reads the integer serial at a document's top level.
func docSerial(doc []byte) (int64, bool) {
	var head struct {
		Serial *json.Number `json:"serial"`
	}
	if json.Unmarshal(doc, &head) != nil || head.Serial == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(head.Serial.String(), 10, 64)
	return n, err == nil && n >= 0
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), ContentType: r.Header.Get("Content-Type"), ContentMD5: r.Header.Get("Content-MD5"), Body: body}
	status := s.handle(w, r, body)
	rec.Status = status
	s.requests = append(s.requests, rec)
}

// handle answers a request with s.mu held and returns the status.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) int {
	text := func(status int, msg string) int {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
		return status
	}
	lockInfo := func(status int) int {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(s.lockRaw)
		return status
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		return text(status, "injected fault")
	}
	if s.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="state"`)
			return text(http.StatusUnauthorized, "401 Unauthorized")
		}
	}
	if sum := r.Header.Get("Content-MD5"); sum != "" {
		got := md5.Sum(body)
		if want, err := base64.StdEncoding.DecodeString(sum); err != nil || !bytes.Equal(want, got[:]) {
			return text(http.StatusBadRequest, "Content-MD5 does not match the body")
		}
	}
	var op string
	switch p := strings.TrimRight(r.URL.Path, "/"); {
	case p == statePath+"/lock" && r.Method == http.MethodPost:
		op = "lock"
	case p == statePath+"/lock" && r.Method == http.MethodDelete:
		op = "unlock"
	case p == statePath+"/lock":
		return text(http.StatusMethodNotAllowed, "405 Method Not Allowed")
	case p != statePath:
		return text(http.StatusNotFound, "404 Not Found")
	case r.Method == s.lockMethod:
		op = "lock"
	case r.Method == s.unlockMethod:
		op = "unlock"
	case r.Method == http.MethodGet:
		if s.current == nil {
			w.WriteHeader(http.StatusNoContent)
			return http.StatusNoContent
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.current)
		return http.StatusOK
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete:
		if s.lock != nil && r.URL.Query().Get("ID") != s.lock.ID {
			return lockInfo(http.StatusConflict)
		}
		if r.Method == http.MethodDelete {
			s.current, s.serial, s.versions = nil, 0, map[int64][]byte{}
			return text(http.StatusOK, "deleted")
		}
		serial, ok := docSerial(body)
		if !ok {
			return text(http.StatusBadRequest, "the state has no integer serial")
		}
		s.store(bytes.Clone(body), serial)
		return text(http.StatusOK, "stored")
	default:
		return text(http.StatusMethodNotAllowed, "405 Method Not Allowed")
	}
	if s.noLocking {
		return text(http.StatusMethodNotAllowed, "405 Method Not Allowed")
	}
	var info state.LockInfo
	if err := json.Unmarshal(body, &info); err != nil && op == "lock" {
		return text(http.StatusBadRequest, "the lock information is not JSON")
	}
	if op == "lock" {
		if s.lock != nil {
			return lockInfo(http.StatusLocked)
		}
		if info.ID == "" {
			return text(http.StatusBadRequest, "the lock information has no ID")
		}
		s.lock, s.lockRaw = &info, bytes.Clone(body)
		return text(http.StatusOK, "locked")
	}
	id := info.ID
	if id == "" {
		id = r.URL.Query().Get("ID")
	}
	if s.lock == nil {
		return text(http.StatusOK, "not locked")
	}
	if id != "" && id != s.lock.ID {
		return lockInfo(http.StatusConflict)
	}
	s.lock, s.lockRaw = nil, nil
	return text(http.StatusOK, "unlocked")
}
