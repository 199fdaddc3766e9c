package engine

import (
	"fmt"
	"strings"
)

// match is a desired user and the account it joined, nil when none.
type match struct {
	user    User
	account *Account
	// rename is true when the account was found by stable id under
	// another username: the username changes.
	rename bool
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
// stable id among the accounts this mapping owns (a renamed uid). ftrack
// accounts that share a username are held and reported, never joined
// twice. It also counts the owned accounts, the limits' base.
func join(v *view, res *diffResult) *joined {
	byKey := map[string]*Account{}
	ownedBySID := map[string]*Account{}
	for i := range v.accounts {
		a := &v.accounts[i]
		k := strings.ToLower(a.Username)
		if a.Owner == v.mapper {
			res.owned++ // every owned account counts toward the limits' base
		}
		if other, dup := byKey[k]; dup {
			res.warnings = append(res.warnings, fmt.Sprintf("user.%s: ftrack has more than one account with this username (%s, %s); not changed", k, other.ID, a.ID))
			v.held[k] = holdDuplicateAccount
			continue
		}
		byKey[k] = a
		if a.Owner == v.mapper && a.SourceID != "" {
			ownedBySID[a.SourceID] = a
		}
	}
	j := &joined{desiredKeys: make(map[string]bool, len(v.desired))}
	for _, u := range v.desired {
		j.desiredKeys[u.Key] = true
	}
	consumed := map[string]bool{} // account ids matched to a desired user
	for _, u := range v.desired {
		if v.held[u.Key] == holdDuplicateAccount {
			continue
		}
		m := match{user: u, account: byKey[u.Key]}
		if m.account == nil && u.SourceID != "" {
			if b := ownedBySID[u.SourceID]; b != nil && !j.desiredKeys[strings.ToLower(b.Username)] && !consumed[b.ID] {
				m.account, m.rename = b, true
			}
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
