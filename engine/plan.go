package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FormatVersion is the plan file format, MAJOR.MINOR: minor bumps only add
// fields; an unknown major is refused.
//
// 2.0: the checksum is over the RFC 8785 canonical form, and plans are
// read strictly (see planfile.go).
//
// 3.0: policy.protect is a JSON list of strings, no longer one
// comma-joined string. A member changing its type is not an addition, so
// it is a major bump: a 2.x plan is refused with a message saying so
// (plans expire within a day; make a new one).
//
// 3.1: "seats" (active accounts now and after, policy.seats).
const FormatVersion = "3.1"

// formatMajor is FormatVersion's major number.
const formatMajor = 3

// Plan is a saved plan: the contract that apply executes exactly. Field
// order is the file's order.
type Plan struct {
	FormatVersion string          `json:"format_version"`
	PlanID        string          `json:"plan_id"`
	ToolVersion   string          `json:"tool_version"`
	CreatedAt     string          `json:"created_at"`
	ExpiresAt     string          `json:"expires_at"`
	ConfigDigest  string          `json:"config_digest"`
	Target        TargetInfo      `json:"target"`
	Sources       []SourceSummary `json:"sources"`
	PriorState    *StateRef       `json:"prior_state"`
	Policy        PlanPolicy      `json:"policy"`
	// Targets are the users a targeted plan (plan -target) is restricted
	// to; empty for a whole plan.
	Targets []string `json:"targets,omitempty"`
	// Limits are the safety limits in force, with where each came from.
	Limits  []LimitInForce `json:"limits"`
	Blocked *Block         `json:"blocked,omitempty"`
	Summary Summary        `json:"summary"`
	// Seats counts the active ftrack accounts now and after the plan,
	// with policy.seats; nil in plans older than format 3.1.
	Seats     *Seats     `json:"seats,omitempty"`
	Changes   []Change   `json:"changes"`
	Skipped   []Skipped  `json:"skipped"`
	Conflicts []Conflict `json:"conflicts,omitempty"`
	Warnings  []string   `json:"warnings"`
	// Unmanaged lists active ftrack usernames without the ownership marker
	// (informational; they are never changed).
	Unmanaged []string `json:"unmanaged"`
	// Observations are the join keys whose grace-period record applying
	// this plan changes (see Observations), as the state plan read says:
	// for the reviewer only (apply records what it observes itself).
	Observations []string `json:"observations,omitempty"`
	// MissingSince holds the first time each owned, active user missing
	// from the directory was observed (the grace-period clock), for the
	// reviewer. apply records the clocks it observes itself, never these.
	MissingSince map[string]time.Time `json:"missing_since,omitempty"`
	Signature    string               `json:"signature,omitempty"`
	Checksum     string               `json:"checksum"`

	// signed is set by UnmarshalPlan when the signature was verified.
	signed bool
}

// Signed reports whether the plan was read with a verified signature.
func (p *Plan) Signed() bool { return p.signed }

// StateRef names the state a plan was made against.
type StateRef struct {
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
}

// PlanPolicy is the policy as written in the configuration, plus the
// override that lifted a block (nil when none). It is informational:
// apply judges with the configuration's own policy.
type PlanPolicy struct {
	// Settings holds the scalar settings as written (attribute name ->
	// value text), every one but protect.
	Settings map[string]string
	// Protect is policy.protect, sorted; nil when the policy does not set
	// it. The file holds it as a JSON list of strings.
	Protect []string
	// Override is "force" when -force lifted a block, else nil.
	Override *string
}

// MarshalJSON writes the settings and protect in sorted order, then
// "override".
func (p PlanPolicy) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	keys := make([]string, 0, len(p.Settings)+1)
	for k := range p.Settings {
		if k != "override" && k != "protect" {
			keys = append(keys, k)
		}
	}
	if p.Protect != nil {
		keys = append(keys, "protect")
	}
	sort.Strings(keys)
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		var vb []byte
		if k == "protect" {
			vb, _ = json.Marshal(p.Protect)
		} else {
			vb, _ = json.Marshal(p.Settings[k])
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		b.WriteByte(',')
	}
	ob, _ := json.Marshal(p.Override)
	b.WriteString(`"override":`)
	b.Write(ob)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes. protect must be a list of
// strings (a 2.x plan's comma-joined string is refused here too); other
// settings that are not strings are kept as their JSON text, for fields a
// later minor version may add.
func (p *PlanPolicy) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	p.Settings = map[string]string{}
	p.Protect = nil
	p.Override = nil
	for k, raw := range m {
		switch k {
		case "override":
			if err := json.Unmarshal(raw, &p.Override); err != nil {
				return err
			}
			continue
		case "protect":
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil || list == nil {
				return fmt.Errorf("policy.protect must be a list of strings, not %s", truncateJSON(raw))
			}
			p.Protect = list
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw) // a later minor version may write non-strings
		}
		p.Settings[k] = s
	}
	return nil
}

// truncateJSON returns raw for an error message, cut at 40 bytes.
func truncateJSON(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// planPolicy is the policy as written: raw's scalar settings, and protect
// as a sorted list when raw says the policy sets it.
func planPolicy(raw map[string]string, protect []string) PlanPolicy {
	pp := PlanPolicy{Settings: maps.Clone(raw)}
	if pp.Settings == nil {
		pp.Settings = map[string]string{}
	}
	if _, ok := pp.Settings["protect"]; ok {
		delete(pp.Settings, "protect")
		pp.Protect = append([]string{}, protect...)
		sort.Strings(pp.Protect)
	}
	return pp
}

// Block records why a safety policy blocks the plan.
type Block struct {
	Reasons []string `json:"reasons"`
	// Overridden is true when the plan was made with -force.
	Overridden bool `json:"overridden"`
}

// Summary counts the plan's changes per action (Counts, whose Total is the
// number of changes), plus the users left unchanged, the directory
// entries skipped (they could not be mapped) and the entries in conflict
// (several sources claim one username). Counts is embedded, so the JSON
// keeps its flat shape.
type Summary struct {
	Counts
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Conflicts int `json:"conflicts"`
}

// IsBlocked reports whether a safety policy blocks the plan (and no
// override lifted it).
func (p *Plan) IsBlocked() bool { return p.Blocked != nil && !p.Blocked.Overridden }

// PlanRequest is the input of BuildPlan.
type PlanRequest struct {
	Sources []Source
	Mapper  Mapper
	Target  Target
	Policy  Policy
	// PolicyRaw is the policy block as written; nil derives it from Policy.
	PolicyRaw map[string]string
	// LastApplied is the last-applied view from state; nil when there is
	// none.
	LastApplied  *LastApplied
	ConfigDigest string
	ToolVersion  string
	Now          time.Time
	// ExpiresIn is how long the plan may be applied; 0 means 24h.
	ExpiresIn time.Duration
	// Force lifts a safety-policy block; the override is recorded.
	Force bool
	// Targets restricts the plan to these accounts ("user.NAME" or
	// "NAME", any case; plan -target): only their changes (memberships
	// included) are kept. The limits are still counted over the whole
	// population, so a targeted plan cannot slip past a block.
	Targets []string
	// Progress is called with a stage name and a count; may be nil.
	Progress func(stage string, done int)
	// Groups are the groups blocks: directory groups whose members get
	// the mapped ftrack group names (see GroupSpec).
	Groups []GroupSpec
	// TargetUser is the username the target signs in as; the plan never
	// changes that account.
	TargetUser string
	// NewID generates the plan id and the ids of created users; nil means
	// random UUIDs. Tests inject a deterministic generator.
	NewID func() string
}

// noStateWarning says, when there is no state but ftrack has accounts
// this mapping owns, that a state probably should exist: a state block
// pointed at the wrong address, project or API user plans as a first run
// would, with the grace clocks and out-of-band detection quietly gone.
func noStateWarning(la *LastApplied, v *view) string {
	if la != nil && la.Exists {
		return ""
	}
	n := 0
	for _, a := range v.accounts {
		if a.Owner == v.mapper {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("there is no state, but %d ftrack %s owned by mapping %q: if a state should exist, check the state block (its path, address or project, and the target's api_user for state \"ftrack\") before applying; without it, grace-period clocks start again and drift cannot tell edits made by hand", n, pick(n, "account is", "accounts are"), v.mapper)
}

// pick returns one when n is 1, else many.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// observationsAfter is Observations less the users the plan deactivates:
// their clock ends with the deactivation.
func observationsAfter(la *LastApplied, missing map[string]time.Time, changes []Change) []string {
	obs := Observations(la, missing)
	if len(obs) == 0 {
		return nil
	}
	gone := map[string]bool{}
	for _, c := range changes {
		if c.Action == ActionDeactivate {
			gone[c.Key] = true
		}
	}
	if obs = slices.DeleteFunc(obs, func(k string) bool { return gone[k] }); len(obs) == 0 {
		return nil
	}
	return obs
}

// BuildPlan reads the sources and the target and returns the plan: the
// passes (pipeline.go), then the plan's contract around their result. It
// writes nothing, neither to the target nor to state: the grace-period
// clocks it sees start are recorded by apply (Plan.Observations).
func BuildPlan(ctx context.Context, req PlanRequest) (*Plan, error) {
	newID := req.NewID
	if newID == nil {
		newID = uuid.NewString
	}
	now := wholeSecondUTC(req.Now)
	v, accounts, err := readView(ctx, req.readRequest())
	if err != nil {
		return nil, err
	}
	planID := newID()
	d := diff(v, req.Policy, req.LastApplied, now, newID)
	all := d.changes
	targets, err := targetKeys(req.Targets)
	if err != nil {
		return nil, err
	}
	if targets != nil {
		d.changes = keepTargets(d.changes, targets)
	}
	p := newPlan(req, planID, now, v, d)
	p.Targets = sortedKeysOf(targets)
	reasons := blockReasons(req.Policy, all, d.owned, len(v.desired), d.foreign, v.mapper)
	reasons = append(reasons, blankingReasons(v, all, req.Mapper)...)
	// The seats of this plan's own changes (a targeted plan for a few
	// new hires fits where the whole plan may not); -force never lifts
	// them (see seats.go).
	seats := seatsAfter(accounts, p.Changes, req.Policy.Seats)
	p.Seats = &seats
	seatBlock := seatReasons(seats)
	reasons = append(reasons, seatBlock...)
	if len(reasons) > 0 {
		p.Blocked = &Block{Reasons: reasons}
		if req.Force && len(seatBlock) == 0 {
			p.Blocked.Overridden = true
			p.Policy.Override = Str("force")
		}
	}
	return p, nil
}

// readRequest is what the passes read for this plan.
func (req PlanRequest) readRequest() readRequest {
	return readRequest{Sources: req.Sources, Mapper: req.Mapper, Target: req.Target, Policy: req.Policy, Progress: req.Progress,
		Groups: req.Groups, LastApplied: req.LastApplied, TargetUser: req.TargetUser}
}

// targetKeys reads plan -target values into lower-case keys; nil when
// there are none.
func targetKeys(targets []string) (map[string]bool, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	keys := map[string]bool{}
	for _, t := range targets {
		k := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "user.")))
		if k == "" {
			return nil, fmt.Errorf("plan -target %q: name a user, as user.NAME", t)
		}
		keys[k] = true
	}
	return keys, nil
}

// keepTargets keeps the changes of the targeted users (and the groups
// their membership additions need).
func keepTargets(changes []Change, keys map[string]bool) []Change {
	groups := map[string]bool{}
	var out []Change
	for _, c := range changes {
		if c.Action != ActionCreateGroup && keys[c.Key] {
			out = append(out, c)
			if c.Action == ActionAddMembership {
				groups[c.Group] = true
			}
		}
	}
	for _, c := range changes {
		if c.Action == ActionCreateGroup && groups[c.Group] {
			out = append(out, c)
		}
	}
	sortChanges(out)
	return out
}

// sortedKeysOf returns m's keys, sorted (nil when m is empty).
func sortedKeysOf[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil // what Sorted returns, without its iterator's allocations (most users have no custom attributes)
	}
	return slices.Sorted(maps.Keys(m))
}

// newPlan writes the passes' result into the plan file's shape: identity,
// times, the state it was made against, the policy as written, the
// changes and what the reviewer must know, and the summary counting them.
// Lists are never null.
func newPlan(req PlanRequest, planID string, now time.Time, v *view, d *diffResult) *Plan {
	exp := req.ExpiresIn
	if exp <= 0 {
		exp = 24 * time.Hour
	}
	raw := req.PolicyRaw
	if raw == nil {
		raw = policyRaw(req.Policy)
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		PlanID:        planID,
		ToolVersion:   req.ToolVersion,
		CreatedAt:     now.Format(time.RFC3339),
		ExpiresAt:     now.Add(exp).Format(time.RFC3339),
		ConfigDigest:  req.ConfigDigest,
		Target:        req.Target.Info(),
		Sources:       nonNil(v.sources),
		Policy:        planPolicy(raw, req.Policy.Protect),
		Limits:        LimitsInForce(req.Policy),
		Changes:       nonNil(d.changes),
		Skipped:       nonNil(v.skipped),
		Conflicts:     v.conflicts,
		Warnings:      append(append([]string{}, v.warnings...), d.warnings...),
		Unmanaged:     nonNil(d.unmanaged),
	}
	if len(d.missing) > 0 {
		p.MissingSince = d.missing
	}
	p.Observations = observationsAfter(req.LastApplied, d.missing, d.changes)
	if w := noStateWarning(req.LastApplied, v); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	// A plan made when no state exists yet names none (lineage ""):
	// apply then runs it only where there is still no state.
	p.PriorState = &StateRef{}
	if la := req.LastApplied; la != nil && la.Exists {
		p.PriorState = &StateRef{Lineage: la.Lineage, Serial: la.Serial}
	}
	for _, c := range p.Changes {
		p.Summary.add(c.Action)
	}
	p.Summary.Unchanged = d.unchanged
	p.Summary.Skipped = len(p.Skipped)
	for _, c := range p.Conflicts {
		p.Summary.Conflicts += len(c.Entries)
	}
	return p
}

// nonNil returns s, or an empty slice for nil: plan lists are [] in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// wholeSecondUTC is the time a plan, drift report or explanation is made
// at: t (or the clock, when t is zero) in UTC, to the second, as plans
// record it.
func wholeSecondUTC(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Second)
}
