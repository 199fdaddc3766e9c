package config

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ldapsync/ldapsync/engine"
)

// compileHeader declares the source, target and variables the compiled
// mapping corpus uses.
const compileHeader = mapHeader + `
variable "domain" { default = "Example.TEST" }
variable "team"   { default = "Artists" }
variable "n"      { default = 5 }
variable "groups" {
  type    = list(string)
  default = ["Everyone", " Staff "]
}
`

// corpusMapping is a mapping body and the fields it compiles.
type corpusMapping struct {
	name     string
	body     string
	compiled []string
}

// compileCorpus holds mapping bodies and the fields each is expected to
// compile (the rest are evaluated by cty).
var compileCorpus = []corpusMapping{
	{"bench", `
  username  = lower(entry.uid)
  email     = lower(entry.mail)
  full_name = entry.cn
  groups    = entry_values.memberOf`, []string{"username", "email", "full_name", "groups"}},
	{"scale", `
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn`, []string{"username", "email", "first_name", "last_name"}},
	{"template", `
  username   = trimspace(entry.uid)
  email      = "${lower(entry.uid)}@${var.domain}"
  first_name = upper(entry.givenName)
  last_name  = "${entry.sn}"
  full_name  = "${entry.givenName}${entry.sn}"`, []string{"username", "email", "first_name", "last_name", "full_name"}},
	{"template-number", `
  username   = "${entry.uid}+${var.n}"
  email      = "${entry.uid}@${lower(var.domain)}.${true}"`, []string{"username", "email"}},
	{"coalesce", `
  username  = coalesce(entry.uid, entry.cn)
  email     = coalesce(entry.mail, "${entry.uid}@${var.domain}")
  full_name = coalesce(entry.displayName, entry.cn)
  last_name = coalesce(entry.sn == "" ? null : entry.sn)`, []string{"username", "email", "last_name", "full_name"}},
	{"conditional", `
  username   = entry.uid == null ? entry.cn : entry.uid
  email      = entry.mail != null ? lower(entry.mail) : "${entry.uid}@example.test"
  first_name = trimspace(entry.givenName)
  last_name  = entry.sn == "" ? null : (entry.sn)
  disabled   = entry.pwdAccountLockedTime != null`, []string{"username", "email", "first_name", "last_name", "disabled"}},
	{"nfc-compare", `
  username   = entry.uid
  email      = entry.mail
  first_name = entry.givenName == "é" ? "precomposed" : "other"
  last_name  = "${entry.givenName}${entry.sn}" == "é" ? "joined" : "apart"
  disabled   = entry.cn == entry.sn`, []string{"username", "email", "first_name", "last_name", "disabled"}},
	{"for-groups", `
  username  = entry.uid
  email     = entry.mail
  full_name = "${entry.givenName} ${entry.sn}"
  groups    = [for g in entry_values.memberOf : lower(trimspace(g))]`, []string{"username", "email", "full_name", "groups"}},
	{"nested-for", `
  username = entry.uid
  email    = entry.mail
  groups   = [for a in [for b in entry_values.memberOf : upper(b)] : "${a}-${entry.department}"]`, []string{"username", "email", "groups"}},
	{"tuple-groups", `
  username = entry.uid
  email    = entry.mail
  groups   = [entry.department, "Everyone", var.team, entry.cn == null ? null : entry.cn]`, []string{"username", "email", "groups"}},
	{"constant-groups", `
  username = entry.uid
  email    = entry.mail
  disabled = false
  groups   = var.groups`, []string{"username", "email", "disabled", "groups"}},
	{"string-groups", `
  username = entry.uid
  email    = entry.mail
  groups   = entry.department`, []string{"username", "email", "groups"}},
	{"null-literals", `
  username   = entry.uid
  email      = entry.mail
  first_name = null
  last_name  = entry.sn == null ? null : entry.sn
  full_name  = coalesce(null, entry.cn)`, []string{"username", "email", "first_name", "last_name", "full_name"}},
	{"pseudo-and-case", `
  username   = entry.UID
  email      = "${entry.uid}@${entry.id}"
  last_name  = entry.dn
  first_name = entry["userPrincipalName"]
  groups     = entry_values.DN`, []string{"username", "email", "first_name", "last_name", "groups"}},
	{"template-directive", `
  username = entry.uid
  email    = "%{ if entry.mail == null }${entry.uid}@x%{ else }${entry.mail}%{ endif }"`, []string{"username", "email"}},
	{"mixed", `
  username   = regex_replace(entry.uid, "[^a-z]", "")
  email      = lower(entry.mail)
  first_name = replace(entry.givenName, "a", "b")
  last_name  = lower(entry.sn)
  groups     = [for g in entry_values.memberOf : regex_replace(g, "^cn=([^,]+),.*$", "$1")]`, []string{"email", "last_name"}},
	{"fuzz-eval", `
  username   = lower(trimspace(entry.uid))
  email      = lower(coalesce(entry.mail, format("%s@example.test", entry.uid)))
  full_name  = entry.cn
  first_name = regex_replace(entry.givenName, "[^A-Za-z]", "")
  groups     = [for g in entry_values.memberOf : regex_replace(g, "^cn=([^,]+),.*$", "$1")]`, []string{"username", "full_name"}},
	{"uncompiled", `
  username   = join("", [entry.uid])
  email      = format("%s@x", entry.uid)
  first_name = length(entry.cn) > 3 ? entry.cn : ""
  disabled   = entry.a != null && entry.b != null
  groups     = [for i, g in entry_values.memberOf : g if i > 0]`, nil},
	{"errors", `
  username   = lower(entry.uid)
  email      = "${entry.mail}${entry.cn}"
  first_name = lower(entry.givenName)
  last_name  = coalesce(entry.sn, entry.displayName)
  groups     = [for g in entry_values.memberOf : "${g}${entry.department}"]`, []string{"username", "email", "first_name", "last_name", "groups"}},
}

// loadCorpus loads each mapping of compileCorpus.
func loadCorpus(tb testing.TB) []*Mapping {
	tb.Helper()
	var out []*Mapping
	for _, c := range compileCorpus {
		src := compileHeader + "mapping \"users\" {\n" + c.body + "\n}\n"
		cfg, diags := LoadBytes(filepath.Join(tb.TempDir(), "ldapsync.hcl"), []byte(src), WithEnv(testEnv(nil)))
		if diags.HasErrors() {
			tb.Fatalf("%s: %s", c.name, diagList(diags))
		}
		out = append(out, cfg.Mappings[0])
	}
	return out
}

// ctyOnly is m without its compiled form.
func ctyOnly(m *Mapping) *Mapping {
	c := *m
	c.compiled = nil
	return &c
}

// TestCompiledFields: the fields each mapping of the corpus compiles.
func TestCompiledFields(t *testing.T) {
	for i, m := range loadCorpus(t) {
		c := compileCorpus[i]
		var got []string
		if m.compiled != nil {
			got = m.compiled.compiled()
		}
		if !slices.Equal(got, c.compiled) {
			t.Errorf("%s: compiled %v, want %v", c.name, got, c.compiled)
		}
	}
}

// hostileValues are attribute values that test the compiled form's
// fidelity: empty, whitespace, control characters, invalid UTF-8,
// combining characters NFC composes (alone and split across two
// attributes), case mappings that change length or need NFC afterwards,
// look-alikes, bidi and zero-width characters.
var hostileValues = []string{
	"", " ", "\t\n", "bob", "Bob", "  Bob \t", "Bob Jones", "Carla de la Cruz",
	"x\x00y", "a\nb", "\x1b[31mred", "\u0085next", "\xff", "ok\xfe\xff", "\xc3",
	"e\u0301", "é", "\u0301", "e", "Å", "\u212b", "A\u030a", "ﬁ", "ǅ", "ß", "İstanbul", "ΣΑΣ", "\u1100\u1161",
	"Ａｄｍｉｎ", "аdmin", "admin\u200b", "\u202eevil", "\ufeffbom", "null", "true",
	"cn=Artists,ou=groups", "cn=,", " cn=z ,ou=g", "CN=ARTISTS,OU=GROUPS",
}

// hostileAttrs are the attributes the corpus reads.
var hostileAttrs = []string{"uid", "mail", "cn", "givenName", "sn", "displayName", "department", "pwdAccountLockedTime", "userPrincipalName", "memberOf", "a", "b"}

// hostileEntry builds an entry from r: each attribute missing, one value,
// several values, or spelt in another case.
func hostileEntry(r *rand.Rand) engine.Entry {
	attrs := map[string][]string{}
	pick := func() string { return hostileValues[r.IntN(len(hostileValues))] }
	for _, a := range hostileAttrs {
		name := a
		switch r.IntN(10) {
		case 0, 1:
			continue // missing
		case 2:
			name = strings.ToUpper(a)
		case 3:
			attrs[name] = []string{pick(), pick()}
			continue
		case 4:
			attrs[name] = []string{}
			continue
		}
		v := pick()
		if a == "uid" || a == "mail" {
			if r.IntN(2) == 0 {
				v = []string{"alice", "Bob", "jdoe@example.test", "Ådmin"}[r.IntN(4)]
			}
		}
		attrs[name] = []string{v}
	}
	if r.IntN(3) == 0 {
		n := r.IntN(6)
		vals := make([]string, n)
		for i := range vals {
			vals[i] = pick()
		}
		attrs["memberOf"] = vals
	}
	e := engine.Entry{Source: "corp", DN: "uid=x,dc=example,dc=test", StableID: "0f3c-id", Attrs: attrs}
	switch r.IntN(6) {
	case 0:
		e.DN = ""
	case 1:
		e.StableID = ""
	case 2:
		e.Disabled, e.DisabledReason = true, "preset"
	}
	return e
}

// largeEntries are entries around the bounds: values over
// MaxFunctionResult, values that grow past it when lowered, over
// MaxEntryValues values.
func largeEntries() []engine.Entry {
	big := strings.Repeat("a", MaxFunctionResult+1)
	grows := strings.Repeat("İ", MaxFunctionResult/2) // 2 bytes, 3 when lowered
	atBound := strings.Repeat("B", MaxFunctionResult)
	base := func(kv ...string) engine.Entry {
		attrs := map[string][]string{"uid": {"bob"}, "mail": {"bob@example.test"}}
		for i := 0; i+1 < len(kv); i += 2 {
			attrs[kv[i]] = []string{kv[i+1]}
		}
		return engine.Entry{Source: "corp", DN: "uid=bob", StableID: "id", Attrs: attrs}
	}
	many := base()
	many.Attrs["memberOf"] = make([]string, MaxEntryValues+1)
	for i := range many.Attrs["memberOf"] {
		many.Attrs["memberOf"][i] = fmt.Sprintf("g%d", i)
	}
	return []engine.Entry{
		base("uid", big), base("uid", grows), base("uid", atBound), base("givenName", big),
		base("givenName", grows), base("sn", big, "cn", big), base("mail", atBound+"x"),
		many,
	}
}

// checkSame maps e with m (compiled, falling back to cty) and with cty
// alone and fails unless the users and errors are identical; it reports
// whether the compiled form mapped the entry itself.
func checkSame(t *testing.T, name string, m *Mapping, e engine.Entry) bool {
	t.Helper()
	want, wantErr := ctyOnly(m).Map(e)
	got, gotErr := m.Map(e)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error\n  compiled %q\n  cty      %q\nentry %q", name, abbrev(gotErr), abbrev(wantErr), abbrevAttrs(e.Attrs))
	}
	if !userEqual(got, want) {
		t.Fatalf("%s: user\n  compiled %+q\n  cty      %+q\nentry %q", name, fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want), abbrevAttrs(e.Attrs))
	}
	if m.compiled == nil {
		return false
	}
	u, _, ok := m.compiled.mapEntry(e)
	if ok && (wantErr != nil || !userEqual(u, want)) {
		t.Fatalf("%s: compiled form mapped an entry cty maps otherwise: %+q, cty %+q (%v)", name, fmt.Sprintf("%+v", u), fmt.Sprintf("%+v", want), wantErr)
	}
	return ok
}

func abbrev(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func abbrevAttrs(attrs map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, vals := range attrs {
		for _, v := range vals {
			if len(v) > 40 {
				v = fmt.Sprintf("%.40s…(%d bytes)", v, len(v))
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestCompiledDifferential runs the compiled and the cty evaluator over
// the corpus × hostile entries and requires identical users and errors.
// Every mapping with compiled fields must map some entries itself, so the
// comparison is not cty against cty.
func TestCompiledDifferential(t *testing.T) {
	mappings := loadCorpus(t)
	n := 600
	if testing.Short() {
		n = 100
	}
	large := largeEntries()
	for i, m := range mappings {
		name := compileCorpus[i].name
		r := rand.New(rand.NewPCG(uint64(i), 17))
		compiled := 0
		for range n {
			if checkSame(t, name, m, hostileEntry(r)) {
				compiled++
			}
		}
		// Each value in each attribute, with the others ordinary.
		for _, a := range hostileAttrs {
			for _, v := range hostileValues {
				attrs := map[string][]string{"uid": {"bob"}, "mail": {"bob@example.test"}, "cn": {"Bob Jones"}, "memberOf": {"cn=a,ou=g"}}
				attrs[a] = []string{v}
				if checkSame(t, name, m, engine.Entry{Source: "corp", DN: "uid=bob", StableID: "id", Attrs: attrs}) {
					compiled++
				}
			}
		}
		// Combining characters split across attributes.
		for _, pair := range [][2]string{{"e", "\u0301"}, {"A", "\u030a"}, {"\u1100", "\u1161"}, {"é", "\u0301"}} {
			attrs := map[string][]string{"uid": {"bob"}, "mail": {"b@x"}, "givenName": {pair[0]}, "sn": {pair[1]}, "cn": {pair[1]}, "department": {pair[1]}, "memberOf": {pair[0]}}
			checkSame(t, name, m, engine.Entry{Source: "corp", DN: "uid=bob", StableID: "id", Attrs: attrs})
		}
		// The bounds, with the mappings whose functions they concern (cty
		// takes its time over megabyte values).
		if slices.Contains([]string{"bench", "template", "coalesce", "for-groups", "errors"}, name) && !testing.Short() {
			for _, e := range large {
				checkSame(t, name, m, e)
			}
		}
		if len(compileCorpus[i].compiled) > 0 && compiled == 0 {
			t.Errorf("%s: the compiled form mapped no entry", name)
		}
		t.Logf("%s: %d entries mapped by the compiled form", name, compiled)
	}
}

// TestCompiledNFC: values are NFC-normalised as cty.StringVal does, and a
// template joining a letter and a combining mark composes them.
func TestCompiledNFC(t *testing.T) {
	m := mappingFrom(t, `
  username   = entry.uid
  email      = "${entry.mail}${entry.sn}"
  first_name = lower(entry.givenName)
`)
	if m.compiled == nil || len(m.compiled.compiled()) != 3 {
		t.Fatal("mapping did not compile")
	}
	e := entry(map[string][]string{"uid": {"A\u030a"}, "mail": {"e"}, "sn": {"\u0301"}, "givenName": {"\u212b"}})
	u, _, ok := m.compiled.mapEntry(e)
	if !ok || u.Username != "Å" || u.Email != "é" || u.FirstName != "å" {
		t.Errorf("mapEntry = %+v, %v", u, ok)
	}
	checkSame(t, "nfc", m, e)
}

// FuzzMappingCompiled: for any attribute values, each mapping of the
// corpus gives the same user or the same error through the compiled form
// as through cty alone.
func FuzzMappingCompiled(f *testing.F) {
	mappings := loadCorpus(f)
	f.Add(uint8(0), uint8(0), "Bob", "bob@example.test", "Bob Jones", "cn=a,ou=g")
	f.Add(uint8(2), uint8(0xff), "e", "\u0301", "İ", "\xff")
	f.Add(uint8(7), uint8(0x55), "", " ", "\x00", "cn=,")
	f.Fuzz(func(t *testing.T, sel, shape uint8, a, b, c, d string) {
		m := mappings[int(sel)%len(mappings)]
		vals := []string{a, b, c, d}
		attrs := map[string][]string{}
		for i, name := range hostileAttrs {
			v := vals[i%len(vals)]
			switch (shape >> (i % 8)) & 3 {
			case 0:
				continue // missing
			case 1:
				attrs[name] = []string{v, vals[(i+1)%len(vals)]}
				continue
			case 2:
				name = strings.ToUpper(name)
			}
			attrs[name] = []string{v}
		}
		checkSame(t, compileCorpus[int(sel)%len(compileCorpus)].name, m, engine.Entry{Source: "corp", DN: d, StableID: c, Attrs: attrs})
	})
}

// BenchmarkMapping measures one entry's mapping, compiled and by cty, for
// a few shapes of mapping (ns/op and allocs/op are per entry).
func BenchmarkMapping(b *testing.B) {
	mappings := loadCorpus(b)
	e := entry(map[string][]string{
		"uid": {"Bob"}, "mail": {"Bob@Example.test"}, "cn": {"Bob Jones"}, "givenName": {"Bob"}, "sn": {"Jones"},
		"department": {"fx"}, "memberOf": {"cn=Artists,ou=groups", "cn=Leads,ou=groups", "cn=fx,ou=groups"},
	})
	for i, c := range compileCorpus {
		switch c.name {
		case "bench", "scale", "template", "conditional", "for-groups", "mixed":
		default:
			continue
		}
		m := mappings[i]
		for _, mode := range []struct {
			name string
			m    *Mapping
		}{{"cty", ctyOnly(m)}, {"compiled", m}} {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := mode.m.Map(e); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestCompiledConcurrent: one mapping used from several goroutines (the
// envs are pooled) maps each entry as cty does.
func TestCompiledConcurrent(t *testing.T) {
	mappings := loadCorpus(t)
	i := slices.IndexFunc(compileCorpus, func(c corpusMapping) bool { return c.name == "for-groups" })
	m := mappings[i]
	want := make([]engine.User, 64)
	entries := make([]engine.Entry, len(want))
	for i := range entries {
		entries[i] = entry(map[string][]string{"uid": {fmt.Sprint("u", i)}, "mail": {fmt.Sprint(i, "@x")}, "givenName": {"A"}, "sn": {fmt.Sprint(i)}, "memberOf": {fmt.Sprint("G", i), "g"}})
		want[i], _ = ctyOnly(m).Map(entries[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (w*31 + k) % len(entries)
				if got, err := m.Map(entries[i]); err != nil || !userEqual(got, want[i]) {
					errs <- fmt.Sprintf("entry %d: %+v, %v; want %+v", i, got, err, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
