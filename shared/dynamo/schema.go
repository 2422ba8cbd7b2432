package dynamo

// Table declares one table: its keys and its global secondary indexes. All
// key attributes are strings.
type Table struct {
	Name    string // the logical name: Users, Audit, Records, Outbox
	EnvVar  string // the variable that carries the deployed table's name
	PK, SK  string // SK empty for a table without a sort key
	Indexes []Index
	// Retain: the data must survive a stack deletion.
	Retain bool
	// TTL names the attribute (epoch seconds) after which DynamoDB may
	// delete an item; empty for none.
	TTL string
}

// Index declares a global secondary index.
type Index struct {
	Name   string
	PK, SK string
	// Projection is "ALL", "KEYS_ONLY" or "INCLUDE" with NonKey.
	Projection string
	NonKey     []string
}

// Index names used by queries.
const (
	IndexBySweep  = "bySweep"
	IndexByExpiry = "byExpiry"
	IndexByList   = "byList"
	IndexByName   = "byName"
	IndexByDay    = "byDay"
	IndexByUser   = "byUser"
)

// sweepAttrs are the attributes the policy needs of a user, projected into
// the indexes a sweep reads (every attribute a sweep's change writes back
// must be among them).
var sweepAttrs = []string{"username", "groups", "status", "warnedAt", "createdAt", "lastLoginAt", "reactivatedAt", "importedAt", "version", "expiresAt", "auditHash"}

// Schema is every table Dormancy uses, as deployed and as created locally.
var Schema = []Table{
	{
		Name: "Users", EnvVar: "USERS_TABLE", PK: "userId", Retain: true,
		Indexes: []Index{
			{Name: IndexBySweep, PK: "sweepShard", SK: "lastActivityAt", Projection: "INCLUDE", NonKey: sweepAttrs},
			{Name: IndexByExpiry, PK: "expiryShard", SK: "expiresAt", Projection: "INCLUDE", NonKey: append([]string{"lastActivityAt"}, sweepAttrs...)},
			{Name: IndexByList, PK: "listShard", SK: "listKey", Projection: "ALL"},
			{Name: IndexByName, PK: "lookupKey", SK: "usernameLower", Projection: "INCLUDE", NonKey: []string{"username"}},
		},
	},
	{
		Name: "Audit", EnvVar: "AUDIT_TABLE", PK: "userId", SK: "sk", Retain: true,
		Indexes: []Index{{Name: IndexByDay, PK: "auditDay", SK: "sk", Projection: "ALL"}},
	},
	{
		Name: "Records", EnvVar: "RECORDS_TABLE", PK: "recordId", SK: "sk", Retain: true,
		Indexes: []Index{{Name: IndexByUser, PK: "refUserId", SK: "refKey", Projection: "INCLUDE", NonKey: []string{"field", "module"}}},
	},
	{Name: "Outbox", EnvVar: "OUTBOX_TABLE", PK: "shard", SK: "sk"},
	// Runs: every sweep and pool sync run (pk "RUN#sweep" or "RUN#sync", sk
	// startedAt#runId), and the state that lives between runs (pk "STATE":
	// the sweep's hold, the pool sync's place).
	{Name: "Runs", EnvVar: "RUNS_TABLE", PK: "pk", SK: "sk", Retain: true},
	// Notices: one item per event a notice was sent for, so that a
	// redelivered event mails nobody twice; kept 30 days.
	{Name: "Notices", EnvVar: "NOTICES_TABLE", PK: "eventId", TTL: "expiresAt"},
}

// Tables holds the deployed names of the tables.
type Tables struct {
	Users, Audit, Records, Outbox, Runs, Notices string
}

// name returns the deployed name of a declared table.
func (t Tables) name(logical string) string {
	switch logical {
	case "Users":
		return t.Users
	case "Audit":
		return t.Audit
	case "Records":
		return t.Records
	case "Outbox":
		return t.Outbox
	case "Runs":
		return t.Runs
	case "Notices":
		return t.Notices
	}
	return ""
}
