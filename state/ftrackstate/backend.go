package ftrackstate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
	"github.com/ldapsync/ldapsync/state"
)

// Metadata keys; see the package comment for what each holds.
const (
	// KeyLastApplied holds a managed user's last-applied record, on the user.
	KeyLastApplied = "ldapsync.last_applied"
	// KeyMissingSince holds when a managed user was first seen missing from
	// the directory, on the user.
	KeyMissingSince = "ldapsync.missing_since"
	// KeyState is the site record, on the API user.
	KeyState = "ldapsync.state"
	// KeyLock is the state lock, on the API user.
	KeyLock = "ldapsync.lock"

	statePrefix    = "ldapsync.state"          // body chunks: ldapsync.state.HASH
	planPrefix     = "ldapsync.plan."          // ldapsync.plan.NAME and ldapsync.plan.NAME.HASH
	takeoverPrefix = "ldapsync.lock.takeover." // ldapsync.lock.takeover.LOCK.N
)

// FormatVersion is the format of the site record, MAJOR.MINOR; a major
// version above 1 is refused (upgrade ldapsync).
const FormatVersion = "1.0"

// MaxValueBytes bounds what Load accepts in any one Metadata value; a
// bigger one is an error naming the key and the user. Save never writes
// a value above maxChunk (32 KiB).
const MaxValueBytes = 1 << 20

// batchSize is the most operations per write request.
const batchSize = 100

// Backend is the state kept in the ftrack site itself, as Metadata on
// the managed users and on the API user. It is safe for concurrent use;
// Load and Save take turns.
type Backend struct {
	c       *ftrack.Client
	apiUser string
	ctx     context.Context
	newID   func() string
	expiry  time.Duration
	retry   time.Duration
	now     func() time.Time
	mu      sync.Mutex
	apiID   string
	lineage string // of a state not saved yet
	loaded  bool
	stored  map[metaKey]string  // every value of ours in ftrack as last read or written
	order   map[string][]string // plan id -> change ids in stored order
	gone    map[string]bool     // user ids found not to exist
	// held is the lock this backend holds (nil: none); Save checks it is
	// still held before it writes.
	held *heldLock
	// onWarning hears records Load leaves out (see WithOnWarning).
	onWarning func(string)
}

// metaKey names one Metadata entity: its parent (a User's id) and key.
type metaKey struct{ parent, key string }

// Option configures a Backend.
type Option func(*Backend)

// WithContext sets the context of Load and Save (engine.StateStore has
// none); the default is context.Background().
func WithContext(ctx context.Context) Option { return func(b *Backend) { b.ctx = ctx } }

// WithOnWarning sets who hears of the per-user records Load leaves out:
// records on users without an ownership marker, records that do not
// decode or are too big, and join keys two users claim. The state is
// advisory, so such a record costs what a lost one costs (drift calls the
// user's edits pending, a grace clock starts again); one bad row must not
// stop every run of the site.
func WithOnWarning(f func(string)) Option { return func(b *Backend) { b.onWarning = f } }

// WithIDGenerator sets the generator of the lineage of a new state.
func WithIDGenerator(f func() string) Option { return func(b *Backend) { b.newID = f } }

// WithLockExpiry sets how long a lock lasts unless renewed (default one
// hour); the holder renews it every quarter of that.
func WithLockExpiry(d time.Duration) Option { return func(b *Backend) { b.expiry = d } }

// WithLockRetry sets the pause between attempts to take a held lock
// (default one second).
func WithLockRetry(d time.Duration) Option { return func(b *Backend) { b.retry = d } }

// New returns the state kept in the site client talks to, on the User of
// apiUser (the username the client signs in as). It does not contact the
// server.
func New(client *ftrack.Client, apiUser string, opts ...Option) *Backend {
	b := &Backend{c: client, apiUser: apiUser, ctx: context.Background(), newID: uuid.NewString,
		expiry: time.Hour, retry: time.Second, now: time.Now, gone: map[string]bool{}}
	for _, o := range opts {
		o(b)
	}
	return b
}

var _ state.Backend = (*Backend)(nil)

// Type is "ftrack".
func (b *Backend) Type() string { return "ftrack" }

// Describe names the API user and the site.
func (b *Backend) Describe() string {
	return "ftrack state on the API user " + strconv.Quote(b.apiUser) + " at " + b.c.ServerURL()
}

// userID finds the id of the API user's User: by an exact query when the
// name can be put into one, else (or when that finds nothing) by reading
// every user and matching locally, exactly first, then without case.
func (b *Backend) userID(ctx context.Context) (string, error) {
	if b.apiID != "" {
		return b.apiID, nil
	}
	var rows []ftrack.Entity
	if crit, ok := ftrack.Is("username", b.apiUser); ok {
		r, err := b.c.Query(ctx, "select id, username from User where "+crit)
		if err != nil {
			return "", fmt.Errorf("%s: finding the API user: %w", b.Describe(), err)
		}
		rows = r
	}
	if len(rows) == 0 {
		r, err := b.c.Query(ctx, "select id, username from User")
		if err != nil {
			return "", fmt.Errorf("%s: finding the API user: %w", b.Describe(), err)
		}
		rows = r
	}
	var exact, folded []string
	for _, u := range rows {
		switch name := u.String("username"); {
		case name == b.apiUser:
			exact = append(exact, u.String("id"))
		case strings.EqualFold(name, b.apiUser):
			folded = append(folded, u.String("id"))
		}
	}
	ids := exact
	if len(ids) == 0 {
		ids = folded
	}
	switch {
	case len(ids) == 0:
		return "", fmt.Errorf("%s: ftrack has no User named %s (the state lives on the API user's own account; check api_user)", b.Describe(), quote(b.apiUser))
	case len(ids) > 1:
		return "", fmt.Errorf("%s: %d Users are named %s without regard to case; the state needs exactly one", b.Describe(), len(ids), quote(b.apiUser))
	case !ftrack.IsID(ids[0]):
		return "", fmt.Errorf("%s: the API user's id %s is not an ftrack id", b.Describe(), quote(ids[0]))
	}
	b.apiID = ids[0]
	return b.apiID, nil
}

// perUser reports whether key is one of the keys kept on managed users.
func perUser(key string) bool { return key == KeyLastApplied || key == KeyMissingSince }

// siteData reports whether key, on the API user, belongs to the stored
// state (not the lock).
func siteData(key string) bool {
	return key == KeyState || strings.HasPrefix(key, statePrefix+".") || strings.HasPrefix(key, planPrefix)
}

// readAll reads every value of ours: the per-user keys on every user and
// the site keys on the API user, in one paged read.
func (b *Backend) readAll(ctx context.Context) (map[metaKey]string, map[string]bool, error) {
	api, err := b.userID(ctx)
	if err != nil {
		return nil, nil, err
	}
	onAPI, _ := ftrack.Is("parent_id", api)
	out := map[metaKey]string{}
	owned := map[string]bool{}
	take := func(rows []ftrack.MetadataRow) {
		for _, m := range rows {
			if m.ParentType != "" && m.ParentType != "User" {
				continue
			}
			if m.Key == ftrack.MetaOwner {
				owned[m.ParentID] = m.Value != ""
				continue
			}
			if perUser(m.Key) || (m.ParentID == api && siteData(m.Key)) {
				out[metaKey{m.ParentID, m.Key}] = m.Value
			}
		}
	}
	err = b.c.QueryPages(ctx, func(_ int, rows []ftrack.Entity) error {
		ms := make([]ftrack.MetadataRow, len(rows))
		for i, e := range rows {
			ms[i] = ftrack.MetadataRowOf(e)
		}
		take(ms)
		return nil
	},
		ftrack.MetadataQuery(`key in ("`+KeyLastApplied+`", "`+KeyMissingSince+`", "`+ftrack.MetaOwner+`")`, take),
		ftrack.MetadataQuery(onAPI+` and key like "ldapsync.%"`, take),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading: %w", b.Describe(), err)
	}
	return out, owned, nil
}

// Load reads the state. When the site record is absent, it returns an
// empty view with a new lineage (Exists false). A value that does not
// decode, a missing chunk or a checksum that does not match is an error
// naming the key and the user; a Save under way while Load reads (Load
// takes no lock) is recognised by the site record changing, and read
// again.
func (b *Backend) Load() (*engine.LastApplied, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx := b.ctx
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		stored, owned, err := b.readAll(ctx)
		if err != nil {
			return nil, err
		}
		la, order, err := b.decode(ctx, stored, owned)
		var ie *integrityError
		if errors.As(err, &ie) && attempt < 2 {
			now, rerr := b.readRoot(ctx)
			if rerr == nil && now != stored[metaKey{b.apiID, KeyState}] {
				lastErr = err
				continue // a Save moved the state on while we read: again
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w; %s", b.Describe(), err, remedy)
		}
		b.stored, b.order, b.loaded = stored, order, true
		if !la.Exists {
			if b.lineage == "" {
				b.lineage = b.newID()
			}
			la.Lineage = b.lineage
		}
		return la, nil
	}
	return nil, fmt.Errorf("%s: %w; %s", b.Describe(), lastErr, remedy)
}

// remedy is the advice of a state that cannot be read.
const remedy = "the state in ftrack is advisory (ownership markers keep managed users safe): fix or delete the value named, or delete every ldapsync.state and ldapsync.plan.* key on the API user to start afresh"

// readRoot reads the site record alone ("" when absent).
func (b *Backend) readRoot(ctx context.Context) (string, error) {
	vals, err := b.readKeys(ctx, []metaKey{{b.apiID, KeyState}})
	if err != nil {
		return "", err
	}
	return vals[metaKey{b.apiID, KeyState}], nil
}

// readKeys reads the current values of keys (absent ones are missing
// from the result).
func (b *Backend) readKeys(ctx context.Context, keys []metaKey) (map[metaKey]string, error) {
	want := map[metaKey]bool{}
	parents, names := map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		want[k] = true
		parents[k.parent], names[k.key] = true, true
	}
	byParent, err1 := ftrack.In("parent_id", slices.Sorted(maps.Keys(parents)))
	byKey, err2 := ftrack.In("key", slices.Sorted(maps.Keys(names)))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	out := map[metaKey]string{}
	take := func(rows []ftrack.MetadataRow) {
		for _, m := range rows {
			if k := (metaKey{m.ParentID, m.Key}); want[k] && (m.ParentType == "" || m.ParentType == "User") {
				out[k] = m.Value
			}
		}
	}
	err := b.c.QueryPages(ctx, func(_ int, rows []ftrack.Entity) error {
		for _, e := range rows {
			take([]ftrack.MetadataRow{ftrack.MetadataRowOf(e)})
		}
		return nil
	}, ftrack.MetadataQuery(byParent+" and "+byKey, take))
	return out, err
}

// decode builds the view from the stored values; owned are the users
// that carry an ownership marker.
func (b *Backend) decode(ctx context.Context, stored map[metaKey]string, owned map[string]bool) (*engine.LastApplied, map[string][]string, error) {
	api := b.apiID
	for k, v := range stored {
		if len(v) > MaxValueBytes && !perUser(k.key) {
			return nil, nil, fmt.Errorf("the value of %s on %s is %d bytes, more than the %d this backend accepts", k.key, b.userName(ctx, k.parent), len(v), MaxValueBytes)
		}
	}
	la := engine.NewLastApplied("")
	order := map[string][]string{}
	rootValue, exists := stored[metaKey{api, KeyState}]
	var bd body
	if exists {
		var r root
		if err := unmarshalStrict([]byte(rootValue), &r); err != nil {
			return nil, nil, fmt.Errorf("the site record %s on %s does not decode: %v", KeyState, b.userName(ctx, api), err)
		}
		major, _, _ := strings.Cut(r.FormatVersion, ".")
		if mj, err := strconv.Atoi(major); err != nil || mj < 1 {
			return nil, nil, fmt.Errorf("the site record %s on %s has format_version %s, not a version", KeyState, b.userName(ctx, api), quote(r.FormatVersion))
		} else if mj > 1 {
			return nil, nil, fmt.Errorf("the site record has format_version %s, newer than this ldapsync understands (%s); upgrade ldapsync", quote(r.FormatVersion), FormatVersion)
		}
		if r.Lineage == "" {
			return nil, nil, fmt.Errorf("the site record %s on %s has no lineage", KeyState, b.userName(ctx, api))
		}
		site := map[string]string{}
		for k, v := range stored {
			if k.parent == api {
				site[k.key] = v
			}
		}
		data, err := getBlob("the site record's body", statePrefix, r.Body, site, 0)
		if err != nil {
			return nil, nil, err
		}
		if err := unmarshalStrict(data, &bd); err != nil {
			return nil, nil, &integrityError{fmt.Sprintf("the site record's body (chunks %s.*) does not decode: %v", statePrefix, err)}
		}
		la.Lineage, la.Serial, la.Exists, la.ManagedGroups, la.ManagedRoles = r.Lineage, r.Serial, true, bd.ManagedGroups, bd.ManagedRoles
		for _, id := range bd.Plans {
			p, ids, err := decodePlan(id, site)
			if err != nil {
				return nil, nil, err
			}
			la.Plans[id] = p
			order[id] = ids
		}
		maps.Copy(la.Users, bd.Users)
		if len(bd.Missing) > 0 {
			la.Missing = maps.Clone(bd.Missing)
		}
	}
	if !exists {
		// Per-user values without a site record (a first Save that
		// never finished): not a state; the next Save replaces them.
		return la, order, nil
	}
	b.decodeUsers(ctx, la, stored, owned)
	return la, order, nil
}

// decodeUsers adds the per-user records to la. Only a user that carries
// an ownership marker may hold one: a record on any other user (anyone
// who may write Metadata can put one there) is left out, as is one that
// does not decode or is too big, and a join key two users claim is
// dropped for both (a crash in the middle of moving it, or a forgery:
// either way no record is the safe answer). Each is said through
// onWarning; the next Save deletes what is left out. Per-user records win
// over overflow entries of the same key (they are written first, so they
// are never older).
func (b *Backend) decodeUsers(ctx context.Context, la *engine.LastApplied, stored map[metaKey]string, owned map[string]bool) {
	var parents []metaKey
	for k := range stored {
		if k.key == KeyLastApplied {
			parents = append(parents, k)
		}
	}
	sort.Slice(parents, func(i, j int) bool { return parents[i].parent < parents[j].parent })
	users := map[string]engine.AppliedUser{}
	claims := map[string][]string{}
	named := 0
	// who names a user in a warning: by username for the first few (one
	// query each), by id after that, so that a site full of stray records
	// costs no query per record.
	who := func(id string) string {
		if named++; named <= 5 {
			return b.userName(ctx, id)
		}
		return "user " + quote(id)
	}
	for _, k := range parents {
		v := stored[k]
		switch {
		case !owned[k.parent]:
			b.warn(fmt.Sprintf("%s on %s is left out: that user has no ownership marker (%s), so the record is not ldapsync's", KeyLastApplied, who(k.parent), ftrack.MetaOwner))
			continue
		case len(v) > MaxValueBytes:
			b.warn(fmt.Sprintf("%s on %s is left out: %d bytes, more than the %d this backend accepts", KeyLastApplied, who(k.parent), len(v), MaxValueBytes))
			continue
		}
		key, u, err := decodeUser(k.parent, v)
		if err != nil {
			b.warn(fmt.Sprintf("%s on %s is left out: it does not decode: %v (value %s)", KeyLastApplied, who(k.parent), err, quote(v)))
			continue
		}
		users[key] = u
		claims[key] = append(claims[key], k.parent)
	}
	for _, key := range slices.Sorted(maps.Keys(claims)) {
		ids := claims[key]
		if len(ids) > 1 {
			names := make([]string, len(ids))
			for i, id := range ids {
				names[i] = who(id)
			}
			b.warn(fmt.Sprintf("%s of user.%s is left out: %s all claim it", KeyLastApplied, quote(key), strings.Join(names, ", ")))
			delete(users, key)
			delete(la.Users, key)
			if la.Missing != nil {
				delete(la.Missing, key)
			}
			continue
		}
		la.Users[key] = users[key]
	}
	keyOf := make(map[string]string, len(la.Users))
	for k, u := range la.Users {
		keyOf[u.TargetID] = k
	}
	for k, v := range stored {
		if k.key != KeyMissingSince {
			continue
		}
		key, ok := keyOf[k.parent]
		if !ok {
			continue // no record beside it: the next Save deletes it
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			b.warn(fmt.Sprintf("%s on %s is left out: not an RFC 3339 time: %s (the grace clock starts again)", KeyMissingSince, who(k.parent), quote(v)))
			continue
		}
		if la.Missing == nil {
			la.Missing = map[string]time.Time{}
		}
		la.Missing[key] = t.UTC()
	}
}

// warn reports a record Load leaves out.
func (b *Backend) warn(msg string) {
	if b.onWarning != nil {
		b.onWarning(msg)
	}
}

// decodePlan reads one journal entry from the site's values.
func decodePlan(id string, site map[string]string) (engine.AppliedPlan, []string, error) {
	name := planName(id)
	hk := planPrefix + name
	hv, ok := site[hk]
	if !ok {
		return engine.AppliedPlan{}, nil, &integrityError{fmt.Sprintf("the journal of plan %s (key %s) is missing", quote(id), hk)}
	}
	var h planHeader
	if err := unmarshalStrict([]byte(hv), &h); err != nil {
		return engine.AppliedPlan{}, nil, fmt.Errorf("the journal header %s does not decode: %v", hk, err)
	}
	if h.ID != id {
		return engine.AppliedPlan{}, nil, fmt.Errorf("the journal header %s is of plan %s, not %s", hk, quote(h.ID), quote(id))
	}
	data, err := getBlob("the journal of plan "+quote(id), hk, h.Outcomes, site, 0)
	if err != nil {
		return engine.AppliedPlan{}, nil, err
	}
	p := engine.AppliedPlan{Status: h.Status, BaseSerial: h.BaseSerial, Serial: h.Serial, StartedAt: h.StartedAt, FinishedAt: h.FinishedAt}
	ids, err := parsePlanLines(data, &p)
	if err != nil {
		return engine.AppliedPlan{}, nil, &integrityError{fmt.Sprintf("the journal of plan %s (chunks %s.*): %v", quote(id), hk, err)}
	}
	return p, ids, nil
}

// userName names a user for a message: its id, and its username when it
// can be read.
func (b *Backend) userName(ctx context.Context, id string) string {
	s := "user " + quote(id)
	if crit, ok := ftrack.Is("id", id); ok {
		if rows, err := b.c.Query(ctx, "select username from User where "+crit); err == nil && len(rows) == 1 {
			s += " (" + quote(rows[0].String("username")) + ")"
		}
	}
	if id == b.apiID {
		s += ", the API user"
	}
	return s
}
