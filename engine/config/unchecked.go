package config

// Checking a configuration without its secrets (ldapsync validate): a
// sensitive variable without a value, an env() call whose environment
// variable is unset, or a file() call whose file does not exist (in a
// source or target body, or a sensitive variable's default) stands for a
// placeholder instead of being an error.
// A placeholder may reach only a setting whose name says it holds a secret
// (SecretName) — those are what cannot be checked without the value and
// are listed in Config.Unchecked; anywhere else (a url, a base_dn) the
// missing value is the error it always is.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// WithoutSecrets loads a configuration whose secrets need not be set:
// sensitive variables without a value, unset environment variables read
// by env() and missing files read by file() get a placeholder, and each
// secret setting that could not be
// checked is listed in Config.Unchecked instead of being an error. For
// checking a configuration offline only: a provider built from it holds
// placeholders, never credentials.
func WithoutSecrets() Option {
	return func(o *loadOptions) { o.noSecrets = true }
}

// Placeholders are plain text, so that a setting's own checks (a
// non-empty bind_password, an api_key that is a string) still run on them.
const (
	unsetEnvPrefix = "(unset environment variable "
	unsetVarPrefix = "(unset sensitive variable "
	unsetSuffix    = ")"
	// missingFilePrefix is followed by the path, Go-quoted (a path may
	// hold the suffix), and unsetSuffix.
	missingFilePrefix = "(missing file "
)

// missingFilePlaceholder stands for the contents of a file that does not
// exist: path as file() resolved it.
func missingFilePlaceholder(path string) string {
	return missingFilePrefix + strconv.Quote(path) + unsetSuffix
}

// lookupOrPlaceholder is lookup, with an unset name answered by a
// placeholder naming it.
func lookupOrPlaceholder(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		return unsetEnvPrefix + name + unsetSuffix, true
	}
}

// unsetIn returns what each placeholder in v stands for, as a phrase:
// `environment variable "X" is not set`, `sensitive variable "x" has no
// value`, `file "/path" does not exist`.
func unsetIn(v cty.Value) []string {
	var out []string
	for _, s := range stringsIn(v) {
		for rest := s; ; {
			i := strings.Index(rest, missingFilePrefix)
			if i < 0 {
				break
			}
			rest = rest[i+len(missingFilePrefix):]
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil || !strings.HasPrefix(rest[len(quoted):], unsetSuffix) {
				continue
			}
			out = append(out, fmt.Sprintf("file %s does not exist", quoted))
			rest = rest[len(quoted)+len(unsetSuffix):]
		}
		for _, p := range []struct{ prefix, phrase string }{
			{unsetEnvPrefix, "environment variable %q is not set"},
			{unsetVarPrefix, "sensitive variable %q has no value (LDAPSYNC_VAR_%[1]s, -var or -var-file)"},
		} {
			rest := s
			for {
				i := strings.Index(rest, p.prefix)
				if i < 0 {
					break
				}
				rest = rest[i+len(p.prefix):]
				name, after, ok := strings.Cut(rest, unsetSuffix)
				if !ok {
					break
				}
				out = append(out, fmt.Sprintf(p.phrase, name))
				rest = after
			}
		}
	}
	return out
}

// checkUnset handles the placeholders in the value of attribute a of
// block what ("target \"ftrack\" \"studio\""): noted as unchecked in a
// secret setting, an error in any other.
func (l *loader) checkUnset(what string, a *hclsyntax.Attribute, v cty.Value) hcl.Diagnostics {
	unset := unsetIn(v)
	if len(unset) == 0 {
		return nil
	}
	if SecretName(a.Name) {
		l.cfg.Unchecked = append(l.cfg.Unchecked, fmt.Sprintf("%s %s: %s", what, a.Name, strings.Join(unset, "; ")))
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Missing value",
		Detail:   fmt.Sprintf("%s: %s is not a secret, so validate needs it: %s.", what, a.Name, strings.Join(unset, "; ")),
		Subject:  a.Expr.Range().Ptr(),
	}}
}

// noteUnusedUnset lists the sensitive variables without a value that no
// secret setting uses (plan would still ask for them).
func (l *loader) noteUnusedUnset() {
	for _, name := range sortedKeys(l.varVals) {
		for _, phrase := range unsetIn(l.varVals[name]) {
			if !strings.HasPrefix(phrase, "sensitive variable") {
				continue
			}
			used := slices.ContainsFunc(l.cfg.Unchecked, func(u string) bool { return strings.Contains(u, phrase) })
			if !used {
				l.cfg.Unchecked = append(l.cfg.Unchecked, fmt.Sprintf("variable %q: %s", name, phrase))
			}
		}
	}
}
