package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// ReadWarner is an optional Source method: warnings about the last Read
// that are not about one entry (e.g. referrals that were not followed).
// The read pass adds them to the plan's warnings after each Read.
type ReadWarner interface {
	ReadWarnings() []string
}

// SourceSummary describes one source read in a plan.
type SourceSummary struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Entries int    `json:"entries"`
	Digest  string `json:"digest"`
}

// maxFieldLen is the longest username, email or name accepted from the
// directory, in characters; a longer value skips the entry instead of
// failing at apply time.
const maxFieldLen = 1024

// readSources streams every source through the mapper: each source's
// users sorted by key, concatenated in declared order, and each source's
// precedence (lower wins). Entries that cannot be mapped become skipped
// entries, their stable ids held. An empty source, or fewer users than
// min_source_users, is an error: never "everyone left".
func readSources(ctx context.Context, r readRequest, v *view) ([]User, map[string]int, error) {
	progress := r.Progress
	if progress == nil {
		progress = func(string, int) {}
	}
	attrs := r.Mapper.Attributes()
	var all []User
	rank := map[string]int{} // source name -> precedence (lower wins)
	for _, src := range r.Sources {
		info := src.Info()
		if _, ok := rank[info.Name]; !ok {
			rank[info.Name] = len(rank)
		}
		stage := "reading source " + info.Name
		entries := 0
		var chunks userChunks
		err := src.Read(ctx, attrs, func(e Entry) error {
			if e.Source == "" {
				e.Source = info.Name
			}
			entries++
			if entries%500 == 0 {
				progress(stage, entries)
			}
			if u, ok := mapEntry(r.Mapper, e, v); ok {
				chunks.add(u)
			}
			return nil
		})
		users := chunks.all()
		if err != nil {
			return nil, nil, namedError("source", info.Name, err)
		}
		if entries == 0 && r.Policy.MinSourceUsers > 0 {
			// With several sources the total may still pass min_source_users;
			// one empty answer must not read as "everyone in it left".
			return nil, nil, fmt.Errorf("source %q returned no entries; refusing to plan — an empty directory answer must never read as \"everyone left\"; check its base_dn and filter (set min_source_users = 0 to allow an empty source)", info.Name)
		}
		progress(stage, entries)
		if rw, ok := src.(ReadWarner); ok {
			v.warnings = append(v.warnings, rw.ReadWarnings()...)
		}
		sort.Slice(users, func(i, j int) bool { return userLess(users[i], users[j]) })
		v.sources = append(v.sources, SourceSummary{Type: info.Type, Name: info.Name, Entries: entries, Digest: digestUsers(users)})
		if all == nil {
			all = users // one source: no copy
		} else {
			all = append(all, users...)
		}
	}
	if err := checkMinUsers(len(all), r.Policy.MinSourceUsers, v.skipped); err != nil {
		return nil, nil, err
	}
	return all, rank, nil
}

// userChunks collects users in fixed-size chunks and joins them once, at
// the exact size: appending 100,000 large structs to one slice copied
// them about five times over as it grew (0.36 s of a 100k initial
// import's CPU, most of it write barriers while the GC ran).
type userChunks struct {
	full []([]User)
	cur  []User
	n    int
}

const userChunk = 4096

func (c *userChunks) add(u User) {
	if c.cur == nil {
		c.cur = make([]User, 0, userChunk)
	}
	c.cur = append(c.cur, u)
	c.n++
	if len(c.cur) == userChunk {
		c.full = append(c.full, c.cur)
		c.cur = nil
	}
}

// all returns every user added, in order, in one slice (nil when none).
func (c *userChunks) all() []User {
	if c.n == 0 {
		return nil
	}
	if len(c.full) == 0 {
		return c.cur
	}
	out := make([]User, 0, c.n)
	for _, ch := range c.full {
		out = append(out, ch...)
	}
	return append(out, c.cur...)
}

// mapEntry maps one entry; an entry that cannot be mapped is recorded as
// skipped (its stable id held) and ok is false.
func mapEntry(m Mapper, e Entry, v *view) (User, bool) {
	for k, vals := range e.Attrs {
		if len(vals) > 0 && !v.seenAttrs[k] {
			v.seenAttrs[k] = true // Attrs are keyed by the mapping's spelling
		}
	}
	u, err := m.Map(e)
	if err == nil && strings.TrimSpace(u.Username) == "" && strings.TrimSpace(u.Key) == "" {
		err = fmt.Errorf("username is empty")
	}
	if err == nil {
		err = fieldTooLong(u)
	}
	if err == nil {
		err = checkDirectoryValues(&u, e.DN, v) // values.go
	}
	if err != nil {
		v.skipped = append(v.skipped, Skipped{Source: e.Source, DN: e.DN, Reason: err.Error()})
		if e.StableID != "" {
			v.heldSIDs[e.StableID] = e.DN
		}
		return User{}, false
	}
	if u.Key == "" {
		u.Key = u.Username
	}
	u.Key = strings.ToLower(strings.TrimSpace(u.Key))
	if u.Source == "" {
		u.Source = e.Source
	}
	if u.SourceID == "" {
		u.SourceID = e.StableID
	}
	if u.DN == "" {
		u.DN = e.DN
	}
	if u.Groups != nil {
		u.Groups = sortedUnique(u.Groups)
	}
	return u, true
}

// checkMinUsers refuses a directory answer smaller than min_source_users.
// When entries were skipped, the most common reasons lead the message:
// a mapping that fails on every entry (a misspelt required attribute) is
// not a base_dn problem.
func checkMinUsers(n, min int, skipped []Skipped) error {
	if n >= min {
		return nil
	}
	what := fmt.Sprintf("directory returned %d users", n)
	switch {
	case n == 1:
		what = "directory returned only 1 user"
	case n > 1:
		what = fmt.Sprintf("directory returned only %d users", n)
	}
	if len(skipped) == 0 {
		return fmt.Errorf("%s; refusing to plan — min_source_users = %d: an empty or partial directory answer must never read as \"everyone left\"; check the sources' base_dn and filter", what, min)
	}
	entries := fmt.Sprintf("%d entries were", len(skipped))
	if len(skipped) == 1 {
		entries = "1 entry was"
	}
	return fmt.Errorf("%s and %s skipped (%s); refusing to plan — min_source_users = %d: check the mapping first, then the sources' base_dn and filter", what, entries, topReasons(skipped, 3), min)
}

// topReasons names the most common skip reasons with their counts.
func topReasons(skipped []Skipped, n int) string {
	count := map[string]int{}
	for _, s := range skipped {
		count[s.Reason]++
	}
	reasons := make([]string, 0, len(count))
	for r := range count {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if count[reasons[i]] != count[reasons[j]] {
			return count[reasons[i]] > count[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	var parts []string
	for i, r := range reasons {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d other reasons", len(reasons)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%d× %s", count[r], r))
	}
	return strings.Join(parts, "; ")
}

// fieldTooLong names the first mapped field longer than maxFieldLen.
func fieldTooLong(u User) error {
	for _, uf := range desiredFields(u) {
		if v, ok := uf.Desired(u); ok && uf.Kind == FieldAttribute {
			if n := utf8.RuneCountInString(v); n > maxFieldLen {
				return fmt.Errorf("%s is %d characters long (at most %d are accepted)", uf.Name, n, maxFieldLen)
			}
		}
	}
	return nil
}

// readTarget reads every account of the target.
func readTarget(ctx context.Context, r readRequest) ([]Account, error) {
	progress := r.Progress
	if progress == nil {
		progress = func(string, int) {}
	}
	progress("reading target", 0)
	accounts, err := r.Target.ReadAccounts(ctx)
	if err != nil {
		return nil, namedError("target", r.Target.Info().Name, err)
	}
	progress("reading target", len(accounts))
	return accounts, nil
}

// sortAccounts orders the view's accounts by lower-case username, then
// id; the ftrack target returns them sorted already (no copy then). The
// engine never writes into the target's result, except to attach the
// accounts' roles (readTargetRoles), which every read replaces.
func sortAccounts(v *view) {
	less := func(a, b Account) int {
		if c := strings.Compare(strings.ToLower(a.Username), strings.ToLower(b.Username)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}
	if !slices.IsSortedFunc(v.accounts, less) {
		v.accounts = slices.Clone(v.accounts)
		slices.SortFunc(v.accounts, less)
	}
}

func userLess(a, b User) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return a.DN < b.DN
}

// digestUsers is sha256 over the sorted desired users, each field written
// with its length in front (so no two lists of users share an encoding),
// one user at a time: no JSON, no copy of the list. It only has to match
// itself (plan against apply of one version), and it is the hot path of
// a steady-state plan of 100,000 users.
func digestUsers(us []User) string {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	flag := func(b bool) {
		if b {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
	}
	list := func(ss []string) {
		buf = binary.AppendUvarint(buf, uint64(len(ss)))
		for _, s := range ss {
			str(s)
		}
	}
	for _, u := range us {
		buf = buf[:0]
		for _, s := range [...]string{u.Key, u.Username, u.Email, u.FirstName, u.LastName, u.SourceID, u.DN, u.UserType} {
			str(s)
		}
		flag(u.Disabled)
		list(u.Groups)
		buf = binary.AppendUvarint(buf, uint64(len(u.Roles)))
		for _, r := range u.Roles {
			str(r.Role)
			flag(r.AllOpen)
			list(r.Projects)
		}
		buf = binary.AppendUvarint(buf, uint64(len(u.Custom)))
		for _, k := range sortedKeysOf(u.Custom) {
			str(k)
			str(u.Custom[k])
		}
		h.Write(buf)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
