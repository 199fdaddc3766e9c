package ldaptest

// A private OpenLDAP slapd for tests and benchmarks. cn=config is generated
// into <dir>/slapd.d with `slapadd -n0` (only possible on an empty slapd.d),
// base entries are loaded offline with `slapadd -q -n1`, and slapd runs in
// the foreground (-d 0, so we own the process) on two free loopback ports.
// Free ports are found by listening on :0 and closing, which can race with
// other processes; startup is retried with fresh ports when slapd cannot
// bind. Readiness is polled by dialing the ldap:// port.
//
// Pitfalls handled here (see ldap-notes §1): mdb's default 10 MiB map
// (olcDbMaxSize), back_mdb/memberof/ppolicy are modules that must be loaded
// in one cn=module entry, 2.5 has no ppolicy.ldif (its schema is inside
// ppolicy.so), and the default size limit of 500 (the sync account gets
// olcLimits size=unlimited).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Default names of the test directory.
const (
	BaseDN       = "dc=example,dc=com"
	RootDN       = "cn=admin,dc=example,dc=com"
	RootPassword = "secret"
	SyncDN       = "cn=sync,dc=example,dc=com"
	SyncPassword = "syncpw"
	UsersDN      = "ou=users,dc=example,dc=com"
	GroupsDN     = "ou=groups,dc=example,dc=com"
)

// InstallHint says what to install when slapd is missing.
const InstallHint = "OpenLDAP slapd is not installed: install the Debian/Ubuntu packages slapd and ldap-utils (apt-get install slapd ldap-utils) to run the LDAP tests"

// ErrNotInstalled is returned by StartSlapdProcess when slapd or slapadd is
// missing.
var ErrNotInstalled = errors.New(InstallHint)

// Slapd is a running private slapd.
type Slapd struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS works on it unless WithoutTLS).
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT; empty with WithoutTLS.
	LDAPSURL string
	// CACertFile is the PEM file of the CA that signed the server
	// certificate (SAN DNS:localhost, IP:127.0.0.1).
	CACertFile string
	// Dir is the instance directory.
	Dir          string
	BaseDN       string
	RootDN       string
	RootPassword string
	// SyncDN is a read-only account without size limit.
	SyncDN       string
	SyncPassword string

	cfg       slapdConfig
	slapd     string
	slapadd   string
	ldapPort  int
	ldapsPort int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *bytes.Buffer
	stopped bool
}

type slapdConfig struct {
	tls        bool
	testSchema bool
	ldif       []string
}

// SlapdOption configures StartSlapd.
type SlapdOption func(*slapdConfig)

// WithoutTLS starts slapd without TLS: no ldaps:// listener, and StartTLS is
// refused.
func WithoutTLS() SlapdOption { return func(c *slapdConfig) { c.tls = false } }

// WithTestSchema adds a small schema with the 389-ds/FreeIPA attributes
// nsAccountLock, nsUniqueId and ipaUniqueID as user attributes of the
// auxiliary objectClass ldapsyncTestAccount, so the 389ds and freeipa
// presets can be tested on OpenLDAP. It also has ldapsyncRawName, an octet
// string that slapd does not check, for values that are not valid UTF-8
// (as servers without schema checking return them).
func WithTestSchema() SlapdOption { return func(c *slapdConfig) { c.testSchema = true } }

// WithLDIF bulk-loads LDIF content records with slapadd before the first
// start (fast; overlays do not run, so memberOf must already be in the LDIF).
func WithLDIF(ldif string) SlapdOption {
	return func(c *slapdConfig) { c.ldif = append(c.ldif, ldif) }
}

// lookupTools finds slapd and slapadd.
func lookupTools() (slapd, slapadd string, err error) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/libexec", "/usr/libexec"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		return ""
	}
	slapd, slapadd = find("slapd"), find("slapadd")
	if slapd == "" || slapadd == "" {
		return "", "", ErrNotInstalled
	}
	return slapd, slapadd, nil
}

// StartSlapd starts a private slapd in t.TempDir() and stops it in
// t.Cleanup. Without slapd the test is skipped, or fails when the CI
// environment variable is set.
func StartSlapd(t testing.TB, opts ...SlapdOption) *Slapd {
	t.Helper()
	if _, _, err := lookupTools(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set, so this is a failure)", InstallHint)
		}
		t.Skip(InstallHint)
	}
	s, err := StartSlapdProcess(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop slapd: %v", err)
		}
	})
	return s
}

// StartSlapdProcess is StartSlapd without testing.TB, for benchmarks and
// tools that manage the lifetime themselves: the caller calls Stop. dir must
// be empty or missing.
func StartSlapdProcess(dir string, opts ...SlapdOption) (*Slapd, error) {
	slapd, slapadd, err := lookupTools()
	if err != nil {
		return nil, err
	}
	cfg := slapdConfig{tls: true}
	for _, o := range opts {
		o(&cfg)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Slapd{
		Dir: dir, BaseDN: BaseDN, RootDN: RootDN, RootPassword: RootPassword,
		SyncDN: SyncDN, SyncPassword: SyncPassword,
		cfg: cfg, slapd: slapd, slapadd: slapadd,
	}
	for _, d := range []string{s.confDir(), s.dataDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if cfg.tls {
		if err := writeCerts(filepath.Join(dir, "tls")); err != nil {
			return nil, fmt.Errorf("generate TLS certificates: %w", err)
		}
		s.CACertFile = filepath.Join(dir, "tls", "ca.crt")
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	base := baseLDIF + strings.Join(cfg.ldif, "\n\n")
	if err := s.slapaddData(base); err != nil {
		return nil, err
	}
	if err := s.startFresh(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Slapd) confDir() string { return filepath.Join(s.Dir, "slapd.d") }
func (s *Slapd) dataDir() string { return filepath.Join(s.Dir, "data") }

func (s *Slapd) run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *Slapd) slapaddData(ldif string) error {
	f := filepath.Join(s.Dir, fmt.Sprintf("load-%d.ldif", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(ldif), 0o600); err != nil {
		return err
	}
	defer os.Remove(f)
	return s.run(s.slapadd, "-q", "-n1", "-F", s.confDir(), "-l", f)
}

// startFresh starts slapd on new free ports, retrying on a port clash.
func (s *Slapd) startFresh() error {
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		p1, p2, err := freePorts()
		if err != nil {
			return err
		}
		s.ldapPort, s.ldapsPort = p1, p2
		if last = s.start(); last == nil {
			return nil
		}
	}
	return last
}

// start starts slapd on the ports chosen before and waits until it answers.
func (s *Slapd) start() error {
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.ldapPort)
	listen := s.URL + "/"
	if s.cfg.tls {
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", s.ldapsPort)
		listen += " " + s.LDAPSURL + "/"
	}
	stderr := &bytes.Buffer{}
	cmd := exec.Command(s.slapd, "-d", "0", "-F", s.confDir(), "-h", listen)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.stderr, s.stopped = cmd, exited, stderr, false
	s.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("slapd exited during startup: %s", strings.TrimSpace(stderr.String()))
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.ldapPort), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.Stop()
	return fmt.Errorf("slapd did not answer on %s within 15s", s.URL)
}

// Stop stops slapd with SIGTERM (a clean mdb shutdown) and waits for it.
// Stopping twice is harmless.
func (s *Slapd) Stop() error {
	s.mu.Lock()
	cmd, exited, stopped := s.cmd, s.exited, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if cmd == nil || stopped {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return errors.New("slapd did not exit within 20s of SIGTERM; killed")
	}
}

// Restart stops and starts slapd on the same ports.
func (s *Slapd) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// LoadLDIF bulk-loads LDIF content records offline: stop, slapadd -q,
// start again on the same ports.
func (s *Slapd) LoadLDIF(ldif string) error {
	if err := s.Stop(); err != nil {
		return err
	}
	if err := s.slapaddData(ldif); err != nil {
		return err
	}
	return s.Restart()
}

// Load is LoadLDIF for tests.
func (s *Slapd) Load(t testing.TB, ldif string) {
	t.Helper()
	if err := s.LoadLDIF(ldif); err != nil {
		t.Fatalf("slapd load: %v", err)
	}
}

// Conn returns a connection bound as the root DN over plain ldap://.
func (s *Slapd) Conn() (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.URL)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.RootDN, s.RootPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ApplyLDIF applies LDIF records online as the root DN: content records and
// changetype add, modify, delete and modrdn.
func (s *Slapd) ApplyLDIF(ldif string) error {
	recs, err := ParseLDIF(strings.NewReader(ldif))
	if err != nil {
		return err
	}
	c, err := s.Conn()
	if err != nil {
		return err
	}
	defer c.Close()
	for _, r := range recs {
		if err := applyRecord(c, r); err != nil {
			return fmt.Errorf("ldif line %d (%s %s): %w", r.Line, r.ChangeType, r.DN, err)
		}
	}
	return nil
}

func applyRecord(c *ldap.Conn, r Record) error {
	switch r.ChangeType {
	case "add":
		req := ldap.NewAddRequest(r.DN, nil)
		for _, a := range r.Attrs {
			req.Attribute(a.Name, a.Values)
		}
		return c.Add(req)
	case "delete":
		return c.Del(ldap.NewDelRequest(r.DN, nil))
	case "modrdn":
		return c.ModifyDN(ldap.NewModifyDNRequest(r.DN, r.NewRDN, r.DeleteOldRDN, r.NewSuperior))
	case "modify":
		req := ldap.NewModifyRequest(r.DN, nil)
		for _, m := range r.Mods {
			switch m.Op {
			case "add":
				req.Add(m.Attr, m.Values)
			case "replace":
				req.Replace(m.Attr, m.Values)
			case "delete":
				req.Delete(m.Attr, m.Values)
			}
		}
		return c.Modify(req)
	}
	return fmt.Errorf("unknown changetype %q", r.ChangeType)
}

// Add applies LDIF records online (see ApplyLDIF) and fails the test on error.
func (s *Slapd) Add(t testing.TB, ldif string) {
	t.Helper()
	if err := s.ApplyLDIF(ldif); err != nil {
		t.Fatalf("slapd add: %v", err)
	}
}

// ModRDN renames dn to newRDN under the same parent, deleting the old RDN value.
func (s *Slapd) ModRDN(t testing.TB, dn, newRDN string) {
	t.Helper()
	s.Add(t, fmt.Sprintf("dn: %s\nchangetype: modrdn\nnewrdn: %s\ndeleteoldrdn: 1\n", dn, newRDN))
}

// Modify replaces attr's values on dn (no values deletes the attribute).
func (s *Slapd) Modify(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	c, err := s.Conn()
	if err != nil {
		t.Fatalf("slapd modify: %v", err)
	}
	defer c.Close()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	if err := c.Modify(req); err != nil {
		t.Fatalf("slapd modify %s %s: %v", dn, attr, err)
	}
}

// Delete deletes dn.
func (s *Slapd) Delete(t testing.TB, dn string) {
	t.Helper()
	s.Add(t, fmt.Sprintf("dn: %s\nchangetype: delete\n", dn))
}

// Count returns how many entries under base match filter, read as root.
func (s *Slapd) Count(ctx context.Context, base, filter string) (int, error) {
	c, err := s.Conn()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil), 1000)
	if err != nil {
		return 0, err
	}
	return len(res.Entries), nil
}

// freePorts returns two distinct free loopback ports.
func freePorts() (int, int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < 2; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

const baseLDIF = `dn: dc=example,dc=com
objectClass: top
objectClass: dcObject
objectClass: organization
o: example
dc: example

dn: ou=users,dc=example,dc=com
objectClass: organizationalUnit
ou: users

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: ou=policies,dc=example,dc=com
objectClass: organizationalUnit
ou: policies

dn: cn=sync,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: sync
userPassword: ` + SyncPassword + `

dn: cn=default,ou=policies,dc=example,dc=com
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 5

`

// testSchemaLDIF declares 389-ds/FreeIPA-style attributes as plain user
// attributes under a private test OID arc.
const testSchemaLDIF = `
dn: cn=ldapsynctest,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: ldapsynctest
olcAttributeTypes: ( 1.3.6.1.4.1.99999.77.1.1 NAME 'nsAccountLock' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.77.1.2 NAME 'nsUniqueId' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.77.1.3 NAME 'ipaUniqueID' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.99999.77.1.4 NAME 'ldapsyncRawName' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
olcObjectClasses: ( 1.3.6.1.4.1.99999.77.2.1 NAME 'ldapsyncTestAccount' SUP top AUXILIARY MAY ( nsAccountLock $ nsUniqueId $ ipaUniqueID $ ldapsyncRawName ) )
`

func (s *Slapd) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcArgsFile: %[1]s/slapd.args
olcLogLevel: none
`, s.Dir)
	if s.cfg.tls {
		fmt.Fprintf(&b, "olcTLSCACertificateFile: %[1]s/tls/ca.crt\nolcTLSCertificateFile: %[1]s/tls/server.crt\nolcTLSCertificateKeyFile: %[1]s/tls/server.key\nolcTLSProtocolMin: 3.3\n", s.Dir)
	}
	fmt.Fprintf(&b, `
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file:///etc/ldap/schema/nis.ldif
`)
	if s.cfg.testSchema {
		b.WriteString(testSchemaLDIF)
	}
	fmt.Fprintf(&b, `
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %[1]s
olcRootDN: %[2]s
olcRootPW: %[3]s
olcDbDirectory: %[4]s
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,cn eq
olcDbIndex: member,memberOf eq
olcDbIndex: entryUUID,entryCSN eq
olcLimits: {0}dn.exact="%[5]s" size=unlimited time=unlimited
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="%[5]s" read by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {1}ppolicy
olcPPolicyDefault: cn=default,ou=policies,%[1]s
`, s.BaseDN, s.RootDN, s.RootPassword, s.dataDir(), s.SyncDN)
	f := filepath.Join(s.Dir, "config.ldif")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return s.run(s.slapadd, "-n0", "-F", s.confDir(), "-l", f)
}

// writeCerts writes a new CA's ca.crt and the server.crt and server.key
// it signed (NewTestCerts) into dir.
func writeCerts(dir string) error {
	c, err := NewTestCerts()
	if err != nil {
		return err
	}
	return c.WriteFiles(dir)
}
