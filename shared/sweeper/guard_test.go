package sweeper_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// bulk seeds n active users idle for idle, fast (their counts included).
func (f *fixture) bulk(t *testing.T, prefix string, n int, idle time.Duration) {
	t.Helper()
	var users []dormancy.User
	for i := range n {
		id := fmt.Sprintf("%s%04d", prefix, i)
		users = append(users, dormancy.User{UserID: id, Username: "user-" + id, Status: dormancy.Active, Groups: []string{},
			CreationSource: dormancy.Import, CreatedAt: t0.Add(-idle), Version: 1})
	}
	if err := f.store.BulkLoad(context.Background(), users); err != nil {
		t.Fatal(err)
	}
}

var guard = dormancy.Guard{Count: 50, Percent: 10}

// A sweep that would deactivate more than 50 users and more than 10% of the
// active ones deactivates nobody: it is held, audited, announced with
// SweepHeld and recorded; a dry run says so first. After an admin's
// release, the next run deactivates the users that were due.
func TestMassDeactivationIsHeldUntilReleased(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.bulk(t, "due", 60, days(50))
	f.bulk(t, "fine", 300, days(1)) // 60 of 360 active: 16.7%
	sw := f.sweeper(policy)
	sw.Guard = guard

	dry, err := sw.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.Held || dry.HoldReason != dormancy.HoldTooMany || dry.WouldDeactivateCount != 60 || dry.ActiveUsers != 360 {
		t.Errorf("dry run %+v: it must say the real run would hold", dry)
	}

	sum, err := sw.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Held || sum.HoldReason != dormancy.HoldTooMany || sum.Deactivated != 0 || sum.Due != 60 {
		t.Fatalf("summary %+v", sum)
	}
	if c, _ := f.store.CountUsers(ctx); c.Active != 360 {
		t.Errorf("a held run changed users: %+v", c)
	}
	if held := f.bus.byType(dormancy.TypeSweepHeld); len(held) != 1 {
		t.Errorf("SweepHeld events: %d", len(held))
	}
	p, _ := f.store.UserAudit(ctx, dormancy.SweepsAccount, 10, "")
	if len(p.Entries) != 1 || p.Entries[0].Operation != dormancy.OpSweepHeld {
		t.Errorf("sweep audit %+v", p.Entries)
	}
	runs, _ := f.store.ListRuns(ctx, dormancy.RunSweep, t0.Add(-time.Hour), t0.Add(time.Hour), 10, "")
	if len(runs.Runs) != 2 || !runs.Runs[0].Held || runs.Runs[0].HoldReason != dormancy.HoldTooMany || runs.Runs[0].Policy.HoldAboveCount != 50 {
		t.Errorf("runs %+v", runs.Runs)
	}

	// Released by someone other than its approver, the next run goes ahead.
	h, err := f.store.SweepHold(ctx)
	if err != nil || !h.Held {
		t.Fatalf("hold %+v %v", h, err)
	}
	if _, _, err := dormancy.ReleaseSweep(h, dormancy.ReactivationRequest{Actor: "admin-1", ActorUsername: "alice", ApprovalReference: "BH-9", ApprovedBy: "Alice"}, t0); err == nil {
		t.Error("a self-approved release was accepted")
	}
	released, audit, err := dormancy.ReleaseSweep(h, dormancy.ReactivationRequest{Actor: "admin-1", ApprovalReference: "BH-9", ApprovedBy: "head.of.it"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.ReleaseSweep(ctx, released, audit); err != nil {
		t.Fatal(err)
	}
	sum, err = sw.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Held || sum.Deactivated != 60 || !sum.Complete {
		t.Errorf("after the release: %+v", sum)
	}
	if h, _ := f.store.SweepHold(ctx); h.Held {
		t.Errorf("the hold outlived the run it released: %+v", h)
	}
	if _, _, err := dormancy.ReleaseSweep(dormancy.SweepHold{}, dormancy.ReactivationRequest{Actor: "a", ApprovalReference: "BH", ApprovedBy: "bh"}, t0); err == nil {
		t.Error("releasing with nothing held was accepted")
	}
}

// Either limit alone does not hold: 60 users due is over 50 but only 6% of
// a thousand; 40 is 40% of a hundred but not over 50.
func TestGuardNeedsBothLimits(t *testing.T) {
	for _, c := range []struct{ due, fine int }{{60, 940}, {40, 60}} {
		f := newFixture(t)
		f.bulk(t, "due", c.due, days(50))
		f.bulk(t, "fine", c.fine, days(1))
		sw := f.sweeper(policy)
		sw.Guard = guard
		sum, err := sw.Run(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Held || sum.Deactivated != c.due {
			t.Errorf("%d due of %d: %+v", c.due, c.due+c.fine, sum)
		}
	}
}

const hookARN = "arn:aws:lambda:us-east-1:000000000000:function:LoginHook"

// localPool makes a cognito-local pool whose four triggers name the hook,
// with an app client whose refresh tokens live one day.
func localPool(t *testing.T) (*cip.Client, string) {
	t.Helper()
	local, err := cognitotest.Start(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(local.Stop)
	ctx := context.Background()
	c := cognitotest.NewClient(local.Endpoint)
	pool, client, err := cognitotest.CreatePool(ctx, c, "guard")
	if err != nil {
		t.Fatal(err)
	}
	setTriggers(t, c, pool, hookARN, hookARN)
	if _, err := c.UpdateUserPoolClient(ctx, &cip.UpdateUserPoolClientInput{
		UserPoolId: &pool, ClientId: &client, RefreshTokenValidity: 1,
		TokenValidityUnits: &cipt.TokenValidityUnitsType{RefreshToken: cipt.TimeUnitsTypeDays},
	}); err != nil {
		t.Fatal(err)
	}
	return c, pool
}

func setTriggers(t *testing.T, c *cip.Client, pool, hook, postAuth string) {
	t.Helper()
	lc := &cipt.LambdaConfigType{PreAuthentication: aws.String(hook), PostConfirmation: aws.String(hook), PreTokenGeneration: aws.String(hook)}
	if postAuth != "" {
		lc.PostAuthentication = aws.String(postAuth)
	}
	if _, err := c.UpdateUserPool(context.Background(), &cip.UpdateUserPoolInput{UserPoolId: &pool, LambdaConfig: lc}); err != nil {
		t.Fatal(err)
	}
}

// Without the PostAuthentication stamp dormancy cannot be measured: a pool
// whose triggers do not all name the login hook holds the sweep.
func TestPoolWithoutTheTriggersHoldsTheSweep(t *testing.T) {
	f := newFixture(t)
	c, pool := localPool(t)
	f.bulk(t, "due", 3, days(50))
	sw := f.sweeper(policy)
	sw.Pool = sweeper.CognitoPool{Client: c, PoolID: pool, HookARN: hookARN}
	setTriggers(t, c, pool, hookARN, "") // PostAuthentication removed
	sum, err := sw.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Held || sum.HoldReason != dormancy.HoldTriggersNotAttached || sum.Deactivated != 0 {
		t.Errorf("summary %+v", sum)
	}
	h, _ := f.store.SweepHold(context.Background())
	if len(h.Missing) != 1 || h.Missing[0] != "PostAuthentication" {
		t.Errorf("hold %+v", h)
	}
	if _, _, err := dormancy.ReleaseSweep(h, dormancy.ReactivationRequest{Actor: "a", ApprovalReference: "BH", ApprovedBy: "bh"}, t0); err == nil {
		t.Error("a sweep held for its triggers was released: it must wait for them")
	}
	setTriggers(t, c, pool, hookARN, hookARN)
	if sum, err = sw.Run(context.Background(), false); err != nil || sum.Held || sum.Deactivated != 3 {
		t.Errorf("with the triggers back: %+v %v", sum, err)
	}
}

// A user whose last sign-in is older than the pool's longest refresh-token
// validity has no session left: deactivated without a sign-out call.
func TestNoSignOutWhereNoSessionCanBeAlive(t *testing.T) {
	f := newFixture(t)
	c, pool := localPool(t)
	ctx := context.Background()
	f.bulk(t, "never", 1, days(50)) // never signed in
	f.seed(t, "recent", days(60))
	// recent signed in 50 days ago: beyond the clients' one-day refresh
	// tokens, so no session is left either. (An admin's deactivation always
	// signs out: see the API's tests.)
	if err := f.store.RecordSignIn(ctx, "recent", t0.Add(-days(50)), ""); err != nil {
		t.Fatal(err)
	}
	sw := f.sweeper(policy)
	sw.Pool = sweeper.CognitoPool{Client: c, PoolID: pool, HookARN: hookARN}
	sum, err := sw.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deactivated != 2 || sum.SignOutsSkipped != 2 {
		t.Errorf("summary %+v", sum)
	}
	db := dynamotest.Client(t)
	for _, it := range dynamotest.Items(t, db, f.store.Tables().Outbox) {
		if it["kind"].(*ddbS).Value == dynamo.KindSignOut {
			t.Errorf("a sign-out was owed for a user with no live session: %v", it["userId"])
		}
	}
}

type ddbS = ddbtypes.AttributeValueMemberS

// Every run records the policy in force (spec §14): thresholds, groups
// (exempt and in scope) and the guard, as the sweep applied them.
func TestRunRecordsThePolicyInForce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := policy
	p.ScopeGroups = []string{"Staff"}
	sw := f.sweeper(p)
	sw.Guard = guard
	if _, err := sw.Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	runs, err := f.store.ListRuns(ctx, dormancy.RunSweep, t0.Add(-time.Hour), t0.Add(time.Hour), 10, "")
	if err != nil || len(runs.Runs) != 1 {
		t.Fatalf("runs %+v %v", runs.Runs, err)
	}
	want := dormancy.RunPolicy{
		DefaultDays: 45, WarningDays: 7, GroupDays: map[string]int{"Contractors": 90, "Temporary": 30},
		ExemptGroups: []string{"BreakGlass"}, ScopeGroups: []string{"Staff"}, HoldAboveCount: 50, HoldAbovePercent: 10,
	}
	if d := cmp.Diff(want, runs.Runs[0].Policy); d != "" {
		t.Errorf("recorded policy (-want +got):\n%s", d)
	}
}

// A release approves the users that were held, and as many more as the
// guard lets through on any night: not a standing exemption. When many
// more fall due before the released run (or a hold left released because
// clearing it failed), the run holds again.
func TestReleaseCoversTheHeldUsersOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.bulk(t, "due", 60, days(50))
	f.bulk(t, "fine", 300, days(1))
	sw := f.sweeper(policy)
	sw.Guard = guard
	if sum, err := sw.Run(ctx, false); err != nil || !sum.Held {
		t.Fatalf("first run %+v %v", sum, err)
	}
	h, _ := f.store.SweepHold(ctx)
	released, audit, err := dormancy.ReleaseSweep(h, dormancy.ReactivationRequest{Actor: "admin-1", ApprovalReference: "BH-9", ApprovedBy: "head.of.it"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.ReleaseSweep(ctx, released, audit); err != nil {
		t.Fatal(err)
	}
	f.bulk(t, "late", 100, days(50)) // 160 due: over the 60 released plus 50
	sum, err := sw.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Held || sum.Deactivated != 0 || sum.Due != 160 {
		t.Errorf("a release of 60 let %+v through", sum)
	}
	if c, _ := f.store.CountUsers(ctx); c.Active != 460 {
		t.Errorf("active users %+v", c)
	}
}
