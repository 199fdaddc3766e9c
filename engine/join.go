package engine

import (
	"fmt"
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
	// desiredKeys are the desired users' keys.
	desiredKeys map[string]bool
}

// join meets desired users and accounts by lower-case username, then by
// stable id among the accounts this mapping owns (a renamed uid), then by
// lower-case e-mail (a person whose ftrack username is not the
// directory's): never two accounts for one person. ftrack accounts that
// share a username are held and reported, never joined twice. It also
// counts the owned accounts, the limits' base.
func join(v *view, res *diffResult) *joined {
	byKey := make(map[string]*Account, len(v.accounts))
	ownedBySID := make(map[string]*Account, len(v.accounts))
	for i := range v.accounts {
		a := &v.accounts[i]
		k := strings.ToLower(a.Username)
		if v.claims(a.Owner) {
			res.owned++ // every owned account counts toward the limits' base
		}
		if other, dup := byKey[k]; dup {
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: ftrack has more than one account with this username (%s, %s); not changed", k, other.ID, a.ID))
			v.held[k] = holdDuplicateAccount
			continue
		}
		byKey[k] = a
		if v.claims(a.Owner) && a.SourceID != "" {
			ownedBySID[a.SourceID] = a
		}
	}
	j := &joined{desiredKeys: make(map[string]bool, len(v.desired))}
	for _, u := range v.desired {
		j.desiredKeys[u.Key] = true
	}
	consumed := make(map[string]bool, min(len(v.accounts), len(v.desired))) // account ids matched to a desired user
	em := newEmailIndex(v, j.desiredKeys)
	j.matches = make([]match, 0, len(v.desired))
	for i := range v.desired {
		u := &v.desired[i]
		if v.held[u.Key] == holdDuplicateAccount {
			continue
		}
		m := match{user: u, account: byKey[u.Key]}
		if m.account == nil && u.SourceID != "" {
			if b := ownedBySID[u.SourceID]; b != nil && !j.desiredKeys[strings.ToLower(b.Username)] && !consumed[b.ID] {
				m.account, m.rename = b, true
			}
		}
		if m.account == nil {
			a, hold := em.lookup(*u, consumed)
			if hold != "" {
				v.held[u.Key] = holdEmailCollision
				res.warnings = append(res.warnings, hold)
				continue
			}
			m.account, m.byEmail = a, a != nil
		}
		if m.account != nil {
			consumed[m.account.ID] = true
		}
		j.matches = append(j.matches, m)
	}
	for i := range v.accounts {
		if a := &v.accounts[i]; !consumed[a.ID] {
			j.unmatched = append(j.unmatched, a)
		}
	}
	return j
}

// emailIndex finds the account a new user's e-mail already belongs to.
type emailIndex struct {
	v        *view
	accounts map[string][]*Account // lower e-mail -> accounts with it
	// desired counts the desired users per lower e-mail; the keys of a
	// shared one are looked up when a message needs them (rare), so a
	// directory of unique e-mails costs one map entry per user, no list.
	desired map[string]int32
	shared  map[string][]string // e-mail -> keys, for the shared ones (made on first need)
	keys    map[string]bool
}

func newEmailIndex(v *view, keys map[string]bool) *emailIndex {
	ix := &emailIndex{v: v, accounts: make(map[string][]*Account, len(v.accounts)), desired: make(map[string]int32, len(v.desired)), keys: keys}
	for i := range v.accounts {
		a := &v.accounts[i]
		if e := strings.ToLower(strings.TrimSpace(a.Email)); e != "" {
			ix.accounts[e] = append(ix.accounts[e], a)
		}
	}
	for _, u := range v.desired {
		if e := strings.ToLower(strings.TrimSpace(u.Email)); e != "" {
			ix.desired[e]++
		}
	}
	return ix
}

// sharedKeys returns the desired keys with the shared e-mail e, indexing
// every shared e-mail in one pass the first time.
func (ix *emailIndex) sharedKeys(e string) []string {
	if ix.shared == nil {
		ix.shared = map[string][]string{}
		for _, d := range ix.v.desired {
			if le := strings.ToLower(strings.TrimSpace(d.Email)); ix.desired[le] > 1 {
				ix.shared[le] = append(ix.shared[le], d.Key)
			}
		}
	}
	return ix.shared[e]
}

// lookup returns the account a user without a username match should join
// by e-mail (nil: none, create it), or why the user is held instead: two
// directory users with the e-mail, several accounts with it, or one
// this mapping cannot adopt (owned, another mapping's, adopt_existing
// off — decided by the lifecycle rules, which warn).
func (ix *emailIndex) lookup(u User, consumed map[string]bool) (*Account, string) {
	e := strings.ToLower(strings.TrimSpace(u.Email))
	if e == "" {
		return nil, ""
	}
	if ix.desired[e] > 1 {
		keys := ix.sharedKeys(e)
		return nil, fmt.Sprintf("user.%s: directory users %s share the e-mail %q; none of them is created until the directory is fixed", u.Key, quoteAll(keys), u.Email)
	}
	var cands []*Account
	for _, a := range ix.accounts[e] {
		if ix.v.apiUser != "" && strings.ToLower(a.Username) == ix.v.apiUser {
			return nil, fmt.Sprintf("user.%s: its e-mail %q is that of the API user ldapsync signs in as (%q); not created, and that account is never adopted", u.Key, u.Email, a.Username)
		}
		if !consumed[a.ID] && !ix.keys[strings.ToLower(a.Username)] {
			cands = append(cands, a)
		}
	}
	switch {
	case len(cands) == 0:
		return nil, ""
	case len(cands) > 1:
		var names []string
		for _, a := range cands {
			names = append(names, a.Username)
		}
		return nil, fmt.Sprintf("user.%s: ftrack accounts %s have its e-mail %q; not created (one person, one account) until only one has it", u.Key, quoteAll(names), u.Email)
	case ix.v.claims(cands[0].Owner):
		return nil, fmt.Sprintf("user.%s: ftrack account %q, which this mapping manages, has its e-mail %q; not created (one person, one account)", u.Key, cands[0].Username, u.Email)
	case cands[0].Owner != "":
		return nil, fmt.Sprintf("user.%s: ftrack account %q, owned by mapping %q, has its e-mail %q; not created (one person, one account)", u.Key, cands[0].Username, cands[0].Owner, u.Email)
	}
	return cands[0], ""
}
