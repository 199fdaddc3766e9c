package engine

import (
	"slices"
	"strings"
	"testing"
)

// TestIdentifierValuesSkipped: a username or e-mail with a control,
// format or other invisible character, or a surrounding blank, skips the
// entry with a reason naming the code point; the reason never holds the
// value itself.
func TestIdentifierValuesSkipped(t *testing.T) {
	cases := []struct {
		uid, mail, reason string
	}{
		{"nul\x00x", "nul@example.com", "username contains U+0000 NULL at position 4"},
		{"esc\x1b[31mx", "esc@example.com", "username contains U+001B ESCAPE at position 4"},
		{"cr\rx", "cr@example.com", "username contains U+000D CARRIAGE RETURN at position 3"},
		{"lf\nx", "lf@example.com", "username contains U+000A LINE FEED at position 3"},
		{"tab\tx", "tab@example.com", "username contains U+0009 CHARACTER TABULATION at position 4"},
		{"del\x7fx", "del@example.com", "username contains U+007F DELETE at position 4"},
		{"csi\u009bx", "csi@example.com", "username contains U+009B CONTROL SEQUENCE INTRODUCER at position 4"},
		{"admin\u200b", "zwsp@example.com", "username contains U+200B ZERO WIDTH SPACE at position 6"},
		{"zw\u200dj", "zwj@example.com", "username contains U+200D ZERO WIDTH JOINER at position 3"},
		{"zw\u200cnj", "zwnj@example.com", "username contains U+200C ZERO WIDTH NON-JOINER at position 3"},
		{"wj\u2060x", "wj@example.com", "username contains U+2060 WORD JOINER at position 3"},
		{"\ufeffbom", "bom@example.com", "username contains U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1"},
		{"rlo\u202egpj.exe", "rlo@example.com", "username contains U+202E RIGHT-TO-LEFT OVERRIDE at position 4"},
		{"iso\u2067x", "iso@example.com", "username contains U+2067 RIGHT-TO-LEFT ISOLATE at position 4"},
		{"filler\u3164", "filler@example.com", "username contains U+3164 HANGUL FILLER at position 7"},
		{"ls\u2028x", "ls@example.com", "username contains U+2028 LINE SEPARATOR at position 3"},
		{"\u00a0nbsp", "nbsp@example.com", "username begins with U+00A0 NO-BREAK SPACE"},
		{"blank\u2800", "blank@example.com", "username contains U+2800 BRAILLE PATTERN BLANK at position 6"},
		{"mailnl", "mailnl@example.com\nBcc: x@evil.test", "email contains U+000A LINE FEED at position 19"},
		{"mailzw", "mail\u200b@example.com", "email contains U+200B ZERO WIDTH SPACE at position 5"},
	}
	var entries []Entry
	var want []string
	for i, c := range cases {
		e := entry(c.uid, c.mail, "First", "Last", "sid-"+string(rune('a'+i)))
		e.DN = "cn=case" + string(rune('a'+i)) + ",ou=users,dc=example,dc=com"
		entries = append(entries, e)
		want = append(want, e.DN+": "+c.reason)
	}
	entries = append(entries, entry("ok", "ok@example.com", "Ok", "User", "sid-ok"))
	p := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: entries}}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	var got []string
	for _, s := range p.Skipped {
		got = append(got, s.DN+": "+s.Reason)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if lines := changeLines(p); !slices.Equal(lines, []string{"create user.ok"}) {
		t.Errorf("changes %v, want only user.ok created", lines)
	}
}

// TestNamesCleaned: control characters, separators and bidi controls are
// removed from first and last names (a run holding a line break or tab
// becomes one space), with a warning; other format characters stay.
func TestNamesCleaned(t *testing.T) {
	cases := []struct {
		in, want, warning string
	}{
		{"Ada\r\nLovelace", "Ada Lovelace", "U+000D CARRIAGE RETURN at position 4, U+000A LINE FEED at position 5"},
		{"Ada \tLovelace", "Ada Lovelace", "U+0009 CHARACTER TABULATION at position 5"},
		{"Es\x1b[31mc", "Es[31mc", "U+001B ESCAPE at position 3"},
		{"Nul\x00", "Nul", "U+0000 NULL at position 4"},
		{"Ev\u202eil", "Evil", "U+202E RIGHT-TO-LEFT OVERRIDE at position 3"},
		{"a\x01b\x02c\x03d\x04e", "abcde", "U+0001 START OF HEADING at position 2, U+0002 START OF TEXT at position 4, U+0003 END OF TEXT at position 6, and 1 more"},
		{"Mo\u200chammad", "Mo\u200chammad", ""}, // ZWNJ is spelling
		{"Plain", "Plain", ""},
	}
	for _, c := range cases {
		got, removed := cleanName(c.in)
		if got != c.want {
			t.Errorf("cleanName(%q) = %q, want %q", c.in, got, c.want)
		}
		if d := describeRemoved(removed); d != c.warning {
			t.Errorf("cleanName(%q) removed %q, want %q", c.in, d, c.warning)
		}
	}

	e := entry("ada", "ada@example.com", "Ada\nMarie", "Love\x1blace", "sid-ada")
	p := mustPlan(t, planReq([]Source{&fakeSource{name: "corp", entries: []Entry{e}}}, &fakeMapper{name: "users"}, newTarget(), DefaultPolicy()))
	if len(p.Changes) != 1 || *p.Changes[0].After.FirstName != "Ada Marie" || *p.Changes[0].After.LastName != "Lovelace" {
		t.Fatalf("changes %+v", p.Changes)
	}
	for _, w := range []string{
		"uid=ada,ou=users,dc=example,dc=com: first_name: removed U+000A LINE FEED at position 4",
		"uid=ada,ou=users,dc=example,dc=com: last_name: removed U+001B ESCAPE at position 5",
	} {
		if !slices.Contains(p.Warnings, w) {
			t.Errorf("no warning %q in %q", w, p.Warnings)
		}
	}
}

// TestEveryAttributeFieldIsChecked: every FieldAttribute of the field
// table is either a name (cleaned) or an identifier (skipped on an
// invisible character), so a field added to the table is covered.
func TestEveryAttributeFieldIsChecked(t *testing.T) {
	for _, uf := range UserFields() {
		if uf.Kind != FieldAttribute || !uf.mapped() {
			continue
		}
		u := User{Username: "x", Email: "x@example.com"}
		*uf.user(&u) = "a\x1bb"
		err := checkDirectoryValues(&u, "dn", &view{})
		switch {
		case nameFields[uf.Name]:
			if err != nil || *uf.user(&u) != "ab" {
				t.Errorf("%s: a name is cleaned, got %q, %v", uf.Name, *uf.user(&u), err)
			}
		case err == nil || !strings.HasPrefix(err.Error(), uf.Name+" contains U+001B ESCAPE"):
			t.Errorf("%s: an identifier is skipped, got %v", uf.Name, err)
		}
	}
}

// TestLookalikesOfProtectedHeld: a username that equals a protected one
// or the API user once invisible characters are removed and NFKC folded
// is held, never created beside it; accounts still match exactly.
func TestLookalikesOfProtectedHeld(t *testing.T) {
	admin := owned("id-admin", "admin", "admin@example.com", "Studio", "Admin", "sid-admin")
	entries := []Entry{
		entry("ａｄｍｉｎ", "fw@example.com", "Full", "Width", "sid-fw"),       // fullwidth: passes the values rule
		entry("ｓｖｃ-render", "svc@example.com", "Svc", "Fw", "sid-svc"),    // matches re:^svc- once folded
		entry("ｒｏｏｔ", "root@example.com", "Root", "Fw", "sid-root"),       // the API user, fullwidth
		entry("admin\u200b", "zw@example.com", "Zero", "Width", "sid-zw"), // skipped by the values rule first
		entry("bob", "bob@example.com", "Bob", "Jones", "sid-b"),
	}
	pol := DefaultPolicy()
	pol.Protect = []string{"admin", "re:^svc-"}
	req := planReq([]Source{&fakeSource{name: "corp", entries: entries}}, &fakeMapper{name: "users"}, newTarget(admin), pol)
	req.TargetUser = "root"
	p := mustPlan(t, req)
	if lines := changeLines(p); !slices.Equal(lines, []string{"create user.bob"}) {
		t.Errorf("changes %v, want only user.bob created", lines)
	}
	for _, w := range []string{
		`user.ａｄｍｉｎ looks like a username protected by policy.protect "admin" once invisible characters are removed`,
		`user.ｓｖｃ-render looks like a username protected by policy.protect "re:^svc-"`,
		`user.ｒｏｏｔ looks like the API user "root"`,
	} {
		if !slices.ContainsFunc(p.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no warning %q in %q", w, p.Warnings)
		}
	}
	if len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0].Reason, "U+200B ZERO WIDTH SPACE") {
		t.Errorf("skipped %+v", p.Skipped)
	}
	for _, c := range p.Changes {
		if c.Key == "admin" {
			t.Errorf("the protected admin is changed: %+v", c)
		}
	}
}

func TestLookalikeFold(t *testing.T) {
	for in, want := range map[string]string{
		"Admin":                   "admin",
		"ａｄｍｉｎ":                   "admin",
		"ＡＤＭＩＮ":                   "admin",
		"ad\u200bmin":             "admin",
		"ad\u00admin":             "admin", // soft hyphen
		"\u202eadmin\u2066":       "admin",
		"a\x00d\x1bmin":           "admin",
		"ﬁle":                     "file", // ligature
		"ⓐdmin":                   "admin",
		"аdmin" /* Cyrillic а */ : "аdmin",
	} {
		if got := lookalikeFold(in); got != want {
			t.Errorf("lookalikeFold(%q) = %q, want %q", in, got, want)
		}
	}
}
