package ldap_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/ldap/ldaptest"
)

// Active Directory behaviour, against ldaptest.MemDirectory in AD mode:
// binary objectGUID, userAccountControl and accountExpires, range
// retrieval of large groups with the server's MaxValRange, nested groups.

const (
	adBase   = "DC=corp,DC=example,DC=com"
	adReader = "CN=reader,CN=Users,DC=corp,DC=example,DC=com"
	adPass   = "reader-pw"
)

// fileTime renders t as an AD FILETIME (100 ns ticks since 1601).
func fileTime(t time.Time) string {
	return fmt.Sprint((t.Unix() + 11644473600) * 10_000_000)
}

func adUser(cn, sam string, extra ...string) string {
	s := fmt.Sprintf(`dn: CN=%s,OU=People,%s
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectCategory: person
cn: %s
sAMAccountName: %s
mail: %s@corp.example.com
givenName: %s
sn: Test
`, cn, adBase, cn, sam, sam, cn)
	for _, e := range extra {
		s += e + "\n"
	}
	return s + "\n"
}

func adGroup(cn string, members ...string) string {
	s := fmt.Sprintf("dn: CN=%s,OU=Groups,%s\nobjectClass: top\nobjectClass: group\ncn: %s\n", cn, adBase, cn)
	for _, m := range members {
		s += "member: " + m + "\n"
	}
	return s + "\n"
}

func adDN(cn, ou string) string { return fmt.Sprintf("CN=%s,OU=%s,%s", cn, ou, adBase) }

const adSkeleton = `dn: ` + adBase + `
objectClass: domain
dc: corp

dn: OU=People,` + adBase + `
objectClass: organizationalUnit
ou: People

dn: OU=Groups,` + adBase + `
objectClass: organizationalUnit
ou: Groups

`

// startAD serves ldif from an AD-mode MemDirectory.
func startAD(t *testing.T, ldif string, maxValRange int) (*ldaptest.MemDirectory, string) {
	t.Helper()
	return ldaptest.StartMem(t, ldif, ldaptest.WithActiveDirectory(maxValRange),
		ldaptest.WithBindAccount(adReader, adPass), ldaptest.WithRequireBind())
}

func adSettings(url string) ldap.Settings {
	return ldap.Settings{URL: url, BindDN: adReader, BindPassword: adPass, BaseDN: adBase, Schema: "active_directory", InsecureAllowPlaintext: true}
}

func adSourceHCL(url string) string {
	return fmt.Sprintf(`source "ldap" "ad" {
  url                      = %q
  bind_dn                  = %q
  bind_password            = %q
  insecure_allow_plaintext = true
  base_dn                  = %q
  schema                   = "active_directory"
}
`, url, adReader, adPass, adBase)
}

const adMapping = `mapping "users" {
  username   = lower(entry.sAMAccountName)
  email      = lower(entry.mail)
  first_name = entry.givenName
  last_name  = entry.sn
}
`

// bigDirectory has n users, all in CN=Big; CN=All Staff holds CN=Big and
// CN=Admins, which holds one user and CN=All Staff again (a cycle).
func bigDirectory(n int) string {
	var b strings.Builder
	b.WriteString(adSkeleton)
	members := make([]string, n)
	for i := range n {
		cn := fmt.Sprintf("User %04d", i)
		b.WriteString(adUser(cn, fmt.Sprintf("u%04d", i), "userAccountControl: 512"))
		members[i] = adDN(cn, "People")
	}
	b.WriteString(adUser("Admin One", "admin1", "userAccountControl: 512"))
	b.WriteString(adGroup("Big", members...))
	b.WriteString(adGroup("All Staff", adDN("Big", "Groups"), adDN("Admins", "Groups")))
	b.WriteString(adGroup("Admins", adDN("Admin One", "People"), adDN("All Staff", "Groups")))
	return b.String()
}

func TestADRangeRetrieval5000(t *testing.T) {
	const n = 5000
	ldif := bigDirectory(n)
	for _, maxRange := range []int{0, 1000, 1499} { // 0: AD's default 1500
		step := maxRange
		if step == 0 {
			step = ldaptest.DefaultMaxValRange
		}
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			_, url := startAD(t, ldif, maxRange)

			// The server answers like AD: no plain member, a first range.
			c, err := goldap.DialURL(url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind(adReader, adPass); err != nil {
				t.Fatal(err)
			}
			res, err := c.Search(goldap.NewSearchRequest(adDN("Big", "Groups"), goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
			if err != nil || len(res.Entries) != 1 {
				t.Fatalf("search: %v", err)
			}
			attrs := res.Entries[0].Attributes
			if len(attrs) != 1 || attrs[0].Name != fmt.Sprintf("member;range=0-%d", step-1) || len(attrs[0].Values) != step {
				t.Fatalf("AD answer: %d attributes, first %q with %d values", len(attrs), attrs[0].Name, len(attrs[0].Values))
			}

			src := newSource(t, adSettings(url))
			got := readGroups(t, src, engine.GroupSpec{Name: "ad", BaseDN: "OU=Groups," + adBase})
			big := got["Big"]
			want := make([]string, n)
			for i := range n {
				want[i] = adDN(fmt.Sprintf("User %04d", i), "People")
			}
			if !slices.Equal(big.MemberKeys, keys(t, want...)) {
				t.Fatalf("Big has %d members (want %d, all distinct and equal)", len(big.MemberKeys), n)
			}
		})
	}

	// Through the engine: every user of Big is in ftrack group Big, and
	// everyone reached from All Staff (nested, through a cycle) in Staff.
	_, url := startAD(t, ldif, 0)
	w := newWorld(t, adSourceHCL(url)+ftrackTarget+adMapping+`
groups "ad" {
  base_dn = "OU=Groups,DC=corp,DC=example,DC=com"
  nested  = true
  map = {
    "cn=big,ou=groups,dc=corp,dc=example,dc=com" = "Big"
    "re:^All (\\w+)$"                            = "$1"
  }
}
`)
	p := w.plan()
	count := map[string]int{}
	for _, c := range p.Changes {
		if c.Action == engine.ActionAddMembership {
			count[c.Group]++
		}
	}
	if count["Big"] != n || count["Staff"] != n+1 || p.Summary.Create != n+1 {
		t.Errorf("memberships %v, creates %d", count, p.Summary.Create)
	}
	if !slices.ContainsFunc(p.Warnings, func(s string) bool { return strings.Contains(s, "nested groups form a cycle") }) {
		t.Errorf("no cycle warning: %q", p.Warnings)
	}
}

func TestADPresetEndToEnd(t *testing.T) {
	wire, _ := hex.DecodeString("b7e88c871327a941a7655e3905ab5ef2")
	past, future := fileTime(time.Now().Add(-48*time.Hour)), fileTime(time.Now().Add(100*24*time.Hour))
	ldif := adSkeleton +
		adUser("Guid User", "guid", "objectGUID:: "+base64.StdEncoding.EncodeToString(wire), "userAccountControl: 512") +
		adUser("Normal", "normal", "userAccountControl: 512", "accountExpires: 0") +
		adUser("Never", "never", "userAccountControl: 66048", "accountExpires: 9223372036854775807") +
		adUser("Locked Out", "lockedout", "userAccountControl: 528", "lockoutTime: 1") + // LOCKOUT bit is not "disabled"
		adUser("Future", "future", "userAccountControl: 512", "accountExpires: "+future) +
		adUser("To Disable", "todisable", "userAccountControl: 512") +
		adUser("To Expire", "toexpire", "userAccountControl: 66048") +
		adUser("Disabled Already", "disabled", "userAccountControl: 514") +
		`dn: CN=WS01,OU=People,` + adBase + `
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectClass: computer
objectCategory: computer
cn: WS01
sAMAccountName: WS01$
userAccountControl: 4096

` + adGroup("Artists", adDN("Guid User", "People"), adDN("Leads", "Groups")) +
		adGroup("Leads", adDN("Normal", "People"))
	d, url := startAD(t, ldif, 0)

	// The source: canonical GUID text, client-side disabled rules, the
	// preset's filter (no computer objects).
	entries := readAll(t, newSource(t, adSettings(url)), "sAMAccountName")
	bySam := map[string]engine.Entry{}
	for _, e := range entries {
		bySam[first(e.Attrs["sAMAccountName"])] = e
		if !uuidRE.MatchString(e.StableID) {
			t.Errorf("%s: StableID %q is not a GUID in text form", e.DN, e.StableID)
		}
	}
	if len(entries) != 8 {
		t.Errorf("read %d entries, want 8 users (no computer)", len(entries))
	}
	if id := bySam["guid"].StableID; id != "878ce8b7-2713-41a9-a765-5e3905ab5ef2" {
		t.Errorf("objectGUID = %q", id)
	}
	for sam, reason := range map[string]string{
		"normal": "", "never": "", "lockedout": "", "future": "", "todisable": "", "toexpire": "",
		"disabled": "userAccountControl has ACCOUNTDISABLE (0x2)",
	} {
		e := bySam[sam]
		if e.Disabled != (reason != "") || e.DisabledReason != reason {
			t.Errorf("%s: Disabled %v %q, want %q", sam, e.Disabled, e.DisabledReason, reason)
		}
	}

	w := newWorld(t, adSourceHCL(url)+ftrackTarget+adMapping+`
groups "ad" {
  base_dn = "OU=Groups,DC=corp,DC=example,DC=com"
  nested  = true
  map     = { "CN=Artists,OU=Groups,DC=corp,DC=example,DC=com" = "Artists" }
}
`)
	p := w.plan()
	if p.Summary.Create != 7 || p.Summary.AddMembership != 2 { // the disabled user is never created
		t.Errorf("first plan: %v", lines(p))
	}
	w.apply(p)
	if g := w.accounts()["normal"].Groups; !slices.Equal(g, []string{"Artists"}) {
		t.Errorf("normal's groups (nested through Leads) = %v", g)
	}

	// Disable one account in the AD way and let another expire: the plan
	// says which rule matched for each.
	err := d.Apply(strings.NewReader(`dn: CN=To Disable,OU=People,` + adBase + `
changetype: modify
replace: userAccountControl
userAccountControl: 66050
-

dn: CN=To Expire,OU=People,` + adBase + `
changetype: modify
replace: accountExpires
accountExpires: ` + past + `
-
`))
	if err != nil {
		t.Fatal(err)
	}
	p = w.plan()
	reasons := map[string]string{}
	for _, c := range p.Changes {
		if c.Action == engine.ActionDeactivate {
			reasons[c.Key] = c.Why()
		}
	}
	if len(p.Changes) != 2 || reasons["todisable"] != "disabled_in_directory: userAccountControl has ACCOUNTDISABLE (0x2)" ||
		!strings.HasPrefix(reasons["toexpire"], "disabled_in_directory: accountExpires is in the past (") {
		t.Errorf("deactivations: %v %v", lines(p), reasons)
	}
	w.apply(p)
	acc := w.accounts()
	if acc["todisable"].Active || acc["toexpire"].Active || !acc["normal"].Active {
		t.Errorf("after apply: %+v", acc)
	}
	if src := acc["guid"].SourceID; src != "878ce8b7-2713-41a9-a765-5e3905ab5ef2" {
		t.Errorf("ftrack source_id of guid = %q", src)
	}
	if again := w.plan(); len(again.Changes) != 0 {
		t.Errorf("not converged: %v", lines(again))
	}

}
