package infra

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Settings are the stack's context values (cdk.json, or -c key=value), every
// policy setting of the spec among them, checked at synth: a bad value fails
// synth with an error naming the key.
type Settings struct {
	DormancyDays  int
	WarningDays   int
	GroupPolicies string
	ExemptGroups  string
	AdminGroups   string
	Schedule      string
	CognitoRPS    int
	UserPoolID    string // empty: the stack creates a pool
	CORSOrigins   []string
	AlarmEmail    string
	AssetsDir     string // where build/<function>/bootstrap live
	// The sweep's guard (HOLD_ABOVE_COUNT, HOLD_ABOVE_PERCENT).
	HoldAboveCount   int
	HoldAbovePercent float64
	// SyncSchedule is when the pool sync runs; SyncRPS its pace.
	SyncSchedule string
	SyncRPS      int
	// ScopeGroups: only their members are deactivated for inactivity.
	ScopeGroups string
	// AdminContact ends every refusal message ("Please contact Admin at …").
	AdminContact string
	// SenderEmail is the SES identity notices come from; without it the
	// notify function is not deployed. AdminNotifyEmail gets the admins'
	// notices.
	SenderEmail, AdminNotifyEmail string
}

var (
	poolIDPattern   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]+$`)
	schedulePattern = regexp.MustCompile(`^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$`)
)

// ParseSettings reads the context through get (which returns "" for a key
// that is not set).
func ParseSettings(get func(key string) string) (Settings, error) {
	s := Settings{DormancyDays: 45, WarningDays: 7, AdminGroups: "Admin,Ops", Schedule: "cron(15 23 * * ? *)", CognitoRPS: 20, AssetsDir: "build",
		HoldAboveCount: 50, HoldAbovePercent: 10, SyncSchedule: "cron(45 22 * * ? *)", SyncRPS: 10}
	num := func(key string, dst *int, min, max int) error {
		v := strings.TrimSpace(get(key))
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return fmt.Errorf("context %s: %q must be a whole number from %d to %d", key, v, min, max)
		}
		*dst = n
		return nil
	}
	if err := num("dormancyDays", &s.DormancyDays, 1, dormancy.MaxDays); err != nil {
		return s, err
	}
	if err := num("warningDays", &s.WarningDays, 0, dormancy.MaxDays); err != nil {
		return s, err
	}
	if err := num("cognitoRps", &s.CognitoRPS, 1, 25); err != nil {
		return s, err
	}
	if err := num("holdAboveCount", &s.HoldAboveCount, 0, 10_000_000); err != nil {
		return s, err
	}
	if v := strings.TrimSpace(get("holdAbovePercent")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 {
			return s, fmt.Errorf("context holdAbovePercent: %q must be a number from 0 to 100", v)
		}
		s.HoldAbovePercent = f
	}
	if err := num("syncRps", &s.SyncRPS, 1, 50); err != nil {
		return s, err
	}
	s.GroupPolicies = strings.TrimSpace(get("groupPolicies"))
	groups, err := dormancy.ParseGroupPolicies(s.GroupPolicies)
	if err != nil {
		return s, fmt.Errorf("context groupPolicies: %w", err)
	}
	p := dormancy.Policy{DefaultDays: s.DormancyDays, WarningDays: s.WarningDays, GroupDays: groups}
	if err := p.Validate(); err != nil {
		return s, fmt.Errorf("context warningDays: %w", err)
	}
	s.ExemptGroups = strings.Join(dormancy.ParseGroupList(get("exemptGroups")), ",")
	if v := get("adminGroups"); v != "" {
		if s.AdminGroups = strings.Join(dormancy.ParseGroupList(v), ","); s.AdminGroups == "" {
			return s, fmt.Errorf("context adminGroups: must name at least one group")
		}
	}
	if v := strings.TrimSpace(get("schedule")); v != "" {
		if !schedulePattern.MatchString(v) {
			return s, fmt.Errorf("context schedule: %q must be an EventBridge cron(...) or rate(...) expression", v)
		}
		s.Schedule = v
	}
	if v := strings.TrimSpace(get("syncSchedule")); v != "" {
		if !schedulePattern.MatchString(v) {
			return s, fmt.Errorf("context syncSchedule: %q must be an EventBridge cron(...) or rate(...) expression", v)
		}
		s.SyncSchedule = v
	}
	if v := strings.TrimSpace(get("userPoolId")); v != "" {
		if !poolIDPattern.MatchString(v) {
			return s, fmt.Errorf("context userPoolId: %q is not a user pool id like eu-west-1_AbCdEf123", v)
		}
		s.UserPoolID = v
	}
	for _, o := range strings.Split(get("corsOrigins"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" && !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://localhost") {
			return s, fmt.Errorf("context corsOrigins: %q must be an https:// origin", o)
		}
		s.CORSOrigins = append(s.CORSOrigins, o)
	}
	if v := strings.TrimSpace(get("alarmEmail")); v != "" {
		if !dormancy.ValidEmail(v) {
			return s, fmt.Errorf("context alarmEmail: %q is not an e-mail address", v)
		}
		s.AlarmEmail = v
	}
	s.ScopeGroups = strings.Join(dormancy.ParseGroupList(get("scopeGroups")), ",")
	if s.AdminContact = strings.TrimSpace(get("adminContact")); len([]rune(s.AdminContact)) > 200 || strings.IndexFunc(s.AdminContact, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return s, fmt.Errorf("context adminContact: must be at most 200 printable characters")
	}
	for key, dst := range map[string]*string{"senderEmail": &s.SenderEmail, "adminNotifyEmail": &s.AdminNotifyEmail} {
		if v := strings.TrimSpace(get(key)); v != "" {
			if !dormancy.ValidEmail(v) {
				return s, fmt.Errorf("context %s: %q is not an e-mail address", key, v)
			}
			*dst = v
		}
	}
	if v := strings.TrimSpace(get("assetsDir")); v != "" {
		s.AssetsDir = v
	}
	return s, nil
}

// policyEnv is the policy part of every function's environment.
func (s Settings) policyEnv() map[string]string {
	return map[string]string{
		"DORMANCY_DAYS": strconv.Itoa(s.DormancyDays), "WARNING_DAYS": strconv.Itoa(s.WarningDays),
		"GROUP_POLICIES": s.GroupPolicies, "EXEMPT_GROUPS": s.ExemptGroups, "ADMIN_GROUPS": s.AdminGroups,
		"SCOPE_GROUPS": s.ScopeGroups, "ADMIN_CONTACT": s.AdminContact,
	}
}
