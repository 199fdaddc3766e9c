package engine

import (
	"sort"
	"strconv"
	"strings"
)

// policyRaw renders a policy as written, for plans made without the
// configuration's own spelling.
func policyRaw(p Policy) map[string]string {
	m := map[string]string{
		"on_missing":       string(p.OnMissing),
		"on_disabled":      string(p.OnDisabled),
		"reactivate":       strconv.FormatBool(p.Reactivate),
		"grace_period":     p.GracePeriod.String(),
		"min_source_users": strconv.Itoa(p.MinSourceUsers),
		"adopt_existing":   strconv.FormatBool(p.AdoptExisting),
	}
	for k, l := range map[string]Limit{"max_deactivations": p.MaxDeactivations, "max_creates": p.MaxCreates, "max_updates": p.MaxUpdates, "max_role_changes": p.MaxRoleChanges} {
		if l.Raw != "" {
			m[k] = l.Raw
		}
	}
	if len(p.Protect) > 0 {
		prot := append([]string(nil), p.Protect...)
		sort.Strings(prot)
		m["protect"] = strings.Join(prot, ", ")
	}
	if p.Seats > 0 {
		m["seats"] = strconv.Itoa(p.Seats)
	}
	if p.MaxErrors > 0 {
		m["max_errors"] = strconv.Itoa(p.MaxErrors)
	}
	return m
}
