package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// limitReasons is the limits pass: the block reasons of a plan whose
// counts s exceed the policy's limits. owned is the number of accounts
// the mapping owns (the base of max_deactivations and max_updates),
// desired the number of directory users (the base of max_creates).
func limitReasons(pol Policy, s Summary, owned, desired int) []string {
	var out []string
	if r := limitCheck("max_deactivations", pol.MaxDeactivations, s.Deactivate, "deactivations", owned, "managed users"); r != "" {
		out = append(out, r)
	}
	if r := limitCheck("max_creates", pol.MaxCreates, s.Create, "creates", desired, "directory users"); r != "" {
		out = append(out, r)
	}
	if r := limitCheck("max_updates", pol.MaxUpdates, s.Update+s.Adopt, "updates", owned, "managed users"); r != "" {
		out = append(out, r)
	}
	return out
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
