package ftrackstate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/providers/ftrack"
)

// change is one value to write (del: to delete).
type change struct {
	k     metaKey
	value string
	del   bool
}

// Save writes what changed in la since the last Load or Save, in this
// order: the per-user values; the new chunks of the site record's body
// and of the journal; then, in one request (all or nothing), the journal
// headers that changed and the site record; last, the chunks and headers
// nothing refers to any more are deleted. See the package comment for
// what a crash at each step leaves.
func (b *Backend) Save(la *engine.LastApplied) error {
	if la == nil || la.Lineage == "" {
		return fmt.Errorf("%s: refusing to save a state without lineage", b.Describe())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx := b.ctx
	if err := b.save(ctx, la); err != nil {
		return fmt.Errorf("%s: saving: %w", b.Describe(), err)
	}
	b.lineage = la.Lineage
	return nil
}

func (b *Backend) save(ctx context.Context, la *engine.LastApplied) error {
	if !b.loaded {
		stored, _, err := b.readAll(ctx)
		if err != nil {
			return err
		}
		b.stored, b.order, b.loaded = stored, map[string][]string{}, true
	}
	api := b.apiID
	if err := b.sameLineage(la); err != nil {
		return err
	}
	if err := b.stillHeld(ctx); err != nil {
		return err
	}

	// 1. Per-user values. A user found gone moves its entries to the
	// overflow; the loop ends when no write finds another one.
	var overflow body
	for round := 0; ; round++ {
		desired, ov, err := b.userValues(la)
		if err != nil {
			return err
		}
		overflow = ov
		var changes []change
		for k, v := range desired {
			if cur, ok := b.stored[k]; !ok || cur != v {
				changes = append(changes, change{k: k, value: v})
			}
		}
		for k := range b.stored {
			if perUser(k.key) && k.parent != api {
				if _, ok := desired[k]; !ok {
					changes = append(changes, change{k: k, del: true})
				}
			}
		}
		sortChanges(changes)
		found, err := b.write(ctx, changes)
		if err != nil {
			return err
		}
		if !found || round > 3 {
			break
		}
	}

	// 2. The site's values: body and journal chunks, headers, the record.
	ids := planOrder(la.Plans)
	site := map[string]string{}
	overflow.ManagedGroups, overflow.ManagedRoles, overflow.Plans = la.ManagedGroups, la.ManagedRoles, ids
	data, err := marshal(overflow)
	if err != nil {
		return err
	}
	r := root{FormatVersion: FormatVersion, Lineage: la.Lineage, Serial: la.Serial, Body: putBlob(statePrefix, splitFixed(data), site)}
	orders := map[string][]string{}
	headers := map[string]string{}
	for _, id := range ids {
		p := la.Plans[id]
		lines, cuts, order, err := planLines(p, b.order[id])
		if err != nil {
			return err
		}
		orders[id] = order
		hk := planPrefix + planName(id)
		h := planHeader{ID: id, Status: p.Status, BaseSerial: p.BaseSerial, Serial: p.Serial, StartedAt: p.StartedAt, FinishedAt: p.FinishedAt,
			Outcomes: putBlob(hk, cutLines(lines, cuts), site)}
		hv, err := marshal(h)
		if err != nil {
			return err
		}
		if len(hv) > maxChunk {
			return fmt.Errorf("the journal header of plan %s would be %d bytes, more than %d", quote(id), len(hv), maxChunk)
		}
		headers[hk] = string(hv)
	}
	rv, err := marshal(r)
	if err != nil {
		return err
	}
	if len(rv) > maxChunk {
		return fmt.Errorf("the site record would be %d bytes, more than %d", len(rv), maxChunk)
	}
	var chunks, final, stale []change
	for k, v := range site {
		if cur, ok := b.stored[metaKey{api, k}]; !ok || cur != v {
			chunks = append(chunks, change{k: metaKey{api, k}, value: v})
		}
	}
	for k, v := range headers {
		if cur, ok := b.stored[metaKey{api, k}]; !ok || cur != v {
			final = append(final, change{k: metaKey{api, k}, value: v})
		}
	}
	sortChanges(chunks)
	sortChanges(final)
	if cur, ok := b.stored[metaKey{api, KeyState}]; !ok || cur != string(rv) {
		final = append(final, change{k: metaKey{api, KeyState}, value: string(rv)})
	}
	for k := range b.stored {
		if k.parent != api || !siteData(k.key) || k.key == KeyState {
			continue
		}
		if _, ok := site[k.key]; ok {
			continue
		}
		if _, ok := headers[k.key]; ok {
			continue
		}
		stale = append(stale, change{k: k, del: true})
	}
	sortChanges(stale)
	if _, err := b.write(ctx, chunks); err != nil {
		return err
	}
	if len(final) > 0 {
		if err := b.stillHeld(ctx); err != nil { // again: the per-user step may have taken a while
			return err
		}
	}
	if _, err := b.write(ctx, final); err != nil { // one request unless over batchSize headers changed
		return err
	}
	b.order = orders
	if _, err := b.write(ctx, stale); err != nil {
		return fmt.Errorf("the state is saved, but deleting what it no longer uses failed (the next save tries again): %w", err)
	}
	return nil
}

// sortChanges orders changes by parent and key, so that requests are
// deterministic.
func sortChanges(cs []change) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].k.parent != cs[j].k.parent {
			return cs[i].k.parent < cs[j].k.parent
		}
		return cs[i].k.key < cs[j].k.key
	})
}

// userValues returns the per-user values la asks for, and the entries
// that go to the site record's overflow instead: those whose user is not
// an ftrack id or is gone, whose id another key has already claimed (in
// key order), and records too big for one value.
func (b *Backend) userValues(la *engine.LastApplied) (map[metaKey]string, body, error) {
	desired := map[metaKey]string{}
	var ov body
	keys := slices.Sorted(maps.Keys(la.Users))
	placed := map[string]string{} // key -> parent
	for _, k := range keys {
		u := la.Users[k]
		id := u.TargetID
		mk := metaKey{id, KeyLastApplied}
		_, claimed := desired[mk]
		if ftrack.IsID(id) && !b.gone[id] && !claimed && id != b.apiID {
			v, err := encodeUser(k, u)
			if err != nil {
				return nil, body{}, err
			}
			if len(v) <= maxChunk {
				desired[mk] = v
				placed[k] = id
				continue
			}
		}
		if ov.Users == nil {
			ov.Users = map[string]engine.AppliedUser{}
		}
		ov.Users[k] = u
	}
	for k, t := range la.Missing {
		if id, ok := placed[k]; ok {
			desired[metaKey{id, KeyMissingSince}] = t.UTC().Format(time.RFC3339Nano)
			continue
		}
		if ov.Missing == nil {
			ov.Missing = map[string]time.Time{}
		}
		ov.Missing[k] = t.UTC()
	}
	return desired, ov, nil
}

// write sends changes in requests of at most batchSize operations, each
// planned against what the backend last saw in ftrack (create, update or
// delete). When the server rejects a request (a value someone deleted or
// created by hand, a user deleted since), the values it touches and the
// existence of their users are read afresh and the request planned and
// sent once more; found reports that some user turned out to be gone
// (their values belong in the overflow: the caller plans again).
func (b *Backend) write(ctx context.Context, changes []change) (found bool, err error) {
	for start := 0; start < len(changes); start += batchSize {
		part := changes[start:min(start+batchSize, len(changes))]
		ops := b.ops(part)
		if len(ops) == 0 {
			continue
		}
		_, err := b.c.Write(ctx, ops)
		if err == nil {
			b.commit(part)
			continue
		}
		if !ftrack.IsRejection(err) {
			return found, err
		}
		gone, rerr := b.refresh(ctx, part)
		if rerr != nil {
			return found, fmt.Errorf("%w (and reading back what it touched failed: %v)", err, rerr)
		}
		var rest []change
		for _, c := range part {
			if gone[c.k.parent] {
				found = true
				continue
			}
			rest = append(rest, c)
		}
		if ops := b.ops(rest); len(ops) > 0 {
			if _, err2 := b.c.Write(ctx, ops); err2 != nil {
				return found, err2
			}
		}
		b.commit(rest)
	}
	return found, nil
}

// ops plans changes against b.stored.
func (b *Backend) ops(cs []change) []ftrack.Operation {
	var ops []ftrack.Operation
	for _, c := range cs {
		cur, has := b.stored[c.k]
		key := []string{c.k.parent, c.k.key}
		switch {
		case c.del && has:
			ops = append(ops, ftrack.DeleteOp("Metadata", key))
		case c.del:
		case !has:
			ops = append(ops, ftrack.CreateOp("Metadata", key, map[string]any{"value": c.value, "parent_type": "User"}))
		case cur != c.value:
			ops = append(ops, ftrack.UpdateOp("Metadata", key, map[string]any{"value": c.value}))
		}
	}
	return ops
}

// commit records written changes in b.stored.
func (b *Backend) commit(cs []change) {
	for _, c := range cs {
		if c.del {
			delete(b.stored, c.k)
		} else {
			b.stored[c.k] = c.value
		}
	}
}

// refresh reads the values cs touch and whether their users exist,
// updates b.stored, and returns the users that are gone.
func (b *Backend) refresh(ctx context.Context, cs []change) (map[string]bool, error) {
	keys := make([]metaKey, len(cs))
	parents := map[string]bool{}
	for i, c := range cs {
		keys[i] = c.k
		parents[c.k.parent] = true
	}
	vals, err := b.readKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if v, ok := vals[k]; ok {
			b.stored[k] = v
		} else {
			delete(b.stored, k)
		}
	}
	crit, err := ftrack.In("id", slices.Sorted(maps.Keys(parents)))
	if err != nil {
		return nil, err
	}
	rows, err := b.c.Query(ctx, "select id from User where "+crit)
	if err != nil {
		return nil, err
	}
	gone := maps.Clone(parents)
	for _, r := range rows {
		delete(gone, r.String("id"))
	}
	for id := range gone {
		if id == b.apiID {
			return nil, errors.New("the API user's own User is gone: the state has nowhere to live")
		}
		b.gone[id] = true
	}
	return gone, nil
}

// sameLineage refuses to write la over a stored state of another lineage
// (a run that lost its lock to a run that started afresh, a state block
// pointed at another site's state): as the http backend does.
func (b *Backend) sameLineage(la *engine.LastApplied) error {
	raw, ok := b.stored[metaKey{b.apiID, KeyState}]
	if !ok {
		return nil
	}
	var r root
	if err := unmarshalStrict([]byte(raw), &r); err != nil || r.Lineage == "" {
		return nil // Load reported it; a save repairs it
	}
	if r.Lineage != la.Lineage {
		return fmt.Errorf("the stored state has lineage %s (serial %d), not %s: refusing to replace another state", quote(r.Lineage), r.Serial, quote(la.Lineage))
	}
	return nil
}

// stillHeld refuses to write when this backend took the lock and no
// longer holds it (force-unlocked, or taken over): a run that lost its
// lock stops before its next write instead of writing beside another.
// A Save without Lock (tests, a first look) is not checked.
func (b *Backend) stillHeld(ctx context.Context) error {
	h := b.held
	if h == nil {
		return nil
	}
	h.mu.Lock()
	lost := h.lost
	h.mu.Unlock()
	if lost == "" {
		cur, _, err := b.readLock(ctx)
		if err != nil {
			return fmt.Errorf("checking the lock before writing: %w", err)
		}
		if cur == nil || !cur.ok || cur.v.ID != h.id {
			lost = lostTo(cur)
			h.mu.Lock()
			h.lost = lost
			h.mu.Unlock()
		}
	}
	if lost != "" {
		return fmt.Errorf("this run's lock %s is gone (%s): nothing more is written; make a new plan once the other run is done", quote(h.id), lost)
	}
	return nil
}
