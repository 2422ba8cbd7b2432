// Package access declares, once, what each of Dormancy's functions is given:
// the DynamoDB actions it issues, table by table and index by index, the
// environment it reads, and what it may do on the bus and in the user pool.
// The CDK stack derives each role's policy and each function's environment
// from it, the local stack wires each function with exactly that
// environment, and a test keeps the README's table in step with it.
//
// A DynamoDB transaction needs, per item, the action of that item's
// operation (PutItem, UpdateItem, DeleteItem, ConditionCheckItem); there is
// no separate permission for TransactWriteItems. No function is granted
// Scan, and none may change or delete an audit entry: the audit trail is
// append-only by permission, not only by code (spec §9).
package access

import (
	"fmt"
	"slices"
	"time"

	"github.com/dormancy/dormancy/shared/dynamo"
)

// Grant is a set of DynamoDB actions on one table, or on one of its indexes.
type Grant struct {
	Table   string   // a logical table of dynamo.Schema: Users, Audit, Records, Outbox
	Index   string   // empty for the table itself
	Actions []string // without the "dynamodb:" prefix
}

// Function is one Lambda function and what it is given.
type Function struct {
	Name string // the logical name: LoginHook, Sweeper, Reassign, Api
	Dir  string // functions/<Dir> holds its main
	// Timeout is the invocation's limit, and MemoryMB its memory, on AWS
	// and (the timeout, as the invocation's deadline) in the local stack.
	Timeout  time.Duration
	MemoryMB int
	// Grants are exactly the DynamoDB actions its code issues.
	Grants []Grant
	// PutEvents: it publishes to the bus (EVENT_BUS_NAME).
	PutEvents bool
	// PoolActions are the cognito-idp actions it calls, on the one pool
	// (USER_POOL_ID).
	PoolActions []string
	// SendEmail: it sends mail through SES (API v2) from SENDER_EMAIL, and
	// may do so only from that identity.
	SendEmail bool
	// Invokes names the functions it invokes (asynchronously).
	Invokes []string
	// NeedsPool: it cannot run without USER_POOL_ID.
	NeedsPool bool
	// Settings are the environment variables it reads beyond the policy and
	// its tables' names.
	Settings []string
}

// PolicyVars are the policy settings every function reads (spec §3).
var PolicyVars = []string{"DORMANCY_DAYS", "WARNING_DAYS", "GROUP_POLICIES", "EXEMPT_GROUPS", "ADMIN_GROUPS", "SCOPE_GROUPS", "ADMIN_CONTACT"}

// ContextVars maps the CDK context keys of cdk.json that set a function's
// environment to the variables they set, for the deployed stack and for
// make dev alike.
var ContextVars = map[string]string{
	"dormancyDays": "DORMANCY_DAYS", "warningDays": "WARNING_DAYS", "groupPolicies": "GROUP_POLICIES",
	"exemptGroups": "EXEMPT_GROUPS", "adminGroups": "ADMIN_GROUPS", "cognitoRps": "COGNITO_RPS",
	"scopeGroups": "SCOPE_GROUPS", "adminContact": "ADMIN_CONTACT",
	"holdAboveCount": "HOLD_ABOVE_COUNT", "holdAbovePercent": "HOLD_ABOVE_PERCENT", "syncRps": "SYNC_RPS",
	"senderEmail": "SENDER_EMAIL", "adminNotifyEmail": "ADMIN_NOTIFY_EMAIL",
}

// AuditDenied are the actions every role is explicitly denied on the Audit
// table, whatever else a policy might someday allow: nothing may change or
// delete an entry, nor the table (deleting it, switching off its deletion
// protection, a TTL that would expire entries).
// PutItem cannot be denied (entries are written with it); every write
// the code makes is conditional on a new key, and the hash chain shows an
// overwrite.
var AuditDenied = []string{
	"DeleteItem", "UpdateItem", "BatchWriteItem", "PartiQLDelete", "PartiQLUpdate", "PartiQLInsert",
	"DeleteTable", "UpdateTable", "UpdateTimeToLive",
}

// Functions is every function of the system.
var Functions = []Function{
	{
		Name: "LoginHook", Dir: "loginhook", Timeout: 5 * time.Second, MemoryMB: 512, // Cognito gives a trigger 5 s
		Grants: []Grant{
			// read the account; create it; stamp sign-ins, record groups, deactivate at sign-in
			{Table: "Users", Actions: []string{"GetItem", "PutItem", "UpdateItem"}},
			{Table: "Audit", Actions: []string{"PutItem"}},
			{Table: "Outbox", Actions: []string{"PutItem"}},
		},
	},
	{
		Name: "Sweeper", Dir: "sweeper", Timeout: 15 * time.Minute, MemoryMB: 512,
		Grants: []Grant{
			{Table: "Users", Index: dynamo.IndexBySweep, Actions: []string{"Query"}},
			// deactivate and warn (counts move in the same transaction);
			// read the counts
			{Table: "Users", Actions: []string{"UpdateItem", "BatchGetItem"}},
			{Table: "Audit", Actions: []string{"PutItem"}},
			// owes events and sign-outs, and relays everyone's
			{Table: "Outbox", Actions: []string{"PutItem", "Query", "UpdateItem", "DeleteItem"}},
			// the hold, and the run's record
			{Table: "Runs", Actions: []string{"GetItem", "PutItem"}},
		},
		PutEvents: true,
		// revoke sessions; check the triggers name the login hook; the
		// clients' refresh-token validity
		PoolActions: []string{"AdminUserGlobalSignOut", "DescribeUserPool", "ListUserPoolClients", "DescribeUserPoolClient"},
		Settings:    []string{"EVENT_BUS_NAME", "USER_POOL_ID", "COGNITO_RPS", "LOGIN_HOOK_ARN", "HOLD_ABOVE_COUNT", "HOLD_ABOVE_PERCENT"},
	},
	{
		Name: "Reassign", Dir: "reassign", Timeout: 5 * time.Minute, MemoryMB: 512,
		Grants: []Grant{
			// the event's user must be deactivated in the store
			{Table: "Users", Actions: []string{"GetItem"}},
			{Table: "Records", Index: dynamo.IndexByUser, Actions: []string{"Query"}},
			// clear a field, retire its reference, queue the record
			{Table: "Records", Actions: []string{"UpdateItem", "PutItem"}},
			{Table: "Audit", Actions: []string{"PutItem"}},
			// relays its own RecordUserCleared events
			{Table: "Outbox", Actions: []string{"PutItem", "GetItem", "UpdateItem", "DeleteItem"}},
		},
		PutEvents: true,
		Settings:  []string{"EVENT_BUS_NAME"},
	},
	{
		Name: "Notify", Dir: "notify", Timeout: time.Minute, MemoryMB: 256,
		Grants: []Grant{
			// whom to write to: the user's e-mail and name
			{Table: "Users", Actions: []string{"GetItem"}},
			// one notice per event, however often it is delivered
			{Table: "Notices", Actions: []string{"GetItem", "PutItem", "UpdateItem"}},
		},
		SendEmail: true,
		Settings:  []string{"SENDER_EMAIL", "ADMIN_NOTIFY_EMAIL"},
	},
	{
		Name: "PoolSync", Dir: "poolsync", Timeout: 15 * time.Minute, MemoryMB: 512,
		Grants: []Grant{
			// which of a page's users are known; bring the others in (their
			// count moves with them); update groups and e-mail
			{Table: "Users", Actions: []string{"BatchGetItem", "PutItem", "UpdateItem"}},
			{Table: "Audit", Actions: []string{"PutItem"}},
			// where the sync is, and its run's record
			{Table: "Runs", Actions: []string{"GetItem", "PutItem"}},
		},
		// read the pool: users (quota category UserList), groups and their
		// members (UserPoolResourceRead, UserList)
		PoolActions: []string{"ListUsers", "ListGroups", "ListUsersInGroup"},
		NeedsPool:   true,
		Settings:    []string{"USER_POOL_ID", "SYNC_RPS", "HOLD_ABOVE_COUNT", "HOLD_ABOVE_PERCENT"},
	},
	{
		Name: "Api", Dir: "api", Timeout: 10 * time.Second, MemoryMB: 512,
		Grants: []Grant{
			{Table: "Users", Index: dynamo.IndexByList, Actions: []string{"Query"}},
			{Table: "Users", Index: dynamo.IndexByName, Actions: []string{"Query"}},
			// the compliance report reads what a sweep reads: users at or
			// past a threshold, and by end date
			{Table: "Users", Index: dynamo.IndexBySweep, Actions: []string{"Query"}},
			{Table: "Users", Index: dynamo.IndexByExpiry, Actions: []string{"Query"}},
			// read users (one, or the ones a reopened record names); import;
			// activate and deactivate; check that assigned users are active
			{Table: "Users", Actions: []string{"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "ConditionCheckItem"}},
			{Table: "Records", Index: dynamo.IndexByUser, Actions: []string{"Query"}},
			{Table: "Records", Actions: []string{"GetItem", "PutItem", "UpdateItem"}},
			{Table: "Audit", Index: dynamo.IndexByDay, Actions: []string{"Query"}},
			{Table: "Audit", Actions: []string{"Query", "PutItem"}},
			// sends its own change's events and sign-out at once
			{Table: "Outbox", Actions: []string{"PutItem", "GetItem", "UpdateItem", "DeleteItem"}},
			// runs, and the sweep's hold (read, released)
			{Table: "Runs", Actions: []string{"Query", "GetItem", "PutItem"}},
		},
		PutEvents:   true,
		PoolActions: []string{"AdminUserGlobalSignOut"},
		// POST /sync starts the pool sync
		Invokes:  []string{"PoolSync"},
		Settings: []string{"EVENT_BUS_NAME", "USER_POOL_ID", "COGNITO_RPS", "POOL_SYNC_FUNCTION", "CORS_ORIGINS", "HOLD_ABOVE_COUNT", "HOLD_ABOVE_PERCENT"},
	},
}

// Lookup finds the declaration of the named function (Name or Dir).
func Lookup(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name || f.Dir == name {
			return f, true
		}
	}
	return Function{}, false
}

// Get returns the declaration of the named function (Name or Dir), and
// panics for a name nobody declared (a programming error).
func Get(name string) Function {
	f, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("access: no function %q", name))
	}
	return f
}

// Tables lists the logical tables the function has any grant on.
func (f Function) Tables() []string {
	var out []string
	for _, g := range f.Grants {
		if !slices.Contains(out, g.Table) {
			out = append(out, g.Table)
		}
	}
	return out
}

// TableVars are the variables naming the function's tables.
func (f Function) TableVars() []string {
	var out []string
	for _, t := range f.Tables() {
		out = append(out, TableVar(t))
	}
	return out
}

// TableVar is the variable that names a logical table.
func TableVar(table string) string {
	for _, t := range dynamo.Schema {
		if t.Name == table {
			return t.EnvVar
		}
	}
	panic(fmt.Sprintf("access: no table %q in dynamo.Schema", table))
}

// Env is every variable the function reads, sorted: the policy, its tables'
// names and its other settings. The deployed function gets exactly these.
func (f Function) Env() []string {
	out := slices.Concat(PolicyVars, f.TableVars(), f.Settings)
	slices.Sort(out)
	return slices.Compact(out)
}

// Required are the variables the function cannot start without: its tables
// and, if it publishes, the bus. (USER_POOL_ID may be absent: a stack with no
// pool has no sessions to revoke.)
func (f Function) Required() []string {
	out := f.TableVars()
	if f.PutEvents {
		out = append(out, "EVENT_BUS_NAME")
	}
	if f.SendEmail {
		out = append(out, "SENDER_EMAIL")
	}
	if f.NeedsPool {
		out = append(out, "USER_POOL_ID")
	}
	return out
}

// Actions lists the actions granted on a table (or one of its indexes,
// given index), sorted.
func (f Function) Actions(table, index string) []string {
	var out []string
	for _, g := range f.Grants {
		if g.Table == table && g.Index == index {
			out = append(out, g.Actions...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
