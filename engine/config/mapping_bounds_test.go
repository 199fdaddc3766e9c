package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForNestingLimit: for expressions (and template for directives)
// nested more than MaxForNesting deep are a diagnostic at the range of the
// first one too deep; two deep loads.
func TestForNestingLimit(t *testing.T) {
	ok := `
  username = entry.uid
  email    = entry.mail
  groups   = [for a in entry_values.memberOf : join(",", [for b in entry_values.memberOf : "${a}${b}"])]
`
	mappingFrom(t, ok)

	for name, groups := range map[string]string{
		"for":      `[for a in entry_values.memberOf : join(",", [for b in entry_values.memberOf : join(",", [for c in entry_values.memberOf : "${a}${b}${c}"])])]`,
		"template": `[for a in entry_values.memberOf : join(",", [for b in entry_values.memberOf : "%{for c in entry_values.memberOf}${a}${b}${c}%{endfor}"])]`,
	} {
		t.Run(name, func(t *testing.T) {
			src := mapHeader + "mapping \"users\" {\n  username = entry.uid\n  email = entry.mail\n  groups = " + groups + "\n}\n"
			_, diags := LoadBytes(filepath.Join(t.TempDir(), "ldapsync.hcl"), []byte(src), WithEnv(testEnv(nil)))
			if !diags.HasErrors() {
				t.Fatal("three-deep for expressions loaded")
			}
			var found int
			for _, d := range diags {
				if d.Summary != "For expressions nested too deep" {
					continue
				}
				found++
				// The third for starts at the third "for" of the line.
				line := strings.Split(src, "\n")[d.Subject.Start.Line-1]
				third := strings.Index(line, "for c")
				if name == "for" {
					third-- // the "[" that opens it
				} else {
					third = strings.Index(line, "%{for c")
				}
				if d.Subject.Start.Column != third+1 {
					t.Errorf("diagnostic at column %d, want %d (%q)", d.Subject.Start.Column, third+1, line)
				}
			}
			if found != 1 {
				t.Errorf("%d nesting diagnostics, want 1:\n%s", found, diagList(diags))
			}
		})
	}
}

// TestEntryValuesCap: an entry with more values in an attribute than
// entry_values exposes is skipped with a reason naming the attribute and
// the count; the cap is lower when the mapping nests for expressions, so
// the brief's quadratic example finishes quickly.
func TestEntryValuesCap(t *testing.T) {
	values := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("cn=g%d,ou=groups", i)
		}
		return out
	}
	flat := mappingFrom(t, `
  username = entry.uid
  email    = entry.mail
  groups   = [for g in entry_values.memberOf : g]
`)
	nested := mappingFrom(t, `
  username = entry.uid
  email    = entry.mail
  groups   = [for a in entry_values.memberOf : join(",", [for b in entry_values.memberOf : "${a}${b}"])]
`)
	base := map[string][]string{"uid": {"alice"}, "mail": {"alice@example.com"}}
	with := func(n int) map[string][]string {
		attrs := map[string][]string{"memberOf": values(n)}
		for k, v := range base {
			attrs[k] = v
		}
		return attrs
	}

	if u, err := flat.Map(entry(with(MaxEntryValues))); err != nil || len(u.Groups) != MaxEntryValues {
		t.Fatalf("at the cap: %d groups, %v", len(u.Groups), err)
	}
	_, err := flat.Map(entry(with(MaxEntryValues + 1)))
	if err == nil || !strings.Contains(err.Error(), `"memberOf"`) || !strings.Contains(err.Error(), fmt.Sprint(MaxEntryValues+1)) {
		t.Fatalf("over the cap: %v", err)
	}

	_, err = nested.Map(entry(with(MaxEntryValuesNested + 1)))
	if err == nil || !strings.Contains(err.Error(), `"memberOf"`) || !strings.Contains(err.Error(), fmt.Sprint(MaxEntryValuesNested+1)) {
		t.Fatalf("nested, over the cap: %v", err)
	}
	// The brief's example over 10,000 values is refused at once.
	start := time.Now()
	if _, err := nested.Map(entry(with(10_000))); err == nil {
		t.Fatal("nested for over 10,000 values evaluated")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing took %s", d)
	}
	// Within the nested cap it evaluates.
	if testing.Short() {
		return
	}
	u, err := nested.Map(entry(with(100)))
	if err != nil || len(u.Groups) != 100 {
		t.Fatalf("nested within the cap: %d groups, %v", len(u.Groups), err)
	}
}
