package ldaptest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PasswordHash is the {SSHA} hash of "password" that generated users carry.
const PasswordHash = "{SSHA}I4Nd39N89zgdzPF2p+HF05+w8FDPBF80"

// UserPassword is the clear-text password of generated users.
const UserPassword = "password"

var (
	firstNames = []string{"Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas",
		"Karl", "Lena", "Max", "Nora", "Otto", "Paula", "René", "Sören", "Tina", "Uwe"}
	lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
		"Schulz", "Hoffmann", "O'Brien", "Smith, Jr.", "Nguyen", "García", "Kowalski"}
)

type genConfig struct {
	groups   bool
	memberOf bool
}

// GenOption configures GenerateUsers.
type GenOption func(*genConfig)

// GenGroups also writes groupOfNames groups: max(10, n/100) groups
// cn=grpNNNN,ou=groups with user i in groups i%G and (7i+3)%G.
func GenGroups() GenOption { return func(c *genConfig) { c.groups = true } }

// GenMemberOf writes memberOf into the user entries (for slapadd only,
// where the memberof overlay does not run; implies GenGroups).
func GenMemberOf() GenOption { return func(c *genConfig) { c.groups, c.memberOf = true, true } }

// GenUser describes generated user i, as GenerateUsers writes it.
type GenUser struct {
	UID, DN, GivenName, SN, CN, Mail string
	// Disabled is true for every 20th user (pwdAccountLockedTime set).
	Disabled bool
}

// GeneratedUser returns the attributes of generated user i.
func GeneratedUser(i int) GenUser {
	uid := fmt.Sprintf("user%06d", i)
	gn := firstNames[i%len(firstNames)]
	sn := lastNames[(i/len(firstNames))%len(lastNames)]
	return GenUser{
		UID: uid, DN: "uid=" + uid + "," + UsersDN, GivenName: gn, SN: sn,
		CN: fmt.Sprintf("%s %s %d", gn, sn, i), Mail: uid + "@example.com",
		Disabled: i%20 == 0,
	}
}

// GenerateUsers returns LDIF content records for n inetOrgPerson users
// uid=userNNNNNN,ou=users,dc=example,dc=com with non-ASCII names (written
// base64 as RFC 2849 requires), userPassword "password", and every 20th user
// disabled with pwdAccountLockedTime: 000001010000Z (needs ppolicy).
func GenerateUsers(n int, opts ...GenOption) string {
	var cfg genConfig
	for _, o := range opts {
		o(&cfg)
	}
	g := max(10, n/100)
	var b strings.Builder
	b.Grow(n * 400)
	for i := 1; i <= n; i++ {
		u := GeneratedUser(i)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\n", u.DN)
		ldifAttr(&b, "uid", u.UID)
		ldifAttr(&b, "cn", u.CN)
		ldifAttr(&b, "givenName", u.GivenName)
		ldifAttr(&b, "sn", u.SN)
		ldifAttr(&b, "mail", u.Mail)
		fmt.Fprintf(&b, "employeeNumber: %d\n", 100000+i)
		if i%7 == 0 {
			b.WriteString("employeeType: contractor\n")
		} else {
			b.WriteString("employeeType: employee\n")
		}
		b.WriteString("userPassword: " + PasswordHash + "\n")
		if u.Disabled {
			b.WriteString("pwdAccountLockedTime: 000001010000Z\n")
		}
		if cfg.memberOf {
			a, c := i%g, (7*i+3)%g
			fmt.Fprintf(&b, "memberOf: cn=grp%04d,%s\n", min(a, c), GroupsDN)
			if a != c {
				fmt.Fprintf(&b, "memberOf: cn=grp%04d,%s\n", max(a, c), GroupsDN)
			}
		}
		b.WriteString("\n")
	}
	if cfg.groups {
		members := make([][]int, g)
		for i := 1; i <= n; i++ {
			a, c := i%g, (7*i+3)%g
			members[a] = append(members[a], i)
			if c != a {
				members[c] = append(members[c], i)
			}
		}
		for k := 0; k < g; k++ {
			fmt.Fprintf(&b, "dn: cn=grp%04d,%s\nobjectClass: top\nobjectClass: groupOfNames\ncn: grp%04d\n", k, GroupsDN, k)
			if len(members[k]) == 0 {
				b.WriteString("member: " + BaseDN + "\n") // groupOfNames needs a member
			}
			for _, i := range members[k] {
				b.WriteString("member: " + GeneratedUser(i).DN + "\n")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// ldifAttr writes one attribute line, base64-encoded when RFC 2849 requires.
func ldifAttr(b *strings.Builder, name, v string) {
	safe := utf8.ValidString(v) && v != "" && v[0] != ' ' && v[0] != ':' && v[0] != '<' && v[len(v)-1] != ' '
	for i := 0; safe && i < len(v); i++ {
		if v[i] >= 0x80 || v[i] == '\n' || v[i] == '\r' || v[i] == 0 {
			safe = false
		}
	}
	if safe {
		b.WriteString(name + ": " + v + "\n")
		return
	}
	b.WriteString(name + ":: " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n")
}
