package ftrack

// ReadAccounts' rows while the read runs. The end of that read is a
// steady-state plan's peak of memory: every directory user is held by
// then, and every account arrives as a row. The ownership markers are two
// Metadata rows per account; kept as rows until the read ended, with their
// parent ids, they were about 140 bytes per account at that peak. Here a
// marker goes onto its account's row as it arrives, and only the markers
// of accounts not read yet wait (the User and Metadata queries both run
// in id order, the users ahead, so few wait).
//
// The result is the one of applying every marker after the read, in the
// order they arrived, to the last row of its parent id (as byID kept the
// last row of an id): each marker carries its arrival number, a waiting
// marker is applied at the end only over an older one, and a second row
// of an id takes over the first one's markers.

// acctRow is a User row as ReadAccounts keeps it until the accounts are
// made: its attributes (without the optString flags of userRow) and its
// markers with their arrival numbers (0: none yet).
type acctRow struct {
	id, username, email, firstName, lastName, typeID string
	owner, sourceID                                  string
	ownerSeq, sourceIDSeq                            int32
	active                                           bool
}

// pendingMarker is a marker whose account was not read yet.
type pendingMarker struct {
	parent, key, value string
	seq                int32
}

// accountRows collects the User rows and their markers.
type accountRows struct {
	rows    chunked[acctRow]
	byID    map[string]int32 // id -> its last row
	pending chunked[pendingMarker]
	seq     int32
}

func newAccountRows() *accountRows { return &accountRows{byID: map[string]int32{}} }

// add appends a User row.
func (a *accountRows) add(r acctRow) {
	i := int32(a.rows.len())
	if j, dup := a.byID[r.id]; dup { // the markers go with the last row of an id
		old := a.rows.at(int(j))
		r.owner, r.sourceID, r.ownerSeq, r.sourceIDSeq = old.owner, old.sourceID, old.ownerSeq, old.sourceIDSeq
		old.owner, old.sourceID, old.ownerSeq, old.sourceIDSeq = "", "", 0, 0
	}
	a.byID[r.id] = i
	a.rows.add(r)
}

// marker takes one ownership Metadata row of a User.
func (a *accountRows) marker(parent, key, value string) {
	if key != MetaOwner && key != MetaSourceID {
		return
	}
	a.seq++
	if i, ok := a.byID[parent]; ok {
		a.rows.at(int(i)).set(key, value, a.seq)
		return
	}
	a.pending.add(pendingMarker{parent, key, value, a.seq})
}

// set sets the marker key to value unless a later one is set already.
func (r *acctRow) set(key, value string, seq int32) {
	switch key {
	case MetaOwner:
		if seq > r.ownerSeq {
			r.owner, r.ownerSeq = value, seq
		}
	case MetaSourceID:
		if seq > r.sourceIDSeq {
			r.sourceID, r.sourceIDSeq = value, seq
		}
	}
}

// finish applies the waiting markers whose accounts were read.
func (a *accountRows) finish() {
	a.pending.each(func(_ int, m *pendingMarker) {
		if i, ok := a.byID[m.parent]; ok {
			a.rows.at(int(i)).set(m.key, m.value, m.seq)
		}
	})
	a.pending = chunked[pendingMarker]{}
}
