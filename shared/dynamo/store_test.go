package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func create(t *testing.T, s *dynamo.Store, id string, idle time.Duration, groups ...string) dormancy.User {
	t.Helper()
	u, audit := dormancy.NewAccount(id, "name-"+id, groups, dormancy.SelfRegistration, id, t0.Add(-idle), t0.Add(-idle))
	if err := s.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUserRoundTrip(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	u := create(t, s, "u1", time.Hour, "Sales", "Contractors")
	got, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	// The chain's head is the store's own (chain_test.go checks it).
	noHead := cmpopts.IgnoreFields(dormancy.User{}, "AuditHash")
	if d := cmp.Diff(u, got, noHead); d != "" {
		t.Errorf("stored user (-want +got):\n%s", d)
	}
	c, _ := dormancy.DeactivateByAdmin(got, "admin", "left", 45, t0)
	if err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, "u1")
	if d := cmp.Diff(c.User, got, noHead); d != "" {
		t.Errorf("after deactivation (-want +got):\n%s", d)
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, dormancy.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestConditionsBecomeDomainErrors(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	u := create(t, s, "u1", time.Hour)
	if err := s.CreateUser(ctx, u, dormancy.AuditEntry{ID: "x", UserID: "u1", OccurredAt: t0}); !errors.Is(err, dormancy.ErrExists) {
		t.Errorf("second create: %v", err)
	}
	if err := s.RecordSignIn(ctx, "ghost", t0, ""); !errors.Is(err, dormancy.ErrNotFound) {
		t.Errorf("sign-in of an unknown user: %v", err)
	}
	c, _ := dormancy.DeactivateByAdmin(u, "admin", "left", 45, t0)
	if err := s.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, c); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("the same change twice: %v", err)
	}
	if err := s.RecordSignIn(ctx, "u1", t0, ""); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("sign-in of a deactivated user: %v", err)
	}
	if err := s.SetProfile(ctx, "ghost", dynamo.Profile{Groups: []string{"x"}}); !errors.Is(err, dormancy.ErrNotFound) {
		t.Errorf("groups of an unknown user: %v", err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	e := dormancy.AuditEntry{ID: "e1", UserID: "u1", Operation: dormancy.OpDisableUserAccount, OccurredAt: t0, Actor: "a", Source: "Admin", Reason: "first"}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.Reason = "rewritten"
	if err := s.AppendAudit(ctx, e); !errors.Is(err, dormancy.ErrExists) {
		t.Errorf("overwriting an entry: %v", err)
	}
	p, _ := s.UserAudit(ctx, "u1", 10, "")
	if len(p.Entries) != 1 || p.Entries[0].Reason != "first" {
		t.Errorf("trail = %+v", p.Entries)
	}
	if _, err := s.UserAudit(ctx, "u1", 10, "not-a-cursor!"); !errors.Is(err, dormancy.ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
}

// The sweep index holds ACTIVE users only, in not-yet-warned and warned
// shards, and a query reads only users at or before the cut-off.
func TestSweepIndex(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	for i := range 20 {
		create(t, s, fmt.Sprintf("old%02d", i), dormancy.Days(60))
		create(t, s, fmt.Sprintf("new%02d", i), dormancy.Days(1))
	}
	off, _ := s.GetUser(ctx, "old00")
	c, _ := dormancy.DeactivateByAdmin(off, "admin", "left", 45, t0)
	s.Apply(ctx, c)
	warn, _ := s.GetUser(ctx, "old01")
	p := dormancy.Policy{DefaultDays: 45, WarningDays: 7}
	w := dormancy.WarnDormant(warn, p.Evaluate(warn, t0), t0)
	if err := s.Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	read := func(warned bool) (ids []string, items int) {
		for _, sh := range dynamo.SweepShards(warned) {
			page, err := s.SweepCandidates(ctx, sh, t0.Add(-dormancy.Days(45)), 100, "")
			if err != nil {
				t.Fatal(err)
			}
			items += page.Read
			for _, u := range page.Users {
				ids = append(ids, u.UserID)
			}
		}
		return ids, items
	}
	notWarned, n1 := read(false)
	warned, n2 := read(true)
	if len(notWarned) != 18 || n1 != 18 || !cmp.Equal(warned, []string{"old01"}) || n2 != 1 {
		t.Errorf("not warned %d (%d read), warned %v (%d read)", len(notWarned), n1, warned, n2)
	}
	// A sign-in moves a warned user back to the not-yet-warned shard, past
	// the cut-off.
	if err := s.RecordSignIn(ctx, "old01", t0, ""); err != nil {
		t.Fatal(err)
	}
	if w, _ := read(true); len(w) != 0 {
		t.Errorf("still in the warned shard after a sign-in: %v", w)
	}
}

func TestOutboxClaimIsExclusive(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	u := create(t, s, "u1", dormancy.Days(60))
	p := dormancy.Policy{DefaultDays: 45}
	if err := s.Apply(ctx, dormancy.DeactivateForInactivity(u, p.Evaluate(u, t0), t0)); err != nil {
		t.Fatal(err)
	}
	items, err := s.Outbox(ctx, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("owed %d, %v", len(items), err)
	}
	now := time.Now()
	if err := s.Claim(ctx, items[0], now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, items[0], now, now.Add(time.Minute)); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("second claim inside the lease: %v", err)
	}
	if err := s.Claim(ctx, items[0], now.Add(2*time.Minute), now.Add(3*time.Minute)); err != nil {
		t.Errorf("claim after the lease: %v", err)
	}
	if err := s.Done(ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, items[0], now.Add(time.Hour), now.Add(2*time.Hour)); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("claiming a done item: %v", err)
	}
}

func TestUnreachableStoreIsUnavailable(t *testing.T) {
	s := dynamo.New(dynamotest.NewClient("http://127.0.0.1:1"), dynamo.Tables{Users: "U", Audit: "A", Records: "R", Outbox: "O"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.GetUser(ctx, "u"); !errors.Is(err, dormancy.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
}
