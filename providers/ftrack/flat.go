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
// through the general decoder, so the result is the same either way.

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/ldapsync/ldapsync/engine"
)

// noFlatDecode turns flat decoding off (tests compare both paths).
var noFlatDecode = false

// flatDecoder decodes one page of a query from its raw result element.
// It returns the number of rows and the next offset (-1: none) and a
// commit function that hands the rows to the caller; ok is false when the
// page needs the general decoder. Nothing is handed over before commit.
type flatDecoder func(raw json.RawMessage) (rows, next int, commit func(), ok bool)

// optString is a string attribute that remembers whether the row had it.
// A value that is not a JSON string reads as "" (as Entity.String does).
type optString struct {
	s   string
	set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optString) UnmarshalJSON(b []byte) error {
	o.set = true
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && plainJSONString(b[1:len(b)-1]) {
		o.s = string(b[1 : len(b)-1])
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.s, _ = v.(string)
	return nil
}

// plainJSONString reports whether b, the inside of a JSON string, has no
// escapes and is valid UTF-8, so its bytes are the string's value.
func plainJSONString(b []byte) bool {
	return bytes.IndexByte(b, '\\') < 0 && bytes.IndexByte(b, '"') < 0 && utf8.Valid(b)
}

// optBool is a boolean attribute that remembers whether the row had it.
// A value that is not a JSON boolean reads as false.
type optBool struct {
	v, set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optBool) UnmarshalJSON(b []byte) error {
	o.set = true
	switch string(b) {
	case "true":
		o.v = true
		return nil
	case "false":
		o.v = false
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.v, _ = v.(bool)
	return nil
}

// flatResult is a query result element with rows of type R.
type flatResult[R any] struct {
	Data     *[]R `json:"data"`
	Metadata any  `json:"metadata"`
}

// decodeFlat decodes a query result whose rows are R; complete reports
// whether a row carries every projected attribute. ok is false when the
// element is not what the general decoder would accept without merging.
func decodeFlat[R any](raw json.RawMessage, complete func(*R) bool) (rows []R, next int, ok bool) {
	var res flatResult[R]
	if err := json.Unmarshal(raw, &res); err != nil || res.Data == nil {
		return nil, 0, false
	}
	for i := range *res.Data {
		if !complete(&(*res.Data)[i]) {
			return nil, 0, false
		}
	}
	next = -1
	if md, isMap := res.Metadata.(map[string]any); isMap {
		if nx, isMap := md["next"].(map[string]any); isMap {
			if f, isNum := nx["offset"].(float64); isNum && f == float64(int(f)) {
				next = int(f)
			} else if nx["offset"] != nil {
				return nil, 0, false // let the general decoder read it
			}
		}
	}
	return *res.Data, next, true
}

// flatRows is a flatDecoder for rows of type R: complete checks a row,
// deliver receives a page's rows at commit.
func flatRows[R any](complete func(*R) bool, deliver func([]R)) flatDecoder {
	return func(raw json.RawMessage) (int, int, func(), bool) {
		rows, next, ok := decodeFlat(raw, complete)
		if !ok {
			return 0, 0, nil, false
		}
		return len(rows), next, func() { deliver(rows) }, true
	}
}

// The rows of ReadAccounts' four queries.
type (
	userRow struct {
		ID        optString `json:"id"`
		Username  optString `json:"username"`
		Email     optString `json:"email"`
		FirstName optString `json:"first_name"`
		LastName  optString `json:"last_name"`
		IsActive  optBool   `json:"is_active"`
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

// flatUsers decodes pages of "select id, username, email, first_name,
// last_name, is_active from User" into accounts, as ReadAccounts' general
// path does.
func flatUsers(accts *[]engine.Account) flatDecoder {
	return flatRows(func(r *userRow) bool {
		return r.ID.set && r.Username.set && r.Email.set && r.FirstName.set && r.LastName.set && r.IsActive.set
	}, func(rows []userRow) {
		for _, u := range rows {
			*accts = append(*accts, engine.Account{
				ID: u.ID.s, Username: u.Username.s, Email: u.Email.s,
				FirstName: u.FirstName.s, LastName: u.LastName.s, Active: u.IsActive.v,
			})
		}
	})
}
