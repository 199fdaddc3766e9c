// Package ftrack is the ftrack Studio target of ldapsync: a small client for
// ftrack's batch HTTP API (POST {server_url}/api) and an engine.Target built
// on it.
//
// The client sends every request as a JSON array of operations and treats an
// exception object in the body as an error whatever the HTTP status. Reads
// are retried freely on transient failures. Writes are retried only when it
// is safe: a 429 was never processed and is resent as is; after an unclear
// failure (a dropped connection, a 502/503/504, a timeout) the client first
// re-reads which operations already took effect and resends only the rest.
//
// Values are put into query expressions only when they are UUID-shaped ids
// or pass a strict allow-list; everything else (hostile usernames included)
// is matched locally after a paged read, so no input can change a query's
// meaning.
//
// Ownership of a user is recorded in ftrack itself as Metadata on the User:
// ldapsync.owner (the mapping name) and ldapsync.source_id (the directory's
// stable id).
package ftrack
