package reassign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/reassign"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/localbus/localbustest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var t0 = time.Date(2026, 11, 24, 23, 15, 0, 0, time.UTC)

type fixture struct {
	store *dynamo.Store
	h     *reassign.Handler
}

func newFixture(t *testing.T) *fixture {
	s := dynamotest.NewStore(t)
	return &fixture{store: s, h: &reassign.Handler{Store: s, Now: func() time.Time { return t0 }, Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Workers: 8}}
}

func (f *fixture) user(t *testing.T, id string) {
	t.Helper()
	u, audit := dormancy.NewAccount(id, "name-"+id, nil, dormancy.Import, "admin", t0.Add(-dormancy.Days(10)), t0.Add(-dormancy.Days(10)))
	if err := f.store.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) record(t *testing.T, id string, status dormancy.RecordStatus, fields map[string]string) {
	t.Helper()
	// Records are created Open (their users must be active), then moved.
	r := dormancy.Record{ID: id, Module: "lead", Status: dormancy.Open, Fields: fields}
	stored, err := f.store.PutRecord(context.Background(), r, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if status != dormancy.Open {
		stored.Status = status
		if _, err := f.store.PutRecord(context.Background(), stored, stored.Version, t0); err != nil {
			t.Fatal(err)
		}
	}
}

// deactivate switches the user off and returns the UserDeactivated event as
// EventBridge would deliver it.
func (f *fixture) deactivate(t *testing.T, id string) json.RawMessage {
	t.Helper()
	ctx := context.Background()
	u, err := f.store.GetUser(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dormancy.DeactivateByAdmin(u, "admin-1", "left", 45, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	env := localbus.Envelope{Version: "0", ID: "env-1", DetailType: c.Events[0].DetailType, Source: c.Events[0].Source,
		Account: "123456789012", Time: "2026-11-24T23:15:00Z", Region: "eu-west-1", Resources: []string{}, Detail: c.Events[0].Detail}
	raw, _ := json.Marshal(env)
	return raw
}

func (f *fixture) get(t *testing.T, id string) dormancy.Record {
	t.Helper()
	r, err := f.store.GetRecord(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) clearedEntries(t *testing.T, userID string) []dormancy.AuditEntry {
	t.Helper()
	p, err := f.store.UserAudit(context.Background(), userID, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []dormancy.AuditEntry
	for _, e := range p.Entries {
		if e.Operation == dormancy.OpRecordUserCleared {
			out = append(out, e)
		}
	}
	return out
}

func recordItems(t *testing.T, f *fixture, id string) []string {
	var out []string
	for _, row := range dynamotest.Snapshot(t, dynamotest.Client(t), f.store.Tables())["Records"] {
		if strings.Contains(row, `"recordId":"`+id+`"`) {
			out = append(out, row)
		}
	}
	return out
}

func TestReassignmentTable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, u := range []string{"dora", "other", "newbie"} {
		f.user(t, u)
	}
	f.record(t, "open-1", dormancy.Open, map[string]string{"assignedTo": "dora", "owner": "other"})
	f.record(t, "open-2", dormancy.Open, map[string]string{"assignedTo": "dora", "owner": "dora"})
	f.record(t, "reassigned", dormancy.Open, map[string]string{"assignedTo": "dora"})
	for _, s := range []dormancy.RecordStatus{dormancy.Closed, dormancy.Resolved, dormancy.Cancelled} {
		f.record(t, "done-"+string(s), s, map[string]string{"assignedTo": "dora"})
	}
	closedBefore := map[string][]string{}
	for _, s := range []string{"Closed", "Resolved", "Cancelled"} {
		closedBefore[s] = recordItems(t, f, "done-"+s)
	}
	// Someone re-assigns one record before the event arrives.
	r := f.get(t, "reassigned")
	r.Fields["assignedTo"] = "newbie"
	if _, err := f.store.PutRecord(ctx, r, r.Version, t0); err != nil {
		t.Fatal(err)
	}

	event := f.deactivate(t, "dora")
	res, err := f.h.Handle(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cleared != 3 || !res.Complete {
		t.Errorf("result = %+v, want 3 fields cleared", res)
	}
	// Open: cleared and flagged, the other field kept.
	if got := f.get(t, "open-1"); got.Fields["assignedTo"] != "" || got.Fields["owner"] != "other" || !cmp.Equal(got.NeedsReassignment, []string{"assignedTo"}) {
		t.Errorf("open-1 = %+v", got)
	}
	// Two fields naming the user: both cleared.
	if got := f.get(t, "open-2"); got.Fields["assignedTo"] != "" || got.Fields["owner"] != "" || !cmp.Equal(got.NeedsReassignment, []string{"assignedTo", "owner"}) {
		t.Errorf("open-2 = %+v", got)
	}
	// Re-assigned meanwhile: the new assignee is kept.
	if got := f.get(t, "reassigned"); got.Fields["assignedTo"] != "newbie" || len(got.NeedsReassignment) != 0 {
		t.Errorf("reassigned = %+v", got)
	}
	// Closed, Resolved, Cancelled: byte for byte as they were.
	for s, before := range closedBefore {
		if d := cmp.Diff(before, recordItems(t, f, "done-"+s)); d != "" {
			t.Errorf("%s record changed (-before +after):\n%s", s, d)
		}
	}
	// Audited with the previous user's id and name, and the event.
	entries := f.clearedEntries(t, "dora")
	if len(entries) != 3 {
		t.Fatalf("audit entries: %d, want 3", len(entries))
	}
	var cause dormancy.UserDeactivated
	var env localbus.Envelope
	json.Unmarshal(event, &env)
	json.Unmarshal(env.Detail, &cause)
	for _, e := range entries {
		if e.PreviousUserID != "dora" || e.PreviousUsername != "name-dora" || e.EventID != cause.EventID || e.RecordID == "" || e.Field == "" || e.Actor != "admin-1" || e.Source != "Admin" {
			t.Errorf("audit entry = %+v", e)
		}
	}
	// One RecordUserCleared per field in the outbox, each valid.
	owed, _ := f.store.Outbox(ctx, 100)
	n := 0
	for _, o := range owed {
		if o.Event.DetailType == dormancy.TypeRecordUserCleared {
			n++
			if err := events.Validate(o.Event.DetailType, o.Event.Detail); err != nil {
				t.Error(err)
			}
		}
	}
	if n != 3 {
		t.Errorf("RecordUserCleared owed: %d, want 3", n)
	}

	// Redelivery changes nothing: no second audit entry, no second event.
	snap := dynamotest.Snapshot(t, dynamotest.Client(t), f.store.Tables())
	again, err := f.h.Handle(ctx, event)
	if err != nil || again.Cleared != 0 {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	if d := cmp.Diff(snap, dynamotest.Snapshot(t, dynamotest.Client(t), f.store.Tables())); d != "" {
		t.Errorf("redelivery wrote (-before +after):\n%s", d)
	}

	// Reactivation restores nothing.
	u, _ := f.store.GetUser(ctx, "dora")
	c, err := dormancy.Reactivate(u, dormancy.ReactivationRequest{Actor: "admin-1", ApprovalReference: "BH-1", ApprovedBy: "bh"}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "open-1"); got.Fields["assignedTo"] != "" {
		t.Errorf("reactivation restored open-1: %+v", got)
	}
}

func TestReopenClearsDeactivatedUsers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "gone")
	f.user(t, "here")
	f.record(t, "c1", dormancy.Closed, map[string]string{"assignedTo": "gone", "owner": "here"})
	f.record(t, "r1", dormancy.Resolved, map[string]string{"assignedTo": "gone"})
	f.record(t, "x1", dormancy.Cancelled, map[string]string{"assignedTo": "here"})
	if _, err := f.h.Handle(ctx, f.deactivate(t, "gone")); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "c1"); got.Fields["assignedTo"] != "gone" {
		t.Fatalf("the closed record changed on deactivation: %+v", got)
	}
	for _, id := range []string{"c1", "r1"} {
		r, cleared, err := f.store.Reopen(ctx, id, "agent-7", t0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != dormancy.Open || r.Fields["assignedTo"] != "" || !cmp.Equal(r.NeedsReassignment, []string{"assignedTo"}) || len(cleared) != 1 {
			t.Errorf("reopened %s = %+v (%d cleared)", id, r, len(cleared))
		}
		if got := f.get(t, id); got.Status != dormancy.Open || got.Fields["assignedTo"] != "" {
			t.Errorf("stored %s = %+v", id, got)
		}
	}
	if got := f.get(t, "c1"); got.Fields["owner"] != "here" {
		t.Errorf("the active owner was cleared: %+v", got)
	}
	if n := len(f.clearedEntries(t, "gone")); n != 2 {
		t.Errorf("audit entries for the reopen clearings: %d, want 2", n)
	}
	if _, _, err := f.store.Reopen(ctx, "x1", "agent-7", t0); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("reopening a Cancelled record: %v", err)
	}
	// The reopened record is now found by a later deactivation of its owner.
	if _, err := f.h.Handle(ctx, f.deactivate(t, "here")); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "c1"); got.Fields["owner"] != "" {
		t.Errorf("after reopening, the owner's deactivation did not clear: %+v", got)
	}
	q, err := f.store.ReassignmentQueue(ctx, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range q.Records {
		ids = append(ids, r.ID)
	}
	if !cmp.Equal(ids, []string{"c1", "r1"}) {
		t.Errorf("queue = %v", ids)
	}
}

func TestOnlyActiveUsersInFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "ok")
	f.user(t, "off")
	f.deactivate(t, "off")
	_, err := f.store.PutRecord(ctx, dormancy.Record{ID: "n1", Module: "ticket", Status: dormancy.Open, Fields: map[string]string{"assignedTo": "ok", "owner": "off"}}, 0, t0)
	if !errors.Is(err, dormancy.ErrInvalid) || !strings.Contains(err.Error(), "field owner: user off is not an active user") {
		t.Fatalf("err = %v", err)
	}
	if _, err := f.store.GetRecord(ctx, "n1"); !errors.Is(err, dormancy.ErrNotFound) {
		t.Errorf("a refused record was stored: %v", err)
	}
	_, err = f.store.PutRecord(ctx, dormancy.Record{ID: "n2", Module: "ticket", Status: dormancy.Open, Fields: map[string]string{"assignedTo": "nobody"}}, 0, t0)
	if !errors.Is(err, dormancy.ErrInvalid) {
		t.Errorf("unknown user accepted: %v", err)
	}
	users, err := f.store.LookupActiveUsers(ctx, "NAME-", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].UserID != "ok" {
		t.Errorf("look-up = %+v, want only the active user", users)
	}
}

func TestManyRecordsInOneCall(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "busy")
	const n = 2000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := dormancy.Record{ID: fmt.Sprintf("lead-%05d", i), Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": "busy"}}
			if _, err := f.store.PutRecord(ctx, r, 0, t0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	res, err := f.h.Handle(ctx, f.deactivate(t, "busy"))
	if err != nil || res.Cleared != n {
		t.Fatalf("cleared %d of %d: %v", res.Cleared, n, err)
	}
}

func TestBadEventsWriteNothing(t *testing.T) {
	f := newFixture(t)
	f.user(t, "u")
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	sample, _ := events.Sample("eventbridge-user-deactivated.json")
	for name, raw := range map[string]string{
		"not json":     `{`,
		"wrong source": strings.Replace(string(sample), `"dormancy.users"`, `"evil.users"`, 1),
		"wrong type":   strings.Replace(string(sample), `"UserDeactivated"`, `"UserReactivated"`, 1),
		"extra field":  strings.Replace(string(sample), `"thresholdDays": 45`, `"thresholdDays": 45, "x": 1`, 1),
		"bad user id":  strings.Replace(string(sample), `"userId": "8f3b2c41-7d5e-4a19-9c6e-2b0f1d3a4e57"`, `"userId": "../../x"`, 1),
		"no detail":    `{"version":"0","source":"dormancy.users","detail-type":"UserDeactivated"}`,
	} {
		if _, err := f.h.Handle(context.Background(), json.RawMessage(raw)); !errors.Is(err, reassign.ErrBadEvent) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("bad events wrote (-before +after):\n%s", d)
	}
	// The sample itself is a valid event, once its user is deactivated in
	// the store (a user with no records).
	f.user(t, "8f3b2c41-7d5e-4a19-9c6e-2b0f1d3a4e57")
	f.deactivate(t, "8f3b2c41-7d5e-4a19-9c6e-2b0f1d3a4e57")
	if _, err := f.h.Handle(context.Background(), sample); err != nil {
		t.Errorf("sample: %v", err)
	}
}

// Anyone allowed to put events on the bus can send a UserDeactivated. The
// store decides: a user who is not deactivated there is cleared from
// nothing, and the audit entries name the actor and user name the store
// recorded, not the ones the event claims.
func TestForgedEventsClearNothing(t *testing.T) {
	f := newFixture(t)
	f.user(t, "alive")
	f.record(t, "o1", dormancy.Open, map[string]string{"assignedTo": "alive"})
	c := dormancy.DeactivateForInactivity(dormancy.User{UserID: "alive", Username: "name-alive", Status: dormancy.Active}, dormancy.Verdict{ThresholdDays: 45, LastActivity: t0.Add(-dormancy.Days(50))}, t0)
	env := localbus.Envelope{Version: "0", ID: "forged", DetailType: c.Events[0].DetailType, Source: c.Events[0].Source,
		Account: "123456789012", Time: "2026-11-24T23:15:00Z", Region: "eu-west-1", Resources: []string{}, Detail: c.Events[0].Detail}
	raw, _ := json.Marshal(env)
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	if _, err := f.h.Handle(context.Background(), raw); !errors.Is(err, reassign.ErrNotDeactivated) || !errors.Is(err, reassign.ErrBadEvent) {
		t.Errorf("event for an active user: err = %v, want ErrNotDeactivated", err)
	}
	if _, err := f.h.Handle(context.Background(), json.RawMessage(strings.NewReplacer(`"alive"`, `"nobody"`).Replace(string(raw)))); !errors.Is(err, reassign.ErrNotDeactivated) {
		t.Errorf("event for an unknown user: err = %v, want ErrNotDeactivated", err)
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("a forged event wrote (-before +after):\n%s", d)
	}

	// Deactivated for real (by admin-1), then an event claiming another
	// actor and name: the entries carry the store's.
	real := f.deactivate(t, "alive")
	var e localbus.Envelope
	json.Unmarshal(real, &e)
	var d map[string]any
	json.Unmarshal(e.Detail, &d)
	d["actor"], d["username"], d["automatic"] = "mallory", "someone-else", true
	e.Detail, _ = json.Marshal(d)
	lying, _ := json.Marshal(e)
	if _, err := f.h.Handle(context.Background(), lying); err != nil {
		t.Fatal(err)
	}
	got := f.clearedEntries(t, "alive")
	if len(got) != 1 || got[0].Actor != "admin-1" || got[0].UserAccount != "name-alive" || got[0].Source != dormancy.SourceAdmin {
		t.Errorf("entries %+v, want actor admin-1, user name-alive, source Admin (from the store)", got)
	}
}

// With a relay, the clearings' events go out with the reassignment, not at
// the next sweep; the reassignment sends only what it owes itself (the
// deactivation's own event and sign-out are not its to send).
func TestClearingsArePublishedAtOnce(t *testing.T) {
	f := newFixture(t)
	f.user(t, "gone")
	f.record(t, "o1", dormancy.Open, map[string]string{"assignedTo": "gone"})
	b, client := localbustest.New(t)
	f.h.Relay = &outbox.Relay{Store: f.store, Publisher: &outbox.EventBridge{Client: client, Bus: "test"}, Log: f.h.Log}
	if _, err := f.h.Handle(context.Background(), f.deactivate(t, "gone")); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, e := range b.Accepted() {
		types[e.DetailType]++
	}
	if types["RecordUserCleared"] != 1 {
		t.Errorf("published %v", types)
	}
	owed, _ := f.store.Outbox(context.Background(), 10)
	var kinds []string
	for _, o := range owed {
		kinds = append(kinds, o.Kind+":"+o.Event.DetailType)
	}
	if d := cmp.Diff([]string{"event:UserDeactivated", "signout:"}, kinds); d != "" {
		t.Errorf("still owed (-want +got):\n%s", d)
	}
}
