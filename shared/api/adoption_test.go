package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// holdSweep records a held run as the sweeper does.
func (f *fixture) holdSweep(t *testing.T, reason string) dormancy.SweepHold {
	t.Helper()
	h := dormancy.SweepHold{Held: true, HoldReason: reason, RunID: "run-held", HeldAt: f.now, Due: 80, Active: 400}
	audit, ev := dormancy.HoldSweep(h, dormancy.Guard{Count: 50, Percent: 10}, f.now)
	if err := f.store.HoldSweep(context.Background(), h, audit, ev); err != nil {
		t.Fatal(err)
	}
	return h
}

// A held sweep is released by an admin with a recorded approval from
// someone else; the release is audited; releasing when nothing is held is
// 409, and a malformed body changes nothing.
func TestSweepRelease(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := `{"approvalReference":"BH-2026-17","approvedBy":"head.of.it","comment":"a real clean-up"}`
	if r := f.call(t, admin, "POST", "/sweeps/release", body); r.Code != 409 {
		t.Errorf("nothing held: %d %s", r.Code, r.Raw)
	}
	f.holdSweep(t, dormancy.HoldTooMany)
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	for name, r := range map[string]response{
		"self-approval": f.call(t, admin, "POST", "/sweeps/release", `{"approvalReference":"BH-1","approvedBy":"ALICE"}`),
		"no reference":  f.callRaw(t, admin, "POST", "/sweeps/release", `{"approvedBy":"bh"}`),
		"unknown field": f.callRaw(t, admin, "POST", "/sweeps/release", `{"approvalReference":"BH-1","approvedBy":"bh","force":true}`),
		"case variant":  f.callRaw(t, admin, "POST", "/sweeps/release", `{"ApprovalReference":"BH-1","approvedBy":"bh"}`),
		"not json":      f.callRaw(t, admin, "POST", "/sweeps/release", `{`),
	} {
		if r.Code != 400 {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	if r := f.call(t, plain, "POST", "/sweeps/release", body); r.Code != 403 {
		t.Errorf("a non-admin: %d", r.Code)
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("refused releases wrote (-before +after):\n%s", d)
	}
	r := f.call(t, admin, "POST", "/sweeps/release", body)
	if r.Code != 200 || r.Body["released"] != true || r.Body["approvalReference"] != "BH-2026-17" || r.Body["releasedBy"] != "admin-1" {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	p, _ := f.store.UserAudit(ctx, dormancy.SweepsAccount, 10, "")
	var ops []dormancy.Operation
	for _, e := range p.Entries {
		ops = append(ops, e.Operation)
	}
	if !cmp.Equal(ops, []dormancy.Operation{dormancy.OpSweepHeld, dormancy.OpSweepReleased}) || p.Entries[1].ApprovedBy != "head.of.it" {
		t.Errorf("audit %+v", p.Entries)
	}
	if r := f.call(t, admin, "POST", "/sweeps/release", body); r.Code != 409 {
		t.Errorf("releasing twice: %d", r.Code)
	}
	if r := f.call(t, admin, "GET", "/audit?operation=SweepReleased", ""); r.Code != 200 || len(r.Body["entries"].([]any)) != 1 {
		t.Errorf("cross-user trail: %d %s", r.Code, r.Raw)
	}
	// The sweep's own trail is chained like a user's, and checked the same way.
	if r := f.call(t, admin, "GET", "/users/"+dormancy.SweepsAccount+"/audit/verify", ""); r.Code != 200 || r.Body["intact"] != true || r.Body["entries"] != 2.0 {
		t.Errorf("verify the sweep's trail: %d %s", r.Code, r.Raw)
	}
}

// A sweep held because the pool does not call the login hook is not
// released by an approval: the triggers must be attached.
func TestTriggersHoldIsNotReleasable(t *testing.T) {
	f := newFixture(t)
	f.holdSweep(t, dormancy.HoldTriggersNotAttached)
	r := f.call(t, admin, "POST", "/sweeps/release", `{"approvalReference":"BH-1","approvedBy":"bh"}`)
	if r.Code != 409 || !strings.Contains(r.Raw, "attach") {
		t.Errorf("%d %s", r.Code, r.Raw)
	}
}

// Runs are listed newest first, by kind and period.
func TestRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, kind := range []string{dormancy.RunSweep, dormancy.RunSync, dormancy.RunSweep} {
		sum, _ := json.Marshal(map[string]any{"runId": "r" + string(rune('0'+i)), "listed": 1, "imported": 1, "groupsUpdated": 0, "missingFromPool": 0, "complete": true, "durationMs": 5})
		if kind == dormancy.RunSweep {
			sum, _ = json.Marshal(map[string]any{"examined": 1, "deactivated": 0, "warned": 0, "exempt": 0, "eventsPublished": 0, "eventsPending": 0,
				"dryRun": i == 0, "durationMs": 5, "runId": "r" + string(rune('0'+i)), "held": false, "due": 0, "activeUsers": 3, "expired": 0, "signOutsSkipped": 0})
		}
		run := dormancy.Run{RunID: "r" + string(rune('0'+i)), Kind: kind, StartedAt: t0.Add(time.Duration(i) * time.Hour), EndedAt: t0.Add(time.Duration(i)*time.Hour + time.Minute),
			DryRun: i == 0, Summary: sum, Policy: dormancy.RunPolicy{DefaultDays: 45, HoldAboveCount: 50, HoldAbovePercent: 10}}
		if err := f.store.PutRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	f.now = t0.Add(5 * time.Hour)
	ids := func(r response) []string {
		var out []string
		for _, x := range r.Body["runs"].([]any) {
			out = append(out, x.(map[string]any)["runId"].(string))
		}
		return out
	}
	if r := f.call(t, admin, "GET", "/runs", ""); r.Code != 200 || !cmp.Equal(ids(r), []string{"r2", "r1", "r0"}) {
		t.Errorf("all runs: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, admin, "GET", "/runs?kind=sweep", ""); !cmp.Equal(ids(r), []string{"r2", "r0"}) {
		t.Errorf("sweeps: %s", r.Raw)
	}
	r := f.call(t, admin, "GET", "/runs?limit=1", "")
	if !cmp.Equal(ids(r), []string{"r2"}) || r.Body["cursor"] == "" {
		t.Fatalf("first page: %s", r.Raw)
	}
	if r := f.call(t, admin, "GET", "/runs?limit=2&cursor="+r.Body["cursor"].(string), ""); !cmp.Equal(ids(r), []string{"r1", "r0"}) {
		t.Errorf("next page: %s", r.Raw)
	}
	for _, bad := range []string{"/runs?kind=nap", "/runs?from=yesterday"} {
		if r := f.callRaw(t, admin, "GET", bad, ""); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	// Well-formed, but reversed or longer than 366 days.
	for _, bad := range []string{"/runs?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z", "/runs?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		if r := f.call(t, admin, "GET", bad, ""); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	if r := f.call(t, plain, "GET", "/runs", ""); r.Code != 403 {
		t.Errorf("a non-admin: %d", r.Code)
	}
}

// syncs records the pool syncs an API starts (the Lambda Invoke call).
type syncs struct {
	mu   sync.Mutex
	runs []string
	err  error
}

func (s *syncs) StartSync(_ context.Context, runID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, runID)
	return s.err
}

// POST /sync starts a pool sync and answers 202 with its run id; a sync in
// progress is the one answered for; a deployment without a pool says so.
func TestStartSync(t *testing.T) {
	f := newFixture(t)
	if r := f.call(t, admin, "POST", "/sync", ""); r.Code != 409 {
		t.Errorf("without a pool: %d %s", r.Code, r.Raw)
	}
	started := &syncs{}
	f.api.Sync = started
	r := f.call(t, admin, "POST", "/sync", "")
	if r.Code != 202 || r.Body["runId"] == "" || len(started.runs) != 1 || started.runs[0] != r.Body["runId"] {
		t.Fatalf("%d %s, started %v", r.Code, r.Raw, started.runs)
	}
	if _, err := f.store.SaveSync(context.Background(), dynamo.SyncState{RunID: "in-progress", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if r := f.call(t, admin, "POST", "/sync", ""); r.Code != 202 || r.Body["runId"] != "in-progress" {
		t.Errorf("with a sync in progress: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, admin, "POST", "/sync", `{"all":true}`); r.Code != 400 {
		t.Errorf("a body: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, plain, "POST", "/sync", ""); r.Code != 403 {
		t.Errorf("a non-admin: %d", r.Code)
	}
	started.err = errors.New("Lambda is down")
	if r := f.call(t, admin, "POST", "/sync", ""); r.Code != 503 || strings.Contains(r.Raw, "Lambda is down") {
		t.Errorf("invoke failing: %d %s", r.Code, r.Raw)
	}
}
