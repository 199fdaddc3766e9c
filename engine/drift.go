package engine

// Drift compares the three views of every user: desired (directory),
// actual (ftrack) and last-applied (state).
//
//	pending      a field a plan would change, and ftrack still holds what
//	             ldapsync last applied (or there is no record): the
//	             directory moved on.
//	out_of_band  an owned user's field differs from what ldapsync last
//	             applied: someone edited ftrack by hand since the last
//	             apply (whether or not a plan would revert it).
//	unmanaged    an active ftrack account without the ownership marker
//	             (protected accounts excluded: protect them to silence).
//
// A security role a managed user holds that the configuration neither
// names nor is the default role was granted by hand: ldapsync leaves it,
// and drift reports it as out_of_band ("role:NAME").
//
// Deactivations still waiting for the grace period are pending drift.

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// DriftRequest is the input of Drift.
type DriftRequest struct {
	Sources     []Source
	Mapper      Mapper
	Target      Target
	Policy      Policy
	LastApplied *LastApplied
	Now         time.Time
	Progress    func(stage string, done int)
	// Groups are the groups blocks, as in PlanRequest.
	Groups []GroupSpec
	// TargetUser is the username the target signs in as, held back as
	// in PlanRequest.
	TargetUser string
}

// DriftKind classifies a drift item.
type DriftKind string

// The drift kinds.
const (
	DriftPending   DriftKind = "pending"
	DriftOutOfBand DriftKind = "out_of_band"
	DriftUnmanaged DriftKind = "unmanaged"
)

// membershipField prefixes the field name of a group membership
// ("membership:Artists"); roleField that of a security role
// ("role:Project Manager", "role:Assignee@Secret" for a project grant).
const (
	membershipField = "membership:"
	roleField       = "role:"
)

// handGrantedReason is the reason of a role granted by hand.
const handGrantedReason = "security role granted in ftrack, not by ldapsync; the configuration does not name it, so ldapsync leaves it"

// DriftField is one field's three views; nil means not applicable.
type DriftField struct {
	Field       string  `json:"field"`
	Desired     *string `json:"desired"`
	Actual      *string `json:"actual"`
	LastApplied *string `json:"last_applied"`
}

// DriftItem is one user's drift of one kind.
type DriftItem struct {
	Key  string    `json:"key"`
	Kind DriftKind `json:"kind"`
	// Action is the change a plan would make, for pending items.
	Action Action       `json:"action,omitempty"`
	Reason string       `json:"reason,omitempty"`
	Fields []DriftField `json:"fields"`
}

// DriftReport is the result of Drift.
type DriftReport struct {
	CheckedAt string          `json:"checked_at"`
	Target    TargetInfo      `json:"target"`
	Sources   []SourceSummary `json:"sources"`
	Items     []DriftItem     `json:"items"`
	Skipped   []Skipped       `json:"skipped"`
	Warnings  []string        `json:"warnings"`
}

// HasDrift reports whether a managed user drifted: a pending or an
// out-of-band item. Unmanaged accounts are reported but are not drift —
// ldapsync never changes them, so they would alert forever; list them in
// policy.protect to keep them out of the report.
func (r *DriftReport) HasDrift() bool {
	return r.Count(DriftPending)+r.Count(DriftOutOfBand) > 0
}

// Count returns the number of items of a kind.
func (r *DriftReport) Count(k DriftKind) int {
	n := 0
	for _, it := range r.Items {
		if it.Kind == k {
			n++
		}
	}
	return n
}

// Drift reads the sources and the target and classifies the differences:
// the changes a plan would make (pending, or out-of-band where ftrack no
// longer holds the last-applied value), edits of managed accounts no
// change would undo, and unmanaged accounts. It writes nothing.
func Drift(ctx context.Context, req DriftRequest) (*DriftReport, error) {
	now := wholeSecondUTC(req.Now)
	v, _, err := readView(ctx, readRequest{Sources: req.Sources, Mapper: req.Mapper, Target: req.Target, Policy: req.Policy, Progress: req.Progress,
		Groups: req.Groups, LastApplied: req.LastApplied, TargetUser: req.TargetUser})
	if err != nil {
		return nil, err
	}
	d := diff(v, req.Policy, req.LastApplied, now, func() string { return "" })
	rep := &DriftReport{
		CheckedAt: now.Format(time.RFC3339), Target: req.Target.Info(), Sources: v.sources,
		Items: []DriftItem{}, Skipped: nonNil(v.skipped), Warnings: append(append([]string{}, v.warnings...), d.warnings...),
	}
	dv := driftViews{last: map[string]AppliedUser{}, reported: map[string]bool{}, createOnly: v.createOnly}
	if req.LastApplied != nil {
		for _, u := range req.LastApplied.Users {
			dv.last[u.TargetID] = u
		}
	}
	if v.mapsGroups {
		dv.managedGroups = slices.Sorted(maps.Keys(v.managedGroups))
	}
	if v.mapsRoles {
		dv.roles = v
	}
	for _, c := range append(append([]Change{}, d.changes...), d.deferred...) {
		rep.Items = append(rep.Items, dv.changeItems(c)...)
	}
	for _, a := range v.accounts {
		if a.Owner == v.mapper {
			rep.Items = append(rep.Items, dv.editItems(a)...)
		}
	}
	for _, u := range d.unmanaged {
		rep.Items = append(rep.Items, DriftItem{Key: strings.ToLower(u), Kind: DriftUnmanaged, Reason: "active ftrack account without the ldapsync marker",
			Fields: []DriftField{{Field: "username", Actual: Str(u)}}})
	}
	sortDriftItems(rep.Items)
	return rep, nil
}

// driftViews holds the last-applied view by target id and which fields
// the change items reported already.
type driftViews struct {
	last          map[string]AppliedUser
	managedGroups []string
	reported      map[string]bool // target id + field
	// roles is the view when the configuration maps roles.
	roles *view
	// createOnly are the fields ftrack owns after creation: never drift.
	createOnly map[string]bool
}

// outOfBandReason is the reason of every out-of-band item.
const outOfBandReason = "edited in ftrack since the last apply"

// changeItems splits a change's fields: pending where ftrack still holds
// the last-applied value (the directory moved on), out-of-band where it
// does not (someone edited ftrack).
func (dv *driftViews) changeItems(c Change) []DriftItem {
	l, hasL := dv.last[c.TargetID]
	key := c.Key
	if c.Action == ActionCreateGroup {
		key = "group." + c.Group
	}
	pend := DriftItem{Key: key, Kind: DriftPending, Action: c.Action, Reason: c.Why()}
	oob := DriftItem{Key: c.Key, Kind: DriftOutOfBand, Action: c.Action, Reason: outOfBandReason}
	for _, f := range changeFields(c) {
		if hasL {
			f.LastApplied = appliedValue(l, f.Field)
		}
		dv.reported[c.TargetID+" "+f.Field] = true
		if hasL && c.Action != ActionCreate && f.LastApplied != nil && !eqPtr(f.LastApplied, f.Actual) {
			oob.Fields = append(oob.Fields, f)
		} else {
			pend.Fields = append(pend.Fields, f)
		}
	}
	var out []DriftItem
	if len(pend.Fields) > 0 {
		out = append(out, pend)
	}
	if len(oob.Fields) > 0 {
		out = append(out, oob)
	}
	return out
}

// editItems reports the fields of a managed account that differ from
// the last-applied view and no change item covers.
func (dv *driftViews) editItems(a Account) []DriftItem {
	l, ok := dv.last[a.ID]
	if !ok {
		return nil
	}
	it := DriftItem{Key: strings.ToLower(a.Username), Kind: DriftOutOfBand, Reason: outOfBandReason}
	for _, uf := range withCustom(l.Custom) {
		la, recorded := uf.LastApplied(l)
		if act := uf.Actual(a); uf.Kind != FieldMarker && recorded && act != la && !dv.reported[a.ID+" "+uf.Name] && !dv.createOnly[uf.Name] {
			it.Fields = append(it.Fields, DriftField{Field: uf.Name, Actual: Str(act), LastApplied: Str(la)})
		}
	}
	for _, g := range dv.managedGroups {
		name := membershipField + g
		act, la := memberValue(a.Groups, g), memberValue(l.Groups, g)
		if !eqPtr(act, la) && !dv.reported[a.ID+" "+name] {
			it.Fields = append(it.Fields, DriftField{Field: name, Actual: act, LastApplied: la})
		}
	}
	if len(it.Fields) == 0 {
		return dv.handGranted(a)
	}
	sort.SliceStable(it.Fields, func(i, j int) bool { return fieldRank(it.Fields[i].Field) < fieldRank(it.Fields[j].Field) })
	return append([]DriftItem{it}, dv.handGranted(a)...)
}

// handGranted reports the roles of a managed account that the
// configuration does not name and ldapsync never granted.
func (dv *driftViews) handGranted(a Account) []DriftItem {
	v := dv.roles
	if v == nil {
		return nil
	}
	it := DriftItem{Key: strings.ToLower(a.Username), Kind: DriftOutOfBand, Reason: handGrantedReason}
	for _, g := range a.Roles {
		if v.managedRoles[g.Role] || g.Role == v.roles.defaultRole || dv.reported[a.ID+" "+roleField+g.Role] {
			continue
		}
		it.Fields = append(it.Fields, DriftField{Field: roleField + g.Role, Actual: Str("granted")})
	}
	if len(it.Fields) == 0 {
		return nil
	}
	return []DriftItem{it}
}

// sortDriftItems orders items by kind (pending, out-of-band, unmanaged),
// key, then apply order.
func sortDriftItems(items []DriftItem) {
	kindRank := map[DriftKind]int{DriftPending: 0, DriftOutOfBand: 1, DriftUnmanaged: 2}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Kind != b.Kind {
			return kindRank[a.Kind] < kindRank[b.Kind]
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return actionRank(a.Action) < actionRank(b.Action)
	})
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func fieldRank(name string) int {
	i := slices.IndexFunc(userFields, func(uf UserField) bool { return uf.Name == name })
	if i < 0 {
		return 100
	}
	return i
}

// changeFields lists a change's touched fields with desired (after) and
// actual (before) values.
func changeFields(c Change) []DriftField {
	switch c.Action {
	case ActionAddMembership:
		return []DriftField{{Field: membershipField + c.Group, Desired: Str("member"), Actual: Str("absent")}}
	case ActionRemoveMembership:
		return []DriftField{{Field: membershipField + c.Group, Desired: Str("absent"), Actual: Str("member")}}
	case ActionCreateGroup:
		return []DriftField{{Field: "group", Desired: Str("exists"), Actual: Str("absent")}}
	case ActionAddRole:
		return []DriftField{{Field: roleField + c.Role, Desired: Str("granted"), Actual: Str("absent")}}
	case ActionRemoveRole:
		return []DriftField{{Field: roleField + c.Role, Desired: Str("absent"), Actual: Str("granted")}}
	case ActionGrantRoleProject:
		return []DriftField{{Field: roleField + c.Role + "@" + c.Project, Desired: Str("granted"), Actual: Str("absent")}}
	case ActionRevokeRoleProject:
		return []DriftField{{Field: roleField + c.Role + "@" + c.Project, Desired: Str("absent"), Actual: Str("granted")}}
	}
	var out []DriftField
	for _, x := range SetFields(c.After) {
		f := DriftField{Field: x.Field.Name, Desired: Str(x.Value)}
		if b, ok := x.Field.Get(c.Before); ok {
			f.Actual = Str(b)
		}
		out = append(out, f)
	}
	return out
}

// appliedValue is a field's last-applied value: a user field, a
// membership ("membership:GROUP") or a role ("role:NAME").
func appliedValue(u AppliedUser, name string) *string {
	if g, ok := strings.CutPrefix(name, membershipField); ok {
		return memberValue(u.Groups, g)
	}
	if r, ok := strings.CutPrefix(name, roleField); ok {
		if strings.Contains(r, "@") {
			return nil // project grants are not recorded
		}
		if slices.Contains(u.Roles, r) {
			return Str("granted")
		}
		return Str("absent")
	}
	if k, ok := strings.CutPrefix(name, customPrefix); ok {
		if v, ok := u.Custom[k]; ok {
			return Str(v)
		}
		return nil
	}
	for _, uf := range userFields {
		if v, ok := uf.LastApplied(u); ok && uf.Name == name {
			return Str(v)
		}
	}
	return nil
}

func memberValue(groups []string, g string) *string {
	if slices.Contains(groups, g) {
		return Str("member")
	}
	return Str("absent")
}
