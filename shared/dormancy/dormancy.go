// Package dormancy is Dormancy's domain: account states and their
// transitions, what counts as activity, the dormancy policy (thresholds per
// group, exemptions, warnings), the messages a refused user sees, and the
// events and audit entries a change produces. It is plain Go: no AWS SDK, no
// Lambda types, and time comes from the caller.
package dormancy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is an account's state. It is a field of its own, never folded into
// groups or roles, so a reactivation has nothing to reconstruct.
type Status string

const (
	Active      Status = "ACTIVE"
	Deactivated Status = "DEACTIVATED"
)

// Reason says why an account was deactivated.
type Reason string

const (
	ReasonInactivity Reason = "INACTIVITY"
	ReasonAdmin      Reason = "ADMIN"
	ReasonExpired    Reason = "EXPIRED" // past the account's end date (spec §13)
)

// CreationSource says how the account's record came to be. It is set once.
type CreationSource string

const (
	SelfRegistration CreationSource = "SelfRegistration"
	AdminCreated     CreationSource = "AdminCreated"
	Import           CreationSource = "Import"
	FirstLogin       CreationSource = "FirstLogin"
)

// SystemActor is the actor of automatic changes (sweeper, login hook).
const SystemActor = "system"

// User is one account as Dormancy knows it.
type User struct {
	UserID         string
	Username       string
	Status         Status
	Groups         []string
	Email          string         // from Cognito's email attribute; empty if it has none
	CreationSource CreationSource // blank for users that existed before Dormancy
	CreatedAt      time.Time
	LastLoginAt    time.Time
	ReactivatedAt  time.Time
	// ImportedAt is when an existing user was brought in by an import. Without
	// a last sign-in, their activity is measured from it.
	ImportedAt time.Time
	// WarnedAt is when the current dormancy period's warning was sent; zero
	// if none was.
	WarnedAt time.Time
	// ExpiresAt is a temporary account's end date (spec §13); zero for none.
	ExpiresAt    time.Time
	Deactivation *Deactivation // the latest deactivation, if any
	Reactivation *Reactivation // the latest reactivation, if any
	Version      int64
	// AuditHash is the hash of the account's last audit entry: the head of
	// its tamper-evident chain (spec §9), kept by the store.
	AuditHash string
}

// Deactivation records when, who and why an account was switched off.
type Deactivation struct {
	At            time.Time
	By            string // SystemActor or the admin's userId
	Reason        Reason
	Automatic     bool
	ThresholdDays int    // the threshold that applied (inactivity) or was in force (admin)
	Comment       string // the admin's free-text reason
}

// Reactivation records who switched an account back on, and whose approval
// they had.
type Reactivation struct {
	At                time.Time
	By                string
	ApprovalReference string
	ApprovedBy        string
	Comment           string
}

// LastActivity is the latest of the last successful sign-in, the creation
// (or, for an imported user never seen signing in, the import) and the last
// reactivation (spec §2).
func (u User) LastActivity() time.Time {
	t := u.CreatedAt
	if u.LastLoginAt.After(t) {
		t = u.LastLoginAt
	}
	if u.ReactivatedAt.After(t) {
		t = u.ReactivatedAt
	}
	if u.LastLoginAt.IsZero() && u.ImportedAt.After(t) {
		t = u.ImportedAt
	}
	return t
}

// ActiveStatus is the API's rendering of Status.
func (u User) ActiveStatus() string {
	if u.Status == Active {
		return "Yes"
	}
	return "No"
}

// Messages a refused user sees (Cognito prefixes them with
// "PreAuthentication failed with error ").
const (
	MsgDeactivatedByAdmin = "Account deactivated by an administrator. Please contact Admin."
	MsgUnavailable        = "Sign-in is temporarily unavailable. Please try again later."
	// MsgNotActive refuses an account whose stored status is neither ACTIVE
	// nor DEACTIVATED: the hook fails closed on what it does not know.
	MsgNotActive = "Account is not active. Please contact Admin."
)

// RefusalMessage is what a deactivated user is told at sign-in, with the
// default contact line.
func RefusalMessage(d *Deactivation) string { return Policy{}.Refusal(User{Deactivation: d}) }

// contactLine ends every refusal: "Please contact Admin." or, with
// ADMIN_CONTACT, "Please contact Admin at <contact>."
func (p Policy) contactLine() string {
	if p.AdminContact == "" {
		return "Please contact Admin."
	}
	return "Please contact Admin at " + p.AdminContact + "."
}

// Refusal is what a deactivated user is told at sign-in (spec §4): why,
// and whom to contact.
func (p Policy) Refusal(u User) string {
	d := u.Deactivation
	switch {
	case d != nil && d.Reason == ReasonExpired && !u.ExpiresAt.IsZero():
		return fmt.Sprintf("Account expired on %s. %s", u.ExpiresAt.UTC().Format("2006-01-02"), p.contactLine())
	case d != nil && d.Reason == ReasonInactivity:
		return fmt.Sprintf("Account deactivated due to %d days of inactivity. %s", d.ThresholdDays, p.contactLine())
	}
	return "Account deactivated by an administrator. " + p.contactLine()
}

// NotActive is what a user whose stored status the hook does not know is
// told.
func (p Policy) NotActive() string { return "Account is not active. " + p.contactLine() }

// Policy is the dormancy policy of spec §3.
type Policy struct {
	DefaultDays  int            // DORMANCY_DAYS
	WarningDays  int            // WARNING_DAYS; 0 turns warnings off
	GroupDays    map[string]int // GROUP_POLICIES
	ExemptGroups []string       // EXEMPT_GROUPS
	// ScopeGroups (SCOPE_GROUPS): when set, only their members are
	// deactivated for inactivity; everyone else is treated as exempt.
	ScopeGroups []string
	// AdminContact (ADMIN_CONTACT) ends every refusal.
	AdminContact string
}

// ThresholdDays is the threshold that applies to a user in groups: the
// smallest of the group policies that name one of the groups, else the
// default.
func (p Policy) ThresholdDays(groups []string) int {
	days := 0
	for _, g := range groups {
		if d, ok := p.GroupDays[g]; ok && (days == 0 || d < days) {
			days = d
		}
	}
	if days == 0 {
		return p.DefaultDays
	}
	return days
}

// Exempt reports whether a user in groups is never deactivated
// automatically for inactivity: a member of an exempt group, or, with scope
// groups, a user in none of them.
func (p Policy) Exempt(groups []string) bool {
	for _, g := range groups {
		if slices.Contains(p.ExemptGroups, g) {
			return true
		}
	}
	if len(p.ScopeGroups) == 0 {
		return false
	}
	for _, g := range groups {
		if slices.Contains(p.ScopeGroups, g) {
			return false
		}
	}
	return true
}

// ExemptBy names the group that exempts a user in groups ("" for none; a
// user outside the scope groups is exempt by "(out of scope)").
func (p Policy) ExemptBy(groups []string) string {
	for _, g := range groups {
		if slices.Contains(p.ExemptGroups, g) {
			return g
		}
	}
	if p.Exempt(groups) {
		return "(out of scope)"
	}
	return ""
}

// MinThresholdDays is the smallest threshold any user can have. The sweeper
// reads the activity index up to this cut-off.
func (p Policy) MinThresholdDays() int {
	m := p.DefaultDays
	for _, d := range p.GroupDays {
		if d < m {
			m = d
		}
	}
	return m
}

// Days is a number of days as a duration.
func Days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// Action is what the policy says to do with an active user now.
type Action int

const (
	Keep       Action = iota // inside the threshold, nothing to do
	Warn                     // inside the warning window and not yet warned this period
	Deactivate               // past the threshold
	Exempted                 // past the threshold (or in the warning window) but exempt
	Expire                   // past the account's end date, exempt or not
)

func (a Action) String() string {
	return [...]string{"keep", "warn", "deactivate", "exempt", "expire"}[a]
}

// Verdict is the policy's decision about one user at one instant.
type Verdict struct {
	Action        Action
	ThresholdDays int
	LastActivity  time.Time
	DueAt         time.Time // when the user is (or was) due to be deactivated
	Reason        Reason    // why: INACTIVITY, or EXPIRED for an end date
}

// Evaluate applies the policy to an ACTIVE user at now. A user is past the
// threshold once now - last activity exceeds it: at exactly the threshold the
// user is still inside. Deactivated users are kept as they are.
func (p Policy) Evaluate(u User, now time.Time) Verdict {
	v := Verdict{ThresholdDays: p.ThresholdDays(u.Groups), LastActivity: u.LastActivity()}
	v.DueAt = v.LastActivity.Add(Days(v.ThresholdDays))
	if u.Status != Active {
		return v
	}
	// An end date is explicit: it applies to exempt users too, and when it
	// comes before the dormancy threshold it is what the user is warned of.
	if !u.ExpiresAt.IsZero() && (!u.ExpiresAt.After(v.DueAt) || p.Exempt(u.Groups)) {
		v.Reason, v.DueAt = ReasonExpired, u.ExpiresAt
		warnedThisPeriod := !u.WarnedAt.IsZero() && !u.WarnedAt.Before(v.LastActivity)
		switch {
		case !now.Before(u.ExpiresAt):
			v.Action = Expire
		case p.WarningDays > 0 && !now.Before(u.ExpiresAt.Add(-Days(p.WarningDays))) && !warnedThisPeriod:
			v.Action = Warn
		}
		return v
	}
	v.Reason = ReasonInactivity
	past := now.After(v.DueAt)
	inWindow := p.WarningDays > 0 && !now.Before(v.DueAt.Add(-Days(p.WarningDays)))
	warnedThisPeriod := !u.WarnedAt.IsZero() && !u.WarnedAt.Before(v.LastActivity)
	switch {
	case (past || inWindow) && p.Exempt(u.Groups):
		v.Action = Exempted
	case past:
		v.Action = Deactivate
	case inWindow && !warnedThisPeriod:
		v.Action = Warn
	}
	return v
}

// ParseGroupPolicies parses "Contractors=90,Temporary=30".
func ParseGroupPolicies(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range splitList(s) {
		name, days, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not group=days", part)
		}
		n, err := parseDays(strings.TrimSpace(days), 1)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("group %q is given twice", name)
		}
		out[name] = n
	}
	return out, nil
}

// ParseGroupList parses a comma-separated list of group names.
func ParseGroupList(s string) []string { return splitList(s) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// MaxDays is the largest threshold the policy accepts (ten years).
const MaxDays = 3650

func parseDays(s string, min int) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("%q is not a whole number of days", s)
	}
	if n < min || n > MaxDays {
		return 0, fmt.Errorf("%d is outside %d–%d days", n, min, MaxDays)
	}
	return n, nil
}

// Validate checks the policy as a whole.
func (p Policy) Validate() error {
	if p.DefaultDays < 1 || p.DefaultDays > MaxDays {
		return fmt.Errorf("default threshold %d is outside 1–%d days", p.DefaultDays, MaxDays)
	}
	if p.WarningDays < 0 || p.WarningDays >= p.MinThresholdDays() {
		return fmt.Errorf("warning days %d must be at least 0 and less than the smallest threshold (%d)", p.WarningDays, p.MinThresholdDays())
	}
	return nil
}
