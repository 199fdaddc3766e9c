package engine

// Directory groups → ftrack group memberships.
//
// A groups block (GroupSpec) names a source that can read groups
// (GroupReader). After every source has been read and mapped, each spec's
// groups are read, mapped to ftrack group names by its rules, and every
// desired user who is a member (directly, or through nested groups when
// Nested is set) gets those names added to User.Groups, merged with what
// the mapping's own groups expression produced.
//
// DNs are never compared as strings: the provider turns every DN into a
// key (parsed, attribute types and values case-folded, escapes
// normalised) with GroupReader.DNKey, and the engine compares keys only.
// Nesting is resolved per mapped group with a breadth-first walk and a
// visited set, so a cycle (A contains B contains A) ends the walk instead
// of looping; cycles are reported once as a warning. Members that are
// neither a desired user nor (with nesting) a group read by the spec are
// ignored and counted in a warning.

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// GroupRule maps directory groups to one ftrack group name.
type GroupRule struct {
	// Match is a group DN (compared parsed and case-folded), or
	// "re:PATTERN", a regular expression matched against the group's name
	// (its cn).
	Match string
	// Name is the ftrack group name. With a pattern, $1, ${1} and ${name}
	// expand the pattern's captures (regexp.Expand syntax).
	Name string
}

// GroupSpec is one groups block of the configuration, as plain data.
type GroupSpec struct {
	// Name is the groups block's name, for messages.
	Name string
	// Source is the name of the source the groups are read from.
	Source string
	// BaseDN is where the groups are searched.
	BaseDN string
	// Filter selects the group entries; empty means the provider's default
	// (every groupOfNames, groupOfUniqueNames, posixGroup and AD group).
	Filter string
	// MemberAttribute says how membership is recorded: "member" (the
	// default), "uniqueMember", "memberUid" (posixGroup: usernames, matched
	// against the users' join keys) or "memberOf" (read from the user
	// entries, and from the group entries for nesting).
	MemberAttribute string
	// Nested follows groups that are members of groups.
	Nested bool
	// Rules map groups to ftrack names; a group matching several rules is
	// mapped to every name. No rules at all maps every group to its own name.
	Rules []GroupRule
	// CreateGroups creates missing ftrack groups; the caller passes it to
	// the target.
	CreateGroups bool
	// Roles, when set, makes this a roles block: the names are ftrack
	// security roles, granted with this scope (see roles.go).
	Roles *RoleScope
}

// kind is the block type, for messages: "groups" or "roles".
func (s GroupSpec) kind() string {
	if s.Roles != nil {
		return "roles"
	}
	return "groups"
}

// GroupEntry is one directory group as read by a GroupReader.
type GroupEntry struct {
	// DN is the group's DN as the server returned it.
	DN string
	// Key is the normalised DN (GroupReader.DNKey of DN).
	Key string
	// Name is the group's name (cn, else its first RDN value).
	Name string
	// MemberKeys are the normalised DNs of the members (users or groups).
	MemberKeys []string
	// MemberUIDs are memberUid values (usernames), for posixGroup.
	MemberUIDs []string
}

// GroupReader is an optional Source interface: a source that can read
// groups for a GroupSpec.
type GroupReader interface {
	// ReadGroups streams every group the spec selects, with every member
	// (range retrieval and paging are the provider's business). A partial
	// read is an error.
	ReadGroups(ctx context.Context, spec GroupSpec, fn func(GroupEntry) error) error
	// DNKey returns the normalised form of a DN used to compare DNs.
	DNKey(dn string) (string, error)
}

// groupRules are a spec's compiled rules.
type groupRules struct {
	byKey    map[string][]string // DN key -> names
	patterns []groupPattern
	identity bool
}

type groupPattern struct {
	re   *regexp.Regexp
	name string
}

func compileGroupRules(spec GroupSpec, gr GroupReader) (*groupRules, error) {
	r := &groupRules{byKey: map[string][]string{}, identity: len(spec.Rules) == 0}
	rules := append([]GroupRule(nil), spec.Rules...)
	sort.Slice(rules, func(i, j int) bool {
		if rules[i].Match != rules[j].Match {
			return rules[i].Match < rules[j].Match
		}
		return rules[i].Name < rules[j].Name
	})
	for _, rule := range rules {
		if strings.TrimSpace(rule.Name) == "" {
			return nil, fmt.Errorf("%s %q: map[%q] is an empty group name", spec.kind(), spec.Name, rule.Match)
		}
		if pat, ok := strings.CutPrefix(rule.Match, "re:"); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("%s %q: map pattern %q: %w", spec.kind(), spec.Name, pat, err)
			}
			r.patterns = append(r.patterns, groupPattern{re: re, name: rule.Name})
			continue
		}
		key, err := gr.DNKey(rule.Match)
		if err != nil {
			return nil, fmt.Errorf("%s %q: map key %q is neither a DN nor a re: pattern: %w", spec.kind(), spec.Name, rule.Match, err)
		}
		r.byKey[key] = append(r.byKey[key], rule.Name)
	}
	return r, nil
}

// names returns the ftrack names group g maps to, sorted and unique.
func (r *groupRules) names(g *GroupEntry) []string {
	var out []string
	if r.identity {
		if n := strings.TrimSpace(g.Name); n != "" {
			out = append(out, n)
		}
	}
	out = append(out, r.byKey[g.Key]...)
	for _, p := range r.patterns {
		m := p.re.FindStringSubmatchIndex(g.Name)
		if m == nil {
			continue
		}
		if n := strings.TrimSpace(string(p.re.ExpandString(nil, p.name, g.Name, m))); n != "" {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return sortedUnique(out)
}

// groups is the groups pass: the groups blocks' memberships join the
// desired users, and the managed groups are every group some desired user
// maps to, plus those an earlier apply added members to (a group whose
// last directory member left must not keep its ftrack memberships).
func groups(ctx context.Context, r readRequest, v *view) error {
	if specs, _ := roleSpecs(r.Groups); len(specs) > 0 {
		v.mapsGroups = true
		if err := applySpecs(ctx, v, specs, r.Sources); err != nil {
			return err
		}
	}
	if !v.mapsGroups {
		return nil
	}
	for _, u := range v.desired {
		for _, g := range u.Groups {
			v.managedGroups[g] = true
		}
	}
	if r.LastApplied != nil {
		for _, g := range r.LastApplied.ManagedGroups {
			v.managedGroups[g] = true
		}
	}
	return nil
}

// readTargetGroups reads the target's group names, for the groups pass's
// membership additions.
func readTargetGroups(ctx context.Context, r readRequest, v *view) error {
	names, err := r.Target.ReadGroups(ctx)
	if err != nil {
		return namedError("target", r.Target.Info().Name, err)
	}
	v.targetGroups = make(map[string]bool, len(names))
	for _, n := range names {
		v.targetGroups[n] = true
	}
	v.createGroups = r.Target.Capabilities().CreateGroups
	return nil
}

// applySpecs reads every spec's groups and gives their members the mapped
// names: ftrack groups, or security roles for a roles block. It also marks
// the names as managed.
func applySpecs(ctx context.Context, v *view, specs []GroupSpec, sources []Source) error {
	byName := map[string]Source{}
	for _, s := range sources {
		byName[s.Info().Name] = s
	}
	for _, spec := range specs {
		src, ok := byName[spec.Source]
		if !ok {
			return fmt.Errorf("%s %q: source %q is not one of the mapping's sources", spec.kind(), spec.Name, spec.Source)
		}
		gr, ok := src.(GroupReader)
		if !ok {
			return fmt.Errorf("%s %q: source %q cannot read groups", spec.kind(), spec.Name, spec.Source)
		}
		if err := applySpec(ctx, v, spec, gr); err != nil {
			return err
		}
	}
	return nil
}

// applySpec applies one groups or roles block: read its groups, walk each
// mapped group's members (nested groups too, when Nested), add the mapped
// names to the members' desired groups (or roles), and warn about what was
// left out.
func applySpec(ctx context.Context, v *view, spec GroupSpec, gr GroupReader) error {
	rules, err := compileGroupRules(spec, gr)
	if err != nil {
		return err
	}
	groups, err := readSpecGroups(ctx, spec, gr)
	if err != nil {
		return err
	}
	w := &memberWalk{v: v, spec: spec, groups: groups, unknown: map[string]bool{}, notFollowed: map[string]bool{}}
	w.index(gr)
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	add := map[int][]string{}
	mapped := 0
	for _, k := range keys {
		names := rules.names(groups[k])
		if len(names) == 0 {
			continue
		}
		mapped++
		members := w.members(k)
		if spec.Roles != nil {
			addRoles(v, spec, names, members)
			continue
		}
		for _, n := range names {
			v.managedGroups[n] = true
		}
		for i := range members {
			add[i] = append(add[i], names...)
		}
	}
	for i, names := range add {
		v.desired[i].Groups = sortedUnique(append(v.desired[i].Groups, names...))
	}
	w.report(rules, keys, mapped)
	return nil
}

// readSpecGroups reads a groups block's groups by key, merging repeated
// answers. An empty answer is an error, like min_source_users for users:
// a wrong base_dn or filter, or a server hiccup, must never read as
// "every member left every group" and remove the managed memberships.
func readSpecGroups(ctx context.Context, spec GroupSpec, gr GroupReader) (map[string]*GroupEntry, error) {
	groups := map[string]*GroupEntry{}
	err := gr.ReadGroups(ctx, spec, func(g GroupEntry) error {
		if prev, dup := groups[g.Key]; dup {
			prev.MemberKeys = append(prev.MemberKeys, g.MemberKeys...)
			prev.MemberUIDs = append(prev.MemberUIDs, g.MemberUIDs...)
			return nil
		}
		groups[g.Key] = &g
		return nil
	})
	if err != nil {
		// Providers name their source (and often the block) already.
		err = namedError("source", spec.Source, err)
		if !strings.Contains(err.Error(), fmt.Sprintf("%s %q: ", spec.kind(), spec.Name)) {
			err = fmt.Errorf("%s %q: %w", spec.kind(), spec.Name, err)
		}
		return nil, err
	}
	if len(groups) == 0 {
		where := ""
		if spec.BaseDN != "" {
			where = " under " + spec.BaseDN
		}
		return nil, fmt.Errorf("%s %q: source %q returned no groups%s; refusing to plan — an empty answer must never read as \"everyone left the groups\"; check the block's base_dn and filter", spec.kind(), spec.Name, spec.Source, where)
	}
	return groups, nil
}

// memberWalk resolves the members of a groups block's groups to desired
// users, remembering what it could not resolve.
type memberWalk struct {
	v           *view
	spec        GroupSpec
	groups      map[string]*GroupEntry
	byDN, byUID map[string]int // desired users' index by DN key and by join key
	unknown     map[string]bool
	notFollowed map[string]bool
}

// index indexes the desired users by DN key and by join key.
func (w *memberWalk) index(gr GroupReader) {
	w.byDN, w.byUID = map[string]int{}, map[string]int{}
	for i, u := range w.v.desired {
		w.byUID[u.Key] = i
		if u.DN == "" {
			continue
		}
		if k, err := gr.DNKey(u.DN); err == nil {
			w.byDN[k] = i
		}
	}
}

// members walks group k breadth-first (nested groups once each, so a
// cycle ends the walk) and returns the desired users it holds.
func (w *memberWalk) members(k string) map[int]bool {
	members := map[int]bool{}
	visited := map[string]bool{k: true}
	queue := []*GroupEntry{w.groups[k]}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, uid := range cur.MemberUIDs {
			if i, ok := w.byUID[strings.ToLower(strings.TrimSpace(uid))]; ok {
				members[i] = true
			} else {
				w.unknown["memberUid "+uid] = true
			}
		}
		for _, mk := range cur.MemberKeys {
			if i, ok := w.byDN[mk]; ok {
				members[i] = true
				continue
			}
			sub, isGroup := w.groups[mk]
			switch {
			case !isGroup:
				w.unknown[mk] = true
			case !w.spec.Nested:
				w.notFollowed[mk] = true
			case !visited[mk]:
				visited[mk] = true
				queue = append(queue, sub)
			}
		}
	}
	return members
}

// report warns about mapped groups that were not read (their ftrack
// groups are managed all the same: their memberships are removed),
// members that are not users of the mapping, nested groups not followed,
// cycles, and a map that matches nothing.
func (w *memberWalk) report(rules *groupRules, keys []string, mapped int) {
	v, spec := w.v, w.spec
	var missing []string
	for k, names := range rules.byKey {
		if _, ok := w.groups[k]; !ok {
			// A group whose DN is not found keeps its ftrack group
			// managed (its memberships go). A role is not made managed
			// by a rule that matched nothing: a typo in a DN must not
			// take a role away from everyone who holds it.
			if spec.Roles == nil {
				for _, n := range names {
					v.managedGroups[n] = true
				}
			}
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		if spec.Roles != nil {
			v.warnings = append(v.warnings, fmt.Sprintf("roles %q: mapped group %s was not found under %s: role %s is granted to nobody by this rule, and not removed because of it (a typo in the DN?)", spec.Name, k, spec.BaseDN, strings.Join(rules.byKey[k], ", ")))
			continue
		}
		v.warnings = append(v.warnings, fmt.Sprintf("%s %q: mapped group %s was not found under %s (its ftrack group %s keeps no members)", spec.kind(), spec.Name, k, spec.BaseDN, strings.Join(rules.byKey[k], ", ")))
	}
	if n := len(w.unknown); n > 0 {
		v.warnings = append(v.warnings, fmt.Sprintf("%s %q: %d members of mapped groups are not users of mapping %q and were ignored (first: %s)", spec.kind(), spec.Name, n, v.mapper, firstKey(w.unknown)))
	}
	if n := len(w.notFollowed); n > 0 {
		v.warnings = append(v.warnings, fmt.Sprintf("%s %q: %d nested groups were not followed because nested = false (first: %s)", spec.kind(), spec.Name, n, firstKey(w.notFollowed)))
	}
	if spec.Nested {
		if cyc := findCycle(w.groups, keys); cyc != nil {
			v.warnings = append(v.warnings, fmt.Sprintf("%s %q: nested groups form a cycle (%s); each member is counted once", spec.kind(), spec.Name, strings.Join(cyc, " → ")))
		}
	}
	if mapped == 0 {
		v.warnings = append(v.warnings, fmt.Sprintf("%s %q: none of the %d groups read matches the map", spec.kind(), spec.Name, len(w.groups)))
	}
}

func firstKey(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

// findCycle returns one cycle of the group-in-group graph (the first, in
// key order), as a path that starts and ends with the same key, or nil.
func findCycle(groups map[string]*GroupEntry, keys []string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(k string) bool
	visit = func(k string) bool {
		color[k] = grey
		stack = append(stack, k)
		members := append([]string(nil), groups[k].MemberKeys...)
		sort.Strings(members)
		for _, m := range members {
			if _, isGroup := groups[m]; !isGroup {
				continue
			}
			switch color[m] {
			case grey:
				for i, s := range stack {
					if s == m {
						found = append(append([]string(nil), stack[i:]...), m)
						return true
					}
				}
			case white:
				if visit(m) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[k] = black
		return false
	}
	for _, k := range keys {
		if color[k] == white && visit(k) {
			return found
		}
	}
	return nil
}
