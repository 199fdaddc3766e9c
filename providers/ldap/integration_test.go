package ldap_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

const usersMapping = `mapping "users" {
  username   = lower(entry.uid)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}
`

// hostileLDIF holds entries a directory really contains: each must be
// mapped correctly or skipped with its DN and reason, and the rest of the
// run proceeds.
func hostileLDIF() string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	huge := strings.Repeat("Ä", 100000)
	return `dn: uid=ok1,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: ok1
cn: Ok One
givenName: Ok
sn: One
mail: ok1@example.com

dn: uid=nomail,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: nomail
cn: No Mail
sn: Mail

dn: cn=No Uid,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
cn: No Uid
sn: Uid
mail: nouid@example.com

dn: uid=twomail,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: twomail
cn: Two Mail
sn: Mail
mail: a@example.com
mail: b@example.com

dn: uid=twouid1,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: twouid1
uid: twouid2
cn: Two Uid
sn: Uid
mail: twouid@example.com

dn: cn=Spacey,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid:: ` + b64("  Spacey  ") + `
cn: Spacey
sn:: ` + b64(" Space ") + `
mail:: ` + b64(" Spacey@Example.COM ") + `

dn: cn=Dup Upper,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: DUP
cn: Dup Upper
sn: Upper
mail: dup1@example.com

dn: cn=dup lower,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: dup
cn: dup lower
sn: lower
mail: dup2@example.com

dn: cn=Smith\, Jr. \+ co,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: smithjr
cn: Smith, Jr. + co
givenName: John
sn: Smith, Jr.
mail: smithjr@example.com

dn: cn=Multi+uid=multi,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: multi
cn: Multi
sn: Valued
mail: multi@example.com

dn: uid=huge,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: huge
cn: Huge
givenName: ` + huge + `
sn: Huge
mail: huge@example.com

dn: uid=bigphoto,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
uid: bigphoto
cn: Big Photo
sn: Photo
mail: bigphoto@example.com
description: ` + strings.Repeat("x", 500000) + `

dn: uid=badutf8,ou=users,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: ldapsyncTestAccount
uid: badutf8
cn: Bad UTF8
sn: Bytes
mail: badutf8@example.com
ldapsyncRawName:: ` + base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 'x'}) + `

dn: ou=elsewhere,ou=users,dc=example,dc=com
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: ldap://127.0.0.2:1/ou=elsewhere,dc=example,dc=com
`
}

// TestHostileEntriesOnSlapd loads the hostile LDIF into slapd and checks
// that the plan lists every skipped entry with its DN and reason, applies
// the rest to the ftrack emulator, and converges.
func TestHostileEntriesOnSlapd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithTestSchema())
	ldif := hostileLDIF()
	if err := s.ApplyLDIF(ldif); err != nil {
		if strings.Contains(err.Error(), "badutf8") || strings.Contains(err.Error(), "invalid per syntax") {
			t.Fatalf("slapd refused a hostile entry: %v", err)
		}
		t.Fatal(err)
	}
	// ldapsyncRawName (an octet string slapd does not check) is the last
	// name when present: a name that is not valid UTF-8 must be refused by
	// the mapping, never mapped as mojibake or hex.
	mapping := strings.Replace(usersMapping, "last_name  = entry.sn", "last_name  = entry.ldapsyncRawName != null ? entry.ldapsyncRawName : entry.sn", 1)
	w := newWorld(t, slapdSource("corp", s.URL, ldaptest.UsersDN, "")+ftrackTarget+mapping)
	p := w.plan()

	wantSkipped := []string{
		`cn=Dup Upper,ou=users,dc=example,dc=com: duplicate username "dup" (2 entries map to it)`,
		`cn=No Uid,ou=users,dc=example,dc=com: missing required attribute uid`,
		`cn=dup lower,ou=users,dc=example,dc=com: duplicate username "dup" (2 entries map to it)`,
		`uid=badutf8,ou=users,dc=example,dc=com: attribute "ldapsyncRawName" is not valid UTF-8`,
		`uid=huge,ou=users,dc=example,dc=com: first_name is 100000 characters long (at most 1024 are accepted)`,
		`uid=nomail,ou=users,dc=example,dc=com: missing required attribute mail`,
		`uid=twomail,ou=users,dc=example,dc=com: attribute "mail" has 2 values`,
		`uid=twouid1,ou=users,dc=example,dc=com: attribute "uid" has 2 values`,
	}
	if got := skippedLines(p); !slices.Equal(got, wantSkipped) {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantSkipped, "\n"))
	}
	if p.Summary.Skipped != len(wantSkipped) {
		t.Errorf("summary.skipped = %d", p.Summary.Skipped)
	}
	wantChanges := []string{"create user.bigphoto", "create user.multi", "create user.ok1", "create user.smithjr", "create user.spacey"}
	if got := lines(p); !slices.Equal(got, wantChanges) {
		t.Errorf("changes %v, want %v", got, wantChanges)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "1 search result references (referrals)") }) {
		t.Errorf("no referral warning in %q", p.Warnings)
	}
	for _, c := range p.Changes {
		if c.Address == "user.smithjr" && (*c.After.LastName != "Smith, Jr." || c.SourceID == "") {
			t.Errorf("smithjr = %+v", c.After)
		}
		// Leading and trailing spaces are trimmed.
		if c.Address == "user.spacey" && (*c.After.Username != "spacey" || *c.After.Email != "spacey@example.com" || *c.After.LastName != "Space") {
			t.Errorf("spacey = %+v", c.After)
		}
	}

	rep := w.apply(p)
	if rep.Executed.Create != 5 || rep.Failed.Total() != 0 || !rep.Complete {
		t.Errorf("apply report: %+v", rep)
	}
	acc := w.accounts()
	if len(acc) != 5 {
		t.Errorf("ftrack has %d users: %v", len(acc), acc)
	}
	if a := acc["smithjr"]; a.LastName != "Smith, Jr." || a.Email != "smithjr@example.com" || !a.Active {
		t.Errorf("smithjr in ftrack = %+v", a)
	}
	again := w.plan()
	if len(again.Changes) != 0 || !slices.Equal(skippedLines(again), wantSkipped) {
		t.Errorf("second plan: changes %v, skipped %v", lines(again), skippedLines(again))
	}

}

// TestModRDNBecomesUsernameUpdate renames an entry in slapd (modrdn keeps
// entryUUID): the plan updates the username of the same ftrack user
// instead of creating one and deactivating the other.
func TestModRDNBecomesUsernameUpdate(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.WithLDIF(ldaptest.GenerateUsers(3)))
	w := newWorld(t, slapdSource("corp", s.URL, ldaptest.UsersDN, "")+ftrackTarget+usersMapping)
	w.apply(w.plan())
	before := w.accounts()["user000002"]
	if before.ID == "" {
		t.Fatal("user000002 not created")
	}

	s.ModRDN(t, ldaptest.GeneratedUser(2).DN, "uid=renamed000002")
	p := w.plan()
	if got := lines(p); !slices.Equal(got, []string{"update user.renamed000002"}) {
		t.Fatalf("plan after modrdn: %v", got)
	}
	c := p.Changes[0]
	if c.Reason != "renamed_in_directory" || c.TargetID != before.ID || c.SourceID != before.SourceID ||
		*c.Before.Username != "user000002" || *c.After.Username != "renamed000002" || c.After.Email != nil {
		t.Errorf("rename change = %+v before %+v after %+v", c, c.Before, c.After)
	}
	w.apply(p)
	after := w.accounts()
	if a := after["renamed000002"]; a.ID != before.ID || !a.Active {
		t.Errorf("renamed account = %+v", a)
	}
	if _, still := after["user000002"]; still {
		t.Error("old username still in ftrack")
	}
	if again := w.plan(); len(again.Changes) != 0 {
		t.Errorf("plan after applying the rename: %v", lines(again))
	}
}

// TestSeveralSources reads a staff OU, a freelancer OU and the whole tree
// (overlapping both) into one mapping: an entry read twice comes from the
// source declared first, and a username held by two different entries is
// a conflict that is listed and not applied.
func TestSeveralSources(t *testing.T) {
	s := ldaptest.StartSlapd(t)
	s.Add(t, `dn: ou=staff,dc=example,dc=com
objectClass: organizationalUnit
ou: staff

dn: ou=freelancers,dc=example,dc=com
objectClass: organizationalUnit
ou: freelancers

dn: uid=alice,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Staff
sn: Staff
mail: alice@example.com

dn: uid=dup,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: dup
cn: Dup Staff
sn: Staff
mail: dup@example.com

dn: uid=bob,ou=freelancers,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob Free
sn: Free
mail: bob@example.com

dn: uid=dup,ou=freelancers,dc=example,dc=com
objectClass: inetOrgPerson
uid: dup
cn: Dup Free
sn: Free
mail: dup@freelance.example.com
`)
	hcl := slapdSource("staff", s.URL, "ou=staff,dc=example,dc=com", "") +
		slapdSource("freelancers", s.URL, "ou=freelancers,dc=example,dc=com", "") +
		slapdSource("everyone", s.URL, "dc=example,dc=com", "") + ftrackTarget +
		strings.Replace(usersMapping, `mapping "users" {`, `mapping "users" {
  source = [source.ldap.staff, source.ldap.freelancers, source.ldap.everyone]`, 1)
	w := newWorld(t, hcl)
	p := w.plan()
	if got := lines(p); !slices.Equal(got, []string{"create user.alice", "create user.bob"}) {
		t.Errorf("changes %v", got)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Key != "dup" || len(p.Conflicts[0].Entries) != 4 {
		t.Fatalf("conflicts = %+v", p.Conflicts)
	}
	ids := map[string]bool{}
	for _, e := range p.Conflicts[0].Entries {
		ids[e.SourceID] = true
	}
	if len(ids) != 2 {
		t.Errorf("conflict entries carry %d stable ids, want 2: %+v", len(ids), p.Conflicts[0].Entries)
	}
	for _, want := range []string{`user.alice: the same entry`, `source "staff" takes precedence`, `source "freelancers" takes precedence`} {
		if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("warnings lack %q: %q", want, p.Warnings)
		}
	}
	if len(p.Sources) != 3 || p.Sources[0].Name != "staff" || p.Sources[0].Entries != 2 || p.Sources[2].Entries != 4 {
		t.Errorf("sources = %+v", p.Sources)
	}
	w.apply(p)
	acc := w.accounts()
	if _, ok := acc["dup"]; ok || len(acc) != 2 {
		t.Errorf("ftrack users after apply: %v", acc)
	}
}
