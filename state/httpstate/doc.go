// Package httpstate keeps ldapsync's last-applied state on an HTTP server
// that speaks Terraform's "http" backend protocol: GitLab's managed
// Terraform state, Gitea and Forgejo, and any server written for
// Terraform. A team that already runs such a server gets a shared,
// versioned, locked state without a file on a runner's disk and without
// a new service: the same URL scheme, credentials (a CI job token) and
// lock semantics its Terraform pipelines use.
//
// # Configuration
//
//	state "http" {
//	  address        = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync"
//	  lock_address   = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock"
//	  unlock_address = "https://gitlab.example.com/api/v4/projects/42/terraform/state/ldapsync/lock"
//	  lock_method    = "POST"
//	  unlock_method  = "DELETE"
//	  username       = "gitlab-ci-token"
//	  password       = env("CI_JOB_TOKEN")
//	}
//
// The attributes are Terraform's, with Terraform's defaults, except where
// said (see Decode and Settings):
//
//   - address (required): the state document's URL. https, or http only
//     to a loopback host or with insecure_allow_http = true; no
//     credentials in it. A query string is allowed (sent, never shown).
//   - lock_address: where the lock is taken; default address. Terraform
//     runs unlocked when lock_address is not set; ldapsync locks by
//     default and runs unlocked only when lock_address = "" is written
//     out (then apply is not serialised by the server: do it otherwise).
//   - unlock_address: where the lock is released; default lock_address.
//   - lock_method (default "LOCK"), unlock_method (default "UNLOCK"),
//     update_method (default "POST"): the HTTP methods. A lock or unlock
//     method that would read, write or delete the state itself (GET,
//     HEAD, POST, PUT, PATCH, DELETE at address) is refused: with
//     unlock_method = "DELETE" and no unlock_address, GitLab would
//     delete the state at every unlock.
//   - username, password: HTTP basic authentication, sent when username
//     is set. The password never appears in messages.
//   - retry_max (default 2): retries after the first attempt of a
//     request that failed with a network error, 429 or a 5xx (not 501).
//   - retry_wait_min (default 1s), retry_wait_max (default 30s): the
//     exponential backoff's bounds (a Retry-After header is honoured).
//     A number is seconds, as in Terraform (retry_wait_min = 5); a string
//     is a duration ("500ms", "2m") or a number of seconds ("5").
//   - ca_cert_file: a PEM file of CAs trusted besides the system's;
//     relative to the configuration file's directory.
//   - insecure_allow_http: allow http:// to a host that is not loopback.
//
// Terraform's TF_HTTP_* environment variables are not read: write
// password = env("TF_HTTP_PASSWORD") to use one. Terraform's
// skip_cert_verification and client certificate attributes are not
// offered.
//
// # Protocol
//
// Exactly Terraform's, so that a server for Terraform needs nothing more:
//
//   - Load: GET address. 200 with a body is the stored document; 204, 404
//     and a 200 with an empty body mean that nothing is stored yet. A
//     Content-MD5 header in the standard form (base64 of the 16 bytes),
//     when the server sends one, must match the body.
//   - Save: update_method to address with the whole document, headers
//     Content-Type: application/json and Content-MD5 (base64 of the MD5
//     of the body, as Terraform sends it), and ?ID=<lock id> appended to
//     the query while this process holds the lock (GitLab requires it).
//     200, 201 and 204 mean stored.
//   - Lock: lock_method to lock_address with this run's LockInfo as JSON
//     (ID, Operation, Info, Who, Version, Created, Path: state.LockInfo,
//     Terraform's LockInfo). A 2xx means held. 423 Locked and 409 Conflict
//     mean held by another; the body is the holder's LockInfo (read up to
//     64 KiB, and anything unreadable is taken as an unnamed holder). Lock
//     asks again about every second until its timeout, then returns a
//     *state.LockedError naming the holder. A holder whose ID is this
//     run's own means an earlier attempt whose answer was lost took it.
//     405 Method Not Allowed and 501 Not Implemented mean the server does
//     not lock: Lock fails and says how to configure the methods; it
//     never runs unlocked on its own.
//   - Unlock: unlock_method to unlock_address with the same LockInfo.
//   - ForceUnlock(id): unlock_method to unlock_address with LockInfo{ID:
//     id}, so that a server that checks the ID refuses a wrong one (409,
//     with the holder). Terraform 1.11's force-unlock sends an empty body
//     instead, which GitLab and httpstatetest take as "release whatever
//     is held"; a server that takes the ID from the body accepts both.
//
// Messages never hold the password (nor the Authorization header a server
// might echo) or the address's query, and what a server sends (a
// holder's LockInfo, an error body) is cut short and quoted, never
// printed raw.
//
// Every request is retried (github.com/hashicorp/go-retryablehttp, as in
// Terraform) on network errors, 429 and 5xx: a save is a whole-document
// write, so writing it twice is harmless, and a lock answered 423 with
// this run's own ID after a retry is this run's. Redirects are followed
// only to addresses that pass the same https rule. A stored document is
// read up to 64 MiB.
//
// # Document format
//
// The server stores one JSON document:
//
//	{
//	  "format_version": "1.0",
//	  "lineage": "5f0c…",
//	  "serial": 7,
//	  "ldapsync": { …the state document state.Marshal writes… }
//	}
//
// Its members:
//
//   - format_version: this wrapper's format, MAJOR.MINOR; a major
//     version above 1 is refused (upgrade ldapsync).
//   - lineage: the ldapsync state's lineage (the same as ldapsync.lineage);
//     a save of another lineage over a stored state is refused.
//   - serial: the write serial, an integer that grows by exactly one with
//     every save. Servers version the state by it (GitLab keeps a version
//     per serial) and Terraform tools show it. It is not the state's own
//     apply serial (ldapsync.serial), which grows once per apply while an
//     apply saves several snapshots.
//   - ldapsync: the last-applied state itself, the local state file's
//     format (state.Marshal / state.Unmarshal).
//
// Members of the top level that this version does not know (a later 1.x
// wrote them), and those at the top level of the ldapsync member, are
// kept through a Load and Save. A document that is not such a wrapper is
// refused, never overwritten: a Terraform state (terraform_version,
// resources) stored at that address by mistake, a bare ldapsync state
// file, or anything else.
package httpstate
