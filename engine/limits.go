package engine

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The limits pass. A limit the policy sets is in force as written; one it
// leaves out falls back to a default, so that a careless first
// configuration (or the original script's YAML, which has no policy) still
// cannot deactivate most of a studio at once:
//
//	max_deactivations  25% of the managed users, once there are at least 20
//	max_updates        50% of the managed users, once there are at least 20
//	max_creates        none: an initial import of any size is never blocked
//	max_role_changes   50% of the managed users, once there are at least 20
//	                   (grants, removals and project grants, together)
//
// A limit of "100%" lifts one explicitly (it never blocks, also when
// adoptions outnumber the managed users).

// defaultLimitFloor is the number of managed users from which the default
// limits apply: below it a percentage is a handful of people.
const defaultLimitFloor = 20

// defaultLimits are the limits in force when the policy does not set them.
var defaultLimits = map[string]Limit{
	"max_deactivations": {Raw: "25%", Percent: true, Value: 25},
	"max_updates":       {Raw: "50%", Percent: true, Value: 50},
	"max_role_changes":  {Raw: "50%", Percent: true, Value: 50},
}

// LimitInForce is one safety limit as a plan applies it, recorded in the
// plan and shown to the reviewer.
type LimitInForce struct {
	// Name is the policy attribute: max_deactivations, max_creates or
	// max_updates.
	Name string `json:"name"`
	// Limit is the limit ("25%", "10"), or "none".
	Limit string `json:"limit"`
	// Source is "policy" (written in the configuration) or "default".
	Source string `json:"source"`
	// AppliesFrom is, for a default, the number of managed users from
	// which it applies.
	AppliesFrom int `json:"applies_from,omitempty"`
}

// limitRule is one limit with what it counts and its base.
type limitRule struct {
	name, what, baseNoun string
	limit                Limit
	isDefault            bool
	count                func(Summary) int
	base                 func(owned, desired int) int
}

// limitRules are the policy's limits, defaults filled in.
func limitRules(pol Policy) []limitRule {
	rules := []limitRule{
		{name: "max_deactivations", what: "deactivations", baseNoun: "managed users", limit: pol.MaxDeactivations,
			count: func(s Summary) int { return s.Deactivate }, base: func(owned, _ int) int { return owned }},
		{name: "max_creates", what: "creates", baseNoun: "directory users", limit: pol.MaxCreates,
			count: func(s Summary) int { return s.Create + s.CreateGroup }, base: func(_, desired int) int { return desired }},
		{name: "max_updates", what: "updates", baseNoun: "managed users", limit: pol.MaxUpdates,
			count: func(s Summary) int { return s.Update + s.Adopt }, base: func(owned, _ int) int { return owned }},
		{name: "max_role_changes", what: "role changes", baseNoun: "directory users", limit: pol.MaxRoleChanges,
			count: func(s Summary) int { return s.Roles() }, base: func(_, desired int) int { return desired }},
	}
	for i := range rules {
		if d, ok := defaultLimits[rules[i].name]; ok && rules[i].limit.Raw == "" {
			rules[i].limit, rules[i].isDefault = d, true
		}
	}
	return rules
}

// LimitsInForce lists the policy's limits with their sources.
func LimitsInForce(pol Policy) []LimitInForce {
	var out []LimitInForce
	for _, r := range limitRules(pol) {
		l := LimitInForce{Name: r.name, Limit: r.limit.Raw, Source: "policy"}
		switch {
		case r.isDefault:
			l.Source, l.AppliesFrom = "default", defaultLimitFloor
		case l.Limit == "":
			l.Limit, l.Source = "none", "default"
		}
		out = append(out, l)
	}
	return out
}

// blockReasons is the limits pass over a list of changes: the limits in
// force (handovers, which write only the ownership marker, do not count
// as updates), and accounts that match directory users but are owned by
// another mapping name (foreign: a renamed mapping), each a reason that
// blocks the plan.
func blockReasons(pol Policy, changes []Change, owned, desired int, foreign map[string]int, mapper string) []string {
	var s Summary
	for _, c := range changes {
		if isHandover(c) {
			continue
		}
		s.add(c.Action)
	}
	out := limitReasons(pol, s, owned, desired)
	owners := make([]string, 0, len(foreign))
	for o := range foreign {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		out = append(out, fmt.Sprintf("%d ftrack accounts that match directory users are owned by mapping %q, not %q: was the mapping renamed? Declare previous_names = [%q] in mapping %q to hand them over, or rename it back", foreign[o], o, mapper, o, mapper))
	}
	return out
}

// isHandover reports whether a change is a handover by its shape, never
// by its reason (a plan's reason is the plan's claim): an adopt that
// writes only the owner, over another owner (apply's shape check accepts
// only the mapping's previous names there). An adopt of an unowned
// account writes the stable id too.
func isHandover(c Change) bool {
	if c.Action != ActionAdopt || c.Before == nil || c.Before.Owner == nil || *c.Before.Owner == "" {
		return false
	}
	names := fieldNames(c.After)
	return len(names) == 1 && names[0] == "owner"
}

// limitReasons is the limits pass: the block reasons of a plan whose
// counts s exceed the limits in force. owned is the number of accounts
// the mapping owns (the base of max_deactivations and max_updates),
// desired the number of directory users (the base of max_creates).
func limitReasons(pol Policy, s Summary, owned, desired int) []string {
	var out []string
	for _, r := range limitRules(pol) {
		if r.isDefault && owned < defaultLimitFloor {
			continue
		}
		reason := limitCheck(r.name, r.limit, r.count(s), r.what, r.base(owned, desired), r.baseNoun)
		if reason != "" && r.isDefault {
			reason += fmt.Sprintf(" — the default, in force from %d managed users; set %s in the policy to change it", defaultLimitFloor, r.name)
		}
		if reason != "" {
			out = append(out, reason)
		}
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
	if l.Percent && l.Value >= 100 {
		return "" // "100%" lifts the limit
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

// blankingFloor is how many managed users may see a field blanked before
// an attribute no entry has is taken for a misspelling.
const blankingFloor = 3

// blankingReasons blocks a plan that would blank a mapped field on more
// than blankingFloor managed users when every attribute the field is
// computed from is absent from every directory entry read: a misspelt
// attribute (entry.givenNmae) reads as empty for everyone, and must not
// erase a studio's names.
func blankingReasons(v *view, changes []Change, m Mapper) []string {
	blanked := map[string]int{}
	for _, c := range changes {
		if c.Action != ActionUpdate && c.Action != ActionAdopt {
			continue
		}
		for _, x := range SetFields(c.After) {
			if b, ok := x.Field.Get(c.Before); ok && x.Field.Kind == FieldAttribute && x.Value == "" && b != "" {
				blanked[x.Field.Name]++
			}
		}
	}
	var out []string
	for _, uf := range userFields {
		n := blanked[uf.Name]
		if n <= blankingFloor {
			continue
		}
		attrs := m.FieldAttributes(uf.Name)
		absent := len(attrs) > 0
		for _, a := range attrs {
			if v.seenAttrs[a] {
				absent = false
			}
		}
		if absent {
			out = append(out, fmt.Sprintf("%s would be blanked on %d managed users: the mapping reads %s, which no directory entry has (a misspelt attribute?); fix the mapping", uf.Name, n, quoteAll(attrs)))
		}
	}
	return out
}
