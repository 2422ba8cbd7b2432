// Package faults holds Dormancy's fault suite, run by make test: the data
// store crashing mid-sweep, EventBridge throttling and failing entries over
// many runs, sign-ins, sweeps, reactivations and manual deactivations racing
// for the same users, and hostile input to every entry point. Each test
// checks the invariants an auditor relies on: no half-made change, no lost
// or duplicated event, and a final state the audit trail explains entry by
// entry.
package faults
