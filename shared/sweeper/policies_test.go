package sweeper_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// A temporary account past its end date is deactivated by the sweep with
// reason EXPIRED, exempt group included, even though it was active
// yesterday (it is found by its end date, not its activity); one whose end
// date is near is warned of it.
func TestExpiredAccountsAreDeactivated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.seed(t, "temp", days(1), "BreakGlass")
	f.seed(t, "soon", days(1))
	for id, end := range map[string]time.Time{"temp": t0.Add(-time.Hour), "soon": t0.Add(days(3))} {
		u, _ := f.store.GetUser(ctx, id)
		c, err := dormancy.SetExpiry(u, dormancy.ExpiryRequest{Actor: "admin-1", ExpiresAt: end, Reason: "contract ends"}, t0.Add(-days(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := f.sweeper(policy).Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deactivated != 1 || sum.Expired != 1 || sum.Warned != 1 {
		t.Errorf("summary %+v", sum)
	}
	u, _ := f.store.GetUser(ctx, "temp")
	if u.Status != dormancy.Deactivated || u.Deactivation.Reason != dormancy.ReasonExpired {
		t.Errorf("temp %+v", u)
	}
	evs := f.bus.byType(dormancy.TypeUserDeactivated)
	if len(evs) != 1 || !contains(string(evs[0].Detail), `"reason":"EXPIRED"`) {
		t.Errorf("events %v", evs)
	}
	warn := f.bus.byType(dormancy.TypeUserDormancyWarning)
	if len(warn) != 1 || !contains(string(warn[0].Detail), `"reason":"EXPIRED"`) {
		t.Errorf("warnings %v", warn)
	}
}

// SCOPE_GROUPS leaves non-members active past the threshold (counted as
// exempt); members are deactivated.
func TestScopeGroupsLeaveNonMembersActive(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "member", days(60), "Sales")
	f.seed(t, "staff", days(60), "Staff")
	f.seed(t, "none", days(60))
	p := policy
	p.ScopeGroups = []string{"Sales"}
	sum, err := f.sweeper(p).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deactivated != 1 || sum.Exempt != 2 {
		t.Errorf("summary %+v", sum)
	}
	if f.status(t, "member") != dormancy.Deactivated || f.status(t, "staff") != dormancy.Active || f.status(t, "none") != dormancy.Active {
		t.Error("scope not honoured")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
