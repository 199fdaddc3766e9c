package engine

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// protector matches usernames against policy.protect: plain names compare
// without case, "re:" entries are regular expressions matched against the
// lower-case username.
type protector struct {
	names map[string]string // lower name -> entry as written
	res   []*regexp.Regexp
	raw   []string
}

func newProtector(list []string) (*protector, error) {
	p := &protector{names: map[string]string{}}
	for _, e := range list {
		if pat, ok := strings.CutPrefix(e, "re:"); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("policy.protect %q: %w", e, err)
			}
			p.res = append(p.res, re)
			p.raw = append(p.raw, e)
			continue
		}
		p.names[strings.ToLower(strings.TrimSpace(e))] = e
	}
	return p, nil
}

// match returns the protect entry that matches username, or "".
func (p *protector) match(username string) string {
	l := strings.ToLower(username)
	if e, ok := p.names[l]; ok {
		return e
	}
	for i, re := range p.res {
		if re.MatchString(l) {
			return p.raw[i]
		}
	}
	return ""
}

// limitCheck evaluates one limit; it returns a block reason or "".
// what is the plural noun ("deactivations"), base the number the
// percentage applies to, baseNoun its noun ("managed users").
func limitCheck(name string, l Limit, n int, what string, base int, baseNoun string) string {
	if l.Raw == "" || n == 0 {
		return ""
	}
	count := fmt.Sprintf("%d %s exceed", n, what)
	if n == 1 { // "1 deactivation exceeds"
		count = fmt.Sprintf("1 %s exceeds", strings.TrimSuffix(what, "s"))
	}
	if l.Percent {
		allowed := int(math.Floor(l.Value / 100 * float64(base)))
		if n > allowed {
			return fmt.Sprintf("%s %s = %s (%d of %d %s)", count, name, l.Raw, allowed, base, baseNoun)
		}
		return ""
	}
	if n > l.Count {
		return fmt.Sprintf("%s %s = %s", count, name, l.Raw)
	}
	return ""
}

// ParseLimit parses a limit as written: a count ("10") or a percentage
// ("5%"). An empty string is no limit.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Limit{}, nil
	}
	if v, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return Limit{}, fmt.Errorf("limit %q: want a count like 10 or a percentage like 5%%", s)
		}
		return Limit{Raw: s, Percent: true, Value: f}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("limit %q: want a count like 10 or a percentage like 5%%", s)
	}
	return Limit{Raw: s, Count: n}, nil
}

// policyRaw renders a policy as written, for plans made without the
// configuration's own spelling.
func policyRaw(p Policy) map[string]string {
	m := map[string]string{
		"on_missing":       p.OnMissing,
		"on_disabled":      p.OnDisabled,
		"reactivate":       strconv.FormatBool(p.Reactivate),
		"grace_period":     p.GracePeriod.String(),
		"min_source_users": strconv.Itoa(p.MinSourceUsers),
		"adopt_existing":   strconv.FormatBool(p.AdoptExisting),
	}
	for k, l := range map[string]Limit{"max_deactivations": p.MaxDeactivations, "max_creates": p.MaxCreates, "max_updates": p.MaxUpdates} {
		if l.Raw != "" {
			m[k] = l.Raw
		}
	}
	if len(p.Protect) > 0 {
		prot := append([]string(nil), p.Protect...)
		sort.Strings(prot)
		m["protect"] = strings.Join(prot, ", ")
	}
	if p.MaxErrors > 0 {
		m["max_errors"] = strconv.Itoa(p.MaxErrors)
	}
	return m
}
