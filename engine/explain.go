package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Explanation is what ldapsync explain says about one user: the directory
// entry as mapped, the ftrack account, the rules that apply, and the
// changes a plan would make now (or why there are none).
type Explanation struct {
	// Query is the name asked about (username, uid or DN).
	Query string `json:"query"`
	// Key is the join key it resolved to, when it did.
	Key string `json:"key,omitempty"`
	// Entry is the mapped directory user, when there is one.
	Entry *ExplainedEntry `json:"entry,omitempty"`
	// Account is the ftrack account joined (or found by username).
	Account *ExplainedAccount `json:"account,omitempty"`
	// Skipped are the directory entries of this name that could not be
	// mapped, with why.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Held says why the user is held back (protected, duplicate, …).
	Held string `json:"held,omitempty"`
	// Changes are the changes a plan would make now; Deferred those that
	// wait for the grace period.
	Changes  []Change `json:"changes"`
	Deferred []Change `json:"deferred,omitempty"`
	// Notes are the plan's warnings about this user.
	Notes []string `json:"notes,omitempty"`
	// Outcome is the answer in one sentence.
	Outcome string `json:"outcome"`
}

// ExplainedEntry is a mapped directory user.
type ExplainedEntry struct {
	Source   string `json:"source"`
	DN       string `json:"dn"`
	SourceID string `json:"source_id,omitempty"`
	// Fields are the values the mapping gives.
	Fields map[string]string `json:"fields"`
	Groups []string          `json:"groups,omitempty"`
	// Roles are the security roles the roles blocks give the user
	// (refused and default roles left out).
	Roles    []RoleGrant `json:"roles,omitempty"`
	Disabled string      `json:"disabled,omitempty"`
}

// ExplainedAccount is an ftrack account.
type ExplainedAccount struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Owner    string   `json:"owner"`
	Active   bool     `json:"active"`
	Groups   []string `json:"groups,omitempty"`
	// Roles are the security roles the account holds (read when the
	// configuration maps roles).
	Roles []RoleGrant `json:"roles,omitempty"`
}

// Explain runs plan's passes, writing nothing, and explains each query.
func Explain(ctx context.Context, req PlanRequest, queries []string) ([]Explanation, error) {
	now := wholeSecondUTC(req.Now)
	v, accounts, err := readView(ctx, req.readRequest())
	if err != nil {
		return nil, err
	}
	d := diff(v, req.Policy, req.LastApplied, now, func() string { return "(new id)" })
	warnings := append(append([]string{}, v.warnings...), d.warnings...)
	out := make([]Explanation, 0, len(queries))
	for _, q := range queries {
		out = append(out, explainOne(q, v, d, accounts, warnings))
	}
	return out, nil
}

// explainOne gathers what the passes decided about one name.
func explainOne(q string, v *view, d *diffResult, accounts []Account, warnings []string) Explanation {
	e := Explanation{Query: q, Changes: []Change{}}
	lq := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(q, "user.")))
	for _, u := range v.desired {
		if u.Key == lq || strings.ToLower(u.Username) == lq || strings.EqualFold(u.DN, q) {
			e.Key = u.Key
			e.Entry = explainedEntry(u)
			break
		}
	}
	for _, s := range v.skipped {
		dn := strings.ToLower(s.DN)
		if dn == strings.ToLower(q) || strings.HasPrefix(dn, "uid="+lq+",") || strings.HasPrefix(dn, "cn="+lq+",") {
			e.Skipped = append(e.Skipped, s)
		}
	}
	if e.Key == "" {
		e.Key = lq
	}
	for _, a := range accounts {
		if strings.ToLower(a.Username) == e.Key || (e.Entry != nil && e.Entry.SourceID != "" && a.SourceID == e.Entry.SourceID && a.Owner == v.mapper) {
			e.Account = &ExplainedAccount{ID: a.ID, Username: a.Username, Owner: a.Owner, Active: a.Active, Groups: a.Groups, Roles: a.Roles}
			break
		}
	}
	if h, ok := v.held[e.Key]; ok {
		e.Held = string(h)
	}
	for _, c := range d.changes {
		if c.Key == e.Key {
			e.Changes = append(e.Changes, c)
		}
	}
	for _, c := range d.deferred {
		if c.Key == e.Key {
			e.Deferred = append(e.Deferred, c)
		}
	}
	for _, w := range warnings {
		if strings.Contains(w, "user."+e.Key+" ") || strings.Contains(w, "user."+e.Key+":") || strings.Contains(w, "role."+e.Key+".") {
			e.Notes = append(e.Notes, w)
		}
	}
	e.Outcome = outcomeOf(e, v)
	return e
}

func explainedEntry(u User) *ExplainedEntry {
	en := &ExplainedEntry{Source: u.Source, DN: u.DN, SourceID: u.SourceID, Fields: map[string]string{}, Groups: u.Groups, Roles: u.Roles}
	for _, uf := range desiredFields(u) {
		if val, ok := uf.Desired(u); ok && uf.Kind == FieldAttribute {
			en.Fields[uf.Name] = val
		}
	}
	if u.Disabled {
		en.Disabled = firstNonEmpty(u.DisabledReason, "disabled")
	}
	return en
}

// outcomeOf says, in one sentence, what a plan does with the user now.
func outcomeOf(e Explanation, v *view) string {
	switch {
	case len(e.Changes) > 0:
		var what []string
		for _, c := range e.Changes {
			what = append(what, fmt.Sprintf("%s (%s)", c.Action, c.Why()))
		}
		sort.Strings(what)
		return "a plan now would " + strings.Join(what, ", ")
	case len(e.Deferred) > 0:
		return "its deactivation waits for the grace period: " + e.Deferred[0].ReasonDetail
	case e.Held != "":
		return "held back (" + e.Held + "): ldapsync does not change it"
	case len(e.Skipped) > 0:
		return "its directory entry is skipped: " + e.Skipped[0].Reason
	case e.Entry != nil && e.Account == nil && e.Entry.Disabled != "":
		return "not created: the directory disables it (" + e.Entry.Disabled + ")"
	case e.Entry != nil && e.Account != nil && e.Account.Owner != "" && e.Account.Owner != v.mapper && !v.previous[e.Account.Owner]:
		return fmt.Sprintf("not changed: the account is owned by mapping %q", e.Account.Owner)
	case e.Entry != nil && e.Account != nil:
		return "nothing to do: ftrack matches the directory"
	case e.Entry != nil:
		return "no change planned for it (see the notes)"
	case e.Account != nil && e.Account.Owner == "":
		return "unmanaged: an ftrack account without the ldapsync marker, never changed"
	case e.Account != nil:
		return "no directory entry maps to it; nothing to do now (see the notes)"
	}
	return "no directory entry, skipped entry or ftrack account matches this name"
}
