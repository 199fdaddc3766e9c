package ldap

// Reading the directory's schema, so that a mapping that reads an attribute
// the directory does not define (a misspelling: entry.givenNmae) is refused
// before a plan blanks a field for every user.
//
// Two places hold the attribute names:
//
//   - the subschema subentry (RFC 4512 §4.2): the RootDSE's
//     subschemaSubentry (or, failing that, the base entry's) names it, and
//     its attributeTypes values are definitions such as
//     ( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name ). OpenLDAP, 389-ds,
//     FreeIPA and Active Directory (CN=Aggregate,CN=Schema,…) all serve
//     one; OpenLDAP lists operational attributes (entryUUID, memberOf with
//     the memberof overlay, pwdAccountLockedTime with ppolicy) there too;
//   - Active Directory's schema container (the RootDSE's
//     schemaNamingContext, CN=Schema,CN=Configuration,…): one
//     attributeSchema object per attribute, its lDAPDisplayName the name.
//     It is read first when the RootDSE names it, with paged searches, so
//     the answer never depends on range retrieval of one huge value list.
//
// An attribute's first NAME is its primary name, and directories return
// values under it whatever name was asked for (OpenLDAP answers a request
// for surname with sn), which is why the names are kept grouped by
// attribute: a mapping that reads an alias reads nothing.
//
// A schema the bind account may not read is not an error: the caller skips
// the check (ErrSchemaUnavailable). Only failing to reach the directory is.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine/config"
)

// ErrSchemaUnavailable is wrapped by AttributeTypes' error when the
// directory does not let the bind account read its schema (no
// subschemaSubentry, access refused, an empty or unparsable list); the
// attribute check is then skipped with a warning rather than blocking a
// plan. It is config.ErrSchemaUnavailable.
var ErrSchemaUnavailable = config.ErrSchemaUnavailable

// AttributeNames connects, binds and returns every attribute name the
// directory's schema defines: each attribute's names and aliases (cn and
// commonName, sn and surname), operational attributes included, spelled as
// the schema spells them, de-duplicated without case and sorted without
// case. Connecting and every search are bounded by the source's timeout.
//
// An error wrapping ErrSchemaUnavailable means the schema could not be
// read (the reason is in the message); any other error is a failure to
// reach or bind to the directory.
func (s *Source) AttributeNames(ctx context.Context) ([]string, error) {
	types, err := s.AttributeTypes(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, at := range types {
		names = append(names, at.Names...)
	}
	return sortNames(names), nil
}

// AttributeTypes is AttributeNames with the names grouped by attribute,
// the primary name first (the one the directory returns values under:
// OpenLDAP answers a request for surname with sn), sorted by primary name
// without case. It implements registry.SchemaReader.
func (s *Source) AttributeTypes(ctx context.Context) ([]config.AttributeType, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetTimeout(0) // every search below has its own deadline

	var reasons []string
	// unreadable keeps the reason of a refusal and reports whether err was
	// one; any other error ends the read.
	unreadable := func(err error) bool {
		var r *schemaRefusal
		if errors.As(err, &r) {
			reasons = append(reasons, r.reason)
			return true
		}
		return false
	}
	dse, err := s.baseEntry(ctx, conn, "", "(objectClass=*)", "subschemaSubentry", "schemaNamingContext")
	if err != nil && !unreadable(err) {
		return nil, err
	}
	if nc := dse.GetAttributeValue("schemaNamingContext"); nc != "" {
		types, err := s.schemaContainerTypes(ctx, conn, nc)
		if err == nil {
			return types, nil
		}
		if !unreadable(err) {
			return nil, err
		}
	}
	sub := dse.GetAttributeValue("subschemaSubentry")
	if sub == "" {
		base, err := s.baseEntry(ctx, conn, s.set.BaseDN, "(objectClass=*)", "subschemaSubentry")
		if err != nil && !unreadable(err) {
			return nil, err
		}
		sub = base.GetAttributeValue("subschemaSubentry")
	}
	if sub == "" {
		reasons = append(reasons, "neither the RootDSE nor the base DN names a subschemaSubentry")
	} else {
		types, err := s.subschemaTypes(ctx, conn, sub)
		if err == nil {
			return types, nil
		}
		if !unreadable(err) {
			return nil, err
		}
	}
	return nil, s.errorf("%w: %s", ErrSchemaUnavailable, strings.Join(reasons, "; "))
}

// schemaRefusal is the directory's refusal to show (part of) its schema.
type schemaRefusal struct{ reason string }

// Error returns the refusal's reason.
func (e *schemaRefusal) Error() string { return e.reason }

func refusal(format string, args ...any) error {
	return &schemaRefusal{reason: fmt.Sprintf(format, args...)}
}

// refused reports whether err is the server's own refusal of an operation
// (an LDAP result code: no such object, insufficient access, unwilling to
// perform, …) rather than a failure to talk to it.
func refused(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode != ldap.LDAPResultSuccess && le.ResultCode < ldap.ErrorNetwork
}

// describeRefusal renders a server's refusal without go-ldap's framing:
// `the server answered "No Such Object" (result code 32)`, with the
// server's diagnostic message when it gave one.
func describeRefusal(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	msg := fmt.Sprintf("the server answered %q (result code %d)", ldap.LDAPResultCodeMap[le.ResultCode], le.ResultCode)
	if le.Err != nil {
		if d := strings.TrimSpace(le.Err.Error()); d != "" {
			msg += ": " + d
		}
	}
	return msg
}

// baseEntry reads one entry with a base search bounded by the source's
// timeout. A refusal or a missing entry is a *schemaRefusal; the entry
// returned then is empty, never nil.
func (s *Source) baseEntry(ctx context.Context, conn *ldap.Conn, dn, filter string, attrs ...string) (*ldap.Entry, error) {
	empty := &ldap.Entry{DN: dn}
	pctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
	defer cancel()
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, filter, attrs, nil)
	resp := conn.SearchAsync(pctx, req, 4)
	var got *ldap.Entry
	for resp.Next() {
		if e := resp.Entry(); e != nil && got == nil {
			got = e
		}
	}
	name := fmt.Sprintf("%q", dn)
	if dn == "" {
		name = "the RootDSE"
	}
	rerr, perr := resp.Err(), pctx.Err()
	switch {
	case ctx.Err() != nil:
		return empty, s.errorf("reading %s cancelled: %w", name, ctx.Err())
	case rerr != nil && refused(rerr):
		return empty, refusal("reading %s: %s", name, describeRefusal(rerr))
	case rerr != nil:
		return empty, s.errorf("reading %s: %w", name, rerr)
	case perr != nil:
		return empty, s.errorf("reading %s: no answer within %s; raise timeout", name, s.set.Timeout)
	case got == nil:
		return empty, refusal("%s is not visible to the bind account", name)
	}
	return got, nil
}

// subschemaTypes reads and parses the attributeTypes of the subschema
// subentry dn.
func (s *Source) subschemaTypes(ctx context.Context, conn *ldap.Conn, dn string) ([]config.AttributeType, error) {
	e, err := s.baseEntry(ctx, conn, dn, "(objectClass=subschema)", "attributeTypes")
	if err != nil {
		return nil, err
	}
	defs, next, err := rangedValues(e, "attributeTypes")
	if err != nil {
		return nil, refusal("subschema subentry %q: %v", dn, err)
	}
	if next >= 0 { // Active Directory range retrieval of a long value list
		more, err := s.readRange(ctx, conn, dn, "attributeTypes", next)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, refusal("subschema subentry %q: range retrieval of attributeTypes: %v", dn, err)
		}
		defs = append(defs, more...)
	}
	if len(defs) == 0 {
		return nil, refusal("subschema subentry %q lists no attributeTypes to the bind account", dn)
	}
	types, err := ParseAttributeTypes(defs)
	if err != nil {
		return nil, refusal("subschema subentry %q: %v", dn, err)
	}
	return types, nil
}

// schemaContainerTypes reads the lDAPDisplayName of every attributeSchema
// object in Active Directory's schema container nc.
func (s *Source) schemaContainerTypes(ctx context.Context, conn *ldap.Conn, nc string) ([]config.AttributeType, error) {
	var entries []*ldap.Entry
	_, err := s.pagedSearch(ctx, conn, nc, "(objectClass=attributeSchema)", []string{"lDAPDisplayName"}, func(e *ldap.Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		if refused(err) {
			return nil, refusal("reading the schema container %q: %s", nc, describeRefusal(err))
		}
		return nil, err
	}
	types := SchemaContainerTypes(entries)
	if len(types) == 0 {
		return nil, refusal("schema container %q holds no attributeSchema object with an lDAPDisplayName visible to the bind account", nc)
	}
	return types, nil
}

// SchemaContainerTypes returns the attribute types of Active Directory
// attributeSchema objects: one name each, the lDAPDisplayName, sorted
// without case. An object without one is left out.
func SchemaContainerTypes(entries []*ldap.Entry) []config.AttributeType {
	var types []config.AttributeType
	for _, e := range entries {
		for _, a := range e.Attributes {
			if !strings.EqualFold(a.Name, "lDAPDisplayName") {
				continue
			}
			if names := sortNames(a.Values); len(names) > 0 {
				types = append(types, config.AttributeType{Names: names[:1]})
			}
		}
	}
	return sortTypes(types)
}

// ParseAttributeTypes parses RFC 4512 AttributeTypeDescription values
// (the attributeTypes of a subschema subentry) into attribute types with
// their NAMEs in the schema's order (primary name first), sorted by
// primary name without case. A definition without NAME (known by OID
// only) is left out. A value that does not parse is an error: a schema
// read only in part could refuse an attribute that exists.
func ParseAttributeTypes(defs []string) ([]config.AttributeType, error) {
	var types []config.AttributeType
	for _, d := range defs {
		names, err := attributeTypeNames(d)
		if err != nil {
			return nil, fmt.Errorf("attribute type %q: %w", truncate(d, 120), err)
		}
		if len(names) > 0 {
			types = append(types, config.AttributeType{Names: names})
		}
	}
	return sortTypes(types), nil
}

// sortTypes sorts attribute types by primary name without case.
func sortTypes(types []config.AttributeType) []config.AttributeType {
	sort.SliceStable(types, func(i, j int) bool {
		return strings.ToLower(types[i].Names[0]) < strings.ToLower(types[j].Names[0])
	})
	return types
}

// attributeTypeNames returns the NAME values of one definition:
// ( OID [NAME 'a' | NAME ( 'a' 'b' … )] … ). A definition without NAME
// (an attribute known by OID only) has none.
func attributeTypeNames(def string) ([]string, error) {
	toks, err := schemaTokens(def)
	if err != nil {
		return nil, err
	}
	if len(toks) < 3 || toks[0].text != "(" || toks[len(toks)-1].text != ")" || toks[1].quoted {
		return nil, errors.New("not a parenthesised definition starting with an OID")
	}
	depth := 0
	for i := 1; i < len(toks)-1; i++ {
		t := toks[i]
		switch {
		case !t.quoted && t.text == "(":
			depth++
			continue
		case !t.quoted && t.text == ")":
			depth--
			continue
		}
		if depth != 0 || t.quoted || !strings.EqualFold(t.text, "NAME") {
			continue
		}
		if i+1 >= len(toks)-1 {
			return nil, errors.New("NAME without a value")
		}
		if v := toks[i+1]; v.quoted {
			return []string{v.text}, nil
		} else if v.text != "(" {
			return nil, fmt.Errorf("NAME followed by %q", v.text)
		}
		var names []string
		for j := i + 2; j < len(toks)-1; j++ {
			switch v := toks[j]; {
			case v.quoted:
				names = append(names, v.text)
			case v.text == ")":
				if len(names) == 0 {
					return nil, errors.New("empty NAME list")
				}
				return names, nil
			default:
				return nil, fmt.Errorf("NAME list holds %q", v.text)
			}
		}
		return nil, errors.New("unterminated NAME list")
	}
	return nil, nil
}

type schemaToken struct {
	text   string
	quoted bool
}

// schemaTokens splits a schema definition into parentheses, quoted
// strings ('…', with the \27 and \5C escapes of RFC 4512 §4.1) and bare
// words.
func schemaTokens(def string) ([]schemaToken, error) {
	var toks []schemaToken
	for i := 0; i < len(def); {
		c := def[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, schemaToken{text: string(c)})
			i++
		case c == '\'':
			end := strings.IndexByte(def[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			raw := def[i+1 : i+1+end]
			raw = strings.NewReplacer(`\27`, `'`, `\5C`, `\`, `\5c`, `\`).Replace(raw)
			toks = append(toks, schemaToken{text: raw, quoted: true})
			i += end + 2
		default:
			j := i
			for j < len(def) && !strings.ContainsRune(" \t\n\r()'", rune(def[j])) {
				j++
			}
			toks = append(toks, schemaToken{text: def[i:j]})
			i = j
		}
	}
	return toks, nil
}

// sortNames drops empty names and case-insensitive duplicates (the first
// spelling wins) and sorts without case.
func sortNames(names []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		l := strings.ToLower(n)
		if n == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		li, lj := strings.ToLower(out[i]), strings.ToLower(out[j])
		if li != lj {
			return li < lj
		}
		return out[i] < out[j]
	})
	return out
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
