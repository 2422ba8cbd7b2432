package dormancy

import (
	"testing"
	"time"
)

// SCOPE_GROUPS: only members of the scope groups are deactivated for
// inactivity; everyone else is exempt (and counted so).
func TestScopeGroups(t *testing.T) {
	p := Policy{DefaultDays: 45, ScopeGroups: []string{"Contractors"}, ExemptGroups: []string{"BreakGlass"}}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	old := now.Add(-Days(60))
	for groups, want := range map[string]Action{"Contractors": Deactivate, "": Exempted, "Staff": Exempted} {
		u := User{UserID: "u", Status: Active, CreatedAt: old}
		if groups != "" {
			u.Groups = []string{groups}
		}
		if got := p.Evaluate(u, now).Action; got != want {
			t.Errorf("groups %q: %v, want %v", groups, got, want)
		}
	}
	if by := p.ExemptBy([]string{"Staff"}); by != "(out of scope)" {
		t.Errorf("exempt by %q", by)
	}
	if by := p.ExemptBy([]string{"Contractors", "BreakGlass"}); by != "BreakGlass" {
		t.Errorf("exempt by %q", by)
	}
}

// ADMIN_CONTACT changes the contact line of every refusal, and nothing else;
// without it the messages are exactly the spec's.
func TestContactLine(t *testing.T) {
	exp := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	users := []User{
		{Deactivation: &Deactivation{Reason: ReasonInactivity, ThresholdDays: 45}},
		{Deactivation: &Deactivation{Reason: ReasonAdmin}},
		{Deactivation: &Deactivation{Reason: ReasonExpired}, ExpiresAt: exp},
	}
	plain := []string{
		"Account deactivated due to 45 days of inactivity. Please contact Admin.",
		"Account deactivated by an administrator. Please contact Admin.",
		"Account expired on 2027-01-01. Please contact Admin.",
	}
	contact := []string{
		"Account deactivated due to 45 days of inactivity. Please contact Admin at it-help@example.com.",
		"Account deactivated by an administrator. Please contact Admin at it-help@example.com.",
		"Account expired on 2027-01-01. Please contact Admin at it-help@example.com.",
	}
	for i, u := range users {
		if got := (Policy{}).Refusal(u); got != plain[i] {
			t.Errorf("default: %q", got)
		}
		if got := (Policy{AdminContact: "it-help@example.com"}).Refusal(u); got != contact[i] {
			t.Errorf("with a contact: %q", got)
		}
	}
	if got := (Policy{AdminContact: "x"}).NotActive(); got != "Account is not active. Please contact Admin at x." {
		t.Errorf("not active: %q", got)
	}
}

// An end date applies to exempt users too; it is warned of WARNING_DAYS
// before, and past it the account expires.
func TestExpiry(t *testing.T) {
	p := Policy{DefaultDays: 45, WarningDays: 7, ExemptGroups: []string{"BreakGlass"}}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	u := User{UserID: "u", Status: Active, CreatedAt: now.Add(-Days(1)), Groups: []string{"BreakGlass"}, ExpiresAt: now.Add(Days(3))}
	if v := p.Evaluate(u, now); v.Action != Warn || v.Reason != ReasonExpired || !v.DueAt.Equal(u.ExpiresAt) {
		t.Errorf("three days before: %+v", v)
	}
	if v := p.Evaluate(u, u.ExpiresAt); v.Action != Expire {
		t.Errorf("at the end date: %+v", v)
	}
	c := DeactivateForInactivity(u, p.Evaluate(u, u.ExpiresAt), u.ExpiresAt)
	if c.User.Deactivation.Reason != ReasonExpired || !c.Expect.LastActivity.IsZero() {
		t.Errorf("change %+v", c)
	}
	back, err := Reactivate(c.User, ReactivationRequest{Actor: "a", ApprovalReference: "BH", ApprovedBy: "bh"}, u.ExpiresAt.Add(time.Hour))
	if err != nil || !back.User.ExpiresAt.IsZero() {
		t.Errorf("reactivation keeps the end date: %+v %v", back.User, err)
	}
	if _, err := SetExpiry(u, ExpiryRequest{Actor: "a", ExpiresAt: now.Add(-time.Hour), Reason: "x"}, now); err == nil {
		t.Error("an end date in the past was accepted")
	}
}
