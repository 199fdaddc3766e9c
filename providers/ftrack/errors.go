package ftrack

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/engine"
)

// Sentinel errors that an *APIError matches with errors.Is, by kind.
var (
	// ErrValidation is a rejected request: bad expression, bad attribute value.
	ErrValidation = errors.New("ftrack: validation error")
	// ErrPermission is an operation the API user may not perform.
	ErrPermission = errors.New("ftrack: permission denied")
	// ErrAuthentication is a rejected api_user/api_key pair.
	ErrAuthentication = errors.New("ftrack: authentication failed")
	// ErrDuplicate is a unique constraint violation (e.g. a taken username).
	ErrDuplicate = errors.New("ftrack: duplicate entry")
	// ErrNotFound is a reference to an entity that does not exist.
	ErrNotFound = errors.New("ftrack: not found")
	// ErrNoSeats is an activation (a create of an active User, an update
	// of is_active to true) refused because every user licence is in
	// use: the LicenseError exception. It also matches engine.ErrNoSeats,
	// so apply stops activating and carries on with the rest.
	ErrNoSeats = errors.New("ftrack: no user licence free")
	// ErrServer is any other server-side failure.
	ErrServer = errors.New("ftrack: server error")
)

// APIError is an exception object returned by the server, e.g.
// {"exception":"ValidationError","content":"...","error_code":null}. It
// replaces the whole response, so none of the batch's results are known.
type APIError struct {
	// Exception is the exception name, e.g. "DuplicateEntryError".
	Exception string
	// Content is the server's message.
	Content string
	// ErrorCode is the server's error_code, empty when null.
	ErrorCode string
	// Status is the HTTP status code of the response.
	Status int
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
}

// Error returns the exception name, message and HTTP status.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("ftrack: ")
	b.WriteString(e.Exception)
	if e.Content != "" {
		b.WriteString(": ")
		b.WriteString(e.Content)
	}
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (error_code %s)", e.ErrorCode)
	}
	if e.Status != 0 && e.Status != http.StatusOK {
		fmt.Fprintf(&b, " [HTTP %d]", e.Status)
	}
	return b.String()
}

// Kind returns the sentinel error the exception maps to.
func (e *APIError) Kind() error {
	name := strings.ToLower(e.Exception)
	switch {
	case strings.Contains(name, "validation"):
		return ErrValidation
	case strings.Contains(name, "credential") || strings.Contains(name, "authentication"):
		return ErrAuthentication
	case strings.Contains(name, "permission"):
		return ErrPermission
	case strings.Contains(name, "duplicate") || strings.Contains(name, "integrity") || strings.Contains(name, "unique"):
		return ErrDuplicate
	case strings.Contains(name, "notfound") || strings.Contains(name, "noresult") || strings.Contains(name, "not_found"):
		return ErrNotFound
	case strings.Contains(name, "licence") || strings.Contains(name, "license"):
		return ErrNoSeats
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrValidation
	case http.StatusUnauthorized:
		return ErrAuthentication
	case http.StatusForbidden:
		return ErrPermission
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrDuplicate
	}
	return ErrServer
}

// Is reports whether target is the sentinel this exception maps to (a
// licence exception is engine.ErrNoSeats too).
func (e *APIError) Is(target error) bool {
	k := e.Kind()
	return target == k || (k == ErrNoSeats && target == engine.ErrNoSeats)
}

// HTTPError is a response whose body is not the JSON the API speaks, e.g.
// an HTML page from a proxy.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// BodyPrefix is the start of the body, for the message.
	BodyPrefix string
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
}

// Error quotes the status and the start of the body.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("ftrack: unexpected response (HTTP %d %s), not the API's JSON: %q",
		e.Status, http.StatusText(e.Status), e.BodyPrefix)
}

// Is maps 5xx to ErrServer, 401 to ErrAuthentication and 403 to ErrPermission.
func (e *HTTPError) Is(target error) bool {
	switch {
	case e.Status >= 500:
		return target == ErrServer
	case e.Status == http.StatusUnauthorized:
		return target == ErrAuthentication
	case e.Status == http.StatusForbidden:
		return target == ErrPermission
	}
	return false
}

// transportError is a failure to complete the HTTP exchange: the request may
// or may not have reached the server.
type transportError struct{ err error }

// Error says the request failed, and why.
func (e *transportError) Error() string { return "ftrack: request failed: " + e.err.Error() }

// Unwrap returns the transport's error.
func (e *transportError) Unwrap() error { return e.err }

// retryKind says whether and how a failed attempt may be repeated.
type retryKind int

const (
	// noRetry: a clean rejection, a protocol error or a cancelled context.
	noRetry retryKind = iota
	// retryUnprocessed: the server refused without processing (429).
	retryUnprocessed
	// retryUnclear: the batch may or may not have been applied.
	retryUnclear
)

func retryableStatus(status int) retryKind {
	switch status {
	case http.StatusTooManyRequests:
		return retryUnprocessed
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retryUnclear
	}
	return noRetry
}

// classify says how err may be retried and the server's Retry-After hint.
func classify(err error) (retryKind, time.Duration) {
	var ae *APIError
	var he *HTTPError
	var te *transportError
	switch {
	case errors.As(err, &ae):
		return retryableStatus(ae.Status), ae.RetryAfter
	case errors.As(err, &he):
		return retryableStatus(he.Status), he.RetryAfter
	case errors.As(err, &te):
		return retryUnclear, 0
	}
	return noRetry, 0
}

// IsRejection reports whether err is a clean rejection of the request by the
// server (an exception that retrying would not change): the batch was not
// applied and one of its operations is at fault.
func IsRejection(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return retryableStatus(ae.Status) == noRetry && !errors.Is(ae, ErrAuthentication)
	}
	return false
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
