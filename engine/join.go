package engine

import (
	"fmt"
	"sort"
	"strings"
)

// match is a desired user and the account it joined, nil when none.
type match struct {
	// user points into the view's desired users (a copy per match would
	// be 100,000 copies of a large struct at an initial import).
	user    *User
	account *Account
	// rename is true when the account was found by stable id under
	// another username: the username changes.
	rename bool
	// byEmail is true when the account was found by e-mail: an unowned
	// account whose e-mail is the user's (ftrack usernames are often
	// e-mail addresses), adopted under the directory's username.
	byEmail bool
}

// joined is the join pass's result.
type joined struct {
	matches []match
	// unmatched are the accounts no desired user joined, in view order.
	unmatched []*Account
	// desired reports whether a key is a desired user's.
	desired func(key string) bool
}

// join meets desired users and accounts by lower-case username, then by
// stable id among the accounts this mapping owns (a renamed uid), then by
// lower-case e-mail (a person whose ftrack username is not the
// directory's): never two accounts for one person. ftrack accounts that
// share a username are held and reported, never joined twice. It also
// counts the owned accounts, the limits' base.
//
// Both sides arrive sorted (desired users by key, accounts by lower-case
// username), so the username join is a merge: one pass over each, no
// map of 100,000 keys. The stable-id and e-mail indexes are built only
// when a desired user has no account of its username (a steady state
// never builds them), and "is this key a desired user's" is a binary
// search.
func join(v *view, res *diffResult) *joined {
	n := len(v.accounts)
	lower := make([]string, n)
	for i := range v.accounts {
		a := &v.accounts[i]
		lower[i] = strings.ToLower(a.Username)
		if v.claims(a.Owner) {
			res.owned++ // every owned account counts toward the limits' base
		}
		if i > 0 && lower[i] == lower[i-1] {
			first := i - 1
			for first > 0 && lower[first-1] == lower[i] {
				first--
			}
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: ftrack has more than one account with this username (%s, %s); not changed", lower[i], v.accounts[first].ID, a.ID))
			v.held[lower[i]] = holdDuplicateAccount
		}
	}
	desired := func(key string) bool {
		_, found := sort.Find(len(v.desired), func(i int) int { return strings.Compare(key, v.desired[i].Key) })
		return found
	}
	j := &joined{desired: desired, matches: make([]match, 0, len(v.desired))}
	consumed := make([]bool, n) // accounts matched to a desired user
	var bySID map[string]int    // owned accounts by stable id, made on first need
	var em *emailIndex          // made on first need
	var want []int32            // the users those two are asked about (unjoined; nil: every user), made on first need
	var wantMade bool           // whether want was made
	k := 0                      // merge cursor into the accounts
	for i := range v.desired {
		u := &v.desired[i]
		for k < n && lower[k] < u.Key {
			k++
		}
		if v.held[u.Key] == holdDuplicateAccount {
			continue
		}
		m := match{user: u}
		at := -1
		if k < n && lower[k] == u.Key {
			at = k // the first account of the username, as the map kept
		}
		if at < 0 && !wantMade {
			want, wantMade = unjoined(v, lower, i, k), true
		}
		if at < 0 && u.SourceID != "" {
			if bySID == nil {
				bySID = ownedBySourceID(v, lower, want, res.owned)
			}
			if b, ok := bySID[u.SourceID]; ok && !desired(lower[b]) && !consumed[b] {
				at, m.rename = b, true
			}
		}
		if at < 0 {
			if em == nil {
				em = newEmailIndex(v, lower, desired, want)
			}
			b, hold := em.lookup(*u, consumed)
			if hold != "" {
				v.held[u.Key] = holdEmailCollision
				res.warnings = append(res.warnings, hold)
				continue
			}
			at, m.byEmail = b, b >= 0
		}
		if at >= 0 {
			m.account = &v.accounts[at]
			consumed[at] = true
		}
		j.matches = append(j.matches, m)
	}
	for i := range v.accounts {
		if !consumed[i] {
			j.unmatched = append(j.unmatched, &v.accounts[i])
		}
	}
	return j
}

// unjoined lists the desired users without an account of their
// username (indexes into v.desired), from index i on, k being the merge
// cursor into the accounts at i (join's merge, again); nil when there are
// as many as accounts, when restricting the indexes would save nothing
// (an initial import: the pass stops at once). Their stable ids
// and e-mails are the only keys the stable-id and e-mail indexes are
// asked about. A steady state has few such users (the directory's
// disabled ones, which are never created), and indexing every account
// for them cost 0.2 s of a 300k steady-state plan's CPU and 19 MB of
// allocations at 100k; the indexes keep only the accounts those keys can
// find, so every lookup answers as over a full index.
func unjoined(v *view, lower []string, i, k int) []int32 {
	out := []int32{}
	for ; i < len(v.desired) && len(out) < len(v.accounts); i++ {
		key := v.desired[i].Key
		for k < len(lower) && lower[k] < key {
			k++
		}
		if k >= len(lower) || lower[k] != key {
			out = append(out, int32(i))
		}
	}
	if len(out) >= len(v.accounts) {
		return nil
	}
	return out
}

// joinIndexAll makes the join's indexes hold every account, as they did
// before unjoined (a test compares both).
var joinIndexAll = false

// ownedBySourceID indexes the accounts the mapping owns by stable id,
// leaving out the second and later accounts of a shared username (held).
// When fewer users are wanted (unjoined) than accounts are owned (a
// steady state), only the accounts of their stable ids are kept; at an
// initial import (wanted nil), the few owned accounts.
func ownedBySourceID(v *view, lower []string, wanted []int32, owned int) map[string]int {
	var want map[string]bool
	if wanted != nil && len(wanted) < owned && !joinIndexAll {
		want = make(map[string]bool, len(wanted))
		for _, i := range wanted {
			if sid := v.desired[i].SourceID; sid != "" {
				want[sid] = true
			}
		}
	}
	out := map[string]int{}
	for i := range v.accounts {
		a := &v.accounts[i]
		if i > 0 && lower[i] == lower[i-1] {
			continue
		}
		if v.claims(a.Owner) && a.SourceID != "" && (want == nil || want[a.SourceID]) {
			out[a.SourceID] = i
		}
	}
	return out
}

// emailIndex finds the account a new user's e-mail already belongs to.
type emailIndex struct {
	v        *view
	lower    []string         // the accounts' lower-case usernames
	accounts map[string][]int // lower e-mail -> accounts with it (indexes)
	// desired counts the desired users per lower e-mail; the keys of a
	// shared one are looked up when a message needs them (rare), so a
	// directory of unique e-mails costs one map entry per user, no list.
	// Only the wanted users' e-mails, in a steady state (see unjoined).
	desired   map[string]int32
	shared    map[string][]string // e-mail -> keys, for the shared ones (made on first need)
	isDesired func(key string) bool
}

// newEmailIndex indexes the accounts by lower-case e-mail and counts the
// desired users per e-mail. When fewer users are wanted (unjoined) than
// there are accounts (a steady state), only their e-mails are kept, the
// only ones lookup is asked about; at an initial import (wanted nil),
// every e-mail.
func newEmailIndex(v *view, lower []string, isDesired func(string) bool, wanted []int32) *emailIndex {
	if joinIndexAll {
		wanted = nil
	}
	ix := &emailIndex{v: v, lower: lower, accounts: map[string][]int{}, isDesired: isDesired}
	all, size := wanted == nil, len(wanted)
	if all {
		size = len(v.desired)
	}
	ix.desired = make(map[string]int32, size)
	for _, i := range wanted {
		if e := emailKey(v.desired[i].Email); e != "" {
			ix.desired[e] = 0 // a key for each wanted e-mail: counted below
		}
	}
	for i := range v.desired {
		if e := emailKey(v.desired[i].Email); e != "" {
			if n, ok := ix.desired[e]; ok || all {
				ix.desired[e] = n + 1
			}
		}
	}
	for i := range v.accounts {
		if e := emailKey(v.accounts[i].Email); e != "" {
			if _, ok := ix.desired[e]; ok || all {
				ix.accounts[e] = append(ix.accounts[e], i)
			}
		}
	}
	return ix
}

// emailKey is the form e-mails are matched in: trimmed, lower case.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// sharedKeys returns the desired keys with the shared e-mail e, indexing
// every shared e-mail in one pass the first time.
func (ix *emailIndex) sharedKeys(e string) []string {
	if ix.shared == nil {
		ix.shared = map[string][]string{}
		for _, d := range ix.v.desired {
			if le := emailKey(d.Email); ix.desired[le] > 1 {
				ix.shared[le] = append(ix.shared[le], d.Key)
			}
		}
	}
	return ix.shared[e]
}

// lookup returns the account a user without a username match should join
// by e-mail (its index; -1: none, create it), or why the user is held
// instead: two directory users with the e-mail, several accounts with it,
// or one this mapping cannot adopt (owned, another mapping's,
// adopt_existing off — decided by the lifecycle rules, which warn).
func (ix *emailIndex) lookup(u User, consumed []bool) (int, string) {
	e := emailKey(u.Email)
	if e == "" {
		return -1, ""
	}
	if ix.desired[e] > 1 {
		keys := ix.sharedKeys(e)
		return -1, fmt.Sprintf("user.%s: directory users %s share the e-mail %q; none of them is created until the directory is fixed", u.Key, quoteAll(keys), u.Email)
	}
	var cands []int
	for _, i := range ix.accounts[e] {
		a := &ix.v.accounts[i]
		if ix.v.apiUser != "" && ix.lower[i] == ix.v.apiUser {
			return -1, fmt.Sprintf("user.%s: its e-mail %q is that of the API user ldapsync signs in as (%q); not created, and that account is never adopted", u.Key, u.Email, a.Username)
		}
		if !consumed[i] && !ix.isDesired(ix.lower[i]) {
			cands = append(cands, i)
		}
	}
	switch {
	case len(cands) == 0:
		return -1, ""
	case len(cands) > 1:
		var names []string
		for _, i := range cands {
			names = append(names, ix.v.accounts[i].Username)
		}
		return -1, fmt.Sprintf("user.%s: ftrack accounts %s have its e-mail %q; not created (one person, one account) until only one has it", u.Key, quoteAll(names), u.Email)
	}
	c := &ix.v.accounts[cands[0]]
	switch {
	case ix.v.claims(c.Owner):
		return -1, fmt.Sprintf("user.%s: ftrack account %q, which this mapping manages, has its e-mail %q; not created (one person, one account)", u.Key, c.Username, u.Email)
	case c.Owner != "":
		return -1, fmt.Sprintf("user.%s: ftrack account %q, owned by mapping %q, has its e-mail %q; not created (one person, one account)", u.Key, c.Username, c.Owner, u.Email)
	}
	return cands[0], ""
}
