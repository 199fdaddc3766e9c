package main

// ldapsync check: a read-only, online pre-flight of everything a plan and
// an apply need, each finding with a stable id, a status and, when it is
// not ok, what to change. It connects to every source the mapping reads,
// to the target and to the state backend; it writes nothing but the state
// lock it takes and releases at once (and, for a local state, the lock
// files that lock needs). The plan it summarises is built in memory by
// engine.BuildPlan, the same pipeline as ldapsync plan, and never saved.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/urfave/cli/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/engine/config"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/providers/ldap"
	"github.com/ldapsync/ldapsync/providers/registry"
	"github.com/ldapsync/ldapsync/state"
)

// checkCommand is `ldapsync check`.
func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check online that every source, the target and the state backend work for ldapsync (writes nothing)",
		Description: `check connects to every directory the mapping reads, to the ftrack site and
to the state backend, and reports each thing a plan and an apply need, with
what to change when it does not work:

  source:  connection, TLS (version, cipher, certificate), bind, the search
           (entries, pages), the schema, how many entries carry each
           attribute the mapping reads, and the stable id and
           disabled-rule attributes (an ACL hiding them is found)
  mapping: every attribute it reads is in the schema (with a did-you-mean)
  target:  authentication, server version, the API user's account and
           role, reading User, Metadata, Group and SecurityRole, and
           User.metadata in the site's schema
  plan:    the plan a run would make now, built in memory and never saved:
           accounts it would adopt, e-mail collisions, conflicts, blocks
  state:   the backend answers (Load), and its lock can be taken (and is
           released at once)

Nothing is written to the directory or to ftrack (an ftrack state's lock
aside). A lock another run holds is a warning, not a failure: the backend
works, and the message names the holder. Exit 0 when nothing failed
(warnings allowed), 1 otherwise.

Examples:
   ldapsync check
   ldapsync check -json | jq '.checks[] | select(.status != "ok")'`,
		Flags: append(commonFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print the checks as JSON"},
		),
		Action: func(c *cli.Context) error {
			if err := noArguments(c); err != nil {
				return err
			}
			return runCheck(c, parseGlobalArgs(c), c.Bool("json"))
		},
	}
}

// Statuses of a check.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
)

// checkResult is one finding of ldapsync check.
type checkResult struct {
	// ID is stable and snake_case: source.corp.bind, target.studio.role.
	ID string `json:"id"`
	// Status is ok, warn or fail.
	Status string `json:"status"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix says what to change, when the status is not ok.
	Fix string `json:"fix,omitempty"`
	// Items are the details of a finding: one line each (the accounts a
	// plan adopts, the attributes the schema lacks).
	Items []string `json:"items,omitempty"`
	// TLS is the connection's TLS, for source.NAME.tls.
	TLS *checkTLS `json:"tls,omitempty"`
	// Coverage is the attribute table, for source.NAME.attributes and
	// source.NAME.operational.
	Coverage []coverageRow `json:"coverage,omitempty"`
}

// checkTLS is a source connection's TLS in a check report.
type checkTLS struct {
	Mode        string     `json:"mode"`
	Version     string     `json:"version,omitempty"`
	CipherSuite string     `json:"cipher_suite,omitempty"`
	Verified    bool       `json:"verified"`
	Certificate *checkCert `json:"certificate,omitempty"`
}

// checkCert is the server's certificate in a check report.
type checkCert struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	DNSNames []string  `json:"dns_names,omitempty"`
	IPs      []string  `json:"ip_addresses,omitempty"`
}

// coverageRow is one attribute of the coverage table: how many entries
// of the search carry it.
type coverageRow struct {
	Attribute string `json:"attribute"`
	// Use is what reads it: mapping fields ("username, email"), "stable
	// id" or "disabled rule".
	Use     string `json:"use"`
	Entries int    `json:"entries"`
	Of      int    `json:"of"`
	// InSchema is false when the schema was read and does not define it;
	// null when the schema could not be read.
	InSchema *bool `json:"in_schema"`
	// Access is "hidden" when an ACL keeps it from the bind account,
	// "readable" when a probe showed it may be read, "" when not probed.
	Access string `json:"access,omitempty"`
	Status string `json:"status"`
}

// checkReport is what ldapsync check prints.
type checkReport struct {
	Config string        `json:"config"`
	Status string        `json:"status"`
	Counts checkCounts   `json:"counts"`
	Checks []checkResult `json:"checks"`
}

// checkCounts counts the checks by status.
type checkCounts struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// checker runs the checks of one workspace and collects their results.
type checker struct {
	ctx context.Context
	ws  *workspace
	red *config.Redactor
	out []checkResult
}

// add records a finding; message, fix and items are redacted here, once
// for every renderer.
func (k *checker) add(r checkResult) *checkResult {
	r.Message, r.Fix = k.red.Redact(r.Message), k.red.Redact(r.Fix)
	for i := range r.Items {
		r.Items[i] = k.red.Redact(r.Items[i])
	}
	k.out = append(k.out, r)
	return &k.out[len(k.out)-1]
}

func (k *checker) ok(id, format string, args ...any) *checkResult {
	return k.add(checkResult{ID: id, Status: checkOK, Message: fmt.Sprintf(format, args...)})
}

func (k *checker) warn(id, fix, format string, args ...any) *checkResult {
	return k.add(checkResult{ID: id, Status: checkWarn, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (k *checker) fail(id, fix, format string, args ...any) *checkResult {
	return k.add(checkResult{ID: id, Status: checkFail, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// failed reports whether a check whose id starts with prefix failed.
func (k *checker) failed(prefix string) bool {
	for _, r := range k.out {
		if r.Status == checkFail && strings.HasPrefix(r.ID, prefix) {
			return true
		}
	}
	return false
}

func runCheck(c *cli.Context, args globalArgs, asJSON bool) error {
	ws, err := openCheckWorkspace(c, args)
	if err != nil {
		return err
	}
	defer ws.logClose()
	k := &checker{ctx: c.Context, ws: ws, red: ws.cfg.Redactor()}
	schemas := map[string][]config.AttributeType{}
	for _, src := range ws.sources {
		k.checkSource(src, schemas)
	}
	k.checkMapping(schemas)
	targetOK := k.checkTarget()
	prior, stateOK := k.checkState()
	if targetOK && !k.failed("source.") {
		if !stateOK {
			prior = nil
		}
		k.checkPlan(prior)
	}
	rep := checkReport{Config: args.ConfigPath, Checks: k.out}
	for _, r := range k.out {
		switch r.Status {
		case checkOK:
			rep.Counts.OK++
		case checkWarn:
			rep.Counts.Warn++
		default:
			rep.Counts.Fail++
		}
		ws.log.Info("check", "id", r.ID, "status", r.Status, "message", r.Message)
	}
	rep.Status = checkOK
	switch {
	case rep.Counts.Fail > 0:
		rep.Status = checkFail
	case rep.Counts.Warn > 0:
		rep.Status = checkWarn
	}
	if asJSON {
		if err := printJSON(c, rep); err != nil {
			return err
		}
	} else {
		newRenderer(c.App.Writer, useColor(args.NoColor, c.App.Writer)).checkReport(rep)
	}
	if rep.Counts.Fail > 0 {
		return cli.Exit(fmt.Sprintf("Error: check found %d %s (see the fixes above).", rep.Counts.Fail, pick(rep.Counts.Fail, "problem", "problems")), exitError)
	}
	return nil
}

// openCheckWorkspace is openWorkspace with the ftrack client's retries
// capped (two, unless the configuration sets max_retries): a check that
// cannot reach ftrack says so in seconds, not after three minutes.
func openCheckWorkspace(c *cli.Context, args globalArgs) (*workspace, error) {
	stderr := c.App.ErrWriter
	cfg, err := loadConfig(args, stderr)
	if err != nil {
		return nil, err
	}
	onRetry := func(what string) func(attempt, max int, wait time.Duration, cause error) {
		return func(attempt, max int, wait time.Duration, cause error) {
			warnRetry(stderr, cfg, what, attempt, max, wait, cause)
		}
	}
	return buildWorkspace(c, args, cfg, registry.WithSettings(func(s any) {
		if fs, ok := s.(*ftrack.Settings); ok {
			if fs.MaxRetries == 0 {
				fs.MaxRetries = 2
			}
			if fs.RetryMaxElapsed == 0 {
				fs.RetryMaxElapsed = 20 * time.Second
			}
			if fs.OnRetry == nil {
				fs.OnRetry = onRetry("ftrack")
			}
		}
	}), registry.WithStateRetry(onRetry("state")))
}

// checkID makes an id part from a block name: lower case, every rune
// that is not a letter, digit or underscore an underscore.
func checkID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// block returns the configuration block of a source or target by name.
func (k *checker) block(blocks []*config.Block, name string) *config.Block {
	for _, b := range blocks {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// valueOrigin says where a block attribute's value comes from, for a fix:
// `the environment variable LDAP_PASSWORD`, `variable "ldap_password"
// (LDAPSYNC_VAR_ldap_password, -var or -var-file)`; "" when the body is
// not HCL or the attribute is missing. It reads the expression, never
// the value.
func valueOrigin(b *config.Block, attr string) string {
	if b == nil {
		return ""
	}
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return ""
	}
	a, ok := body.Attributes[attr]
	if !ok {
		return ""
	}
	var origins []string
	seen := map[string]bool{}
	note := func(s string) {
		if !seen[s] {
			seen[s] = true
			origins = append(origins, s)
		}
	}
	for _, t := range a.Expr.Variables() {
		if t.RootName() != "var" || len(t) < 2 {
			continue
		}
		if step, ok := t[1].(hcl.TraverseAttr); ok {
			note(fmt.Sprintf("variable %q (LDAPSYNC_VAR_%s, -var or -var-file)", step.Name, step.Name))
		}
	}
	_ = hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || len(call.Args) != 1 {
			return nil
		}
		v, diags := call.Args[0].Value(nil)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return nil
		}
		switch call.Name {
		case "env":
			note(fmt.Sprintf("the environment variable %s", v.AsString()))
		case "file":
			note(fmt.Sprintf("the file %s", v.AsString()))
		}
		return nil
	})
	if len(origins) == 0 {
		return fmt.Sprintf("%s at %s", attr, a.SrcRange.String())
	}
	return strings.Join(origins, " or ")
}

// checkSource runs the checks of one source; schemas gets its schema
// when it could be read.
func (k *checker) checkSource(src engine.Source, schemas map[string][]config.AttributeType) {
	info := src.Info()
	id := "source." + checkID(info.Name)
	ls, ok := src.(*ldap.Source)
	if !ok {
		k.warn(id+".type", "", "source %q: ldapsync check cannot inspect %s sources", info.Name, info.Type)
		return
	}
	set := ls.Settings()
	probe, err := ls.OpenProbe(k.ctx)
	var se *ldap.StageError
	if err != nil && !errors.As(err, &se) {
		se = &ldap.StageError{Stage: ldap.StageConnect, Err: err}
	}
	if se != nil && se.Stage == ldap.StageConnect {
		k.fail(id+".connect", fmt.Sprintf("check url (%s: host and port) and that the directory is reachable from here (firewall, DNS, proxy)", set.URL), "%v", se.Err)
		return
	}
	k.ok(id+".connect", "connected to %s", set.URL)
	if se != nil && se.Stage == ldap.StageTLS {
		fix := "check ca_cert_file (it must hold the CA that signed the server's certificate) and that the url's host name is in the certificate"
		if se.ResultCode != 0 {
			fix = "use an ldaps:// url, or enable TLS on the server"
		}
		k.fail(id+".tls", fix, "%v", se.Err)
		return
	}
	switch {
	case se == nil:
		k.tlsCheck(id, ls, probe.TLS)
	case se.TLS != nil:
		k.tlsCheck(id, ls, *se.TLS)
	}
	if se != nil && se.Stage == ldap.StageBind {
		k.bindFailed(id, ls, se)
		return
	}
	defer probe.Close()
	if probe.Anonymous {
		k.warn(id+".bind", "set bind_dn and bind_password to a read-only account: anonymous reads rarely see every user and their operational attributes", "no bind_dn: reading anonymously")
	} else {
		k.ok(id+".bind", "bound as %q", set.BindDN)
	}

	// One search, as plan's: entries, pages, and per attribute how many
	// entries carry it.
	uses := k.attributeUses(ls)
	attrs := make([]string, 0, len(uses))
	for _, u := range uses {
		attrs = append(attrs, u.name)
	}
	cov, err := probe.Coverage(k.ctx, attrs, 3)
	if err != nil {
		k.fail(id+".search", "check base_dn and filter, and that the bind account may search them", "%v", err)
		return
	}
	if cov.Entries == 0 {
		k.fail(id+".search", "check base_dn and filter, and that the bind account may read the user entries (an ACL that lets it bind but not read shows nothing)",
			"the search (%s) returned no entries", ls.SearchDescription())
		return
	}
	r := k.ok(id+".search", "%d %s in %d %s (%s, page_size %d)", cov.Entries, pick(cov.Entries, "entry", "entries"), cov.Pages, pick(cov.Pages, "page", "pages"), ls.SearchDescription(), set.PageSize)
	r.Items = append(r.Items, cov.First...)
	if cov.Referrals > 0 {
		k.warn(id+".referrals", "set base_dn to the subtree that holds the users", "%d search result references (referrals) were not followed; their entries are not read", cov.Referrals)
	}

	// The schema.
	var defined map[string]bool
	types, err := ls.AttributeTypes(k.ctx)
	switch {
	case errors.Is(err, config.ErrSchemaUnavailable):
		k.warn(id+".schema", "let the bind account read the subschema subentry (cn=Subschema): without it misspelt attributes are not caught before a plan", "%v", err)
	case err != nil:
		k.fail(id+".schema", "", "reading the schema: %v", err)
	default:
		schemas[info.Name] = types
		defined = map[string]bool{}
		for _, t := range types {
			for _, n := range t.Names {
				defined[strings.ToLower(n)] = true
			}
		}
		k.ok(id+".schema", "the schema defines %d attribute types", len(types))
	}
	k.coverageChecks(id, ls, probe, uses, cov, defined)
}

// tlsCheck reports a connection's TLS: plaintext and an unverified
// certificate are warnings, as is a certificate that expires within 30
// days.
func (k *checker) tlsCheck(id string, ls *ldap.Source, t ldap.TLSInfo) {
	set := ls.Settings()
	if t.Mode == "" {
		fix := "use an ldaps:// url or start_tls = true"
		if set.BindPassword == "" {
			k.warn(id+".tls", fix, "no TLS: entries travel unencrypted")
		} else {
			k.warn(id+".tls", fix, "no TLS: the bind password and every entry travel unencrypted (insecure_allow_plaintext)")
		}
		return
	}
	ct := &checkTLS{Mode: t.Mode, Version: t.Version, CipherSuite: t.CipherSuite, Verified: t.Verified}
	msg := fmt.Sprintf("%s, %s, %s", t.Mode, t.Version, t.CipherSuite)
	status, fix := checkOK, ""
	if len(t.Certificates) > 0 {
		c := t.Certificates[0]
		ct.Certificate = &checkCert{Subject: c.Subject, Issuer: c.Issuer, NotAfter: c.NotAfter.UTC(), DNSNames: c.DNSNames, IPs: c.IPAddresses}
		left := c.NotAfter.Sub(now())
		msg += fmt.Sprintf("; certificate %q issued by %q, valid until %s", c.Subject, c.Issuer, c.NotAfter.UTC().Format("2006-01-02"))
		switch {
		case left <= 0:
			status, fix = checkFail, "renew the directory server's certificate"
			msg += " (expired)"
		case left < 30*24*time.Hour:
			status, fix = checkWarn, "renew the directory server's certificate soon"
			msg += fmt.Sprintf(" (%d days left)", int(left.Hours()/24))
		}
	}
	if !t.Verified {
		msg += "; the certificate is NOT verified (insecure_skip_verify)"
		if status == checkOK {
			status = checkWarn
		}
		fix = strings.TrimPrefix(fix+"; set ca_cert_file to the CA that signed it and remove insecure_skip_verify", "; ")
	}
	k.add(checkResult{ID: id + ".tls", Status: status, Message: msg, Fix: fix, TLS: ct})
}

// bindFailed reports a refused bind with what to change.
func (k *checker) bindFailed(id string, ls *ldap.Source, se *ldap.StageError) {
	set := ls.Settings()
	pw := valueOrigin(k.block(k.ws.cfg.Sources, ls.Info().Name), "bind_password")
	if pw == "" {
		pw = "bind_password"
	}
	switch se.ResultCode {
	case 49: // invalidCredentials
		k.fail(id+".bind", fmt.Sprintf("check bind_dn and the password in %s", pw),
			"bind as %q failed: invalid credentials (result code 49)", set.BindDN)
	case 13: // confidentialityRequired
		k.fail(id+".bind", "use an ldaps:// url or start_tls = true", "bind as %q refused: the server requires TLS for binds (result code 13)", set.BindDN)
	default:
		k.fail(id+".bind", fmt.Sprintf("check bind_dn, the password in %s, and that the account is not locked", pw), "%v", se.Err)
	}
}

// attrUse is an attribute check asks for, and what reads it.
type attrUse struct {
	name string
	// uses are the mapping fields that read it, or "stable id" /
	// "disabled rule".
	uses        []string
	operational bool
}

// attributeUses lists the attributes check asks the source for: those
// the mapping reads (with the fields that read them), the stable id and
// the preset's disabled-rule attributes.
func (k *checker) attributeUses(ls *ldap.Source) []*attrUse {
	var out []*attrUse
	byLower := map[string]*attrUse{}
	use := func(name, what string, operational bool) {
		l := strings.ToLower(name)
		u := byLower[l]
		if u == nil {
			u = &attrUse{name: name}
			byLower[l] = u
			out = append(out, u)
		}
		u.operational = u.operational || operational
		for _, w := range u.uses {
			if w == what {
				return
			}
		}
		u.uses = append(u.uses, what)
	}
	if m := k.ws.mapper; m != nil && m.HandlesSource(ls.Info().Name) {
		for _, ref := range m.AttributeRefs() {
			use(ref.Name, ref.Field, false)
		}
		for _, a := range m.Attributes() { // entry_values references, too
			if byLower[strings.ToLower(a)] == nil {
				use(a, "mapping", false)
			}
		}
	}
	use(ls.Settings().IDAttribute, "stable id", true)
	for _, a := range ls.Preset().DisabledAttributes {
		use(a, "disabled rule", true)
	}
	return out
}

// coverageChecks reports the attribute table: source.NAME.attributes for
// the attributes the mapping reads, source.NAME.operational for the
// stable id and the disabled rule's attributes. An attribute no entry
// returned is probed: an ACL that hides it is a failure.
func (k *checker) coverageChecks(id string, ls *ldap.Source, probe *ldap.Probe, uses []*attrUse, cov ldap.Coverage, defined map[string]bool) {
	set := ls.Settings()
	var mapped, oper []coverageRow
	var mappedStatus, operStatus = checkOK, checkOK
	var mappedNotes, operNotes, mappedFix, operFix, mappedHidden, operHidden []string
	worse := func(cur *string, s string) {
		if s == checkFail || (s == checkWarn && *cur == checkOK) {
			*cur = s
		}
	}
	who := set.BindDN
	if who == "" {
		who = "anonymous"
	}
	for _, u := range uses {
		attr, _, _ := strings.Cut(u.name, ";")
		row := coverageRow{Attribute: u.name, Use: strings.Join(u.uses, ", "), Entries: cov.Have[u.name], Of: cov.Entries, Status: checkOK}
		inSchema := true
		if defined != nil {
			inSchema = defined[strings.ToLower(attr)]
			row.InSchema = &inSchema
		}
		if row.Entries == 0 && inSchema {
			switch acc, err := probe.Readable(k.ctx, cov.Without[u.name], attr); {
			case err != nil:
				// the probe does not tell; the counts stand alone
			case acc == ldap.AccessDenied:
				row.Access = "hidden"
			case acc == ldap.AccessReadable:
				row.Access = "readable"
			}
		}
		hidden := row.Access == "hidden"
		switch {
		case !u.operational:
			switch {
			case !inSchema: // mapping.NAME.attributes fails with the did-you-mean
				row.Status = checkWarn
				mappedNotes = append(mappedNotes, fmt.Sprintf("%s: not in the directory's schema, no entry can have it (see mapping %q)", u.name, k.ws.mapper.Name()))
			case hidden:
				row.Status = checkFail
				mappedNotes = append(mappedNotes, fmt.Sprintf("%s: the bind account may not read it (an ACL hides it): every entry looks as if it had none", u.name))
				mappedHidden = append(mappedHidden, attr)
			case row.Entries == 0:
				row.Status = checkWarn
				mappedNotes = append(mappedNotes, fmt.Sprintf("%s: no entry of the search has it", u.name))
				mappedFix = append(mappedFix, fmt.Sprintf("check that %s is the attribute meant for %s", u.name, row.Use))
			}
			worse(&mappedStatus, row.Status)
			mapped = append(mapped, row)
		case u.uses[0] == "stable id":
			switch {
			case hidden:
				row.Status = checkFail
				operNotes = append(operNotes, fmt.Sprintf("%s (the stable id): the bind account may not read it (an ACL hides it); plan refuses entries without it", u.name))
				operHidden = append(operHidden, attr)
			case !inSchema:
				row.Status = checkFail
				operNotes = append(operNotes, fmt.Sprintf("%s (the stable id): the schema does not define it", u.name))
				operFix = append(operFix, fmt.Sprintf("set id_attribute to an attribute every entry has, or the schema preset (schema = %q) that fits the directory", ls.Preset().Name))
			case row.Entries < row.Of:
				row.Status = checkFail
				operNotes = append(operNotes, fmt.Sprintf("%s (the stable id): %d of %d entries have none (first: %s); plan refuses entries without it", u.name, row.Of-row.Entries, row.Of, cov.Without[u.name]))
				operFix = append(operFix, "set id_attribute to an attribute every entry has, and check that the bind account may read it on every entry")
			}
			worse(&operStatus, row.Status)
			oper = append(oper, row)
		default: // the disabled rule
			switch {
			case hidden:
				row.Status = checkFail
				operNotes = append(operNotes, fmt.Sprintf("%s (disabled rule): the bind account may not read it (an ACL hides it): disabled accounts look active", u.name))
				operHidden = append(operHidden, attr)
			case !inSchema:
				row.Status = checkWarn
				operNotes = append(operNotes, fmt.Sprintf("%s (disabled rule): the schema does not define it, so no account is ever seen as disabled", u.name))
				operFix = append(operFix, fmt.Sprintf("load the schema that defines %s (OpenLDAP: the ppolicy overlay), or map disabled in the mapping", u.name))
			}
			worse(&operStatus, row.Status)
			oper = append(oper, row)
		}
	}
	// grant is the fix for attributes an ACL hides, first of the fixes.
	grant := func(fixes, attrs []string) []string {
		if len(attrs) == 0 {
			return fixes
		}
		a := strings.Join(attrs, ",")
		g := fmt.Sprintf("grant %s read access to %s (OpenLDAP: olcAccess: to attrs=%s by dn.exact=\"%s\" read, before the ACLs that deny it; Active Directory: Read Property)",
			who, strings.Join(attrs, " and "), a, who)
		return append([]string{g}, fixes...)
	}
	mappedFix, operFix = grant(mappedFix, mappedHidden), grant(operFix, operHidden)
	if len(mapped) > 0 {
		msg := fmt.Sprintf("the %d %s the mapping reads, in %d %s", len(mapped), pick(len(mapped), "attribute", "attributes"), cov.Entries, pick(cov.Entries, "entry", "entries"))
		if len(mappedNotes) > 0 {
			msg += ": " + strings.Join(mappedNotes, "; ")
		}
		k.add(checkResult{ID: id + ".attributes", Status: mappedStatus, Message: msg, Fix: strings.Join(mappedFix, "; "), Coverage: mapped})
	}
	msg := fmt.Sprintf("the stable id and the disabled rule of schema %q are returned", ls.Preset().Name)
	if len(operNotes) > 0 {
		msg = strings.Join(operNotes, "; ")
	}
	k.add(checkResult{ID: id + ".operational", Status: operStatus, Message: msg, Fix: strings.Join(operFix, "; "), Coverage: oper})
}

// checkMapping checks the attributes the mapping reads against the
// schemas read (config.Mapping.CheckAttributes, as validate -online and
// plan do): a misspelling fails with a did-you-mean.
func (k *checker) checkMapping(schemas map[string][]config.AttributeType) {
	m := k.ws.mapper
	if m == nil || len(m.AttributeRefs()) == 0 {
		return
	}
	id := "mapping." + checkID(m.Name()) + ".attributes"
	if len(schemas) == 0 {
		if !k.failed("source.") {
			k.warn(id, "", "no directory schema could be read: the attributes the mapping reads are not checked")
		}
		return
	}
	diags := m.CheckAttributes(schemas)
	if len(diags) == 0 {
		k.ok(id, "every attribute the mapping reads is defined in the directory's schema: %s", strings.Join(m.Attributes(), ", "))
		return
	}
	status := checkWarn
	if diags.HasErrors() {
		status = checkFail
	}
	var items []string
	for _, d := range diags {
		at := ""
		if d.Subject != nil {
			at = fmt.Sprintf("%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		items = append(items, at+d.Summary+": "+d.Detail)
	}
	k.add(checkResult{ID: id, Status: status, Items: items,
		Message: fmt.Sprintf("%d %s the mapping reads %s not defined in the directory's schema", len(diags), pick(len(diags), "attribute", "attributes"), pick(len(diags), "is", "are")),
		Fix:     "correct the attribute names in the mapping (see the did-you-mean); validate -online shows the lines"})
}

// checkTarget runs the target's checks; it reports whether the target
// could be reached and read, so that a plan can be built.
func (k *checker) checkTarget() bool {
	t := k.ws.target
	if t == nil {
		return false
	}
	info := t.Info()
	id := "target." + checkID(info.Name)
	ft, ok := t.(*ftrack.Target)
	if !ok {
		k.warn(id+".type", "", "target %q: ldapsync check cannot inspect %s targets", info.Name, info.Type)
		return false
	}
	cl := ft.Client()
	user := ft.APIUser()
	key := valueOrigin(k.ws.cfg.Target, "api_key")
	if key == "" {
		key = "api_key"
	}
	si, err := cl.ServerInformation(k.ctx)
	switch {
	case errors.Is(err, ftrack.ErrAuthentication):
		k.fail(id+".auth", fmt.Sprintf("check api_user (%q) and the API key in %s", user, key), "authentication failed at %s: %v", info.Endpoint, err)
		return false
	case err != nil:
		k.fail(id+".auth", "check server_url and that the site is reachable from here (proxy, firewall, ca_cert_file)", "%s: %v", info.Endpoint, err)
		return false
	}
	k.ok(id+".auth", "signed in to %s as %q", info.Endpoint, user)
	k.ok(id+".server", "server version %s", si.Version)

	readOK := true
	read := func(typ, expr string) {
		_, err := cl.Peek(k.ctx, expr, 1)
		rid := id + ".read." + camelToSnake(typ)
		switch {
		case errors.Is(err, ftrack.ErrPermission):
			readOK = false
			k.fail(rid, fmt.Sprintf("give %q a security role that may read %s (ldapsync reads users, their metadata, groups and memberships)", user, typ), "%q may not read %s: %v", user, typ, err)
		case err != nil:
			readOK = false
			k.fail(rid, "", "reading %s: %v", typ, err)
		default:
			k.ok(rid, "%s can be read", typ)
		}
	}
	userQ, _ := ftrack.Is("username", user)
	rows, err := cl.Peek(k.ctx, "select id, username, is_active from User where "+userQ, 2)
	var userID string
	switch {
	case errors.Is(err, ftrack.ErrPermission):
		k.fail(id+".api_user", fmt.Sprintf("give %q a security role that may read users", user), "%q may not read its own User: %v", user, err)
	case err != nil:
		k.fail(id+".api_user", "", "reading the API user's account: %v", err)
	case len(rows) == 0:
		k.warn(id+".api_user", "set api_user to the username the API key belongs to", "no User %q: the site accepted the key, but no account has that username", user)
	default:
		userID = rows[0].String("id")
		if active, _ := rows[0].Bool("is_active"); active {
			k.ok(id+".api_user", "the API user %q (id %s) is active; ldapsync never changes it", rows[0].String("username"), userID)
		} else {
			k.warn(id+".api_user", "activate the API user's account", "the API user %q (id %s) is inactive", rows[0].String("username"), userID)
		}
	}
	if userID != "" {
		k.checkRole(id, cl, user, userID)
	}
	read("User", "select id from User")
	read("Metadata", "select parent_id, key from Metadata")
	read("Group", "select id from Group")
	read("SecurityRole", "select id from SecurityRole")

	schemas, err := cl.Schemas(k.ctx)
	if err != nil {
		k.fail(id+".schema", "", "query_schemas: %v", err)
		return false
	}
	hasMeta, hasMetaType := false, false
	for _, s := range schemas {
		switch s.ID {
		case "User":
			for _, p := range s.Properties {
				hasMeta = hasMeta || p == "metadata"
			}
		case "Metadata":
			hasMetaType = true
		}
	}
	if hasMeta && hasMetaType {
		k.ok(id+".schema", "User.metadata is in the site's schema (ldapsync's ownership marker is User metadata)")
	} else {
		k.fail(id+".schema", "ldapsync needs a site whose users carry metadata (ftrack Studio 4 or later)", "the site's schema has no User.metadata: ldapsync cannot mark the accounts it manages")
		return false
	}
	return readOK
}

// camelToSnake turns an entity type, "SecurityRole", into "security_role".
func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkRole reports the API user's security roles (UserSecurityRole).
// Administrator and API are known to manage users; another role is a
// warning, as is a role that cannot be read: check cannot tell from the
// API what a role may do.
func (k *checker) checkRole(id string, cl *ftrack.Client, user, userID string) {
	q, _ := ftrack.Is("user_id", userID)
	rows, err := cl.Peek(k.ctx, "select security_role.name, is_all_open_projects from UserSecurityRole where "+q, 100)
	if err != nil {
		k.warn(id+".role", fmt.Sprintf("let %q read UserSecurityRole, or check its role in ftrack's System settings", user), "the API user's security role could not be read: %v", err)
		return
	}
	var names []string
	known := false
	for _, r := range rows {
		role, _ := r["security_role"].(ftrack.Entity)
		if role == nil {
			if m, ok := r["security_role"].(map[string]any); ok {
				role = ftrack.Entity(m)
			}
		}
		name := role.String("name")
		if name == "" {
			continue
		}
		names = append(names, name)
		if l := strings.ToLower(name); l == "administrator" || l == "api" {
			known = true
		}
	}
	sort.Strings(names)
	fix := fmt.Sprintf("give %q the Administrator or API role (ldapsync creates, updates and deactivates users and edits groups and memberships)", user)
	switch {
	case len(names) == 0:
		k.warn(id+".role", fix, "%q has no security role: apply's writes may be refused", user)
	case known:
		k.ok(id+".role", "%q has the security %s %s", user, pick(len(names), "role", "roles"), strings.Join(names, ", "))
	default:
		k.warn(id+".role", fix, "%q has the security %s %s, which may not manage users: apply's writes may be refused", user, pick(len(names), "role", "roles"), strings.Join(names, ", "))
	}
}

// checkState loads the state and takes its lock (released at once). It
// returns the loaded state and whether loading worked.
func (k *checker) checkState() (*engine.LastApplied, bool) {
	b := k.ws.state
	if b == nil {
		return nil, false
	}
	la, err := b.Load()
	if err != nil {
		k.fail("state.load", "", "%v", err)
		return nil, false
	}
	if !la.Exists {
		k.ok("state.load", "%s (%s): no state yet; the first apply creates it", b.Describe(), b.Type())
	} else {
		k.ok("state.load", "%s (%s): serial %d, lineage %s, %d users", b.Describe(), b.Type(), la.Serial, la.Lineage, len(la.Users))
	}
	unlock, err := b.Lock(k.ctx, state.NewLockInfo("check", version), 0)
	var le *state.LockedError
	switch {
	case errors.As(err, &le):
		holder, fix := lockHolder(le), lockRemedy(b, le)
		k.warn("state.lock", fix, "%s is locked by %s: the backend works, but an apply now would wait for that run", b.Describe(), holder)
	case err != nil:
		k.fail("state.lock", "", "taking the state lock: %v", err)
	default:
		if err := unlock(); err != nil {
			k.fail("state.lock", "", "the lock was taken but releasing it failed: %v", err)
		} else {
			k.ok("state.lock", "the lock can be taken (taken and released)")
		}
	}
	return la, true
}

// stateLockCanBeLeft reports whether b's lock may outlive its run, so
// that force-unlock is the remedy for a holder that is gone.
func stateLockCanBeLeft(b state.Backend) bool {
	st, ok := registry.LookupState(b.Type())
	return ok && st.Capabilities.LockCanBeLeftBehind
}

// checkPlan builds the plan a run would make now, in memory (BuildPlan
// writes nothing), and summarises what a reviewer of a first plan looks
// for: adoptions, e-mail collisions, conflicts and blocks.
func (k *checker) checkPlan(prior *engine.LastApplied) {
	p, err := engine.BuildPlan(k.ctx, k.ws.planRequest(prior))
	if err != nil {
		k.fail("plan.build", "", "the plan could not be built: %v", err)
		return
	}
	k.ok("plan.summary", "%s", planSummaryLine(p))
	var adopts []string
	for _, c := range p.Changes {
		if c.Action == engine.ActionAdopt {
			adopts = append(adopts, fmt.Sprintf("%s (%s)", c.Address, c.Why()))
		}
	}
	if len(adopts) == 0 {
		k.ok("plan.adopt", "the plan adopts no existing ftrack account")
	} else {
		r := k.ok("plan.adopt", "the plan adopts %d existing ftrack %s: mapping %q marks %s as its own", len(adopts), pick(len(adopts), "account", "accounts"), k.ws.mapper.Name(), pick(len(adopts), "it", "them"))
		r.Items = adopts
	}
	var collisions []string
	for _, w := range p.Warnings {
		if strings.Contains(w, "e-mail") {
			collisions = append(collisions, w)
		}
	}
	if len(collisions) == 0 {
		k.ok("plan.email_collisions", "no two directory users or ftrack accounts share an e-mail")
	} else {
		r := k.warn("plan.email_collisions", "give each person one e-mail in the directory, or merge or rename the ftrack accounts that share it",
			"%d %s held because of a shared e-mail (one person, one account)", len(collisions), pick(len(collisions), "user is", "users are"))
		r.Items = collisions
	}
	if len(p.Conflicts) == 0 {
		k.ok("plan.conflicts", "no username is claimed by two directory entries")
	} else {
		var items []string
		for _, c := range p.Conflicts {
			items = append(items, fmt.Sprintf("user.%s: %s", c.Key, c.Reason))
		}
		r := k.warn("plan.conflicts", "fix the directory so that each username maps from one entry", "%d %s in conflict; none of them is applied", len(p.Conflicts), pick(len(p.Conflicts), "username", "usernames"))
		r.Items = items
	}
	if p.IsBlocked() {
		r := k.warn("plan.blocked", "review the plan (ldapsync plan), then plan with -force, or change the policy", "the plan would be blocked by a safety policy")
		r.Items = append([]string{}, p.Blocked.Reasons...)
	} else {
		k.ok("plan.blocked", "no safety policy blocks the plan")
	}
}

// checkReport renders the report as text: one section per source,
// mapping, target, plan and state, one line per check, a fix under each
// that is not ok, and the details (coverage table, items) indented.
func (r *renderer) checkReport(rep checkReport) {
	r.printf("%s\n", r.bold.Sprintf("ldapsync check: %s", plain(rep.Config)))
	section := ""
	for _, c := range rep.Checks {
		sec, name := checkSection(c.ID)
		if sec != section {
			section = sec
			r.printf("\n%s\n", r.bold.Sprint(plain(sec)))
		}
		mark := r.green.Sprint("ok  ")
		switch c.Status {
		case checkWarn:
			mark = r.yellow.Sprint("warn")
		case checkFail:
			mark = r.red.Sprint("FAIL")
		}
		r.printf("  %s  %-18s %s\n", mark, plain(name), plain(c.Message))
		if c.Fix != "" {
			r.printf("        %s %s\n", r.bold.Sprint("fix:"), plain(c.Fix))
		}
		for _, it := range c.Items {
			r.printf("        - %s\n", plain(it))
		}
		if len(c.Coverage) > 0 {
			r.coverageTable(c.Coverage)
		}
	}
	r.printf("\n%s\n", r.bold.Sprintf("%d ok, %d %s, %d failed.", rep.Counts.OK, rep.Counts.Warn, pick(rep.Counts.Warn, "warning", "warnings"), rep.Counts.Fail))
}

// checkSection splits an id into its section (source "corp") and the
// check's name within it (bind).
func checkSection(id string) (section, name string) {
	parts := strings.SplitN(id, ".", 3)
	switch {
	case len(parts) == 3 && (parts[0] == "source" || parts[0] == "target" || parts[0] == "mapping"):
		return fmt.Sprintf("%s %q", parts[0], parts[1]), parts[2]
	case len(parts) >= 2:
		return parts[0], strings.Join(parts[1:], ".")
	}
	return id, id
}

// coverageTable prints the attribute rows: "mail  email  98 of 100".
func (r *renderer) coverageTable(rows []coverageRow) {
	wa, wu := len("attribute"), len("read by")
	for _, row := range rows {
		wa, wu = max(wa, len(plain(row.Attribute))), max(wu, len(plain(row.Use)))
	}
	r.printf("        %-*s  %-*s  %s\n", wa, "attribute", wu, "read by", "entries")
	for _, row := range rows {
		note := ""
		switch {
		case row.InSchema != nil && !*row.InSchema:
			note = "  not in the schema"
		case row.Access == "hidden":
			note = "  hidden from the bind account"
		}
		line := fmt.Sprintf("%-*s  %-*s  %d of %d%s", wa, plain(row.Attribute), wu, plain(row.Use), row.Entries, row.Of, note)
		switch row.Status {
		case checkFail:
			line = r.red.Sprint(line)
		case checkWarn:
			line = r.yellow.Sprint(line)
		}
		r.printf("        %s\n", line)
	}
}
