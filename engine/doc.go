// Package engine is the plain-data core of ldapsync: the model of directory
// entries, desired users and ftrack accounts, the Source and Target
// interfaces that providers implement, the diff that turns desired and
// actual into changes, the safety policies, the plan file and its
// integrity checks, apply and drift.
//
// The engine knows no provider: providers import engine, never the reverse.
// A change is plain data (never a closure) so that a plan can be written to
// a file, reviewed in a pull request and executed later, exactly as saved.
//
// Fixed terms: desired (from sources and mappings), actual (ftrack now),
// last-applied (from state).
//
// Decisions where the design is silent:
//
//   - Directory users that are disabled and have no ftrack account are
//     never created.
//   - An owned account whose directory entry was skipped (mapping error,
//     duplicate username, conflict between sources) is never deactivated
//     as missing; a warning says why.
//   - Managed groups are every group some desired user maps to, plus every group an
//     earlier apply added members to (LastApplied.ManagedGroups), so the
//     last member leaving a directory group removes the leftover ftrack
//     memberships; memberships in other groups are never touched.
//   - The grace-period clock (first time an owned user was seen missing)
//     is written to the plan as missing_since for the reviewer; apply
//     records the clocks it observes itself (RecordMissing), never the
//     plan's. Plan writes to neither the target nor the state.
//   - A plan runs against exactly the state (lineage and serial) it was
//     made from. A plan made when there was no state yet (no lineage)
//     applies only while there is still none, and only with the
//     directory checked (no journal can tell whether it ran before).
//   - Apply's serial grows once per apply run; the journal keeps the last
//     50 applied plans and every unfinished one.
//   - Unmanaged accounts exclude protected ones: protect service and admin
//     accounts to keep drift quiet. Unmanaged accounts are reported by
//     drift but are not drift (DriftReport.HasDrift): ldapsync never
//     changes them, so they would alert forever.
//   - Several sources feed one mapping in declared order. The same
//     username with the same stable id from two sources is one directory
//     entry read twice (overlapping bases or filters): the source declared
//     first wins and a warning says so. The same username with different
//     stable ids is a conflict: listed in the plan, neither entry applied.
//   - Groups blocks (GroupSpec) are read after the users through the
//     optional GroupReader interface of their source; their mapped ftrack
//     names are merged into User.Groups with the mapping's own groups
//     expression, and every name a groups block maps to (or names by DN)
//     is a managed group. Members that are not users of the mapping are
//     ignored and counted in a warning; nested groups are walked with
//     cycle detection. A groups block whose read returns no groups at
//     all is an error, never "everyone left the groups". See groups.go.
//   - A mapped username, email or name longer than 1024 characters skips
//     the entry (reason in the plan) instead of failing at apply time.
package engine
