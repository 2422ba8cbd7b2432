package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/localbus/localbustest"
)

var t0 = time.Date(2026, 11, 24, 23, 15, 0, 0, time.UTC)

func warnings(n int) []dormancy.Event {
	var out []dormancy.Event
	for i := range n {
		u := dormancy.User{UserID: fmt.Sprintf("u%02d", i), Username: fmt.Sprintf("user%02d", i), Status: dormancy.Active, CreatedAt: t0.Add(-dormancy.Days(40))}
		p := dormancy.Policy{DefaultDays: 45, WarningDays: 7}
		out = append(out, dormancy.WarnDormant(u, p.Evaluate(u, t0), t0).Events...)
	}
	return out
}

func newBus(t *testing.T) (*localbus.Bus, *outbox.EventBridge) {
	b, client := localbustest.New(t)
	return b, &outbox.EventBridge{Client: client, Bus: "test", Sleep: func(time.Duration) error { return nil }}
}

func ids(evs []dormancy.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

func acceptedIDs(t *testing.T, b *localbus.Bus) []string {
	var out []string
	for _, e := range b.Accepted() {
		var d struct {
			EventID string `json:"eventId"`
		}
		json.Unmarshal(e.Detail, &d)
		out = append(out, d.EventID)
	}
	sort.Strings(out)
	return out
}

func TestPublishBatchesOfTen(t *testing.T) {
	b, p := newBus(t)
	evs := warnings(25)
	got, err := p.Publish(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(ids(evs), ",") || strings.Join(acceptedIDs(t, b), ",") != strings.Join(ids(evs), ",") {
		t.Fatalf("accepted %d of 25; bus has %d", len(got), len(b.Accepted()))
	}
	for _, e := range b.Accepted() {
		if e.Source != "dormancy.users" || e.DetailType != "UserDormancyWarning" {
			t.Errorf("envelope %+v", e)
		}
	}
}

func TestPartialFailuresAreRetriedOnce(t *testing.T) {
	b, p := newBus(t)
	// Every other entry fails on its first attempt.
	n := 0
	b.FailEntries(func(_ []byte, attempt int) bool { n++; return attempt == 1 && n%2 == 0 })
	evs := warnings(23)
	got, err := p.Publish(context.Background(), evs)
	if err != nil || len(got) != 23 {
		t.Fatalf("accepted %d, err %v", len(got), err)
	}
	if a := acceptedIDs(t, b); strings.Join(a, ",") != strings.Join(ids(evs), ",") {
		t.Fatalf("bus holds %d events for 23 (duplicates or losses)", len(a))
	}
}

func TestWholeCallFailureThenRecovery(t *testing.T) {
	b, p := newBus(t)
	b.FailCalls(2)
	got, err := p.Publish(context.Background(), warnings(5))
	if err != nil || len(got) != 5 || len(b.Accepted()) != 5 {
		t.Fatalf("accepted %d, bus %d, err %v", len(got), len(b.Accepted()), err)
	}
}

func TestPersistentFailureReportsEventsNotAccepted(t *testing.T) {
	b, p := newBus(t)
	b.FailEntries(func(_ []byte, _ int) bool { return true })
	got, err := p.Publish(context.Background(), warnings(3))
	if err == nil || len(got) != 0 || !strings.Contains(err.Error(), "3 of 3 events not accepted") {
		t.Fatalf("accepted %v, err %v", got, err)
	}
}

func TestContextDeadlineRespected(t *testing.T) {
	b, _ := newBus(t)
	b.FailCalls(1000)
	srv := b.Serve()
	defer srv.Close()
	p := &outbox.EventBridge{Client: localbus.Client(srv.URL), Bus: "test", Attempts: 100}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.Publish(ctx, warnings(1)); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v past a 300ms deadline", d)
	}
}

func TestRoutingMatchesOnlyThePattern(t *testing.T) {
	b, p := newBus(t)
	var mu sync.Mutex
	var got []string
	err := b.Route("reassign", `{"source":["dormancy.users"],"detail-type":["UserDeactivated"]}`, func(_ context.Context, env []byte) error {
		var e localbus.Envelope
		json.Unmarshal(env, &e)
		mu.Lock()
		got = append(got, e.DetailType)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	u := dormancy.User{UserID: "u1", Username: "jane", Status: dormancy.Active, CreatedAt: t0.Add(-dormancy.Days(50)), Version: 1}
	pol := dormancy.Policy{DefaultDays: 45}
	deact := dormancy.DeactivateForInactivity(u, pol.Evaluate(u, t0), t0).Events
	if _, err := p.Publish(context.Background(), append(warnings(2), deact...)); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "UserDeactivated" {
		t.Fatalf("routed %v, want only the UserDeactivated", got)
	}
}

func TestFailingTargetIsRetriedThenDeadLettered(t *testing.T) {
	b, p := newBus(t)
	tries := 0
	b.Route("broken", `{"source":["dormancy.users"]}`, func(context.Context, []byte) error { tries++; return fmt.Errorf("down") })
	if _, err := p.Publish(context.Background(), warnings(1)); err != nil {
		t.Fatal(err)
	}
	if tries != 3 || len(b.DeadLetters()) != 1 {
		t.Fatalf("tries %d, dead letters %d", tries, len(b.DeadLetters()))
	}
}
