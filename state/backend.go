package state

import (
	"context"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ldapsync/ldapsync/engine"
)

// Backend is where the last-applied state lives: a local file (Store),
// Terraform's http backend protocol (package httpstate) or the ftrack
// site itself (package ftrackstate). plan only reads it; apply locks it,
// reads it and writes it; drift and explain read it.
//
// Load returns an empty view with a new lineage when nothing is stored
// yet, with Exists false; Save stores a whole view (a backend may write
// only what changed since its last Load or Save).
type Backend interface {
	engine.StateStore
	// Lock takes the exclusive lock, waiting up to timeout for a holder
	// to let go; the error of a lock it could not take names the holder
	// (a *LockedError). The returned function releases it.
	Lock(ctx context.Context, info LockInfo, timeout time.Duration) (unlock func() error, err error)
	// ForceUnlock releases a lock another run left behind, named by its
	// ID (the one a LockedError shows).
	ForceUnlock(ctx context.Context, id string) error
	// Describe names the backend and where it keeps the state, without
	// secrets, for messages: "state file ./ldapsync.state.json".
	Describe() string
	// Type is the backend's label in the configuration: local, http or
	// ftrack.
	Type() string
}

// LockInfo is who holds a lock and why: Terraform's LockInfo JSON, so
// that a server for Terraform's http backend shows ldapsync's locks as it
// shows Terraform's.
type LockInfo struct {
	ID        string    `json:"ID"`
	Operation string    `json:"Operation"`
	Info      string    `json:"Info"`
	Who       string    `json:"Who"`
	Version   string    `json:"Version"`
	Created   time.Time `json:"Created"`
	Path      string    `json:"Path"`
}

// NewLockInfo returns the LockInfo of this process for operation (apply,
// state migrate): a new random ID, user@host, now, and in Info the CI job
// that runs it when the environment says (GitHub Actions, GitLab CI), so
// that whoever finds the lock knows whose it is.
func NewLockInfo(operation, version string) LockInfo {
	host, _ := os.Hostname()
	who := os.Getenv("USER")
	if who == "" {
		if u, err := user.Current(); err == nil && u.Username != "" {
			who = u.Username
		} else {
			who = "unknown"
		}
	}
	return LockInfo{
		ID: uuid.NewString(), Operation: operation, Who: who + "@" + host, Info: ciJob(),
		Version: version, Created: time.Now().UTC().Truncate(time.Second),
	}
}

// ciJob names the CI job this process runs in, or "".
func ciJob() string {
	if run := os.Getenv("GITHUB_RUN_ID"); run != "" && os.Getenv("GITHUB_REPOSITORY") != "" {
		server := os.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		return server + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + run
	}
	if u := os.Getenv("CI_JOB_URL"); u != "" {
		return u
	}
	return ""
}

// LockedError is the error of a lock held by another run: it shows the
// holder, as far as the backend knows it, and the remedy.
type LockedError struct {
	// Backend is the Describe of the locked backend.
	Backend string
	// Holder is the holder's lock, when the backend says.
	Holder *LockInfo
	// HolderText says who holds it when there is no LockInfo (a local
	// lock file's note).
	HolderText string
	// Waited is how long Lock waited.
	Waited time.Duration
	// Remedy is the backend's advice (wait, or force-unlock ID).
	Remedy string
}

// Error names the holder and the remedy.
func (e *LockedError) Error() string {
	msg := e.Backend + " is locked"
	if h := e.Holder; h != nil {
		msg += " by " + lockHolderText(*h)
	} else if e.HolderText != "" {
		msg += " by " + e.HolderText
	}
	msg += "; gave up after waiting " + e.Waited.String()
	if e.Remedy != "" {
		msg += ". " + e.Remedy
	}
	return msg
}

// lockHolderText is a lock's holder for a message: id, operation, who,
// since when.
func lockHolderText(h LockInfo) string {
	s := "lock " + quoteText(h.ID)
	if h.Operation != "" {
		s += " (" + quoteText(h.Operation)
		if h.Who != "" {
			s += " by " + quoteText(h.Who)
		}
		if !h.Created.IsZero() {
			s += " since " + h.Created.UTC().Format(time.RFC3339)
		}
		if h.Info != "" {
			s += ", " + quoteText(h.Info)
		}
		s += ")"
	}
	return s
}

// quoteText keeps a value another host wrote from carrying control
// characters into a message: printable text as it is, anything else
// quoted.
func quoteText(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff {
			return strconv.QuoteToASCII(s)
		}
	}
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
