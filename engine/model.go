package engine

import (
	"context"
	"time"
)

// Entry is one directory entry, copied out of the wire response at once so
// that nothing of the LDAP library is kept alive.
type Entry struct {
	// Source is the name of the source block the entry was read from.
	Source string
	// DN is the entry's distinguished name as the server returned it.
	DN string
	// StableID is the directory's stable identifier (entryUUID, objectGUID
	// in canonical text form, nsUniqueId, ipaUniqueID).
	StableID string
	// Attrs holds the requested attributes, keyed by the spelling the
	// configuration asked for (attribute names are matched without case).
	Attrs map[string][]string
	// Disabled is the verdict of the source's schema preset disabled rule.
	Disabled bool
	// DisabledReason names the rule that matched, e.g.
	// "pwdAccountLockedTime is set" or "userAccountControl has ACCOUNTDISABLE (0x2)".
	DisabledReason string
}

// SourceInfo identifies a source in plans and messages.
type SourceInfo struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Source is a directory that desired users are read from.
type Source interface {
	// Info names the source.
	Info() SourceInfo
	// Read streams every entry that matches the source's filter, calling fn
	// once per entry, in server order. attrs lists the attributes the
	// mappings need. A failed, partial or size-limited read is an error;
	// an error from fn stops the read and is returned.
	Read(ctx context.Context, attrs []string, fn func(Entry) error) error
}

// User is a desired ftrack user, the result of mapping one directory entry.
type User struct {
	// Key is the join key: the mapped username in lower case.
	Key       string
	Username  string
	Email     string
	FirstName string
	LastName  string
	// Disabled is true when the directory says the account is disabled.
	Disabled bool
	// DisabledReason names the rule that made the account disabled.
	DisabledReason string
	// Source is the name of the source the entry came from.
	Source string
	// SourceID is the entry's stable directory id.
	SourceID string
	// DN is the entry's distinguished name, for messages.
	DN string
	// Groups are the ftrack group names the user should be a member of,
	// sorted; nil when the configuration maps no groups.
	Groups []string
	// Roles are the security roles the roles blocks give the user, sorted
	// by role; nil when the configuration maps no roles.
	Roles []RoleGrant
	// Custom holds the user custom attributes the mapping gives, by key,
	// as text; nil when it maps none.
	Custom map[string]string
	// UserType is the ftrack user type the mapping gives ("ldap" or
	// "ftrack"); empty when it gives none.
	UserType string
}

// Mapper turns directory entries into desired users. It is implemented by
// engine/config from the mapping block's expressions.
type Mapper interface {
	// Name is the mapping's name, written as the ownership marker.
	Name() string
	// Attributes lists the directory attributes the mapping reads, sorted.
	Attributes() []string
	// Map evaluates the mapping for one entry. An error means the entry is
	// skipped; its message is the reason shown in the plan.
	Map(e Entry) (User, error)
	// MapsGroups reports whether the mapping manages group memberships.
	MapsGroups() bool
	// PreviousNames are the names the mapping was known by: accounts
	// owned by them are handed over (re-marked) to Name.
	PreviousNames() []string
	// FieldAttributes lists the directory attributes a user field
	// (first_name, …) is computed from, as written in the mapping.
	FieldAttributes(field string) []string
}

// Account is an actual ftrack user as read from the target.
type Account struct {
	// ID is the ftrack User id.
	ID        string
	Username  string
	Email     string
	FirstName string
	LastName  string
	Active    bool
	// Owner is the ldapsync.owner metadata value; empty when unowned.
	Owner string
	// SourceID is the ldapsync.source_id metadata value.
	SourceID string
	// Groups are the names of the groups the user is a member of, sorted.
	Groups []string
	// Memberships maps group name to the Membership id, for removals.
	Memberships map[string]string
	// Roles are the security roles the user holds, sorted by role; read
	// only when the configuration maps roles (see RoleReader).
	Roles []RoleGrant
	// Custom holds the user custom attribute values by key, as text
	// (CustomValueText); read only when the mapping writes custom
	// attributes (see CustomAttributeReader).
	Custom map[string]string
	// UserType is the name of the account's ftrack user type ("ftrack",
	// "ldap", "service", "demo"); empty when the target does not say.
	// Accounts of a hands-off type (service, demo) are never changed.
	UserType string
}

// TargetInfo identifies a target; it is written into the plan and checked
// at apply time.
type TargetInfo struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
}

// Target is the system accounts are kept in step with (ftrack).
type Target interface {
	// Info names the target.
	Info() TargetInfo
	// ReadAccounts returns every user account with its ownership marker and
	// group memberships.
	ReadAccounts(ctx context.Context) ([]Account, error)
	// Execute carries out changes and returns one result per change, in
	// order. A failed change never blocks the others: implementations
	// isolate per-change failures. Execute must be safe to repeat: a create
	// carries its id (Change.TargetID), so a create whose id already exists
	// is reported as done.
	Execute(ctx context.Context, changes []Change) []Result
	// Capabilities says how apply may drive Execute.
	Capabilities() TargetCapabilities
	// ReadGroups returns the names of the target's groups.
	ReadGroups(ctx context.Context) ([]string, error)
}

// TargetCapabilities is what a target says about itself, as data.
type TargetCapabilities struct {
	// ConcurrentExecute is true when Execute may run concurrently with
	// itself (on changes of different users) while the target keeps its
	// own limit on requests in flight: apply then starts the next batch
	// while the current one finishes (pipelining).
	ConcurrentExecute bool
	// ExecuteBatch is how many changes one Execute call should get (0:
	// apply's default, 100).
	ExecuteBatch int
	// CreateGroups is true when the target may create the groups
	// membership additions need (create_group changes); without it such
	// memberships are left out of the plan with a warning.
	CreateGroups bool
}

// Result is the outcome of executing one change.
type Result struct {
	// Address is the change's address.
	Address string
	// Err is nil on success.
	Err error
}

// Limit is a safety limit given as a count ("10") or a percentage ("5%").
type Limit struct {
	// Raw is the limit as written in the configuration; empty means no limit.
	Raw string
	// Count is the absolute limit when Percent is false.
	Count int
	// Percent is true when Value is a percentage.
	Percent bool
	// Value is the percentage when Percent is true.
	Value float64
}

// Policy holds the safety and lifecycle policies of the policy block.
type Policy struct {
	// OnMissing is what happens to a managed user gone from the
	// directory; OnDisabled to one the directory disables.
	OnMissing  LifecycleMode
	OnDisabled LifecycleMode
	// Reactivate re-enables managed users who come back.
	Reactivate bool
	// GracePeriod is how long a user must be missing before deactivation.
	GracePeriod time.Duration
	// MaxDeactivations, MaxCreates and MaxUpdates block a plan over them.
	MaxDeactivations Limit
	MaxCreates       Limit
	MaxUpdates       Limit
	// MaxRoleChanges blocks a plan with more role changes (grants,
	// removals, project grants and revokes):
	//
	//	policy {
	//	  max_role_changes = "10%"
	//	}
	MaxRoleChanges Limit
	// MinSourceUsers is the least number of directory users a read must
	// return; fewer is an error, never "everyone left".
	MinSourceUsers int
	// Protect lists usernames and "re:" patterns that are never touched.
	Protect []string
	// AdoptExisting takes over ftrack users that match a directory user.
	AdoptExisting bool
	// MaxErrors is how many per-user failures apply tolerates before it
	// stops; 0 means no limit.
	MaxErrors int
	// RequireSignedPlans makes apply refuse unsigned plans, whatever
	// the environment says:
	//
	//	policy {
	//	  require_signed_plans = true
	//	}
	RequireSignedPlans bool
	// Seats is the number of ftrack user licences (0: not set): a plan
	// after which more accounts would be active is blocked, and apply
	// checks it again against ftrack as it is then. Every active ftrack
	// User holds a seat, the API user's and hands-off accounts' too:
	//
	//	policy {
	//	  seats = 250
	//	}
	Seats int
}

// LifecycleMode is what the lifecycle rules do with a managed user the
// directory no longer lists (on_missing) or disables (on_disabled).
type LifecycleMode string

// The lifecycle modes.
const (
	// ModeDeactivate deactivates the ftrack account (never deletes it).
	ModeDeactivate LifecycleMode = "deactivate"
	// ModeIgnore leaves the account as it is.
	ModeIgnore LifecycleMode = "ignore"
)

// DefaultPolicy returns the policy used when the configuration has no
// policy block: the original script's behaviour.
func DefaultPolicy() Policy {
	return Policy{
		OnMissing:      ModeDeactivate,
		OnDisabled:     ModeDeactivate,
		Reactivate:     true,
		MinSourceUsers: 1,
		AdoptExisting:  true,
	}
}
