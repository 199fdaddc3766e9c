package main

// The renderer is the only place that knows about colors. Plans, apply
// reports and drift reports are rendered as colored text for people at a
// terminal, as Markdown for pull-request comments, and as JSON for tools.
// Groups are shown in the order apply executes them, most dangerous first,
// so a reviewer sees deactivations before anything else.

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"

	"github.com/ldapsync/ldapsync/engine"
)

// useColor reports whether output to w should be colored: not with
// -no-color, not with NO_COLOR set, not on a dumb terminal (TERM=dumb),
// and only on a terminal.
func useColor(noColor bool, w io.Writer) bool {
	if noColor || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := fileOf(w)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// renderer writes human-readable output, colored or not.
type renderer struct {
	w                              io.Writer
	green, yellow, red, cyan, bold *color.Color
	faint, magenta                 *color.Color
	// list says how much of a long list Plan shows: the first
	// maxListed items unless list.all (-verbose).
	list listing
}

// maxListed is how many items of one list (the changes of one action,
// skipped entries, conflicts, warnings, unmanaged accounts in Markdown)
// the text and Markdown plans show, unless -verbose: a plan of an initial
// import lists 50 creates and counts the rest. A list of maxListed items
// or fewer is shown whole, as before.
const maxListed = 50

// listing is how much of each long list a plan renderer shows, and what
// to run to see the rest.
type listing struct {
	// all shows every item (-verbose).
	all bool
	// more is what the text plan says after a cut list, in parentheses:
	// "ldapsync show -verbose plan.json, or -json".
	more string
	// command is the command that shows everything, for Markdown:
	// "ldapsync show -verbose plan.json".
	command string
}

// defaultListing is the listing when nothing more is known about the
// plan (tests, the fuzz targets): cut lists point at show.
var defaultListing = listingFor(false, "plan.json", "")

// listingFor is the listing of a plan saved at path (or, with path "",
// made by command, e.g. "plan", and not saved): show -verbose reads a
// saved plan; an unsaved one is made again with -verbose.
func listingFor(verbose bool, path, command string) listing {
	if path != "" {
		cmd := "ldapsync show -verbose " + shellWord(path)
		return listing{all: verbose, more: cmd + ", or -json", command: cmd}
	}
	cmd := "ldapsync " + command + " -verbose"
	more := cmd
	if command == "plan" {
		more += ", or -json"
	}
	return listing{all: verbose, more: more, command: cmd}
}

// shown is how many of n items the listing shows.
func (l listing) shown(n int) int {
	if l.all || n <= maxListed {
		return n
	}
	return maxListed
}

// moreNote is the text plan's line after a cut list: "… and 94,950 more
// creates (ldapsync show -verbose plan.json, or -json)".
func (l listing) moreNote(hidden int, one, many string) string {
	return fmt.Sprintf("… and %s more %s (%s)", thousands(hidden), pick(hidden, one, many), plain(l.more))
}

// thousands writes n with thousands separators: 94,950.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// actionNoun is what one change of action a is called in counts: "create",
// "membership addition"; many is the plural.
func actionNoun(a engine.Action) (one, many string) {
	many = strings.ToLower(actionStyles[a].title)
	return strings.TrimSuffix(many, "s"), many
}

func newRenderer(w io.Writer, colored bool) *renderer {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if colored {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &renderer{
		list:    defaultListing,
		w:       w,
		green:   mk(color.FgGreen),
		yellow:  mk(color.FgYellow),
		red:     mk(color.FgRed),
		cyan:    mk(color.FgCyan),
		magenta: mk(color.FgMagenta),
		bold:    mk(color.Bold),
		faint:   mk(color.Faint),
	}
}

// actionStyle is how one action is shown.
type actionStyle struct {
	symbol string
	verb   string
	title  string
}

var actionStyles = map[engine.Action]actionStyle{
	engine.ActionDeactivate:        {"-", "will be deactivated", "Deactivations"},
	engine.ActionRemoveMembership:  {"-", "will be removed", "Membership removals"},
	engine.ActionUpdate:            {"~", "will be updated", "Updates"},
	engine.ActionReactivate:        {"↺", "will be reactivated", "Reactivations"},
	engine.ActionAdopt:             {"&", "will be adopted", "Adoptions"},
	engine.ActionCreate:            {"+", "will be created", "Creates"},
	engine.ActionAddMembership:     {"+", "will be added", "Membership additions"},
	engine.ActionCreateGroup:       {"+", "will be created", "Group creations"},
	engine.ActionRemoveRole:        {"-", "will be removed", "Role removals"},
	engine.ActionRevokeRoleProject: {"-", "will be revoked", "Project revokes"},
	engine.ActionAddRole:           {"+", "will be granted", "Role grants"},
	engine.ActionGrantRoleProject:  {"+", "will be granted", "Project grants"},
}

// actionOrder is the order groups are shown in: apply's execution order.
var actionOrder = engine.ApplyOrder()

func (r *renderer) colorFor(a engine.Action) *color.Color {
	switch a {
	case engine.ActionCreate, engine.ActionAddMembership, engine.ActionCreateGroup, engine.ActionAddRole, engine.ActionGrantRoleProject:
		return r.green
	case engine.ActionDeactivate, engine.ActionRemoveMembership, engine.ActionRemoveRole, engine.ActionRevokeRoleProject:
		return r.red
	case engine.ActionReactivate:
		return r.cyan
	case engine.ActionAdopt:
		return r.magenta
	default:
		return r.yellow
	}
}

// groupChanges splits changes by action, each group sorted by address.
// A plan's changes are in that order already (by action in apply order,
// then by address), and then the groups are the runs of changes itself,
// not copies: an initial import is one run of 95,000 creates.
func groupChanges(changes []engine.Change) map[engine.Action][]engine.Change {
	g := map[engine.Action][]engine.Change{}
	if slices.IsSortedFunc(changes, planOrder) {
		for start := 0; start < len(changes); {
			end := start + 1
			for end < len(changes) && changes[end].Action == changes[start].Action {
				end++
			}
			g[changes[start].Action] = changes[start:end:end]
			start = end
		}
		return g
	}
	for _, c := range changes {
		g[c.Action] = append(g[c.Action], c)
	}
	for _, list := range g {
		slices.SortStableFunc(list, func(a, b engine.Change) int { return strings.Compare(a.Address, b.Address) })
	}
	return g
}

// planOrder is the order of a plan's changes: actions in apply order
// (unknown ones last, by name), then addresses.
func planOrder(a, b engine.Change) int {
	if a.Action != b.Action {
		ra, rb := actionRank(a.Action), actionRank(b.Action)
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(string(a.Action), string(b.Action))
	}
	return strings.Compare(a.Address, b.Address)
}

// actionRank is a's place in actionOrder (len(actionOrder) when unknown).
func actionRank(a engine.Action) int {
	if i := slices.Index(actionOrder, a); i >= 0 {
		return i
	}
	return len(actionOrder)
}

// fieldDiff is one line of a change's detail: a field with its before and after.
type fieldDiff struct {
	name          string
	before, after string
	hasBefore     bool
	hasAfter      bool
}

// diffFields lists a change's fields in the field table's order, each
// with its before and after as shown: strings quoted, booleans bare.
func diffFields(c engine.Change) []fieldDiff {
	var out []fieldDiff
	for _, uf := range engine.WrittenFields(c.Before, c.After) {
		b, hb := uf.Get(c.Before)
		a, ha := uf.Get(c.After)
		if !hb && !ha {
			continue
		}
		if !uf.Bool && hb {
			b = fmt.Sprintf("%q", b)
		}
		if !uf.Bool && ha {
			a = fmt.Sprintf("%q", a)
		}
		out = append(out, fieldDiff{name: uf.Name, before: b, after: a, hasBefore: hb, hasAfter: ha})
	}
	return out
}

func (r *renderer) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

// describe names the object of a change for humans.
func describe(c engine.Change) string {
	if c.Action == engine.ActionCreateGroup {
		return c.Address
	}
	if c.Group != "" {
		return fmt.Sprintf("%s (user %s, group %q)", c.Address, c.Key, c.Group)
	}
	if c.Role != "" {
		return fmt.Sprintf("%s (user %s, %s)", c.Address, c.Key, roleScope(c))
	}
	return c.Address
}

// roleScope says what a role change grants or takes: `role "Project
// Manager" on all open projects`, `role "Assignee" on project "Secret"`.
func roleScope(c engine.Change) string {
	switch {
	case c.Project != "":
		return fmt.Sprintf("role %q on project %q", c.Role, c.Project)
	case c.AllOpenProjects:
		return fmt.Sprintf("role %q on all open projects", c.Role)
	case c.Action == engine.ActionAddRole:
		return fmt.Sprintf("role %q on its projects only", c.Role)
	}
	return fmt.Sprintf("role %q", c.Role)
}

// roleCountsPhrase is "3 role changes (2 grants, 1 removal)", or "".
func roleCountsPhrase(s engine.Summary) string {
	n := s.Roles()
	if n == 0 {
		return ""
	}
	var parts []string
	for _, x := range []struct {
		n         int
		one, many string
	}{
		{s.AddRole, "grant", "grants"}, {s.RemoveRole, "removal", "removals"},
		{s.GrantRoleProject, "project grant", "project grants"}, {s.RevokeRoleProject, "project revoke", "project revokes"},
	} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, pick(x.n, x.one, x.many)))
		}
	}
	return fmt.Sprintf("%d role %s (%s)", n, pick(n, "change", "changes"), strings.Join(parts, ", "))
}

// observationsPhrase says what applying p records beside its changes:
// "2 grace-period clocks change (user.bob, user.carol)".
func observationsPhrase(p *engine.Plan) string {
	n := len(p.Observations)
	keys := p.Observations
	more := ""
	if len(keys) > 5 {
		keys, more = keys[:5], fmt.Sprintf(" and %d more", n-5)
	}
	return fmt.Sprintf("%d grace-period %s (user.%s%s)", n, pick(n, "clock changes", "clocks change"), plain(strings.Join(keys, ", user.")), more)
}

// pick returns one when n is 1, else many.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// more prints the line after a list cut at shown of n items, if it was.
func (r *renderer) more(shown, n int, one, many string) {
	if shown < n {
		r.printf("  %s\n", r.faint.Sprint(r.list.moreNote(n-shown, one, many)))
	}
}

// Plan renders a plan as text. Each list (the changes of one action,
// conflicts, skipped entries, warnings) shows its first maxListed items
// and a line counting the rest, unless r.list.all (-verbose).
func (r *renderer) Plan(p *engine.Plan) {
	if len(p.Targets) > 0 {
		r.printf("%s\n\n", r.yellow.Sprintf("Targeted plan: only user.%s; other changes are left for a later plan.", plain(strings.Join(p.Targets, ", user."))))
	}
	switch {
	case len(p.Changes) == 0 && p.IsBlocked():
		r.printf("%s: the plan is blocked by a safety policy (below).\n", r.red.Sprint("Nothing to apply"))
	case len(p.Changes) == 0 && len(p.Conflicts) > 0:
		r.printf("%s, but the directory has conflicts ldapsync cannot resolve (below).\n", r.yellow.Sprint("No changes"))
	case len(p.Changes) == 0 && len(p.Observations) > 0:
		r.printf("%s ftrack matches the directory, but %s: apply this plan to record %s.\n", r.yellow.Sprint("No changes."),
			observationsPhrase(p), pick(len(p.Observations), "it", "them"))
	case len(p.Changes) == 0:
		r.printf("%s ftrack matches the directory.\n", r.green.Sprint("No changes."))
	default:
		r.printf("ldapsync will perform the following actions, in this order:\n")
		groups := groupChanges(p.Changes)
		for _, a := range actionOrder {
			list := groups[a]
			if len(list) == 0 {
				continue
			}
			st := actionStyles[a]
			col := r.colorFor(a)
			r.printf("\n%s\n", r.bold.Sprintf("%s (%d)", st.title, len(list)))
			shown := r.list.shown(len(list))
			for _, c := range list[:shown] {
				r.printf("  %s %s %s %s\n", col.Sprint(st.symbol), r.bold.Sprint(plain(describe(c))), st.verb, r.faint.Sprintf("(%s)", plain(c.Why())))
				for _, d := range diffFields(c) {
					switch {
					case d.hasBefore && d.hasAfter:
						r.printf("      %-12s %s → %s\n", plain(d.name)+":", r.red.Sprint(d.before), col.Sprint(d.after))
					case d.hasAfter:
						r.printf("      %-12s %s\n", plain(d.name)+":", col.Sprint(d.after))
					default:
						r.printf("      %-12s %s\n", plain(d.name)+":", d.before)
					}
				}
			}
			one, many := actionNoun(a)
			r.more(shown, len(list), one, many)
		}
	}
	if len(p.Conflicts) > 0 {
		r.printf("\n%s\n", r.bold.Sprintf("Conflicts (%d): none of these entries is applied until the directory is fixed", len(p.Conflicts)))
		shown := r.list.shown(len(p.Conflicts))
		for _, c := range p.Conflicts[:shown] {
			r.printf("  %s user.%s: %s\n", r.red.Sprint("!"), plain(c.Key), plain(c.Reason))
			for _, e := range c.Entries {
				r.printf("      source %s: %s\n", plain(e.Source), plain(e.DN))
			}
		}
		r.more(shown, len(p.Conflicts), "conflict", "conflicts")
	}
	if len(p.Skipped) > 0 {
		r.printf("\n%s\n", r.bold.Sprintf("Skipped directory entries (%d)", len(p.Skipped)))
		shown := r.list.shown(len(p.Skipped))
		for _, s := range p.Skipped[:shown] {
			r.printf("  %s %s: %s\n", r.yellow.Sprint("!"), plain(s.DN), plain(s.Reason))
		}
		r.more(shown, len(p.Skipped), "skipped entry", "skipped entries")
	}
	if n := len(p.Unmanaged); n > 0 {
		r.printf("\n%s %s\n", r.bold.Sprintf("Unmanaged accounts (%d)", n), r.faint.Sprint("— active ftrack accounts without the ldapsync marker; never changed"))
		some := 10
		if r.list.all {
			some = n
		}
		r.printf("  %s\n", plain(listSome(p.Unmanaged, some)))
	}
	if len(p.Warnings) > 0 {
		r.printf("\n%s\n", r.bold.Sprint("Warnings"))
		shown := r.list.shown(len(p.Warnings))
		for _, w := range p.Warnings[:shown] {
			r.printf("  %s %s\n", r.yellow.Sprint("!"), plain(w))
		}
		r.more(shown, len(p.Warnings), "warning", "warnings")
	}
	r.printf("\n%s\n", r.bold.Sprint(planSummaryLine(p)))
	if line := seatsLine(p.Seats); line != "" {
		if p.Seats.Limit > 0 && p.Seats.ActiveAfter > p.Seats.Limit {
			r.printf("%s\n", r.red.Sprint(line))
		} else {
			r.printf("%s\n", line)
		}
	}
	if line := limitsLine(p.Limits); line != "" {
		r.printf("%s\n", r.faint.Sprint(plain(line)))
	}
	if p.Blocked != nil && len(p.Blocked.Reasons) > 0 {
		if p.IsBlocked() {
			r.printf("\n%s\n", r.red.Sprint("This plan is BLOCKED by a safety policy and cannot be applied:"))
		} else {
			r.printf("\n%s\n", r.yellow.Sprint("Safety limits were exceeded and overridden with -force:"))
		}
		for _, reason := range p.Blocked.Reasons {
			r.printf("  - %s\n", plain(reason))
		}
	}
}

// plain makes a string from the directory or a plan file safe to print
// on a terminal or in a CI log: printable characters stay, every other
// one (control characters, format characters such as bidi overrides,
// separators other than the space, bytes that are not UTF-8) is shown
// escaped as strconv.Quote would write it (\x1b, \n, \u202e), so no
// escape sequence reaches the terminal and no value starts a new line.
// Backslashes stay as they are (DNs are full of them): the escapes are a
// safe view, not a reversible encoding. Values the renderer quotes
// already (%q) need no plain.
func plain(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// isPrintable reports whether plain would leave s as it is.
func isPrintable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}

// listSome joins up to n names, then says how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// limitsLine names the safety limits in force and where they came from:
// "Safety limits: max_deactivations = 25% (default, from 20 managed
// users), max_creates = none, max_updates = 10 (policy)."
func limitsLine(limits []engine.LimitInForce) string {
	if len(limits) == 0 {
		return ""
	}
	parts := make([]string, len(limits))
	for i, l := range limits {
		switch {
		case l.Limit == "none":
			parts[i] = l.Name + " = none"
		case l.AppliesFrom > 0:
			parts[i] = fmt.Sprintf("%s = %s (%s, in force from %d managed users)", l.Name, l.Limit, l.Source, l.AppliesFrom)
		default:
			parts[i] = fmt.Sprintf("%s = %s (%s)", l.Name, l.Limit, l.Source)
		}
	}
	return "Safety limits: " + strings.Join(parts, ", ") + "."
}

// seatsLine says what the plan does to the licence seats: "Active
// accounts: 248 now → 251 after apply, of 250 seats (policy.seats)."; ""
// for a plan that does not say (older than format 3.1).
func seatsLine(s *engine.Seats) string {
	if s == nil {
		return ""
	}
	line := fmt.Sprintf("Active accounts: %s now → %s after apply", thousands(s.ActiveNow), thousands(s.ActiveAfter))
	switch {
	case s.Limit > 0 && s.ActiveAfter > s.Limit:
		line += fmt.Sprintf(", of %s seats (policy.seats): %s over", thousands(s.Limit), thousands(s.ActiveAfter-s.Limit))
	case s.Limit > 0:
		line += fmt.Sprintf(", of %s seats (policy.seats): %s free after", thousands(s.Limit), thousands(s.Limit-s.ActiveAfter))
	default:
		line += " (every active user holds a licence seat; policy.seats is not set)"
	}
	return line + "."
}

// planSummaryLine is the one-line summary: "Plan: 3 to create, 2 to update, 1 to deactivate."
func planSummaryLine(p *engine.Plan) string {
	s := p.Summary
	parts := []string{
		fmt.Sprintf("%d to create", s.Create),
		fmt.Sprintf("%d to update", s.Update),
		fmt.Sprintf("%d to deactivate", s.Deactivate),
	}
	if s.Reactivate > 0 {
		parts = append(parts, fmt.Sprintf("%d to reactivate", s.Reactivate))
	}
	if s.Adopt > 0 {
		parts = append(parts, fmt.Sprintf("%d to adopt", s.Adopt))
	}
	if s.CreateGroup > 0 {
		parts = append(parts, fmt.Sprintf("%d groups to create", s.CreateGroup))
	}
	if s.AddMembership+s.RemoveMembership > 0 {
		parts = append(parts, fmt.Sprintf("%d memberships to add, %d to remove", s.AddMembership, s.RemoveMembership))
	}
	if r := roleCountsPhrase(s); r != "" {
		parts = append(parts, r)
	}
	line := "Plan: " + strings.Join(parts, ", ") + "."
	if n := len(p.Observations); n > 0 {
		line += fmt.Sprintf(" %d grace-period %s to record.", n, pick(n, "clock", "clocks"))
	}
	switch {
	case s.Skipped == 1:
		line += " 1 directory entry skipped."
	case s.Skipped > 1:
		line += fmt.Sprintf(" %d directory entries skipped.", s.Skipped)
	}
	switch n := len(p.Conflicts); {
	case n == 1:
		line += " 1 username in conflict."
	case n > 1:
		line += fmt.Sprintf(" %d usernames in conflict.", n)
	}
	return line
}
