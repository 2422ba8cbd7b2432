// Package dynamo is the one place Dormancy talks to DynamoDB. It stores user
// accounts, the audit trail, records and the event outbox. It turns
// DynamoDB's conditional-check and transaction failures into the domain's own
// errors in one function, translate (store.go); cursors it hands out are
// opaque, and checked against the exact key they resume before use
// (cursor.go), so a forged cursor is the client's error and never reaches
// DynamoDB.
//
// # Tables
//
// The tables and indexes are declared once, in schema.go: CreateTables makes
// them for DynamoDB Local and tests, and the CDK app in infra/ builds the
// deployed tables from the same declaration.
//
// Six tables, each named by an environment variable so that CloudFormation can
// choose the names. Every timestamp is stored as a fixed-width UTC string
// ("2006-01-02T15:04:05.000Z"), so string order is time order and key
// conditions can compare them.
//
// Users (USERS_TABLE), partition key userId (S). One item per Cognito user:
// username, status (ACTIVE or DEACTIVATED), groups, creationSource, createdAt,
// lastLoginAt, reactivatedAt, lastActivityAt (the latest of the three, kept by
// every write), the deactivation and reactivation details, warnedAt, version.
// Three sparse global secondary indexes hang off helper attributes that a
// write sets or removes together with the state:
//
//   - bySweep: partition sweepShard, sort lastActivityAt; projection INCLUDE
//     (the attributes the policy needs: username, groups, status, warnedAt,
//     createdAt, lastLoginAt, reactivatedAt, importedAt, version). sweepShard is "A#nn" for an
//     ACTIVE user not yet warned in the current dormancy period, "W#nn" once
//     warned, and absent for a DEACTIVATED user; nn is one of 16 shards chosen
//     by a hash of the userId, so that sign-in stamps at millions of users
//     spread over 32 partition keys instead of one. The sweeper queries each
//     shard for lastActivityAt <= a cut-off, so it reads only users at or past
//     a threshold (or inside the warning window, for users not yet warned):
//     its cost follows the dormant users, not the table. Two costs are
//     accepted and bounded: the cut-off is the smallest threshold, so with a
//     GROUP_POLICIES threshold shorter than a user's own, users between the
//     two are read and kept; and exempt users past the cut-off are read (and
//     counted as exempt) on every sweep.
//   - byList: partition listShard ("ACTIVE#nn" or "DEACTIVATED#nn"), sort
//     listKey (lastActivityAt + "#" + userId, a total order: users who share
//     a last activity, as one import makes them, still page exactly once);
//     projection ALL. The admin listing merges the 16 shards of a status,
//     newest activity first, reading one Query page per shard per page; a
//     search filters those pages and returns a cursor at its read bound.
//   - byExpiry: partition expiryShard ("X#nn", for an ACTIVE user with an end
//     date), sort expiresAt; the same projection as bySweep. A sweep (and
//     the compliance report) finds temporary accounts by their end date,
//     whatever their activity.
//   - byName: partition lookupKey ("ACTIVE#" + first letter of the lower-cased
//     user name), sort usernameLower; projection INCLUDE (userId, username).
//     Only ACTIVE users carry lookupKey, so pickers never offer a deactivated
//     user. Sign-ins do not write to this index (none of its attributes change).
//
// The Users table also holds 32 counter items (userId "#count#nn", which no
// user id can be) with the number of active and deactivated users, moved in
// the same transaction as every creation and transition (counts.go): the
// active population costs one BatchGetItem. Each user item keeps auditHash,
// the head of its audit chain (chain.go).
//
// Audit (AUDIT_TABLE), partition key userId (S), sort key sk (S,
// occurredAt + "#" + auditId). Append-only: every put is conditional on the
// item not existing, and the code has no update or delete for it; no
// deployed role may update or delete one either (shared/access denies it).
// auditId is
// derived from the change (or the event) that caused the entry, so a retried
// change writes the same entry once. One index:
//
//   - byDay: partition auditDay ("2026-11-24"), sort sk; projection ALL. The
//     cross-user trail (GET /audit?from=&to=) queries one day at a time.
//
// Records (RECORDS_TABLE), partition key recordId (S), sort key sk (S). The
// record itself is sk "RECORD" (module, status, fields map of field name to
// userId, needsReassignment list, version). For each user field of an Open
// record there is a reference item sk "REF#" + field with refUserId; one index:
//
//   - byUser: partition refUserId, sort refKey (recordId + "#" + field);
//     projection INCLUDE (field, module). Finding the open records that name
//     a user costs one item per such reference, whatever the size of the
//     table. Closed, Resolved and Cancelled records have no indexed
//     reference items, so a reassignment never reads them. A record with
//     fields waiting for reassignment also has an item sk "QUEUE" with
//     refUserId "QUEUE": the reassignment queue is that one partition of the
//     same index. Nothing deletes from this table (no role may): a reference
//     or queue item that no longer applies is retired by removing refUserId
//     and refKey, which takes it out of the index; it is rewritten when its
//     field is assigned again.
//
// Outbox (OUTBOX_TABLE), partition key shard (S: "0".."3" for events,
// "S0".."S3" for sign-outs, so a backlog of one kind never stands in front
// of the other), sort key sk (S, the item's id: the event id, or "signout-"
// and the change's id). The transactional outbox: a state change writes the
// events it owes (and the Cognito sign-out it owes) in the same transaction
// as the change; the sweeper publishes them and deletes each one only after
// EventBridge (or Cognito) accepted it. Items: kind ("event" or "signout"),
// id (the event id), source, detailType, detail (JSON), userId, username,
// attempts, lastError.
//
// Runs (RUNS_TABLE), partition key pk (S), sort key sk (S): every sweep and
// pool sync run (pk "RUN#sweep" or "RUN#sync", sk startedAt#runId, newest
// last), and the state between runs under pk "STATE": the sweep's hold (sk
// "sweep", with its own audit chain's head) and the pool sync's place (sk
// "sync", with its lease). See runs.go.
//
// Notices (NOTICES_TABLE), partition key eventId (S): one item per event a
// notice was sent for (claimed, sent or failed), so a redelivered event
// mails nobody twice; DynamoDB's TTL removes them after 30 days
// (expiresAt). See notices.go.
//
// Every audit entry carries hash and prevHash: the trail is tamper-evident,
// and chain.go writes down its canonical encoding.
package dynamo
