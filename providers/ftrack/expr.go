package ftrack

import (
	"fmt"
	"regexp"
	"strings"
)

// The query language's escaping rules are only partly known (see
// ftrack-api.md section 4), so values are interpolated only when they cannot
// need escaping at all: UUID-shaped ids and strings over a strict allow-list.
// Anything else is never put into an expression; callers read and match
// locally instead.

var (
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	safeRE = regexp.MustCompile(`^[A-Za-z0-9._@+-]+$`)
)

// IsID reports whether s is UUID-shaped.
func IsID(s string) bool { return uuidRE.MatchString(s) }

// Quote returns s as a double-quoted expression literal when it is a
// UUID-shaped id or consists only of [A-Za-z0-9._@+-]; ok is false for any
// other string, which must then not be used in an expression.
func Quote(s string) (lit string, ok bool) {
	if !uuidRE.MatchString(s) && !safeRE.MatchString(s) {
		return "", false
	}
	// The allow-list excludes quotes and backslashes; escaping is kept as
	// a second line of defence.
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`, true
}

// In returns the criterion `attr in ("v1", "v2", ...)` for safe values, or
// an error naming the first value that cannot be interpolated. attr must be
// a constant attribute name.
func In(attr string, values []string) (string, error) {
	if !safeRE.MatchString(attr) {
		return "", fmt.Errorf("ftrack: attribute name %q is not allowed in an expression", attr)
	}
	if len(values) == 0 {
		return "", fmt.Errorf("ftrack: empty value list for %s", attr)
	}
	parts := make([]string, len(values))
	for i, v := range values {
		q, ok := Quote(v)
		if !ok {
			return "", fmt.Errorf("ftrack: value %q for %s cannot be used in a query expression", v, attr)
		}
		parts[i] = q
	}
	return attr + " in (" + strings.Join(parts, ", ") + ")", nil
}

// Is returns the criterion `attr is "value"` for a safe value; ok is false
// when the value cannot be interpolated.
func Is(attr, value string) (string, bool) {
	q, ok := Quote(value)
	if !ok || !safeRE.MatchString(attr) {
		return "", false
	}
	return attr + " is " + q, true
}
