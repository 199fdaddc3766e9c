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
package engine
