// Package config reads Dormancy's settings from the environment once, at a
// function's start, into a typed struct. A bad value is an error that names
// the variable; nothing falls back silently.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Config is every setting any function reads. Each function checks that the
// ones it needs are present with Require.
type Config struct {
	Policy      dormancy.Policy
	AdminGroups []string

	UsersTable   string
	AuditTable   string
	RecordsTable string
	OutboxTable  string
	RunsTable    string
	NoticesTable string
	EventBusName string
	UserPoolID   string
	CognitoRPS   float64
	// LoginHookARN is the function every trigger of the pool must name.
	LoginHookARN string
	// PoolSyncFunction is the pool sync's function, which POST /sync starts.
	PoolSyncFunction string
	// CORSOrigins are the browser origins (the admin console's) the API
	// answers for.
	CORSOrigins []string

	// Guard against mass deactivation (spec §5): a sweep that would
	// deactivate more than HoldAboveCount users and more than
	// HoldAbovePercent of the active ones holds. 0 in either turns it off.
	HoldAboveCount   int
	HoldAbovePercent float64
	// SyncRPS paces the pool sync's Cognito reads (ListUsers,
	// ListUsersInGroup, ListGroups).
	SyncRPS float64

	// Notices (spec §13): the sender of every mail, the admins' address
	// (optional) and whom refused users are told to contact (optional).
	SenderEmail      string
	AdminNotifyEmail string
	AdminContact     string
}

// Lookup reads a variable; os.LookupEnv in production, a map in tests.
type Lookup func(string) (string, bool)

// FromEnv reads the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv) }

// Load reads every setting through lookup.
func Load(lookup Lookup) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	var c Config
	var err error
	if c.Policy.DefaultDays, err = intVar(get, "DORMANCY_DAYS", 45, 1, dormancy.MaxDays); err != nil {
		return c, err
	}
	if c.Policy.WarningDays, err = intVar(get, "WARNING_DAYS", 7, 0, dormancy.MaxDays); err != nil {
		return c, err
	}
	if c.Policy.GroupDays, err = dormancy.ParseGroupPolicies(get("GROUP_POLICIES")); err != nil {
		return c, fmt.Errorf("GROUP_POLICIES: %w", err)
	}
	c.Policy.ExemptGroups = dormancy.ParseGroupList(get("EXEMPT_GROUPS"))
	c.Policy.ScopeGroups = dormancy.ParseGroupList(get("SCOPE_GROUPS"))
	c.AdminGroups = []string{"Admin", "Ops"}
	if v, ok := lookup("ADMIN_GROUPS"); ok {
		c.AdminGroups = dormancy.ParseGroupList(v)
		if len(c.AdminGroups) == 0 {
			return c, fmt.Errorf("ADMIN_GROUPS: must name at least one group")
		}
	}
	if c.Policy.WarningDays >= c.Policy.MinThresholdDays() {
		return c, fmt.Errorf("WARNING_DAYS: %d must be less than the smallest threshold (%d days, from DORMANCY_DAYS and GROUP_POLICIES)", c.Policy.WarningDays, c.Policy.MinThresholdDays())
	}
	c.UsersTable = get("USERS_TABLE")
	c.AuditTable = get("AUDIT_TABLE")
	c.RecordsTable = get("RECORDS_TABLE")
	c.OutboxTable = get("OUTBOX_TABLE")
	c.RunsTable = get("RUNS_TABLE")
	c.NoticesTable = get("NOTICES_TABLE")
	if c.HoldAboveCount, err = intVar(get, "HOLD_ABOVE_COUNT", 50, 0, 10_000_000); err != nil {
		return c, err
	}
	if c.HoldAbovePercent, err = floatVar(get, "HOLD_ABOVE_PERCENT", 10, 0, 100); err != nil {
		return c, err
	}
	if c.SyncRPS, err = floatVar(get, "SYNC_RPS", 10, 0.1, 50); err != nil {
		return c, err
	}
	for _, v := range []struct {
		name string
		dst  *string
	}{{"SENDER_EMAIL", &c.SenderEmail}, {"ADMIN_NOTIFY_EMAIL", &c.AdminNotifyEmail}} {
		if *v.dst = get(v.name); *v.dst != "" && !dormancy.ValidEmail(*v.dst) {
			return c, fmt.Errorf("%s: %q is not an e-mail address", v.name, *v.dst)
		}
	}
	c.AdminContact = get("ADMIN_CONTACT")
	if n := utf8.RuneCountInString(c.AdminContact); n > 200 || !utf8.ValidString(c.AdminContact) ||
		strings.IndexFunc(c.AdminContact, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return c, fmt.Errorf("ADMIN_CONTACT: must be at most 200 printable characters")
	}
	c.Policy.AdminContact = c.AdminContact
	c.EventBusName = get("EVENT_BUS_NAME")
	c.UserPoolID = get("USER_POOL_ID")
	c.LoginHookARN = get("LOGIN_HOOK_ARN")
	c.PoolSyncFunction = get("POOL_SYNC_FUNCTION")
	c.CORSOrigins = dormancy.ParseGroupList(get("CORS_ORIGINS"))
	for _, o := range c.CORSOrigins {
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://127.0.0.1:") && !strings.HasPrefix(o, "http://localhost") {
			return c, fmt.Errorf("CORS_ORIGINS: %q must be an https:// origin", o)
		}
	}
	c.CognitoRPS = 20
	if v := get("COGNITO_RPS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 25 {
			return c, fmt.Errorf("COGNITO_RPS: %q must be a number above 0 and at most 25 (Cognito's AdminUserGlobalSignOut quota)", v)
		}
		c.CognitoRPS = f
	}
	return c, nil
}

// Require checks that the named settings are present.
func (c Config) Require(names ...string) error {
	vals := map[string]string{
		"USERS_TABLE": c.UsersTable, "AUDIT_TABLE": c.AuditTable, "RECORDS_TABLE": c.RecordsTable,
		"OUTBOX_TABLE": c.OutboxTable, "EVENT_BUS_NAME": c.EventBusName, "USER_POOL_ID": c.UserPoolID,
		"RUNS_TABLE": c.RunsTable, "NOTICES_TABLE": c.NoticesTable, "SENDER_EMAIL": c.SenderEmail,
	}
	for _, n := range names {
		v, known := vals[n]
		if !known {
			return fmt.Errorf("config: unknown setting %s", n)
		}
		if v == "" {
			return fmt.Errorf("%s: must be set", n)
		}
	}
	return nil
}

func floatVar(get func(string) string, name string, def, min, max float64) (float64, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max {
		return 0, fmt.Errorf("%s: %q must be a number from %g to %g", name, v, min, max)
	}
	return f, nil
}

func intVar(get func(string) string, name string, def, min, max int) (int, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a whole number", name, v)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%s: %d is outside %d–%d", name, n, min, max)
	}
	return n, nil
}

// Guard is the sweep's guard against mass deactivation.
func (c Config) Guard() dormancy.Guard {
	return dormancy.Guard{Count: c.HoldAboveCount, Percent: c.HoldAbovePercent}
}
