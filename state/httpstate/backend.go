package httpstate

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/state"
)

// Read limits: a stored document, and a lock holder's information or an
// error's body.
const (
	MaxStateBytes = 64 << 20
	MaxLockBytes  = 64 << 10
)

// Defaults of the options.
const (
	// DefaultTimeout bounds one HTTP exchange, its body included.
	DefaultTimeout = 2 * time.Minute
	// DefaultLockPollInterval is the pause between attempts to take a lock
	// another run holds.
	DefaultLockPollInterval = time.Second
)

// lockRemedy is the LockedError's advice; ID is replaced by the holder's
// when it is safe to print as it is.
const lockRemedy = "Wait for it to finish, or if that run is gone: ldapsync state force-unlock ID"

// Backend is a state kept on a server for Terraform's http backend. It is
// safe for concurrent use, though one process normally has one run.
type Backend struct {
	s                 Settings
	addr, lock, unlck *url.URL
	desc              string
	client            *http.Client
	red               *config.Redactor
	onRetry           func(attempt, max int, wait time.Duration, cause error)
	poll              time.Duration
	timeout           time.Duration
	newLineage        func() string

	mu sync.Mutex
	// read is true once a GET has told what is stored; stored whether
	// something was.
	read, stored bool
	// serial and lineage are those of the document last read or written.
	serial  int64
	lineage string
	// newLin is the lineage of the empty view of a state never stored.
	newLin            string
	extra, innerExtra map[string]json.RawMessage
	// lockID and lockBody are the lock this Backend holds ("" for none).
	lockID   string
	lockBody []byte
}

var _ state.Backend = (*Backend)(nil)

// Option configures a Backend.
type Option func(*Backend)

// WithOnRetry sets a function told of every retry before its wait: its
// number, the most there will be, the wait and the cause (without
// secrets), as ftrack.RetryPolicy.OnRetry is, so that retries are said,
// not silent.
func WithOnRetry(f func(attempt, max int, wait time.Duration, cause error)) Option {
	return func(b *Backend) { b.onRetry = f }
}

// WithLockPollInterval sets the pause between attempts to take a lock
// another run holds (default DefaultLockPollInterval).
func WithLockPollInterval(d time.Duration) Option {
	return func(b *Backend) {
		if d > 0 {
			b.poll = d
		}
	}
}

// WithTimeout bounds one HTTP exchange, its body included (default
// DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(b *Backend) {
		if d > 0 {
			b.timeout = d
		}
	}
}

// WithLineageGenerator sets the generator of the lineage of a state
// never stored (tests use a deterministic one).
func WithLineageGenerator(f func() string) Option {
	return func(b *Backend) { b.newLineage = f }
}

// New checks the settings (see Settings for the defaults of zero fields)
// and returns the backend. It makes no request.
func New(s Settings, opts ...Option) (*Backend, error) {
	s = s.withDefaults()
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("state \"http\": %w", err)
	}
	b := &Backend{s: s, poll: DefaultLockPollInterval, timeout: DefaultTimeout, newLineage: uuid.NewString}
	for _, o := range opts {
		o(b)
	}
	b.addr, _ = checkAddress("address", s.Address, s.InsecureAllowHTTP)
	if !s.DisableLocking {
		b.lock, _ = checkAddress("lock_address", s.LockAddress, s.InsecureAllowHTTP)
		b.unlck, _ = checkAddress("unlock_address", s.UnlockAddress, s.InsecureAllowHTTP)
	}
	b.desc = "http state " + shown(s.Address)
	var secrets []string
	if s.Password != "" {
		secrets = append(secrets, s.Password, base64.StdEncoding.EncodeToString([]byte(s.Username+":"+s.Password)))
	}
	b.red = config.NewRedactor(secrets)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment // HTTPS_PROXY/NO_PROXY; loopback is never proxied
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CACertFile != "" {
		pem, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("state \"http\": ca_cert_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("state \"http\": ca_cert_file %q: no PEM certificates found", s.CACertFile)
		}
		tlsConf.RootCAs = pool
	}
	tr.TLSClientConfig = tlsConf
	b.client = &http.Client{
		Transport: tr,
		Timeout:   b.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return &redirectError{"stopped after 10 redirects"}
			}
			if _, err := checkAddress("a redirect", req.URL.String(), s.InsecureAllowHTTP); err != nil {
				return &redirectError{"refused " + err.Error()}
			}
			return nil
		},
	}
	return b, nil
}

// redirectError is a redirect the client refused; it is not retried.
type redirectError struct{ msg string }

// Error implements error.
func (e *redirectError) Error() string { return e.msg }

// Describe names the backend and its address, without credentials or
// query: "http state https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync".
func (b *Backend) Describe() string { return b.desc }

// Type is "http".
func (b *Backend) Type() string { return "http" }

// answer is a response as read.
type answer struct {
	status   int
	body     []byte
	header   http.Header
	attempts int
}

// exchange sends one request, with its retries, and reads up to limit
// bytes of the answer. Its errors hold neither the address's query nor
// the password.
func (b *Backend) exchange(ctx context.Context, method string, u *url.URL, body []byte, limit int64) (*answer, error) {
	var rawBody any
	if body != nil {
		rawBody = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), rawBody)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", b.desc, method, netErr(err))
	}
	if b.s.Username != "" {
		req.SetBasicAuth(b.s.Username, b.s.Password)
	}
	if body != nil {
		sum := md5.Sum(body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		req.ContentLength = int64(len(body))
	}
	attempts := 1
	var cause error
	rc := &retryablehttp.Client{
		HTTPClient:   b.client,
		RetryMax:     b.s.RetryMax,
		RetryWaitMin: b.s.RetryWaitMin,
		RetryWaitMax: b.s.RetryWaitMax,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			var re *redirectError
			if errors.As(err, &re) {
				return false, err
			}
			retry, cerr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
			if retry {
				if err != nil {
					cause = fmt.Errorf("%s: %s: %w", b.desc, method, netErr(err))
				} else {
					cause = fmt.Errorf("%s: %s answered %s", b.desc, method, statusText(resp.StatusCode))
				}
			}
			return retry, cerr
		},
		Backoff: func(lo, hi time.Duration, n int, resp *http.Response) time.Duration {
			w := min(retryablehttp.DefaultBackoff(lo, hi, n, resp), hi) // a Retry-After is honoured up to retry_wait_max
			attempts = n + 2
			if b.onRetry != nil {
				b.onRetry(n+1, b.s.RetryMax, w, cause)
			}
			return w
		},
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := rc.Do(req)
	var re *redirectError
	if errors.As(err, &re) {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("%s: %s: %w", b.desc, method, netErr(err))
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.desc, method, ctx.Err())
		}
		tries := ""
		if attempts > 1 {
			tries = fmt.Sprintf(" (after %d attempts)", attempts)
		}
		return nil, fmt.Errorf("%s: %s%s: %w", b.desc, method, tries, netErr(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: reading the answer: %w", b.desc, method, netErr(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %s answered %s with more than %s; refusing to read it", b.desc, method, statusText(resp.StatusCode), sizeText(limit))
	}
	return &answer{status: resp.StatusCode, body: data, header: resp.Header, attempts: attempts}, nil
}

// netErr is err without the *url.Error wrapping, which names the URL
// (its query may hold a token).
func netErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// failure is the error of an answer the caller did not expect: its
// status, the attempts, what to do for the usual ones and the start of
// its body, redacted and quoted.
func (b *Backend) failure(method, what string, a *answer) error {
	msg := fmt.Sprintf("%s: %s (%s) answered %s", b.desc, method, what, statusText(a.status))
	if a.attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", a.attempts)
	}
	switch a.status {
	case http.StatusUnauthorized:
		if b.s.Username == "" {
			msg += ": the server wants credentials: set username and password"
		} else {
			msg += fmt.Sprintf(": the server refused the credentials of username %s: check username and password", strconv.QuoteToASCII(clip(b.s.Username, 80)))
		}
	case http.StatusForbidden:
		msg += ": the credentials are not allowed to do this (check the token's permissions)"
	case http.StatusNotFound:
		msg += ": check the address"
	}
	if s := b.snippet(a.body); s != "" {
		msg += "; the server said " + s
	}
	return errors.New(msg)
}

// snippet is the start of a body another host wrote, fit for a message:
// without the password, at most 200 bytes, quoted when it holds anything
// but printable ASCII.
func (b *Backend) snippet(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	const n = 200
	w := min(len(body), b.red.PrefixWindow(n))
	s, more := b.red.RedactPrefix(string(body[:w]), n)
	if more || w < len(body) {
		s += "…"
	}
	return strconv.QuoteToASCII(s)
}

// Load reads the state: GET address. Nothing stored (204, 404, an empty
// 200) is an empty view with a new lineage, Exists false.
func (b *Backend) Load() (*engine.LastApplied, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	doc, err := b.fetch()
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return engine.NewLastApplied(b.newLin), nil
	}
	return doc.la, nil
}

// fetch GETs and decodes the stored document and records what it read;
// nil when nothing is stored. b.mu is held.
func (b *Backend) fetch() (*document, error) {
	a, err := b.exchange(context.Background(), http.MethodGet, b.addr, nil, MaxStateBytes)
	if err != nil {
		return nil, err
	}
	var doc *document
	switch a.status {
	case http.StatusOK:
		// A Content-MD5 in the standard form (base64 of 16 bytes) must
		// match; Terraform reads but never compares it, so a server may
		// send another form, which is not held against it.
		if want, err := base64.StdEncoding.DecodeString(a.header.Get("Content-MD5")); err == nil && len(want) == md5.Size && len(a.body) > 0 {
			if got := md5.Sum(a.body); !bytes.Equal(want, got[:]) {
				return nil, fmt.Errorf("%s: the state's Content-MD5 does not match its body (damaged on the way?); try again", b.desc)
			}
		}
		if doc, err = decodeDocument(a.body); err != nil {
			var ce *state.CorruptError
			var fe *ForeignDocumentError
			switch {
			case errors.As(err, &fe):
				return nil, fmt.Errorf("%s: %w", b.desc, err)
			case errors.As(err, &ce):
				return nil, fmt.Errorf("%s is corrupt (%v); restore an earlier version of it (GitLab keeps one per serial) or delete it to start afresh (ownership markers in ftrack keep managed users safe): %w", b.desc, ce.Err, err)
			}
			return nil, fmt.Errorf("%s: %w", b.desc, err)
		}
	case http.StatusNoContent, http.StatusNotFound:
	default:
		return nil, b.failure(http.MethodGet, "read the state", a)
	}
	b.read = true
	if doc == nil {
		b.stored, b.serial, b.extra, b.innerExtra = false, 0, nil, nil
		if b.newLin == "" {
			b.newLin = b.newLineage()
		}
		b.lineage = b.newLin
		return nil, nil
	}
	b.stored, b.serial, b.lineage, b.extra, b.innerExtra = true, doc.serial, doc.lineage, doc.extra, doc.innerExtra
	return doc, nil
}

// Save writes la as the whole document, with the write serial of the
// document last read plus one (it reads first when nothing was read, or
// nothing was stored then), and ?ID= while this Backend holds the lock. A
// state of another lineage than the stored one is refused, as is anything
// stored that is not an ldapsync state.
func (b *Backend) Save(la *engine.LastApplied) error {
	if la == nil || la.Lineage == "" {
		return fmt.Errorf("%s: refusing to save a state without lineage", b.desc)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.read || !b.stored {
		if _, err := b.fetch(); err != nil {
			return err
		}
	}
	if b.stored && la.Lineage != b.lineage {
		return fmt.Errorf("%s holds a state of lineage %s; refusing to replace it with one of lineage %s (delete the stored state first to start afresh)", b.desc, strconv.QuoteToASCII(clip(b.lineage, 80)), strconv.QuoteToASCII(clip(la.Lineage, 80)))
	}
	serial := b.serial + 1
	data, err := encodeDocument(la, serial, b.extra, b.innerExtra)
	if err != nil {
		return fmt.Errorf("%s: %w", b.desc, err)
	}
	if len(data) > MaxStateBytes {
		return fmt.Errorf("%s: the state is %d bytes, more than the %s this backend reads back", b.desc, len(data), sizeText(MaxStateBytes))
	}
	u := *b.addr
	if b.lockID != "" {
		q := u.Query()
		q.Set("ID", b.lockID)
		u.RawQuery = q.Encode()
	}
	a, err := b.exchange(context.Background(), b.s.UpdateMethod, &u, data, MaxLockBytes)
	if err != nil {
		return err
	}
	switch a.status {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
	case http.StatusConflict, http.StatusLocked:
		holder, _ := b.parseHolder(a.body)
		msg := fmt.Sprintf("%s: the server refused the save (%s): the state is locked", b.desc, statusText(a.status))
		if holder != nil {
			msg += " by " + holderText(*holder)
		}
		if b.lockID == "" {
			msg += ", and this run holds no lock"
		} else {
			msg += fmt.Sprintf(", not by this run's lock %s (was it force-unlocked?)", safeID(b.lockID))
		}
		return errors.New(msg)
	default:
		return b.failure(b.s.UpdateMethod, "save the state", a)
	}
	b.read, b.stored, b.serial, b.lineage = true, true, serial, la.Lineage
	return nil
}

// Lock takes the lock: lock_method to lock_address with info as JSON (a
// new ID when it has none), asking again about every second while another
// holds it, until timeout or ctx ends; then the error is a
// *state.LockedError naming the holder. With locking off (lock_address =
// "") it takes nothing.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo, timeout time.Duration) (func() error, error) {
	if b.s.DisableLocking {
		return func() error { return nil }, nil
	}
	if info.ID == "" {
		info.ID = uuid.NewString()
	}
	body, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.desc, err)
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		a, err := b.exchange(ctx, b.s.LockMethod, b.lock, body, MaxLockBytes)
		if err != nil {
			return nil, err
		}
		var holder *state.LockInfo
		switch a.status {
		case http.StatusOK, http.StatusCreated, http.StatusNoContent:
			return b.held(info.ID, body), nil
		case http.StatusLocked, http.StatusConflict:
			holder, _ = b.parseHolder(a.body)
			if holder != nil && holder.ID == info.ID {
				return b.held(info.ID, body), nil // an attempt whose answer was lost took it
			}
		case http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return nil, fmt.Errorf("%s: the server does not lock: %s to %s answered %s. Set lock_method and unlock_method (and lock_address, unlock_address) to what the server takes (GitLab: lock_address = address + \"/lock\", lock_method = \"POST\", unlock_method = \"DELETE\"); only if runs are serialised some other way, lock_address = \"\" runs without a lock",
				b.desc, b.s.LockMethod, shown(b.s.LockAddress), statusText(a.status))
		default:
			return nil, b.failure(b.s.LockMethod, "take the lock", a)
		}
		wait := b.poll
		if now := time.Now(); now.Add(wait).After(deadline) {
			wait = deadline.Sub(now)
		}
		if wait <= 0 {
			return nil, b.lockedError(holder, time.Since(start))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: waiting for the lock (%s): %w", b.desc, b.lockedError(holder, time.Since(start)), ctx.Err())
		case <-t.C:
		}
	}
}

// held records the lock this Backend took and returns its release.
func (b *Backend) held(id string, body []byte) func() error {
	b.mu.Lock()
	b.lockID, b.lockBody = id, body
	b.mu.Unlock()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = b.unlock(id, body) })
		return err
	}
}

// unlock releases the lock id this Backend holds: unlock_method to
// unlock_address with its LockInfo.
func (b *Backend) unlock(id string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*b.timeout)
	defer cancel()
	a, err := b.exchange(ctx, b.s.UnlockMethod, b.unlck, body, MaxLockBytes)
	if err != nil {
		return err
	}
	switch a.status {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
	case http.StatusConflict, http.StatusLocked:
		holder, _ := b.parseHolder(a.body)
		msg := fmt.Sprintf("%s: releasing lock %s: the server answered %s", b.desc, safeID(id), statusText(a.status))
		if holder != nil {
			msg += ": it is held by " + holderText(*holder)
		}
		b.forget(id)
		return errors.New(msg + " (was this run's lock force-unlocked?)")
	default:
		return b.failure(b.s.UnlockMethod, "release the lock", a)
	}
	b.forget(id)
	return nil
}

// forget drops the record of lock id.
func (b *Backend) forget(id string) {
	b.mu.Lock()
	if b.lockID == id {
		b.lockID, b.lockBody = "", nil
	}
	b.mu.Unlock()
}

// ForceUnlock releases the lock id another run left behind: unlock_method
// to unlock_address with LockInfo{ID: id}, as terraform force-unlock does.
// The server refuses an id that is not the holder's.
func (b *Backend) ForceUnlock(ctx context.Context, id string) error {
	if b.s.DisableLocking {
		return fmt.Errorf("%s runs without a lock (lock_address = \"\"): there is no lock to release", b.desc)
	}
	if id == "" {
		return fmt.Errorf("%s: force-unlock needs the lock's ID", b.desc)
	}
	body, err := json.Marshal(state.LockInfo{ID: id})
	if err != nil {
		return fmt.Errorf("%s: %w", b.desc, err)
	}
	a, err := b.exchange(ctx, b.s.UnlockMethod, b.unlck, body, MaxLockBytes)
	if err != nil {
		return err
	}
	switch a.status {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent:
		b.forget(id)
		return nil
	case http.StatusConflict, http.StatusLocked:
		holder, _ := b.parseHolder(a.body)
		msg := fmt.Sprintf("%s: the server refused to release lock %s (%s)", b.desc, safeID(id), statusText(a.status))
		if holder != nil {
			msg += ": the lock is " + holderText(*holder)
		} else {
			msg += ": it is not the ID of the lock held"
		}
		return errors.New(msg)
	default:
		return b.failure(b.s.UnlockMethod, "release the lock", a)
	}
}

// lockedError is the LockedError of a lock held by holder (nil: the
// server did not say who).
func (b *Backend) lockedError(holder *state.LockInfo, waited time.Duration) *state.LockedError {
	e := &state.LockedError{Backend: b.desc, Holder: holder, Waited: waited.Round(10 * time.Millisecond), Remedy: lockRemedy}
	if holder == nil {
		e.HolderText = "another run (the server did not say which)"
	} else if isPlainID(holder.ID) {
		e.Remedy = lockRemedy[:len(lockRemedy)-2] + holder.ID
	}
	return e
}

// parseHolder reads a holder's LockInfo from a 423 or 409 body, each
// text field without the password and cut to 256 bytes (the messages
// quote them); nil for a body that is empty or not a LockInfo.
func (b *Backend) parseHolder(body []byte) (*state.LockInfo, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("no lock information")
	}
	var h state.LockInfo
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, err
	}
	if h.ID == "" && h.Who == "" && h.Operation == "" {
		return nil, errors.New("no lock information")
	}
	for _, f := range []*string{&h.ID, &h.Operation, &h.Info, &h.Who, &h.Version, &h.Path} {
		*f = clip(b.red.Redact(*f), 256)
	}
	return &h, nil
}

// holderText is a holder for a message made here (state.LockedError
// quotes its own): its ID, operation and who, quoted.
func holderText(h state.LockInfo) string {
	s := "lock " + safeID(h.ID)
	if h.Operation != "" {
		s += " (" + strconv.QuoteToASCII(clip(h.Operation, 80))
		if h.Who != "" {
			s += " by " + strconv.QuoteToASCII(clip(h.Who, 120))
		}
		if !h.Created.IsZero() {
			s += " since " + h.Created.UTC().Format(time.RFC3339)
		}
		s += ")"
	}
	return s
}

// safeID is a lock ID for a message: as it is when plain, else quoted.
func safeID(id string) string {
	if isPlainID(id) {
		return id
	}
	return strconv.QuoteToASCII(clip(id, 128))
}

// isPlainID reports whether id is safe to print and to paste into a
// command as it is: 1 to 128 letters, digits and . _ : -.
func isPlainID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
