package dormancy

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestEvaluate(t *testing.T) {
	p := Policy{DefaultDays: 45, WarningDays: 7, GroupDays: map[string]int{"Contractors": 90, "Temporary": 30}, ExemptGroups: []string{"Service"}}
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	cases := []struct {
		name      string
		u         User
		want      Action
		threshold int
	}{
		{"fresh sign-in", User{Status: Active, CreatedAt: ago(Days(400)), LastLoginAt: ago(Days(1))}, Keep, 45},
		{"one second inside", User{Status: Active, LastLoginAt: ago(Days(45) - time.Second)}, Warn, 45},
		{"exactly at threshold", User{Status: Active, LastLoginAt: ago(Days(45))}, Warn, 45},
		{"one second past", User{Status: Active, LastLoginAt: ago(Days(45) + time.Second)}, Deactivate, 45},
		{"never signed in, created recently", User{Status: Active, CreatedAt: ago(Days(10))}, Keep, 45},
		{"never signed in, created long ago", User{Status: Active, CreatedAt: ago(Days(50))}, Deactivate, 45},
		{"reactivation restarts the period", User{Status: Active, CreatedAt: ago(Days(300)), LastLoginAt: ago(Days(200)), ReactivatedAt: ago(Days(2))}, Keep, 45},
		{"warning window start", User{Status: Active, LastLoginAt: ago(Days(38))}, Warn, 45},
		{"just before warning window", User{Status: Active, LastLoginAt: ago(Days(38) - time.Second)}, Keep, 45},
		{"already warned this period", User{Status: Active, LastLoginAt: ago(Days(40)), WarnedAt: ago(Days(1))}, Keep, 45},
		{"warned in an earlier period", User{Status: Active, LastLoginAt: ago(Days(40)), WarnedAt: ago(Days(41))}, Warn, 45},
		{"smallest group threshold", User{Status: Active, Groups: []string{"Contractors", "Temporary"}, LastLoginAt: ago(Days(31))}, Deactivate, 30},
		{"longer group threshold", User{Status: Active, Groups: []string{"Contractors"}, LastLoginAt: ago(Days(60))}, Keep, 90},
		{"exempt past threshold", User{Status: Active, Groups: []string{"Service"}, LastLoginAt: ago(Days(900))}, Exempted, 45},
		{"exempt inside threshold", User{Status: Active, Groups: []string{"Service"}, LastLoginAt: ago(Days(1))}, Keep, 45},
		{"deactivated stays", User{Status: Deactivated, LastLoginAt: ago(Days(900))}, Keep, 45},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := p.Evaluate(c.u, t0)
			if v.Action != c.want || v.ThresholdDays != c.threshold {
				t.Errorf("got %v/%d, want %v/%d", v.Action, v.ThresholdDays, c.want, c.threshold)
			}
		})
	}
	noWarn := p
	noWarn.WarningDays = 0
	if v := noWarn.Evaluate(User{Status: Active, LastLoginAt: ago(Days(44))}, t0); v.Action != Keep {
		t.Errorf("WARNING_DAYS=0 still warns: %v", v.Action)
	}
}

func TestRefusalMessage(t *testing.T) {
	if got := RefusalMessage(&Deactivation{Reason: ReasonInactivity, ThresholdDays: 45}); got != "Account deactivated due to 45 days of inactivity. Please contact Admin." {
		t.Errorf("inactivity: %q", got)
	}
	if got := RefusalMessage(&Deactivation{Reason: ReasonAdmin}); got != "Account deactivated by an administrator. Please contact Admin." {
		t.Errorf("admin: %q", got)
	}
}

func TestReactivateRules(t *testing.T) {
	off := User{UserID: "u", Status: Deactivated, Version: 3}
	cases := []struct {
		name string
		u    User
		r    ReactivationRequest
		want error
	}{
		{"ok", off, ReactivationRequest{Actor: "a", ApprovalReference: "BH-1", ApprovedBy: "bh"}, nil},
		{"no reference", off, ReactivationRequest{Actor: "a", ApprovedBy: "bh"}, ErrInvalid},
		{"blank approver", off, ReactivationRequest{Actor: "a", ApprovalReference: "BH-1", ApprovedBy: "  "}, ErrInvalid},
		{"self approval", off, ReactivationRequest{Actor: "a", ApprovalReference: "BH-1", ApprovedBy: "a"}, ErrInvalid},
		{"already active", User{Status: Active}, ReactivationRequest{Actor: "a", ApprovalReference: "BH-1", ApprovedBy: "bh"}, ErrConflict},
	}
	for _, c := range cases {
		ch, err := Reactivate(c.u, c.r, t0)
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if c.want == nil && (ch.User.Status != Active || !ch.User.ReactivatedAt.Equal(t0) || ch.User.LastActivity() != t0 || ch.Audit.ApprovalReference != "BH-1") {
			t.Errorf("%s: change %+v", c.name, ch)
		}
	}
}

func TestStableIDs(t *testing.T) {
	u := User{UserID: "u1", Username: "alice", Status: Active, LastLoginAt: t0.Add(-Days(50))}
	p := Policy{DefaultDays: 45}
	a := DeactivateForInactivity(u, p.Evaluate(u, t0), t0)
	b := DeactivateForInactivity(u, p.Evaluate(u, t0.Add(time.Hour)), t0.Add(time.Hour))
	if a.Events[0].ID != b.Events[0].ID {
		t.Errorf("two deactivators of the same dormancy disagree on the event id: %s vs %s", a.Events[0].ID, b.Events[0].ID)
	}
	u.LastLoginAt = t0.Add(-Days(46))
	c := DeactivateForInactivity(u, p.Evaluate(u, t0), t0)
	if c.Events[0].ID == a.Events[0].ID {
		t.Error("a different dormancy period got the same event id")
	}
}

func TestParseGroupPolicies(t *testing.T) {
	got, err := ParseGroupPolicies(" Contractors=90, Temporary=30 ")
	if err != nil || got["Contractors"] != 90 || got["Temporary"] != 30 || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"Contractors", "=5", "A=0", "A=3651", "A=x", "A=1.5", "A=1,A=2", "A=+5"} {
		if _, err := ParseGroupPolicies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := Policy{DefaultDays: 45, WarningDays: 7, GroupDays: map[string]int{"Contractors": 90, "Temporary": 30}, ExemptGroups: []string{"Service", "BreakGlass"}}
	u := User{Status: Active, Groups: []string{"Sales", "Contractors"}, CreatedAt: t0.Add(-Days(300)), LastLoginAt: t0.Add(-Days(50))}
	for b.Loop() {
		p.Evaluate(u, t0)
	}
}

func BenchmarkDeactivateForInactivity(b *testing.B) {
	p := Policy{DefaultDays: 45}
	u := User{UserID: "3f1c2b9e-0d1a-4c55-9b7e-1a2b3c4d5e6f", Username: "alice", Status: Active, LastLoginAt: t0.Add(-Days(50))}
	v := p.Evaluate(u, t0)
	for b.Loop() {
		DeactivateForInactivity(u, v, t0)
	}
}
