package httpstate

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/ldapsync/ldapsync/engine/config"
)

// Terraform's defaults for the http backend.
const (
	DefaultLockMethod   = "LOCK"
	DefaultUnlockMethod = "UNLOCK"
	DefaultUpdateMethod = "POST"
	DefaultRetryMax     = 2
	DefaultRetryWaitMin = time.Second
	DefaultRetryWaitMax = 30 * time.Second
)

// Settings are the attributes of a `state "http" { ... }` block. The zero
// value of a field means its default (Decode fills them in, New does for
// Settings built in Go).
type Settings struct {
	// Address is the state document's URL (required).
	Address string
	// LockAddress is where the lock is taken; "" means Address.
	LockAddress string
	// UnlockAddress is where the lock is released; "" means LockAddress.
	UnlockAddress string
	// DisableLocking runs without a lock (lock_address = "" in HCL):
	// Lock takes nothing, and apply is serialised some other way or not
	// at all.
	DisableLocking bool
	// LockMethod, UnlockMethod and UpdateMethod are the HTTP methods of
	// lock, unlock and save; "" means LOCK, UNLOCK and POST.
	LockMethod, UnlockMethod, UpdateMethod string
	// Username and Password are sent as HTTP basic authentication when
	// Username is set.
	Username, Password string
	// RetryMax is the number of retries after a request's first attempt:
	// 0 means DefaultRetryMax, a negative value none (retry_max = 0 in
	// HCL decodes to -1).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the wait between retries: 0
	// means the default, a negative value no wait.
	RetryWaitMin, RetryWaitMax time.Duration
	// CACertFile is an optional PEM file of CAs trusted besides the
	// system's.
	CACertFile string
	// InsecureAllowHTTP permits http:// to a host that is not loopback.
	InsecureAllowHTTP bool
}

// String describes the settings with the password redacted, so that a
// stray %v never prints it.
func (s Settings) String() string {
	c := s
	if c.Password != "" {
		c.Password = config.Redacted
	}
	c.Address, c.LockAddress, c.UnlockAddress = shown(c.Address), shown(c.LockAddress), shown(c.UnlockAddress)
	type plain Settings // drops this method, so fmt does not recurse
	return fmt.Sprintf("%+v", plain(c))
}

// withDefaults fills in the defaults of zero fields.
func (s Settings) withDefaults() Settings {
	if s.LockAddress == "" {
		s.LockAddress = s.Address
	}
	if s.UnlockAddress == "" {
		s.UnlockAddress = s.LockAddress
	}
	if s.LockMethod == "" {
		s.LockMethod = DefaultLockMethod
	}
	if s.UnlockMethod == "" {
		s.UnlockMethod = DefaultUnlockMethod
	}
	if s.UpdateMethod == "" {
		s.UpdateMethod = DefaultUpdateMethod
	}
	switch {
	case s.RetryMax == 0:
		s.RetryMax = DefaultRetryMax
	case s.RetryMax < 0:
		s.RetryMax = 0
	}
	switch {
	case s.RetryWaitMin == 0:
		s.RetryWaitMin = DefaultRetryWaitMin
	case s.RetryWaitMin < 0:
		s.RetryWaitMin = 0
	}
	switch {
	case s.RetryWaitMax == 0:
		s.RetryWaitMax = max(DefaultRetryWaitMax, s.RetryWaitMin)
	case s.RetryWaitMax < 0:
		s.RetryWaitMax = 0
	}
	return s
}

// settingError is a problem with one setting, named by its HCL attribute.
type settingError struct {
	attr string
	msg  string
}

// Error implements error.
func (e *settingError) Error() string { return e.msg }

// check validates settings with their defaults filled in.
func (s Settings) check() error {
	if strings.TrimSpace(s.Address) == "" {
		return &settingError{"address", "address must not be empty"}
	}
	for _, a := range []struct{ attr, v string }{{"address", s.Address}, {"lock_address", s.LockAddress}, {"unlock_address", s.UnlockAddress}} {
		if s.DisableLocking && a.attr != "address" {
			continue
		}
		if _, err := checkAddress(a.attr, a.v, s.InsecureAllowHTTP); err != nil {
			return &settingError{a.attr, err.Error()}
		}
	}
	for _, m := range []struct{ attr, v string }{{"lock_method", s.LockMethod}, {"unlock_method", s.UnlockMethod}, {"update_method", s.UpdateMethod}} {
		if !isToken(m.v) {
			return &settingError{m.attr, fmt.Sprintf("%s %q is not an HTTP method", m.attr, m.v)}
		}
	}
	switch strings.ToUpper(s.UpdateMethod) {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT":
		return &settingError{"update_method", fmt.Sprintf("update_method %s cannot write the state: use POST (the default) or PUT", s.UpdateMethod)}
	}
	if !s.DisableLocking {
		if s.LockMethod == s.UpdateMethod && sameURL(s.LockAddress, s.Address) {
			return &settingError{"lock_method", fmt.Sprintf("lock_method %s to the state's own address would write the lock information as the state: set lock_address (GitLab: the address followed by /lock)", s.LockMethod)}
		}
		for _, m := range []struct{ attr, method, addr string }{{"lock_method", s.LockMethod, s.LockAddress}, {"unlock_method", s.UnlockMethod, s.UnlockAddress}} {
			if !sameURL(m.addr, s.Address) {
				continue
			}
			switch strings.ToUpper(m.method) {
			case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
				what := "write the lock information as the state"
				switch strings.ToUpper(m.method) {
				case "DELETE":
					what = "delete the state"
				case "GET", "HEAD":
					what = "only read the state"
				}
				return &settingError{m.attr, fmt.Sprintf("%s %s to the state's own address would %s: set %s (GitLab: the address followed by /lock)", m.attr, m.method, what, strings.TrimSuffix(m.attr, "_method")+"_address")}
			}
		}
	}
	if s.RetryWaitMax < s.RetryWaitMin {
		return &settingError{"retry_wait_max", fmt.Sprintf("retry_wait_max (%s) must not be shorter than retry_wait_min (%s)", s.RetryWaitMax, s.RetryWaitMin)}
	}
	return nil
}

// checkAddress parses an address setting: an absolute http(s) URL without
// credentials or fragment, https unless loopback or insecure (as
// ftrack.CheckServerURL rules for server_url). Messages show the address
// without its query, which may hold a token.
func checkAddress(attr, raw string, insecureAllowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid URL", attr)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s %q must be an absolute http(s) URL such as \"https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync\"", attr, shown(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not contain credentials; use username and password", attr)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s %q must not have a fragment", attr, shown(raw))
	}
	if u.Scheme == "http" && !insecureAllowHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s %q uses plain http: https is required (http is allowed only for loopback hosts, or with insecure_allow_http = true)", attr, shown(raw))
	}
	return u, nil
}

// shown is an address for messages: scheme, host and path, without
// credentials, query or fragment.
func shown(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(an invalid URL)"
	}
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}

func sameURL(a, b string) bool {
	ua, err1 := url.Parse(strings.TrimSpace(a))
	ub, err2 := url.Parse(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return a == b
	}
	norm := func(u *url.URL) string {
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
	}
	return norm(ua) == norm(ub)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isToken reports whether s is an HTTP token (a method name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var settingsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "address", Required: true},
	{Name: "lock_address"},
	{Name: "unlock_address"},
	{Name: "lock_method"},
	{Name: "unlock_method"},
	{Name: "update_method"},
	{Name: "username"},
	{Name: "password"},
	{Name: "retry_max"},
	{Name: "retry_wait_min"},
	{Name: "retry_wait_max"},
	{Name: "ca_cert_file"},
	{Name: "insecure_allow_http"},
}}

// Decode decodes the body of a `state "http"` block with ctx, the
// configuration's connection context (var.*, env(), file(): so that
// password = env("CI_JOB_TOKEN") works); a relative ca_cert_file is
// resolved against baseDir. Unknown attributes, a missing address, values
// of the wrong type and settings New would refuse are errors at their
// source ranges, without the values their expressions refer to (the
// password may come from a sensitive variable).
//
// Defaults are Terraform's (see the package documentation), except that
// lock_address defaults to address and unlock_address to lock_address;
// lock_address = "" turns locking off. retry_max = 0 means no retries
// (Settings.RetryMax -1); retry_wait_min and retry_wait_max take a number
// of seconds (5, 0.5) or a duration string ("5s", "500ms", or "5").
func Decode(body hcl.Body, ctx *hcl.EvalContext, baseDir string) (Settings, hcl.Diagnostics) {
	var s Settings
	content, diags := body.Content(settingsSchema)
	if content == nil {
		return s, config.WithoutValues(diags)
	}
	ev := config.SettingEval{Attrs: content.Attributes, Eval: ctx, Summary: "Invalid http state setting", Diags: diags}
	duration := func(name string, dst *time.Duration) {
		v, a, ok := ev.Value(name)
		if !ok {
			return
		}
		d, err := parseWait(v)
		if err != nil {
			ev.Bad(a, fmt.Sprintf("%s %s.", name, err))
			return
		}
		if d == 0 {
			d = -1 // an explicit 0: no wait
		}
		*dst = d
	}

	if v, a, ok := ev.Value("insecure_allow_http"); ok {
		if cv, err := convert.Convert(v, cty.Bool); err != nil {
			ev.Bad(a, "insecure_allow_http must be true or false.")
		} else {
			s.InsecureAllowHTTP = cv.True()
		}
	}
	ev.String("address", true, &s.Address)
	if a := ev.String("lock_address", true, &s.LockAddress); a != nil && s.LockAddress == "" && !ev.Diags.HasErrors() {
		s.DisableLocking = true
		if u, ok := ev.Attrs["unlock_address"]; ok {
			ev.Bad(u, `unlock_address must not be set when lock_address = "" turns locking off.`)
		}
	}
	if a := ev.String("unlock_address", true, &s.UnlockAddress); a != nil && s.UnlockAddress == "" && !s.DisableLocking && !ev.Diags.HasErrors() {
		ev.Bad(a, `unlock_address must not be empty: without it a lock could never be released (to run without locking, set lock_address = "").`)
	}
	for _, m := range []struct {
		name string
		dst  *string
	}{{"lock_method", &s.LockMethod}, {"unlock_method", &s.UnlockMethod}, {"update_method", &s.UpdateMethod}} {
		if a := ev.String(m.name, true, m.dst); a != nil && !ev.Diags.HasErrors() && *m.dst == "" {
			ev.Bad(a, m.name+" must not be empty.")
		}
	}
	ev.String("username", true, &s.Username)
	if a := ev.String("password", true, &s.Password); a != nil && s.Password != "" && s.Username == "" && !ev.Diags.HasErrors() {
		ev.Bad(a, "password is sent only with a username: set username too (GitLab: \"gitlab-ci-token\" with CI_JOB_TOKEN).")
	}
	if v, a, ok := ev.Value("retry_max"); ok {
		if cv, err := convert.Convert(v, cty.Number); err != nil {
			ev.Bad(a, "retry_max must be a whole number between 0 and 100.")
		} else if n, acc := cv.AsBigFloat().Int64(); !cv.AsBigFloat().IsInt() || acc != 0 || n < 0 || n > 100 {
			ev.Bad(a, "retry_max must be a whole number between 0 and 100.")
		} else if n == 0 {
			s.RetryMax = -1
		} else {
			s.RetryMax = int(n)
		}
	}
	duration("retry_wait_min", &s.RetryWaitMin)
	duration("retry_wait_max", &s.RetryWaitMax)
	ev.String("ca_cert_file", false, &s.CACertFile)
	s.CACertFile = config.BlockContext{Eval: ctx, Dir: baseDir}.Path(s.CACertFile)

	if !ev.Diags.HasErrors() {
		if err := s.withDefaults().check(); err != nil {
			var se *settingError
			rng := body.MissingItemRange()
			if errors.As(err, &se) {
				if a, ok := ev.Attrs[se.attr]; ok {
					rng = a.Expr.Range()
				} else if a, ok := ev.Attrs["address"]; ok {
					rng = a.Expr.Range() // a default taken from address
				}
			}
			ev.Diags = append(ev.Diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: ev.Summary, Detail: err.Error() + ".", Subject: rng.Ptr()})
		}
	}
	return s, config.WithoutValues(ev.Diags)
}

// parseWait reads a retry wait: a number of seconds, or a string holding a
// Go duration or a number of seconds.
func parseWait(v cty.Value) (time.Duration, error) {
	const limit = time.Hour
	errMsg := errors.New(`must be a number of seconds or a duration such as "1s", from 0 to 1h`)
	var secs float64
	switch {
	case v.Type().Equals(cty.Number):
		secs, _ = v.AsBigFloat().Float64()
	case v.Type().Equals(cty.String):
		t := strings.TrimSpace(v.AsString())
		if d, err := time.ParseDuration(t); err == nil {
			if d < 0 || d > limit {
				return 0, errMsg
			}
			return d, nil
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, errMsg
		}
		secs = f
	default:
		return 0, errMsg
	}
	if math.IsNaN(secs) || secs < 0 || secs > limit.Seconds() {
		return 0, errMsg
	}
	return time.Duration(secs * float64(time.Second)), nil
}
