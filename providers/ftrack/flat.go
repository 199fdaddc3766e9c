package ftrack

// Flat pages: ReadAccounts reads every user, metadata row, membership and
// group of a site, and decoding those pages into Entity maps (and merging
// entity occurrences across the response, see decode.go) cost more CPU
// than the rest of a 100k-user plan on the client side. A flat query has
// no relations, so each row is complete where it stands: a PagedQuery may
// carry a flat decoder that reads its rows straight into small structs.
// Every row must carry every projected attribute; a row that does not
// (an entity reference, which a normalised response uses for an entity
// encoded elsewhere in it) or any other surprise sends the whole response
// through the general decoder, so the result is the same either way. A
// response whose queries all have flat decoders is read in one pass over
// its bytes (scan.go), with no json.RawMessage split and no Entity built.

// noFlatDecode turns flat decoding off (tests compare both paths).
var noFlatDecode = false

// flatDecoder decodes one page of a query from the scanner, which is at
// the page's result element, and leaves the scanner after it. ok is false
// when the page needs the general decoder. Nothing is handed over before
// the page's commit.
type flatDecoder func(s *scanner) (pg flatPage, ok bool)

// flatPage is one query's page decoded by its flat decoder: the number of
// rows, the next offset (-1: none), the order keys of its first and last
// rows, and commit, which hands the first n rows to the caller.
type flatPage struct {
	rows, next  int
	first, last string
	commit      func(n int)
}

// optString is a string attribute that remembers whether the row had it.
// A value that is not a JSON string reads as "" (as Entity.String does).
type optString struct {
	s   string
	set bool
}

// optBool is a boolean attribute that remembers whether the row had it.
// A value that is not a JSON boolean reads as false.
type optBool struct {
	v, set bool
}

// flatRows is a flatDecoder for rows of type R: complete checks a row,
// deliver receives a page's rows at commit.
func flatRows[R any, P interface {
	*R
	flatRow
}](complete func(P) bool, deliver func([]R)) flatDecoder {
	return func(s *scanner) (flatPage, bool) {
		rows, next, ok := scanFlat[R, P](s, complete)
		if !ok {
			return flatPage{}, false
		}
		pg := flatPage{rows: len(rows), next: next, commit: func(n int) {
			if n > 0 {
				deliver(rows[:n])
			}
		}}
		if len(rows) > 0 {
			pg.first, pg.last = P(&rows[0]).key(), P(&rows[len(rows)-1]).key()
		}
		return pg, true
	}
}

// The rows of ReadAccounts' queries (groupRow serves Group and UserType).
type (
	userRow struct {
		ID        optString `json:"id"`
		Username  optString `json:"username"`
		Email     optString `json:"email"`
		FirstName optString `json:"first_name"`
		LastName  optString `json:"last_name"`
		IsActive  optBool   `json:"is_active"`
		// UserTypeID is resolved to the type's name after the read.
		UserTypeID optString `json:"user_type_id"`
	}
	metaRow struct {
		ParentID   optString `json:"parent_id"`
		Key        optString `json:"key"`
		Value      optString `json:"value"`
		ParentType optString `json:"parent_type"`
	}
	memberRow struct {
		ID      optString `json:"id"`
		UserID  optString `json:"user_id"`
		GroupID optString `json:"group_id"`
	}
	groupRow struct {
		ID   optString `json:"id"`
		Name optString `json:"name"`
	}
)

func (r *userRow) field(k []byte) (*optString, *optBool) {
	switch string(k) {
	case "id":
		return &r.ID, nil
	case "username":
		return &r.Username, nil
	case "email":
		return &r.Email, nil
	case "first_name":
		return &r.FirstName, nil
	case "last_name":
		return &r.LastName, nil
	case "is_active":
		return nil, &r.IsActive
	case "user_type_id":
		return &r.UserTypeID, nil
	}
	return nil, nil
}

func (r *userRow) key() string { return r.ID.s }

func (r *metaRow) field(k []byte) (*optString, *optBool) {
	switch string(k) {
	case "parent_id":
		return &r.ParentID, nil
	case "key":
		return &r.Key, nil
	case "value":
		return &r.Value, nil
	case "parent_type":
		return &r.ParentType, nil
	}
	return nil, nil
}

// key is in the order Metadata is read: "parent_id, key".
func (r *metaRow) key() string { return r.ParentID.s + "\x00" + r.Key.s }

func (r *memberRow) field(k []byte) (*optString, *optBool) {
	switch string(k) {
	case "id":
		return &r.ID, nil
	case "user_id":
		return &r.UserID, nil
	case "group_id":
		return &r.GroupID, nil
	}
	return nil, nil
}

func (r *memberRow) key() string { return r.ID.s }

func (r *groupRow) field(k []byte) (*optString, *optBool) {
	switch string(k) {
	case "id":
		return &r.ID, nil
	case "name":
		return &r.Name, nil
	}
	return nil, nil
}

func (r *groupRow) key() string { return r.ID.s }

// flatUsers decodes pages of "select id, username, email, first_name,
// last_name, is_active, user_type_id from User" into account rows, as
// ReadAccounts' general path does: typeID holds the type's id until
// ReadAccounts resolves it to the name.
func flatUsers(accts *accountRows) flatDecoder {
	return flatRows(func(r *userRow) bool {
		return r.ID.set && r.Username.set && r.Email.set && r.FirstName.set && r.LastName.set && r.IsActive.set && r.UserTypeID.set
	}, func(rows []userRow) {
		for i := range rows {
			u := &rows[i]
			accts.add(acctRow{id: u.ID.s, username: u.Username.s, email: u.Email.s, firstName: u.FirstName.s,
				lastName: u.LastName.s, active: u.IsActive.v, typeID: u.UserTypeID.s})
		}
	})
}

// flatNamed decodes pages of "select id, name from ..." (groups, user
// types) into id and name entities appended to rows.
func flatNamed(rows *[]Entity) flatDecoder {
	return flatRows(func(r *groupRow) bool { return r.ID.set && r.Name.set }, func(page []groupRow) {
		for _, g := range page {
			*rows = append(*rows, Entity{"id": g.ID.s, "name": g.Name.s})
		}
	})
}

// chunked collects values in fixed-size chunks: appending 100,000 rows to
// one slice copied them about five times over as it grew (and a doubling
// slice left up to half its room unused at the peak). The rows are read
// where they are, by index, once the read is complete.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

// rowChunk is the number of values in one chunk of a chunked.
const rowChunk = 4096

// add appends v.
func (c *chunked[T]) add(v T) {
	if c.n%rowChunk == 0 {
		c.chunks = append(c.chunks, make([]T, 0, rowChunk))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, v)
	c.n++
}

// len is the number of values added.
func (c *chunked[T]) len() int { return c.n }

// at returns the i-th value added.
func (c *chunked[T]) at(i int) *T { return &c.chunks[i/rowChunk][i%rowChunk] }

// each calls f with every value, in the order they were added.
func (c *chunked[T]) each(f func(i int, v *T)) {
	i := 0
	for _, ch := range c.chunks {
		for j := range ch {
			f(i, &ch[j])
			i++
		}
	}
}
