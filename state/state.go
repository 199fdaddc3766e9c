// Package state keeps ldapsync's last-applied view in a local JSON file.
//
// The file is written atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory) and the previous version is kept
// beside it as PATH.backup. Two lock files, PATH.lock and
// PATH.lock-guard (flock, see lockState), make sure two applies never run
// at once, even when one of them is deleted during a run. Members a later
// 1.x version wrote (top-level, or inside an entry of users or plans) are
// kept through a Load and Save. The
// file holds no secrets: usernames, names, e-mail addresses, ids and the
// apply journal only.
//
// A state file that does not exist yet is not an error: Open gives it a new
// lineage, Load returns an empty view, and the first Save creates it.
package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/gofrs/flock"
	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
	"github.com/ldapsync/ldapsync/state/atomicfile"
)

// FormatVersion is the state file format, MAJOR.MINOR.
const FormatVersion = "1.0"

// Store is a state file on the local disk.
type Store struct {
	path    string
	lineage string // for a file that does not exist yet
	newID   func() string
	// extra holds the top-level members of the file last loaded that this
	// version does not know (a later 1.x wrote them), written back by
	// Save for the same lineage, so an older ldapsync does not drop them.
	extra map[string]json.RawMessage
	// entryExtra holds, the same way, the members of each entry of users
	// and plans that this version does not know (a later 1.x added a field
	// to a user record), keyed by the entry. An entry an apply removes or
	// renames loses them; one it updates keeps them beside its updated
	// known fields.
	entryExtra   map[entryRef]map[string]json.RawMessage
	extraLineage string
}

// Option configures a Store.
type Option func(*Store)

// WithIDGenerator sets the generator of the lineage of a new state file
// (tests use a deterministic one).
func WithIDGenerator(f func() string) Option { return func(s *Store) { s.newID = f } }

// file is the on-disk form.
type file struct {
	FormatVersion string `json:"format_version"`
	engine.LastApplied
}

// Open returns the store for path. When the file does not exist, a new
// lineage is chosen; the file is created by the first Save.
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("state: no path given")
	}
	s := &Store{path: path, newID: uuid.NewString}
	for _, o := range opts {
		o(s)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		s.lineage = s.newID()
	} else if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return s, nil
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Lock takes the exclusive lock on the state, waiting up to timeout; the
// returned function releases it. See lockState: two lock files,
// PATH.lock and PATH.lock-guard, each checked to be the file its path
// names, so that deleting one during a run does not let a second run in.
func (s *Store) Lock(ctx context.Context, _ LockInfo, timeout time.Duration) (func() error, error) {
	if dir := filepath.Dir(s.path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("state lock %s: %w", s.path+".lock", err)
		}
	}
	return lockState(ctx, s.path, timeout)
}

// ForceUnlock has nothing to release: a local lock is a flock, which ends
// with the process that holds it, however that ends.
func (s *Store) ForceUnlock(context.Context, string) error {
	return fmt.Errorf("state file %s: a local lock cannot be left behind (it is a flock, released when the process holding it ends, even by a crash); if apply says it is locked, another run is still going: wait for it", s.path)
}

// Describe names the state file.
func (s *Store) Describe() string { return "state file " + s.path }

// Type is "local".
func (s *Store) Type() string { return "local" }

// Load reads the state. A missing file gives an empty view with the
// store's new lineage.
func (s *Store) Load() (*engine.LastApplied, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		if s.lineage == "" {
			s.lineage = s.newID()
		}
		s.extra, s.entryExtra, s.extraLineage = nil, nil, ""
		return engine.NewLastApplied(s.lineage), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.path, err)
	}
	la, err := Unmarshal(data)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("state %s is corrupt (%v); restore it from %s.backup or move it away to start afresh (ownership markers in ftrack keep managed users safe)", s.path, ce.Err, s.path)
		}
		return nil, fmt.Errorf("state %s: %w", s.path, err)
	}
	s.extra, s.entryExtra = unknownMembers(data)
	s.extraLineage = la.Lineage
	return la, nil
}

// CorruptError is a stored state that cannot be read as one.
type CorruptError struct{ Err error }

// Error implements error.
func (e *CorruptError) Error() string { return "the state is corrupt: " + e.Err.Error() }

// Unmarshal reads a state document (the state file's format, which the
// http backend stores inside its own wrapper): a format_version of major version 1
// (a newer one is refused, naming the upgrade), a lineage. The view has
// Exists set.
func Unmarshal(data []byte) (*engine.LastApplied, error) {
	// The v2 decoder with v1's semantics reads a state file in about half
	// encoding/json's time (100,000 users: 0.26 s instead of 0.49 s; a
	// steady-state plan loads one); a document it refuses is read by
	// encoding/json, whose verdict and message stand.
	var f file
	if err := jsonv2.Unmarshal(data, &f, jsonv1.DefaultOptionsV1()); err == nil && f.FormatVersion == FormatVersion {
		return loaded(f)
	}
	return unmarshalV1(data)
}

// unmarshalV1 is Unmarshal by encoding/json: the format version first,
// then the document.
func unmarshalV1(data []byte) (*engine.LastApplied, error) {
	var head struct {
		FormatVersion string `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &CorruptError{fmt.Errorf("not valid JSON: %v", err)}
	}
	major, _, _ := strings.Cut(head.FormatVersion, ".")
	if mj, err := strconv.Atoi(major); err != nil || mj < 1 {
		return nil, &CorruptError{fmt.Errorf("format_version %q is not a version", head.FormatVersion)}
	} else if mj > 1 {
		return nil, fmt.Errorf("the state has format_version %s, newer than this ldapsync understands (%s); upgrade ldapsync", head.FormatVersion, FormatVersion)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, &CorruptError{err}
	}
	return loaded(f)
}

// loaded checks a decoded state file and returns its view.
func loaded(f file) (*engine.LastApplied, error) {
	if f.Lineage == "" {
		return nil, &CorruptError{errors.New("it has no lineage")}
	}
	la := f.LastApplied
	la.Exists = true
	if la.Users == nil {
		la.Users = map[string]engine.AppliedUser{}
	}
	if la.Plans == nil {
		la.Plans = map[string]engine.AppliedPlan{}
	}
	return &la, nil
}

// Marshal encodes la as a state document (indented, the state file's
// format).
func Marshal(la *engine.LastApplied) ([]byte, error) {
	if la == nil || la.Lineage == "" {
		return nil, errors.New("refusing to save a state without lineage")
	}
	// The bytes are encoding/json's (an Encoder with SetIndent("", "  ")
	// and SetEscapeHTML(false)), written in one pass by the v2 encoder with
	// v1's semantics: encoding/json indents in a second pass over its
	// compact output, which was half of saving the state after each batch
	// of an apply (TestMarshalIsEncodingJSON holds the two equal).
	var buf bytes.Buffer
	err := jsonv2.MarshalWrite(&buf, file{FormatVersion: FormatVersion, LastApplied: *la},
		jsonv1.DefaultOptionsV1(), jsonv2.Deterministic(true), jsontext.WithIndent("  "), jsontext.EscapeForHTML(false))
	if err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Save writes la atomically and keeps the previous file as PATH.backup.
// The unknown members of the file this store last loaded (top-level, and
// in the entries of users and plans) go with it when la has that file's lineage (format_version is this
// version's: the file says who wrote it last).
func (s *Store) Save(la *engine.LastApplied) error {
	data, err := Marshal(la)
	if err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	if la.Lineage == s.extraLineage {
		if data, err = insertEntryMembers(data, s.entryExtra); err != nil {
			return fmt.Errorf("state %s: %w", s.path, err)
		}
		if data, err = appendMembers(data, s.extra); err != nil {
			return fmt.Errorf("state %s: %w", s.path, err)
		}
	}
	if err := atomicfile.WriteFileBeforeRename(s.path, data, 0o600, s.backup); err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	s.lineage = la.Lineage
	return nil
}

// knownMembers are the top-level member names of the file format this
// version writes (format_version and engine.LastApplied's fields), in
// lower case: encoding/json matches member names without case, so
// "Lineage" is read as the lineage and must not be kept as unknown too.
var knownMembers = jsonNames(reflect.TypeOf(file{}))

// jsonNames lists the JSON member names of struct type t, embedded
// structs' included.
func jsonNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			maps.Copy(out, jsonNames(f.Type))
		case name == "":
			out[strings.ToLower(f.Name)] = true
		default:
			out[strings.ToLower(name)] = true
		}
	}
	return out
}

// knownEntryMembers are, for each object of entries in the file
// ("users" and "plans", in lower case), the member names of one entry
// (engine.AppliedUser's and engine.AppliedPlan's fields), in lower case.
var knownEntryMembers = map[string]map[string]bool{
	"users": jsonNames(reflect.TypeOf(engine.AppliedUser{})),
	"plans": jsonNames(reflect.TypeOf(engine.AppliedPlan{})),
}

// entryRef names one entry of the file: its section ("users" or
// "plans") and its key there.
type entryRef struct{ section, key string }

// isKnown reports whether the quoted JSON name raw is in known (lower-case
// names), matching as encoding/json does, without case (Unicode simple
// folding). The common case, a name as this version writes it, is one
// map look-up without allocation.
func isKnown(known map[string]bool, raw []byte) bool {
	if known[string(raw[1:len(raw)-1])] {
		return true
	}
	name := unquote(raw)
	for k := range known {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// IsKnownMember reports whether name is a top-level member of the state
// document this version writes (knownMembers), matching as encoding/json
// does: the http backend keeps the others of its ldapsync member.
func IsKnownMember(name string) bool {
	q, err := json.Marshal(name)
	return err == nil && isKnown(knownMembers, q)
}

// unquote returns the string the quoted JSON string raw denotes.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw[1 : len(raw)-1]) // not reached: data is valid JSON
	}
	return s
}

// section returns "users" or "plans" when the quoted top-level member
// name raw is one of them (without case, as encoding/json reads it), or
// "".
func section(raw []byte) string {
	for name := range knownEntryMembers {
		if len(raw) == len(name)+2 && strings.EqualFold(string(raw[1:len(raw)-1]), name) {
			return name
		}
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		for name := range knownEntryMembers {
			if strings.EqualFold(unquote(raw), name) {
				return name
			}
		}
	}
	return ""
}

// jsonVisitor receives what walkJSON finds. member is called for a
// top-level member (sect "", entry nil) and for a member of an entry of
// users or plans (sect names which, entry is the entry's quoted key);
// when it returns true, value is called with that member's text.
// entryEnd is called at the closing brace of each entry, at is its index
// in data. Names are quoted JSON strings, as in data.
type jsonVisitor struct {
	member   func(sect string, entry, name []byte) bool
	value    func(sect string, entry, name, value []byte)
	entryEnd func(sect string, entry []byte, at int)
}

// walkJSON makes one pass over data, which must be a valid JSON object
// (Load has decoded it already; Save has just encoded it), and reports
// its top-level members and the members of the entries of its users and
// plans objects to v. It only tracks nesting and strings, so it costs a
// fraction of decoding: this is what keeps unknown members cheap to find
// when there are none.
func walkJSON(data []byte, v jsonVisitor) {
	var (
		inObject  []bool // per open bracket: an object (not an array)
		expectKey bool
		sect      string // the top-level member being read, when users or plans
		entry     []byte // the quoted key of the entry being read
		pendName  []byte // the member whose value is wanted
		pendDepth int
		valStart  = -1
	)
	finish := func(at, depth int) {
		if pendName != nil && depth == pendDepth {
			if depth == 1 {
				v.value("", nil, pendName, bytes.TrimSpace(data[valStart:at]))
			} else {
				v.value(sect, entry, pendName, bytes.TrimSpace(data[valStart:at]))
			}
			pendName, valStart = nil, -1
		}
	}
	for i := 0; i < len(data); i++ {
		depth := len(inObject)
		switch c := data[i]; c {
		case '"':
			j := i + 1
			for data[j] != '"' {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			raw := data[i : j+1]
			if expectKey {
				expectKey = false
				switch {
				case depth == 1:
					sect = section(raw)
					if v.member != nil && v.member("", nil, raw) {
						pendName, pendDepth = raw, 1
					}
				case depth == 2 && sect != "":
					entry = raw
				case depth == 3 && sect != "":
					if v.member != nil && v.member(sect, entry, raw) {
						pendName, pendDepth = raw, 3
					}
				}
			}
			i = j
		case ':':
			if pendName != nil && depth == pendDepth && valStart < 0 {
				valStart = i + 1
			}
		case ',':
			finish(i, depth)
			expectKey = inObject[depth-1]
		case '{', '[':
			inObject = append(inObject, c == '{')
			expectKey = c == '{'
		case '}', ']':
			finish(i, depth)
			if c == '}' && depth == 3 && sect != "" && v.entryEnd != nil {
				v.entryEnd(sect, entry, i)
			}
			inObject = inObject[:depth-1]
			expectKey = false
		}
	}
}

// unknownMembers returns the members of the JSON object data (valid JSON)
// that this version does not know: at the top level (knownMembers), and
// in each entry of users and plans (knownEntryMembers); nil when there
// are none, the common case.
func unknownMembers(data []byte) (map[string]json.RawMessage, map[entryRef]map[string]json.RawMessage) {
	var (
		top    map[string]json.RawMessage
		nested map[entryRef]map[string]json.RawMessage
	)
	walkJSON(data, jsonVisitor{
		member: func(sect string, _, name []byte) bool {
			if sect == "" {
				return !isKnown(knownMembers, name)
			}
			return !isKnown(knownEntryMembers[sect], name)
		},
		value: func(sect string, entry, name, value []byte) {
			raw := json.RawMessage(bytes.Clone(value))
			if sect == "" {
				if top == nil {
					top = map[string]json.RawMessage{}
				}
				top[unquote(name)] = raw
				return
			}
			if nested == nil {
				nested = map[entryRef]map[string]json.RawMessage{}
			}
			e := entryRef{sect, unquote(entry)}
			if nested[e] == nil {
				nested[e] = map[string]json.RawMessage{}
			}
			nested[e][unquote(name)] = raw
		},
	})
	return top, nested
}

// insertEntryMembers adds to each entry of users and plans in the encoded
// file data the members of extra for that entry (in name order, indented
// like the rest). Entries no longer in the file (removed or renamed by an
// apply) simply lose theirs.
func insertEntryMembers(data []byte, extra map[entryRef]map[string]json.RawMessage) ([]byte, error) {
	if len(extra) == 0 {
		return data, nil
	}
	var ends []int
	var members []map[string]json.RawMessage
	walkJSON(data, jsonVisitor{entryEnd: func(sect string, entry []byte, at int) {
		if m := extra[entryRef{sect, unquote(entry)}]; len(m) > 0 {
			ends, members = append(ends, at), append(members, m)
		}
	}})
	if len(ends) == 0 {
		return data, nil
	}
	out := make([]byte, 0, len(data)+len(data)/16)
	prev := 0
	for n, at := range ends {
		body := bytes.TrimRight(data[prev:at], " \n")
		out = append(out, body...)
		sep := ",\n      "
		if len(body) > 0 && body[len(body)-1] == '{' {
			sep = "\n      "
		}
		for _, k := range slices.Sorted(maps.Keys(members[n])) {
			name, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			var val bytes.Buffer
			if err := json.Indent(&val, members[n][k], "      ", "  "); err != nil {
				return nil, fmt.Errorf("member %s: %w", name, err)
			}
			out = append(append(append(append(out, sep...), name...), ": "...), val.Bytes()...)
			sep = ",\n      "
		}
		out = append(out, "\n    "...)
		prev = at
	}
	return append(out, data[prev:]...), nil
}

// appendMembers adds extra (in name order, indented like the rest) to the
// encoded object data, which ends in "}\n".
func appendMembers(data []byte, extra map[string]json.RawMessage) ([]byte, error) {
	if len(extra) == 0 {
		return data, nil
	}
	end := bytes.LastIndexByte(data, '}')
	out := append([]byte(nil), bytes.TrimRight(data[:end], " \n")...)
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		var val bytes.Buffer
		if err := json.Indent(&val, extra[k], "  ", "  "); err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
		out = append(append(append(append(out, ",\n  "...), name...), ": "...), val.Bytes()...)
	}
	return append(out, "\n}\n"...), nil
}

// backup keeps the current file as PATH.backup: a hard link when the
// filesystem allows, a copy otherwise.
func (s *Store) backup() error {
	bak := s.path + ".backup"
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_ = os.Remove(bak)
	if err := os.Link(s.path, bak); err == nil {
		return nil
	}
	in, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(bak, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("backup: %w", err)
	}
	return out.Close()
}

// The state lock. A flock belongs to an open file, not to a name: once
// PATH.lock is deleted (by hand, or by a clean-up script following old
// advice) the run holding it keeps a lock on a file nobody else can open,
// and the next run creates a fresh PATH.lock, locks it at once, and runs
// beside the first. So a run holds two lock files, PATH.lock and
// PATH.lock-guard, taken in that order and each checked after locking to
// be the file its path names now (else it is released and taken again).
// Deleting either one during a run leaves the other held, and a second run
// waits for it; only deleting both defeats the lock. A flock never goes
// stale: it ends with its process, however that ends. The holder writes
// its pid, host and start time into both files, for the message a waiting
// run prints.

// lockRetry is the pause between attempts to take the lock.
const lockRetry = 50 * time.Millisecond

// lockState takes both lock files of the state at path, waiting up to
// timeout (or until ctx ends).
func lockState(ctx context.Context, path string, timeout time.Duration) (func() error, error) {
	names := []string{path + ".lock", path + ".lock-guard"}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		held, busy, err := tryLocks(names)
		if err != nil {
			return nil, fmt.Errorf("state lock: %w", err)
		}
		if held != nil {
			return held.release, nil
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-lctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("state lock %s: %w", names[0], ctx.Err())
			}
			return nil, lockedError(path, busy, timeout)
		case <-t.C:
		}
	}
}

// heldLocks are the lock files a run holds, in the order taken.
type heldLocks []*flock.Flock

// release clears the holder notes and unlocks, the last taken first.
func (h heldLocks) release() error {
	var errs []error
	for i := len(h) - 1; i >= 0; i-- {
		if ours(h[i]) {
			_ = os.Truncate(h[i].Path(), 0)
		}
		if err := h[i].Unlock(); err != nil {
			errs = append(errs, fmt.Errorf("state lock %s: %w", h[i].Path(), err))
		}
	}
	return errors.Join(errs...)
}

// tryLocks makes one attempt at every lock file, in order. It returns the
// locks when all are held, or else releases what it took and names the
// file that was busy (empty when a file changed under it: try again).
func tryLocks(names []string) (heldLocks, string, error) {
	var held heldLocks
	for _, name := range names {
		fl := flock.New(name)
		ok, err := fl.TryLock()
		if err == nil && ok && !ours(fl) {
			_ = fl.Unlock() // locked a file that has since been deleted or replaced
			ok, name = false, ""
		}
		if err != nil || !ok {
			_ = held.release()
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", name, err)
			}
			return nil, name, nil
		}
		held = append(held, fl)
	}
	note := holderNote()
	for _, fl := range held {
		_ = os.WriteFile(fl.Path(), note, 0o600) // a note for waiting runs; the lock does not depend on it
	}
	return held, "", nil
}

// ours reports whether the locked file is the one its path names now.
func ours(fl *flock.Flock) bool {
	mine, err := fl.Stat() // the open file's own, when locked
	if err != nil {
		return false
	}
	now, err := os.Stat(fl.Path())
	return err == nil && os.SameFile(mine, now)
}

// holderNoteRE matches a note holderNote wrote; anything else in a lock
// file (an older ldapsync leaves it empty) is not repeated.
var holderNoteRE = regexp.MustCompile(`^pid [0-9]+ on host [A-Za-z0-9._-]* since [0-9T:Z-]+$`)

// holderNote is what a lock holder writes into its lock files.
func holderNote() []byte {
	host, _ := os.Hostname()
	return []byte(fmt.Sprintf("pid %d on host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339)))
}

// lockedError says who holds the lock, as far as its note tells, and that
// waiting is the remedy: the message never suggests deleting a lock file.
func lockedError(path, busy string, timeout time.Duration) error {
	if busy == "" {
		busy = path + ".lock"
	}
	holder := "another ldapsync run"
	if note, err := os.ReadFile(busy); err == nil && holderNoteRE.Match(bytes.TrimSpace(note)) {
		holder = fmt.Sprintf("another ldapsync run (%s)", bytes.TrimSpace(note))
	}
	return &LockedError{Backend: "state " + path, HolderText: fmt.Sprintf("%s, lock file %s", holder, busy), Waited: timeout,
		Remedy: "The lock ends with the run that holds it, even if that run crashes (it never goes stale): wait for it to finish and try again, or wait longer with -lock-timeout"}
}

var _ Backend = (*Store)(nil)
