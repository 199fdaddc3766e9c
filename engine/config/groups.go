package config

import "github.com/ldapsync/ldapsync/engine"

// GroupSpecs returns the groups blocks as engine.GroupSpec values, in file
// order, with their map rules sorted by key.
func (c *Config) GroupSpecs() []engine.GroupSpec {
	var out []engine.GroupSpec
	for _, g := range c.Groups {
		out = append(out, g.Spec())
	}
	return out
}

// Spec returns the groups block as an engine.GroupSpec.
func (g *GroupsBlock) Spec() engine.GroupSpec {
	s := engine.GroupSpec{
		Name: g.Name, Source: g.SourceName, BaseDN: g.BaseDN, Filter: g.Filter,
		MemberAttribute: g.MemberAttribute, Nested: g.Nested, CreateGroups: g.CreateGroups, Roles: g.Roles,
	}
	for _, k := range sortedKeys(g.Map) {
		s.Rules = append(s.Rules, engine.GroupRule{Match: k, Name: g.Map[k]})
	}
	return s
}

// CreateGroups returns the create_groups setting of the groups blocks for
// the target, and whether any block sets it. When blocks disagree, false
// wins: ldapsync creates ftrack groups only when no groups block forbids it.
func (c *Config) CreateGroups() (create, set bool) {
	create = true
	for _, g := range c.Groups {
		if g.CreateGroupsSet && g.Roles == nil {
			set = true
			create = create && g.CreateGroups
		}
	}
	return create && set, set
}
