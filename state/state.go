// Package state keeps ldapsync's last-applied view in a local JSON file.
//
// The file is written atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory) and the previous version is kept
// beside it as PATH.backup. A lock file PATH.lock (flock) makes sure two
// applies never run at once. The file holds no secrets: usernames, names,
// e-mail addresses, ids and the apply journal only.
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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

// Lock takes the exclusive lock PATH.lock, waiting up to timeout. The
// returned function releases it.
func (s *Store) Lock(ctx context.Context, timeout time.Duration) (func() error, error) {
	lockPath := s.path + ".lock"
	if dir := filepath.Dir(s.path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("state lock %s: %w", lockPath, err)
		}
	}
	fl := flock.New(lockPath)
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err := fl.TryLockContext(lctx, 50*time.Millisecond)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("state lock %s: %w", lockPath, err)
	}
	if !ok {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("state lock %s: %w", lockPath, ctx.Err())
		}
		return nil, fmt.Errorf("state %s is locked by another ldapsync run (lock file %s); gave up after %s — wait for it to finish, or remove the lock file if no ldapsync is running", s.path, lockPath, timeout)
	}
	return fl.Unlock, nil
}

// Load reads the state. A missing file gives an empty view with the
// store's new lineage.
func (s *Store) Load() (*engine.LastApplied, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		if s.lineage == "" {
			s.lineage = s.newID()
		}
		return engine.NewLastApplied(s.lineage), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", s.path, err)
	}
	var head struct {
		FormatVersion string `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("state %s is corrupt (not valid JSON: %v); restore it from %s.backup or move it away to start afresh (ownership markers in ftrack keep managed users safe)", s.path, err, s.path)
	}
	major, _, _ := strings.Cut(head.FormatVersion, ".")
	if mj, err := strconv.Atoi(major); err != nil || mj < 1 {
		return nil, fmt.Errorf("state %s is corrupt: format_version %q is not a version", s.path, head.FormatVersion)
	} else if mj > 1 {
		return nil, fmt.Errorf("state %s has format_version %s, newer than this ldapsync understands (%s); upgrade ldapsync", s.path, head.FormatVersion, FormatVersion)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("state %s is corrupt: %v; restore it from %s.backup", s.path, err, s.path)
	}
	if f.Lineage == "" {
		return nil, fmt.Errorf("state %s is corrupt: it has no lineage", s.path)
	}
	la := f.LastApplied
	if la.Users == nil {
		la.Users = map[string]engine.AppliedUser{}
	}
	if la.Plans == nil {
		la.Plans = map[string]engine.AppliedPlan{}
	}
	return &la, nil
}

// Save writes la atomically and keeps the previous file as PATH.backup.
func (s *Store) Save(la *engine.LastApplied) error {
	if la == nil || la.Lineage == "" {
		return fmt.Errorf("state %s: refusing to save a state without lineage", s.path)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(file{FormatVersion: FormatVersion, LastApplied: *la}); err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	if err := atomicfile.WriteFileBeforeRename(s.path, buf.Bytes(), 0o600, s.backup); err != nil {
		return fmt.Errorf("state %s: %w", s.path, err)
	}
	s.lineage = la.Lineage
	return nil
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

var _ engine.StateStore = (*Store)(nil)
