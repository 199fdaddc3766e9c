// Package ftrackstate keeps ldapsync's last-applied state in the ftrack
// site itself (state "ftrack" {}), as Metadata on the managed users and on
// the API user's own User: no file to keep, back up or share between the
// machines that run ldapsync; whoever can sign in as the API user has the
// state. It is built for 100,000 users: every value is small (Save never
// writes one above 32 KiB; Load refuses one above 1 MiB), a user's record
// lives beside the user, and Save writes only what changed since the last
// Load or Save, up to 100 operations per request: a journal snapshot
// after a batch of changes rewrites the records of the users the batch
// touched, the journal's last chunk and its header, nothing else.
//
// # Keys
//
// On each managed User (beside the ownership marker ldapsync.owner and
// ldapsync.source_id, which package ftrack writes):
//
//	ldapsync.last_applied   compact JSON of the engine.AppliedUser without
//	                        target_id (the parent is the user) and with
//	                        "key", the join key: {"key","source_id",
//	                        "username","email","first_name","last_name",
//	                        "active","groups"}; at most 32 KiB (a bigger
//	                        record goes to the overflow)
//	ldapsync.missing_since  RFC 3339 UTC time the user was first seen
//	                        missing from the directory (LastApplied.Missing)
//
// On the API user's User:
//
//	ldapsync.state                   the site record: {"format_version":"1.0",
//	                                 "lineage","serial","body":REF}; < 32 KiB
//	ldapsync.state.HASH              a chunk of the body: JSON {"managed_groups",
//	                                 "plans": [plan ids, newest first],
//	                                 "users","missing": the overflow}; ≤ 32 KiB
//	ldapsync.plan.NAME               a journal entry's header: {"id","status",
//	                                 "base_serial","serial","started_at",
//	                                 "finished_at","outcomes":REF}; ≤ 32 KiB
//	ldapsync.plan.NAME.HASH          a chunk of its outcomes, one line per
//	                                 change: ["change id","outcome"(,"error")];
//	                                 ≤ 32 KiB
//	ldapsync.lock                    the lock: state.LockInfo JSON plus
//	                                 "Expires" (RFC 3339); < 2 KiB
//	ldapsync.lock.takeover.LOCK.N    a claim to take over the expired lock
//	                                 LOCK (attempt N), same format; < 2 KiB
//
// NAME is the plan id (a UUID) or, for any other id, "h" and 16 hex digits
// of its SHA-256; HASH is 16 hex digits of the chunk's SHA-256; LOCK is the
// lock id, or "h" and a hash when it is not a plain name. REF is a blob
// reference {"chunks":[HASH...],"bytes":N,"sha256":HEX} (more than 1,000
// chunks are listed in an index blob instead: {"index":REF,...}). A chunk
// is stored under its own hash, so it is never rewritten: a new version of
// a blob adds chunks and switches the reference. Load checks every chunk
// against its key and the whole against the reference, so a torn or
// edited write is an error naming the key, never a misread.
//
// The overflow holds the entries of users and missing that have no User
// to live on: no TargetID, a TargetID that is not an ftrack id or whose
// User is gone (found when a write is refused), a TargetID another key
// already claimed, or a record above 32 KiB. The journal keeps the plans
// the engine keeps (the 50 newest applied plans and every unfinished
// one); the keys of older plans are deleted.
//
// # Write order and crashes
//
// Save writes (1) the per-user values, (2) the new chunks of the body and
// of the journal, (3) in one request, which ftrack applies all or nothing,
// the journal headers that changed and the site record, and (4) deletes
// the chunks and headers nothing refers to any more. A crash during (1)
// or (2) leaves the old site record and journal, complete, with some
// users' records newer than them: harmless, since the engine treats the
// state as advisory and re-derives every change against what ftrack
// holds, and a re-run of an interrupted plan resumes from the journal it
// finds (a change already made is recognised by its after values and
// recorded as already done). A crash during (4) leaves unused chunks that
// the next Save deletes. Load takes no lock; should a Save change the site
// record while Load reads, Load reads again.
//
// A user deleted in ftrack takes its values with it (Metadata is deleted
// with its parent); the state then lacks that user's record, as it lacks
// the account. Someone with write access to ftrack can edit these values:
// Load returns what decodes (the engine never trusts the state over
// ftrack), and an error naming the key and the user, with every value
// quoted, for what does not.
//
// # The lock
//
// See lock.go: creating ldapsync.lock takes it (a second create of the
// same key fails); it expires unless renewed (default one hour, renewed
// every quarter of that while held); an expired lock is taken over by at
// most one run; ForceUnlock deletes it by id.
//
// Nothing in package ftrack's change execution reads or writes these keys:
// ReadAccounts and Execute select only the ownership marker's keys.
package ftrackstate
