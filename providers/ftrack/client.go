package ftrack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ldapsync/ldapsync/engine/config"
)

// Default client settings.
const (
	// DefaultTimeout bounds one HTTP exchange.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxRetries is the number of retries after a first attempt.
	DefaultMaxRetries = 8
	// DefaultPageSize is the number of rows per query page.
	DefaultPageSize = 500

	maxResponseBytes   = 256 << 20
	errorBodyPrefixLen = 200
)

// RetryPolicy bounds the retries of one request.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt; 0 means
	// DefaultMaxRetries, a negative value means none.
	MaxRetries int
	// InitialInterval is the first backoff delay (default 250ms).
	InitialInterval time.Duration
	// MaxInterval caps one delay (default 30s).
	MaxInterval time.Duration
	// MaxElapsedTime caps the total time spent retrying (default 3m).
	MaxElapsedTime time.Duration
	// OnRetry, when set, is told of every retry before its wait: the
	// retry's number, the most there will be, the wait and the failure
	// that caused it (already redacted), so that a long silence can say
	// "ftrack unreachable, retry 3 of 8 in 4s".
	OnRetry func(attempt, max int, wait time.Duration, cause error)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultMaxRetries
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.InitialInterval <= 0 {
		p.InitialInterval = 250 * time.Millisecond
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = 30 * time.Second
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if p.MaxElapsedTime <= 0 {
		p.MaxElapsedTime = 3 * time.Minute
	}
	return p
}

// Options configures a Client.
type Options struct {
	// ServerURL is the ftrack site, e.g. "https://studio.ftrackapp.com".
	ServerURL string
	// APIUser and APIKey authenticate every request.
	APIUser string
	APIKey  string
	// InsecureAllowHTTP permits plain http to a non-loopback host.
	InsecureAllowHTTP bool
	// CACertFile is an optional PEM file of extra trusted CAs.
	CACertFile string
	// Timeout bounds one HTTP exchange (default 60s).
	Timeout time.Duration
	// Retry bounds retries.
	Retry RetryPolicy
	// PageSize is the number of rows per query page (default 500).
	PageSize int
	// MaxConns is the number of connections kept open to the server, and
	// the number of pages a paged read keeps in flight (default 4).
	MaxConns int
}

// Stats counts the client's traffic.
type Stats struct {
	// Requests is the number of HTTP requests sent, retries included.
	Requests int64
	// Operations is the number of operations sent, retries included.
	Operations int64
	// Retries is the number of repeated attempts.
	Retries int64
}

// Client talks to one ftrack server. It is safe for concurrent use.
type Client struct {
	endpoint string
	user     string
	key      string
	red      *config.Redactor // masks key in anything the server sends back
	http     *http.Client
	retry    RetryPolicy
	pageSize int
	parallel int // pages of one read in flight at once (MaxConns)

	requests, operations, retries atomic.Int64
}

// CheckServerURL parses a server URL and enforces https, except for
// loopback hosts or when insecureAllowHTTP is set. It returns the URL
// without a trailing slash.
func CheckServerURL(raw string, insecureAllowHTTP bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("server_url %q is not a valid URL: %w", raw, err)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("server_url %q must be an absolute http(s) URL such as \"https://studio.ftrackapp.com\"", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("server_url must not contain credentials; use api_user and api_key")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server_url %q must not have a query or fragment", raw)
	}
	if u.Scheme == "http" && !insecureAllowHTTP && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("server_url %q uses plain http: https is required (http is allowed only for loopback hosts, or with insecure_allow_http = true)", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewClient checks the options and returns a client.
func NewClient(o Options) (*Client, error) {
	base, err := CheckServerURL(o.ServerURL, o.InsecureAllowHTTP)
	if err != nil {
		return nil, err
	}
	if o.APIUser == "" {
		return nil, errors.New("api_user must not be empty")
	}
	if o.APIKey == "" {
		return nil, errors.New("api_key must not be empty")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.MaxConns
	tr.Proxy = http.ProxyFromEnvironment // HTTPS_PROXY/NO_PROXY; loopback is never proxied
	if o.CACertFile != "" {
		pem, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("ca_cert_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_cert_file %q: no PEM certificates found", o.CACertFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &Client{
		endpoint: base + "/api",
		user:     o.APIUser,
		key:      o.APIKey,
		red:      config.NewRedactor([]string{o.APIKey}),
		retry:    o.Retry.withDefaults(),
		pageSize: o.PageSize,
		parallel: o.MaxConns,
	}
	c.http = &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: c.refuseRedirect}
	return c, nil
}

// RedirectError is a redirect the client refused to follow. The ftrack API
// answers POST /api itself and never redirects, and following one would
// carry the ftrack-api-key header (Go keeps custom headers across hosts)
// to wherever Location points, over plain http too.
type RedirectError struct {
	// Status is the redirect's HTTP status, e.g. 307.
	Status int
	// Location is where the server pointed, resolved against the request
	// URL, with the API key masked should it appear.
	Location string
}

// Error names the status and the Location and says nothing was sent there.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("ftrack: the server answered HTTP %d redirecting to %q; the ftrack API never redirects, so it was not followed and nothing (no API key) was sent there: check server_url", e.Status, e.Location)
}

// refuseRedirect is the http.Client's CheckRedirect: every redirect is
// refused before a request to its target is made.
func (c *Client) refuseRedirect(req *http.Request, _ []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return &RedirectError{Status: status, Location: c.redact(req.URL.String())}
}

// Stats returns the traffic counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Operations: c.operations.Load(), Retries: c.retries.Load()}
}

// Operation is one element of a batch.
type Operation struct {
	// Action is "query", "create", "update", "delete", ...
	Action string `json:"action"`
	// Expression is the query expression of a query.
	Expression string `json:"expression,omitempty"`
	// EntityType is the type written to, e.g. "User".
	EntityType string `json:"entity_type,omitempty"`
	// EntityKey holds the primary-key values in primary-key order.
	EntityKey []string `json:"entity_key,omitempty"`
	// EntityData holds the attributes written, with __entity_type__.
	EntityData map[string]any `json:"entity_data,omitempty"`
	// UserID, RoleID, ProjectID and AllOpenProjects are the fields of the
	// security-role operations (RoleOp).
	UserID          string `json:"user_id,omitempty"`
	RoleID          string `json:"role_id,omitempty"`
	ProjectID       string `json:"project_id,omitempty"`
	AllOpenProjects *bool  `json:"all_open_projects,omitempty"`
}

// QueryOp returns a query operation.
func QueryOp(expr string) Operation { return Operation{Action: "query", Expression: expr} }

// CreateOp returns a create operation in the Python client's form: the
// primary key (generated by the caller) is both entity_key and part of
// entity_data, so a repeated create is recognisable.
func CreateOp(entityType string, key []string, data map[string]any) Operation {
	d := make(map[string]any, len(data)+2)
	for k, v := range data {
		d[k] = v
	}
	for i, k := range PrimaryKey(entityType) {
		if i < len(key) {
			d[k] = key[i]
		}
	}
	d["__entity_type__"] = entityType
	return Operation{Action: "create", EntityType: entityType, EntityKey: key, EntityData: d}
}

// UpdateOp returns an update of the entity with primary key values key.
func UpdateOp(entityType string, key []string, data map[string]any) Operation {
	d := make(map[string]any, len(data)+1)
	for k, v := range data {
		d[k] = v
	}
	d["__entity_type__"] = entityType
	return Operation{Action: "update", EntityType: entityType, EntityKey: key, EntityData: d}
}

// DeleteOp returns a delete of the entity with primary key values key.
func DeleteOp(entityType string, key []string) Operation {
	return Operation{Action: "delete", EntityType: entityType, EntityKey: key}
}

func isRead(op Operation) bool {
	switch op.Action {
	case "query", "query_schemas", "query_server_information":
		return true
	}
	return false
}

// redact removes the API key from server-supplied text (engine/config's
// redactor: escaped forms too, and a key however short).
func (c *Client) redact(s string) string { return c.red.Redact(s) }

// sendRead performs one HTTP exchange of ops and returns the raw response
// elements. fast, when set, is offered a successful answer's body that is
// a JSON list first; when it takes the body (returns true) sendRead
// returns nil, nil and the body is not split.
func (c *Client) sendRead(ctx context.Context, ops []Operation, fast func(body []byte) bool) ([]json.RawMessage, error) {
	body, err := encodeOps(ops)
	if err != nil {
		return nil, err
	}
	return c.sendBody(ctx, body, len(ops), fast)
}

// encodeOps encodes a request body: the JSON list of ops.
func encodeOps(ops []Operation) ([]byte, error) {
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("ftrack: encoding request: %w", err)
	}
	return body, nil
}

// sendBody is sendRead with the body already encoded from n operations.
func (c *Client) sendBody(ctx context.Context, body []byte, n int, fast func(body []byte) bool) ([]json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("ftrack: building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("ftrack-user", c.user)
	req.Header.Set("ftrack-api-key", c.key)
	req.Header.Set("ftrack-strict-api", "true")
	c.requests.Add(1)
	c.operations.Add(int64(n))
	resp, err := c.http.Do(req)
	if err != nil {
		var re *RedirectError
		switch {
		case errors.As(err, &re):
			return nil, re // a refusal, not a transport failure: never retried
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		return nil, &transportError{errors.New(c.redact(err.Error()))}
	}
	defer resp.Body.Close()
	var data []byte
	release := func() {}
	if fast != nil {
		data, release, err = pooledBody(resp.Body, maxResponseBytes)
	} else {
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &transportError{fmt.Errorf("reading response (HTTP %d): %s", resp.StatusCode, c.redact(err.Error()))}
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("ftrack: response larger than %d bytes", maxResponseBytes)
	}
	if fast != nil && resp.StatusCode < 300 && firstByte(data) == '[' && fast(data) {
		release() // fast keeps nothing of the body
		return nil, nil
	}
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return c.parse(resp.StatusCode, retryAfter, data, n)
}

// firstByte returns the first byte of b that is not JSON white space.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// parse interprets a response body: an exception object is an error
// whatever the status; anything but a same-length JSON array is an error.
func (c *Client) parse(status int, retryAfter time.Duration, data []byte, n int) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var obj struct {
			Exception *string         `json:"exception"`
			Content   any             `json:"content"`
			ErrorCode any             `json:"error_code"`
			Detail    json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(trimmed, &obj); err == nil {
			switch {
			case obj.Exception != nil:
				return nil, &APIError{Exception: c.redact(*obj.Exception), Content: c.redact(textOf(obj.Content)),
					ErrorCode: c.redact(textOf(obj.ErrorCode)), Status: status, RetryAfter: retryAfter}
			case obj.Detail != nil:
				return nil, &APIError{Exception: "ValidationError", Content: c.redact(string(obj.Detail)), Status: status, RetryAfter: retryAfter}
			}
		}
	}
	if len(trimmed) > 0 && trimmed[0] == '[' && status < 300 {
		elems, err := splitList(trimmed, n)
		if err == nil {
			if len(elems) != n {
				return nil, fmt.Errorf("ftrack: protocol error: %d operations sent, %d results received", n, len(elems))
			}
			return elems, nil
		}
	}
	return nil, &HTTPError{Status: status, BodyPrefix: c.bodyPrefix(trimmed), RetryAfter: retryAfter}
}

// splitList returns the elements of the JSON list b, as json.Unmarshal
// into []json.RawMessage does, in one validating pass instead of two (a
// write's answer is a hundred full entity rows, and was scanned twice);
// expect is how many elements to make room for. A list the one pass
// refuses (invalid UTF-8, say) is left to json.Unmarshal, so what is
// accepted, and the error, are encoding/json's.
func splitList(b []byte, expect int) ([]json.RawMessage, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true))
	elems := make([]json.RawMessage, 0, expect)
	ok := func() bool {
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
			return false
		}
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return false
			}
			end := dec.InputOffset()
			elems = append(elems, json.RawMessage(b[end-int64(len(v)):end:end]))
		}
		if _, err := dec.ReadToken(); err != nil {
			return false
		}
		_, err := dec.ReadToken()
		return err == io.EOF
	}()
	if ok {
		return elems, nil
	}
	elems = nil
	if err := json.Unmarshal(b, &elems); err != nil {
		return nil, err
	}
	return elems, nil
}

// bodyPrefix returns the start of a body for a message: redacted first,
// then cut to errorBodyPrefixLen bytes (at a character boundary), so a key
// that straddles the cut is never printed in part.
func (c *Client) bodyPrefix(b []byte) string {
	window := b[:min(len(b), c.red.PrefixWindow(errorBodyPrefixLen))]
	s, more := c.red.RedactPrefix(string(window), errorBodyPrefixLen)
	more = more || len(window) < len(b)
	if !more {
		return s
	}
	return trimPartialRune(s) + "…"
}

// trimPartialRune drops an incomplete UTF-8 sequence that a cut left at
// the end of s.
func trimPartialRune(s string) string {
	for i := 1; i <= utf8.UTFMax && i <= len(s); i++ {
		if utf8.RuneStart(s[len(s)-i]) {
			if !utf8.FullRuneInString(s[len(s)-i:]) {
				return s[:len(s)-i]
			}
			break
		}
	}
	return s
}

func textOf(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// retrier paces the attempts of one request.
type retrier struct {
	c       *Client
	b       *backoff.ExponentialBackOff
	start   time.Time
	attempt int
}

func (c *Client) newRetrier() *retrier {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.retry.InitialInterval
	b.MaxInterval = c.retry.MaxInterval
	b.MaxElapsedTime = c.retry.MaxElapsedTime
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.Reset()
	return &retrier{c: c, b: b, start: time.Now()}
}

// wait sleeps before the next attempt; it returns false when the attempts
// or the time are used up (or ctx is done).
func (r *retrier) wait(ctx context.Context, retryAfter time.Duration, cause error) bool {
	if r.attempt >= r.c.retry.MaxRetries {
		return false
	}
	d := r.b.NextBackOff()
	if d == backoff.Stop {
		return false
	}
	if retryAfter > d {
		d = retryAfter
	}
	if time.Since(r.start)+d > r.c.retry.MaxElapsedTime {
		return false
	}
	r.attempt++
	r.c.retries.Add(1)
	if r.c.retry.OnRetry != nil {
		r.c.retry.OnRetry(r.attempt, r.c.retry.MaxRetries, d, cause)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Call sends a batch and returns one raw result per operation. A batch of
// reads is retried on any transient failure; a batch with writes goes
// through Write's safe retry.
func (c *Client) Call(ctx context.Context, ops []Operation) ([]json.RawMessage, error) {
	for _, op := range ops {
		if !isRead(op) {
			return c.Write(ctx, ops)
		}
	}
	return c.read(ctx, ops, nil)
}

// read sends a batch of reads, retrying on any transient failure; fast is
// sendRead's fast path for each answer.
func (c *Client) read(ctx context.Context, ops []Operation, fast func(body []byte) bool) ([]json.RawMessage, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	r := c.newRetrier()
	for {
		res, err := c.sendRead(ctx, ops, fast)
		if err == nil {
			return res, nil
		}
		kind, after := classify(err)
		if kind == noRetry || !r.wait(ctx, after, err) {
			return nil, c.giveUp(ctx, r, err)
		}
	}
}

func (c *Client) giveUp(ctx context.Context, r *retrier, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
	}
	if r.attempt > 0 {
		return fmt.Errorf("after %d attempts: %w", r.attempt+1, err)
	}
	return err
}

// Write sends a batch of creates, updates and deletes, retrying so that
// no fixed pattern of failures can keep it from finishing:
//
//   - A failure that leaves the outcome unclear (dropped connection,
//     502/503/504, timeout) or a 429 is answered by resending the batch as
//     it is, after the backoff, and nothing else: every operation is safe
//     to repeat. A create carries its primary key (generated by the
//     caller), so a repeat cannot make a second entity; an update sets
//     values; a delete names its key. The next request is the write
//     itself, so a server failing every Nth request fails one writer at
//     most N-1 times in a row (the old verify-then-resend cycle took two
//     requests and, against every second request failing, sent every
//     resend into a failure). Writers sharing the server shift each
//     other's turns, like random failures, which the retry budget covers.
//   - A clean rejection of a batch that an earlier attempt may have
//     applied is ambiguous — a create rejected as a duplicate of itself, a
//     delete of what it already deleted — and only then does it read back
//     which operations are in place (applied) and resend the rest. When
//     all are in place the write is done (their results are nil); when
//     none is, the rejection is real and returned. Each read-back either
//     shrinks the batch or ends the write.
//   - A rejection with no earlier unclear attempt is returned at once.
func (c *Client) Write(ctx context.Context, ops []Operation) ([]json.RawMessage, error) {
	return c.writeEncoded(ctx, ops, nil)
}

// writeEncoded is Write with the request body of ops, when not nil,
// encoded already (by encodeOps), so that a caller can encode the next
// request while its slot is still taken. A resend of the same operations
// sends the same body.
func (c *Client) writeEncoded(ctx context.Context, ops []Operation, body []byte) ([]json.RawMessage, error) {
	w := newWriteRun(ops)
	w.body = body
	r := c.newRetrier()
	for len(w.pending) > 0 {
		if w.body == nil {
			var err error
			if w.body, err = encodeOps(w.pending); err != nil {
				return nil, err
			}
		}
		res, err := c.sendBody(ctx, w.body, len(w.pending), nil)
		if err == nil {
			return w.finish(res), nil
		}
		kind, after := classify(err)
		switch {
		case kind == retryUnclear || kind == retryUnprocessed:
			w.unclear = w.unclear || kind == retryUnclear
			if !r.wait(ctx, after, err) {
				return nil, c.giveUp(ctx, r, err)
			}
		case w.unclear && IsRejection(err):
			if err := c.settle(ctx, w, err); err != nil {
				return nil, err
			}
		default:
			return nil, c.giveUp(ctx, r, err)
		}
	}
	return w.results, nil
}

// writeRun is the progress of one Write: the operations not known to be
// in place, their positions in the caller's batch, and the results.
type writeRun struct {
	pending []Operation
	idx     []int // position in the caller's ops of each pending op
	results []json.RawMessage
	// body is pending's request body, nil until encoded.
	body []byte
	// unclear: an attempt of some pending operation may have taken effect
	// without an answer saying so.
	unclear bool
}

func newWriteRun(ops []Operation) *writeRun {
	w := &writeRun{pending: ops, idx: make([]int, len(ops)), results: make([]json.RawMessage, len(ops))}
	for i := range w.idx {
		w.idx[i] = i
	}
	return w
}

// finish records the results of the pending operations and returns all.
func (w *writeRun) finish(res []json.RawMessage) []json.RawMessage {
	for i, v := range res {
		w.results[w.idx[i]] = v
	}
	return w.results
}

// settle handles a rejection after an unclear attempt: it reads back which
// pending operations are in place and drops them (Write ends when none is
// left). The error is the rejection itself when nothing was in place (it
// is real), or the read-back's failure.
func (c *Client) settle(ctx context.Context, w *writeRun, rejection error) error {
	applied, err := c.applied(ctx, w.pending)
	if err != nil {
		return fmt.Errorf("%w (and checking what an earlier attempt applied failed: %v)", rejection, err)
	}
	var np []Operation
	var ni []int
	for i, op := range w.pending {
		if !applied[i] {
			np = append(np, op)
			ni = append(ni, w.idx[i])
		}
	}
	if len(np) == len(w.pending) {
		return rejection
	}
	w.pending, w.idx, w.body = np, ni, nil
	return nil
}

// applied reads back which of ops already took effect: entity operations
// by appliedEntities, then role operations by appliedRoles; reads are
// false.
func (c *Client) applied(ctx context.Context, ops []Operation) ([]bool, error) {
	var entity, roles []int
	for i, op := range ops {
		switch {
		case isRead(op):
		case isRoleOp(op):
			roles = append(roles, i)
		default:
			entity = append(entity, i)
		}
	}
	out := make([]bool, len(ops))
	for _, kind := range []struct {
		idx   []int
		check func(context.Context, []Operation) ([]bool, error)
	}{{entity, c.appliedEntities}, {roles, c.appliedRoles}} {
		sub := make([]Operation, len(kind.idx))
		for k, i := range kind.idx {
			sub[k] = ops[i]
		}
		got, err := kind.check(ctx, sub)
		if err != nil {
			return nil, err
		}
		for k, i := range kind.idx {
			out[i] = got[k]
		}
	}
	return out, nil
}

// appliedEntities reads back which entity operations of ops took effect:
// a create whose key exists, a delete whose key is gone, an update whose
// values are all in place. Key values must be interpolation-safe, or it
// fails.
func (c *Client) appliedEntities(ctx context.Context, ops []Operation) ([]bool, error) {
	type group struct {
		keys  [][]string
		attrs map[string]bool
	}
	groups := map[string]*group{}
	var types []string
	for _, op := range ops {
		pk := PrimaryKey(op.EntityType)
		if len(op.EntityKey) != len(pk) {
			return nil, fmt.Errorf("cannot verify %s %s: entity_key has %d values, primary key %v", op.Action, op.EntityType, len(op.EntityKey), pk)
		}
		g := groups[op.EntityType]
		if g == nil {
			g = &group{attrs: map[string]bool{}}
			groups[op.EntityType] = g
			types = append(types, op.EntityType)
		}
		g.keys = append(g.keys, op.EntityKey)
		if op.Action == "update" {
			for k := range op.EntityData {
				if k != "__entity_type__" {
					g.attrs[k] = true
				}
			}
		}
	}
	var qs []PagedQuery
	var qtypes []string
	for _, typ := range types {
		g := groups[typ]
		pk := PrimaryKey(typ)
		proj := append([]string(nil), pk...)
		for _, a := range sortedKeys(g.attrs) {
			if !slices.Contains(pk, a) {
				proj = append(proj, a)
			}
		}
		for _, a := range proj {
			if !safeRE.MatchString(a) {
				return nil, fmt.Errorf("cannot verify %s: attribute %q", typ, a)
			}
		}
		err := byIDChunks(g.keys, func(keys [][]string) error {
			var crit []string
			for i, a := range pk {
				vals := map[string]bool{}
				for _, k := range keys {
					vals[k[i]] = true
				}
				cr, err := In(a, sortedKeys(vals))
				if err != nil {
					return fmt.Errorf("cannot verify %s: %w", typ, err)
				}
				crit = append(crit, cr)
			}
			qs = append(qs, PagedQuery{
				Expression: "select " + strings.Join(proj, ", ") + " from " + typ + " where " + strings.Join(crit, " and "),
				OrderBy:    strings.Join(pk, ", "),
			})
			qtypes = append(qtypes, typ)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	found := map[string]Entity{}
	if len(qs) > 0 {
		res, err := c.QueryMany(ctx, qs...)
		if err != nil {
			return nil, err
		}
		for i, rows := range res {
			for _, e := range rows {
				found[keyOf(qtypes[i], e)] = e
			}
		}
	}
	out := make([]bool, len(ops))
	for i, op := range ops {
		e, exists := found[op.EntityType+"\x00"+strings.Join(op.EntityKey, "\x00")]
		switch op.Action {
		case "create":
			out[i] = exists
		case "delete":
			out[i] = !exists
		case "update":
			ok := exists
			for k, v := range op.EntityData {
				if k != "__entity_type__" && ok {
					ok = sameValue(e[k], v)
				}
			}
			out[i] = ok
		}
	}
	return out, nil
}

func keyOf(typ string, e Entity) string {
	parts := []string{typ}
	for _, k := range PrimaryKey(typ) {
		parts = append(parts, fmt.Sprint(e[k]))
	}
	return strings.Join(parts, "\x00")
}

// sameValue compares a decoded value with one we sent, by JSON form.
func sameValue(got, want any) bool {
	a, err1 := json.Marshal(got)
	b, err2 := json.Marshal(want)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
