package ldap

// Reading groups (engine.GroupReader).
//
// Membership is read one of three ways, chosen by GroupSpec.MemberAttribute:
//
//   - member / uniqueMember (groupOfNames, groupOfUniqueNames, AD group):
//     the group entries list member DNs. Active Directory returns an
//     attribute with more values than its MaxValRange as
//     "member;range=0-1499" (and "member" itself empty); the rest is read
//     with base searches for "member;range=<next>-*" until the returned
//     name ends in "-*". The step is whatever the server returned, never
//     assumed, and the server may rename or reorder range attributes, so
//     they are matched by prefix.
//   - memberUid (posixGroup): the group entries list usernames.
//   - memberOf: the user entries (the source's base and filter) list their
//     groups; the group entries' own memberOf gives nesting.
//
// DNs are compared through DNKey: parsed with ldap.ParseDN, attribute types
// and values case-folded, whitespace around values trimmed, multi-valued
// RDNs sorted, values re-escaped. So "CN=Smith\2C Jr.,OU=x" and
// "cn=smith\, jr.,ou=x" have the same key, and an escaped comma can never
// fake a DN boundary.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/engine"
)

// DefaultGroupFilter selects the group entries when a groups block sets no
// filter: every groupOfNames, groupOfUniqueNames, posixGroup and Active
// Directory group.
const DefaultGroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))"

// maxRangeRounds bounds the range-retrieval round trips for one attribute
// of one group (1,000 rounds of at least one value each).
const maxRangeRounds = 1000

var _ engine.GroupReader = (*Source)(nil)

// DNKey returns the normalised form of dn used to compare DNs: parsed,
// case-folded, trimmed and re-escaped. Two DNs are equal exactly when
// their keys are.
func (s *Source) DNKey(dn string) (string, error) { return DNKey(dn) }

// DNKey is Source.DNKey as a function.
func DNKey(dn string) (string, error) {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("invalid DN %q: %w", dn, err)
	}
	rdns := make([]string, len(p.RDNs))
	for i, r := range p.RDNs {
		parts := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			parts[j] = strings.ToLower(strings.TrimSpace(a.Type)) + "=" + ldap.EscapeDN(strings.ToLower(strings.TrimSpace(a.Value)))
		}
		sort.Strings(parts)
		rdns[i] = strings.Join(parts, "+")
	}
	return strings.Join(rdns, ","), nil
}

// memberKey is the key of a member value; a value that is not a DN keeps a
// marked form of its own, so it never matches a user and is counted as an
// unknown member.
func memberKey(v string) string {
	if k, err := DNKey(v); err == nil {
		return k
	}
	return "(not a DN) " + v
}

// rdnValue returns the value of a DN's first RDN, for groups without cn.
func rdnValue(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 || len(p.RDNs[0].Attributes) == 0 {
		return dn
	}
	return p.RDNs[0].Attributes[0].Value
}

// ReadGroups streams the groups a groups block selects, with all their
// members. A partial answer is an error.
func (s *Source) ReadGroups(ctx context.Context, spec engine.GroupSpec, fn func(engine.GroupEntry) error) error {
	filter := spec.Filter
	if filter == "" {
		filter = DefaultGroupFilter
	}
	if _, err := ldap.CompileFilter(filter); err != nil {
		return s.errorf("groups %q: filter %q: %w", spec.Name, filter, err)
	}
	base := spec.BaseDN
	if base == "" {
		base = s.set.BaseDN
	}
	attr := spec.MemberAttribute
	if attr == "" {
		attr = "member"
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetTimeout(0)

	if strings.EqualFold(attr, "memberOf") {
		return s.readMemberOf(ctx, conn, base, filter, fn)
	}
	uids := strings.EqualFold(attr, "memberUid")
	type pending struct {
		g    engine.GroupEntry
		next int
	}
	var later []pending
	_, err = s.pagedSearch(ctx, conn, base, filter, []string{"cn", attr}, func(e *ldap.Entry) error {
		g, err := groupEntry(e)
		if err != nil {
			return err
		}
		vals, next, err := rangedValues(e, attr)
		if err != nil {
			return s.errorf("group %q: %w", e.DN, err)
		}
		addMembers(&g, vals, uids)
		if next >= 0 {
			later = append(later, pending{g, next})
			return nil
		}
		return fn(g)
	})
	if err != nil {
		return err
	}
	for _, p := range later {
		vals, err := s.readRange(ctx, conn, p.g.DN, attr, p.next)
		if err != nil {
			return err
		}
		addMembers(&p.g, vals, uids)
		if err := fn(p.g); err != nil {
			return err
		}
	}
	return nil
}

func groupEntry(e *ldap.Entry) (engine.GroupEntry, error) {
	key, err := DNKey(e.DN)
	if err != nil {
		return engine.GroupEntry{}, err
	}
	name := e.GetAttributeValue("cn")
	if name == "" {
		name = rdnValue(e.DN)
	}
	return engine.GroupEntry{DN: e.DN, Key: key, Name: name}, nil
}

func addMembers(g *engine.GroupEntry, vals []string, uids bool) {
	for _, v := range vals {
		if uids {
			g.MemberUIDs = append(g.MemberUIDs, v)
		} else {
			g.MemberKeys = append(g.MemberKeys, memberKey(v))
		}
	}
}

// rangedValues returns the values of attr in e, whole or ranged. next is
// the first index still to read, or -1 when the values are complete.
func rangedValues(e *ldap.Entry, attr string) (vals []string, next int, err error) {
	next = -1
	prefix := strings.ToLower(attr) + ";range="
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if name == strings.ToLower(attr) {
			vals = append(vals, a.Values...)
			continue
		}
		spec, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		_, hi, err := parseRange(spec)
		if err != nil {
			return nil, 0, fmt.Errorf("attribute %s: %w", a.Name, err)
		}
		vals = append(vals, a.Values...)
		if hi >= 0 && hi+1 > next {
			next = hi + 1
		}
	}
	return vals, next, nil
}

// parseRange parses "LO-HI" or "LO-*"; hi is -1 for "*".
func parseRange(spec string) (lo, hi int, err error) {
	loS, hiS, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, fmt.Errorf("range %q is not LO-HI", spec)
	}
	if lo, err = strconv.Atoi(loS); err != nil || lo < 0 {
		return 0, 0, fmt.Errorf("range %q has a bad start", spec)
	}
	if hiS == "*" {
		return lo, -1, nil
	}
	if hi, err = strconv.Atoi(hiS); err != nil || hi < lo {
		return 0, 0, fmt.Errorf("range %q has a bad end", spec)
	}
	return lo, hi, nil
}

// readRange reads the values of attr from index next on, one range at a
// time (AD range retrieval), until the server answers a range ending in *.
func (s *Source) readRange(ctx context.Context, conn *ldap.Conn, dn, attr string, next int) ([]string, error) {
	var out []string
	prefix := strings.ToLower(attr) + ";range="
	for round := 0; ; round++ {
		if round == maxRangeRounds {
			return nil, s.errorf("group %q: range retrieval of %s did not end after %d rounds", dn, attr, round)
		}
		want := fmt.Sprintf("%s;range=%d-*", attr, next)
		req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{want}, nil)
		pctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
		resp := conn.SearchAsync(pctx, req, 4)
		found, done := false, false
		var got []string
		hiSeen := -1
		for resp.Next() {
			e := resp.Entry()
			if e == nil {
				continue
			}
			for _, a := range e.Attributes {
				spec, ok := strings.CutPrefix(strings.ToLower(a.Name), prefix)
				if !ok {
					continue
				}
				lo, hi, err := parseRange(spec)
				if err != nil {
					cancel()
					return nil, s.errorf("group %q: attribute %s: %w", dn, a.Name, err)
				}
				if lo != next {
					cancel()
					return nil, s.errorf("group %q: asked for %s from %d, the server answered %s", dn, attr, next, a.Name)
				}
				found = true
				got = append(got, a.Values...)
				if hi < 0 {
					done = true
				} else if hi > hiSeen {
					hiSeen = hi
				}
			}
		}
		rerr, perr := resp.Err(), pctx.Err()
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil, s.errorf("group %q: range retrieval cancelled: %w", dn, ctx.Err())
		case rerr != nil:
			return nil, s.searchError(dn, rerr, len(out))
		case perr != nil:
			return nil, s.errorf("group %q: no answer to range retrieval within %s; raise timeout", dn, s.set.Timeout)
		case !found:
			return nil, s.errorf("group %q: the server returned no %s range from %d (the group changed during the read?)", dn, attr, next)
		}
		out = append(out, got...)
		if done {
			return out, nil
		}
		if hiSeen < next {
			return nil, s.errorf("group %q: range retrieval of %s made no progress at %d", dn, attr, next)
		}
		next = hiSeen + 1
	}
}

// readMemberOf builds the groups from the users' memberOf values (and the
// groups' own memberOf, for nesting).
func (s *Source) readMemberOf(ctx context.Context, conn *ldap.Conn, base, filter string, fn func(engine.GroupEntry) error) error {
	groups := map[string]*engine.GroupEntry{}
	type edge struct{ parent, child string }
	var edges []edge
	_, err := s.pagedSearch(ctx, conn, base, filter, []string{"cn", "memberOf"}, func(e *ldap.Entry) error {
		g, err := groupEntry(e)
		if err != nil {
			return err
		}
		groups[g.Key] = &g
		for _, p := range e.GetAttributeValues("memberOf") {
			edges = append(edges, edge{memberKey(p), g.Key})
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.pagedSearch(ctx, conn, s.set.BaseDN, s.set.Filter, []string{"memberOf"}, func(e *ldap.Entry) error {
		key, err := DNKey(e.DN)
		if err != nil {
			return err
		}
		for _, p := range e.GetAttributeValues("memberOf") {
			edges = append(edges, edge{memberKey(p), key})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ed := range edges {
		if g, ok := groups[ed.parent]; ok {
			g.MemberKeys = append(g.MemberKeys, ed.child)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(*groups[k]); err != nil {
			return err
		}
	}
	return nil
}
