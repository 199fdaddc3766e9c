package engine

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// holdReason says why a pass held a key back: its owned account, if any,
// is then neither changed nor deactivated as missing.
type holdReason string

// The hold reasons.
const (
	// holdProtected: policy.protect, or the target's API user.
	holdProtected holdReason = "protected"
	// holdDuplicate: several directory entries of one source map to the
	// username.
	holdDuplicate holdReason = "duplicate"
	// holdDuplicateAccount: ftrack has more than one account with the
	// username.
	holdDuplicateAccount holdReason = "duplicate account"
	// holdEmailCollision: the user's e-mail is another account's, or
	// another directory user's: not created.
	holdEmailCollision holdReason = "e-mail collision"
	// holdUserType: the ftrack account with the username (or the stable
	// id) is of a hands-off user type (service, demo).
	holdUserType holdReason = "hands-off user type"
)

// handsOffUserTypes are the ftrack user types ldapsync never changes,
// whoever owns the account: service accounts belong to pipelines and
// integrations, demo accounts to ftrack's own sample content. A
// built-in hands-off rule, as policy.protect is a configured one.
var handsOffUserTypes = []string{"service", "demo"}

// handsOffType reports whether an account's user type (its name) is one
// ldapsync never changes.
func handsOffType(userType string) bool {
	for _, t := range handsOffUserTypes {
		if strings.EqualFold(strings.TrimSpace(userType), t) {
			return true
		}
	}
	return false
}

// apiUserEntry marks the target's own API user among the protected keys.
const apiUserEntry = "\x00api_user"

// handsOff is the hands-off pass: protected usernames (policy.protect)
// and the target's API user are taken out of both sides before the diff,
// so no rule below can touch them. It remembers what it took out, for
// the warnings.
//
// Desired users whose username only looks like a protected one — the
// same once invisible characters are removed and compatibility forms
// folded (lookalikeFold: "ａｄｍｉｎ", "admin" + U+200B) — are held too,
// so the directory can never create a second "admin" beside the real
// one. Accounts are matched exactly, as before: a look-alike account
// already in ftrack is not the protected account, and holding it would
// shield whatever made it from being deactivated or renamed.
type handsOff struct {
	prot      *protector
	apiUser   string            // lower case; "" when unknown
	protected map[string]string // key -> protect entry (or apiUserEntry)
	// lookalikes are the desired keys held as look-alikes: key ->
	// protect entry (or apiUserEntry).
	lookalikes map[string]string
	apiFold    string // lookalikeFold(apiUser)
	// typed are the accounts held for their user type: lower username ->
	// the type, lower case; typedSIDs their stable ids (non-empty only).
	typed     map[string]string
	typedSIDs map[string]bool
}

func newHandsOff(protect []string, apiUser string) (*handsOff, error) {
	prot, err := newProtector(protect)
	if err != nil {
		return nil, err
	}
	return &handsOff{prot: prot, apiUser: strings.ToLower(apiUser), protected: map[string]string{},
		lookalikes: map[string]string{}, apiFold: lookalikeFold(apiUser), typed: map[string]string{}, typedSIDs: map[string]bool{}}, nil
}

// entryFor returns why username (or key) is hands-off, or "".
func (h *handsOff) entryFor(username, key string) string {
	if e := firstNonEmpty(h.prot.match(username), h.prot.match(key)); e != "" {
		return e
	}
	if h.apiUser != "" && (key == h.apiUser || strings.ToLower(username) == h.apiUser) {
		return apiUserEntry
	}
	return ""
}

// lookalikeFor returns the protect entry (or apiUserEntry) that username
// or key looks like once folded (lookalikeFold), or "".
func (h *handsOff) lookalikeFor(username, key string) string {
	for _, s := range []string{username, key} {
		f := lookalikeFold(s)
		if e := h.prot.matchFolded(f); e != "" {
			return e
		}
		if h.apiUser != "" && f == h.apiFold {
			return apiUserEntry
		}
	}
	return ""
}

// holdDesired removes protected desired users and look-alikes of them
// (keeping the order of the rest, in place) and holds their keys.
func (h *handsOff) holdDesired(v *view, users []User) []User {
	out := users[:0]
	for _, u := range users {
		if e := h.entryFor(u.Username, u.Key); e != "" {
			h.protected[u.Key] = e
			v.held[u.Key] = holdProtected
			continue
		}
		if e := h.lookalikeFor(u.Username, u.Key); e != "" {
			h.lookalikes[u.Key] = e
			v.held[u.Key] = holdProtected
			continue
		}
		out = append(out, u)
	}
	return out
}

// holdAccounts returns the accounts less the protected ones (and the API
// user's account when this mapping owns it); the target's slice is
// shared until an account is left out.
func (h *handsOff) holdAccounts(v *view, accounts []Account) []Account {
	kept := accounts
	aliased := true
	for i, a := range accounts {
		e := h.prot.match(a.Username)
		if e == "" && h.apiUser != "" && a.Owner == v.mapper && strings.ToLower(a.Username) == h.apiUser {
			e = apiUserEntry
		}
		if e == "" && handsOffType(a.UserType) {
			h.typed[strings.ToLower(a.Username)] = strings.ToLower(strings.TrimSpace(a.UserType))
			if a.SourceID != "" {
				h.typedSIDs[a.SourceID] = true
			}
			e = "\x00user_type"
		}
		if e != "" {
			if e != "\x00user_type" && v.claims(a.Owner) {
				// Say so only where it matters: an account this mapping
				// owns would otherwise be changed. An unowned protected
				// account (the usual admin) is never touched anyway.
				h.protected[strings.ToLower(a.Username)] = e
			}
			if aliased {
				kept, aliased = append(make([]Account, 0, len(accounts)), accounts[:i]...), false
			}
			continue
		}
		if !aliased {
			kept = append(kept, a)
		}
	}
	return kept
}

// holdTyped takes out of the desired users those that would meet an
// account of a hands-off user type (by username or stable id), holding
// their keys: such an account is never adopted, changed or deactivated,
// and no second account is created beside it. It returns how many
// desired users it held, per type.
func (h *handsOff) holdTyped(v *view) map[string]int {
	if len(h.typed) == 0 {
		return nil
	}
	held := map[string]int{}
	kept := v.desired[:0:0]
	for _, u := range v.desired {
		t, byName := h.typed[u.Key]
		if !byName && !(u.SourceID != "" && h.typedSIDs[u.SourceID]) {
			kept = append(kept, u)
			continue
		}
		v.held[u.Key] = holdUserType
		held[t]++ // "" when only the stable id matched
	}
	v.desired = kept
	return held
}

// typeWarnings says once per hands-off user type how many accounts of it
// ldapsync left alone (matched: the desired users held for them, see
// holdTyped): one line per plan, never one per account.
func (h *handsOff) typeWarnings(matched map[string]int) []string {
	count := map[string]int{}
	for _, t := range h.typed {
		count[t]++
	}
	var out []string
	for _, t := range sortedKeysOf(count) {
		w := fmt.Sprintf("%d ftrack %s of user type %q: never changed (ldapsync leaves %s accounts alone)", count[t], pick(count[t], "account", "accounts"), t, strings.Join(handsOffUserTypes, " and "))
		if n := matched[t]; n > 0 {
			w += fmt.Sprintf("; %d of them %s, not adopted, changed or deactivated", n, pick(n, "matches a directory user", "match directory users"))
		}
		out = append(out, w)
	}
	if n := matched[""]; n > 0 {
		out = append(out, fmt.Sprintf("%d directory %s the stable id of an ftrack account of a hands-off user type: not created or changed", n, pick(n, "user has", "users have")))
	}
	return out
}

// warnings says, per key, which accounts were left alone and why.
func (h *handsOff) warnings() []string {
	keys := make([]string, 0, len(h.protected))
	for k := range h.protected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if h.protected[k] == apiUserEntry {
			out = append(out, fmt.Sprintf("user.%s is the API user ldapsync signs in to ftrack as (the target's api_user): not changed", k))
			continue
		}
		out = append(out, fmt.Sprintf("user.%s is protected by policy.protect %q: not changed", k, h.protected[k]))
	}
	return append(out, h.lookalikeWarnings()...)
}

// lookalikeWarnings says, per key, which directory users were held
// because their username looks like a protected one.
func (h *handsOff) lookalikeWarnings() []string {
	keys := make([]string, 0, len(h.lookalikes))
	for k := range h.lookalikes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const how = "once invisible characters are removed and Unicode compatibility forms folded (NFKC)"
	var out []string
	for _, k := range keys {
		if e := h.lookalikes[k]; e == apiUserEntry {
			out = append(out, fmt.Sprintf("user.%s looks like the API user %q %s: not created or changed", k, h.apiUser, how))
		} else {
			out = append(out, fmt.Sprintf("user.%s looks like a username protected by policy.protect %q %s: not created or changed", k, e, how))
		}
	}
	return out
}

// protector matches usernames against policy.protect: plain names compare
// without case, "re:" entries are regular expressions matched against the
// lower-case username.
type protector struct {
	names map[string]string // lower name -> entry as written
	// folded are the plain names by lookalikeFold, for matchFolded.
	folded map[string]string
	res    []*regexp.Regexp
	raw    []string
}

func newProtector(list []string) (*protector, error) {
	p := &protector{names: map[string]string{}, folded: map[string]string{}}
	for _, e := range list {
		if pat, ok := strings.CutPrefix(e, "re:"); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("policy.protect %q: %w", e, err)
			}
			p.res = append(p.res, re)
			p.raw = append(p.raw, e)
			continue
		}
		p.names[strings.ToLower(strings.TrimSpace(e))] = e
		p.folded[lookalikeFold(e)] = e
	}
	return p, nil
}

// match returns the protect entry that matches username, or "".
func (p *protector) match(username string) string {
	l := strings.ToLower(username)
	if e, ok := p.names[l]; ok {
		return e
	}
	for i, re := range p.res {
		if re.MatchString(l) {
			return p.raw[i]
		}
	}
	return ""
}

// matchFolded returns the protect entry that a folded username
// (lookalikeFold) looks like, or "": plain names compare folded, "re:"
// entries match the folded form.
func (p *protector) matchFolded(folded string) string {
	if e, ok := p.folded[folded]; ok {
		return e
	}
	for i, re := range p.res {
		if re.MatchString(folded) {
			return p.raw[i]
		}
	}
	return ""
}
