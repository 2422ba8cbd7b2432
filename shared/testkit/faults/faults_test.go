package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/localbus/localbustest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var (
	t0     = time.Date(2026, 11, 24, 23, 15, 0, 0, time.UTC)
	quiet  = slog.New(slog.NewJSONHandler(io.Discard, nil))
	policy = dormancy.Policy{DefaultDays: 45, WarningDays: 7}
)

// bus is a local PutEvents endpoint, reached through the real SDK client,
// validating every detail against its schema.
func bus(t *testing.T) (*localbus.Bus, *outbox.EventBridge) {
	b, client := localbustest.New(t)
	return b, &outbox.EventBridge{Client: client, Bus: "faults", Sleep: func(time.Duration) error { return nil }}
}

func newSweeper(store sweeper.Store, ob outbox.Store, pub outbox.Publisher, now func() time.Time) *sweeper.Sweeper {
	return &sweeper.Sweeper{
		Store: store, Relay: &outbox.Relay{Store: ob, Publisher: pub, DropSignOuts: true, Log: quiet},
		Policy: policy, Now: now, Log: quiet, Readers: 2, Writers: 4,
	}
}

// create writes a user and its creation entry, idle for the given time at t0.
func create(t *testing.T, s *dynamo.Store, id string, idle time.Duration) {
	t.Helper()
	u, audit := dormancy.NewAccount(id, "user-"+id, nil, dormancy.Import, "admin", t0.Add(-idle), t0.Add(-idle))
	if err := s.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
}

// deactivationEvents counts accepted UserDeactivated events by event id and
// by user.
func deactivationEvents(t *testing.T, b *localbus.Bus) (byID, byUser map[string]int) {
	byID, byUser = map[string]int{}, map[string]int{}
	for _, e := range b.Accepted() {
		if e.DetailType != dormancy.TypeUserDeactivated {
			continue
		}
		var d dormancy.UserDeactivated
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		byID[d.EventID]++
		byUser[d.UserID]++
	}
	return byID, byUser
}

// explained checks that a user's audit trail, replayed in version order,
// leads exactly to the user's stored state.
func explained(t *testing.T, s *dynamo.Store, id string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.GetUser(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.UserAudit(ctx, id, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	entries := page.Entries
	sort.Slice(entries, func(i, j int) bool { return entries[i].Version < entries[j].Version })
	enabled := false
	for i, e := range entries {
		if e.Version != int64(i+1) {
			t.Fatalf("%s: entry %d has version %d: the trail has a gap or a duplicate: %+v", id, i, e.Version, entries)
		}
		switch e.Operation {
		case dormancy.OpCreateUserAccount:
			if i != 0 {
				t.Fatalf("%s: creation at position %d", id, i)
			}
		case dormancy.OpDisableUserAccount:
			if !enabled {
				t.Fatalf("%s: entry %d disables a disabled account", id, i)
			}
		case dormancy.OpEnableUserAccount:
			if enabled {
				t.Fatalf("%s: entry %d enables an enabled account", id, i)
			}
			if e.ApprovalReference == "" || e.ApprovedBy == "" || e.ApprovedBy == e.Actor {
				t.Fatalf("%s: reactivation without a proper approval: %+v", id, e)
			}
		}
		enabled = e.IsEnabled
	}
	if enabled != (u.Status == dormancy.Active) || int64(len(entries)) != u.Version {
		t.Fatalf("%s: trail ends enabled=%v at version %d; user is %s at version %d", id, enabled, len(entries), u.Status, u.Version)
	}
}

// killAfter is a store that kills DynamoDB Local, as a crash would, once n
// changes have been written.
type killAfter struct {
	*dynamo.Store
	n     int64
	count atomic.Int64
	kill  func()
	once  sync.Once
}

func (k *killAfter) Apply(ctx context.Context, c dormancy.Change) error {
	if k.count.Add(1) > k.n {
		k.once.Do(k.kill)
	}
	return k.Store.Apply(ctx, c)
}

func TestStoreCrashMidSweep(t *testing.T) {
	dir, err := dynamotest.Dir()
	if err != nil {
		t.Fatal(err)
	}
	dbPath := t.TempDir()
	port := freePort(t)
	local, err := dynamotest.StartPersistent(dir, port, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { local.Stop() }()
	db := dynamotest.NewClient(local.Endpoint)
	tables := dynamo.Tables{Users: "Users", Audit: "Audit", Records: "Records", Outbox: "Outbox", Runs: "Runs", Notices: "Notices"}
	if err := dynamo.CreateTables(context.Background(), db, tables); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(db, tables)
	const n = 120
	for i := range n {
		create(t, store, fmt.Sprintf("c%03d", i), dormancy.Days(50+i))
	}
	b, pub := bus(t)
	now := func() time.Time { return t0 }

	crashing := &killAfter{Store: store, n: 40, kill: local.Kill}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	first, _ := newSweeper(crashing, store, pub, now).Run(ctx, false)
	cancel()
	if first.Complete || first.Deactivated >= n {
		t.Fatalf("the crash did not interrupt the sweep: %+v", first)
	}

	local, err = dynamotest.StartPersistent(dir, port, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	db = dynamotest.NewClient(local.Endpoint)
	store = dynamo.New(db, tables)
	second, err := newSweeper(store, store, pub, now).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Complete || second.EventsPending != 0 {
		t.Fatalf("second sweep: %+v", second)
	}
	byID, byUser := deactivationEvents(t, b)
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		u, err := store.GetUser(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != dormancy.Deactivated || byUser[id] != 1 {
			t.Errorf("%s: %s with %d events", id, u.Status, byUser[id])
		}
		explained(t, store, id)
	}
	for id, c := range byID {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
}

func TestThrottlingAndPartialFailuresOverManyRuns(t *testing.T) {
	s := dynamotest.NewStore(t)
	b, pub := bus(t)
	rng := rand.New(rand.NewPCG(7, 11))
	var mu sync.Mutex
	b.FailEntries(func([]byte, int) bool { mu.Lock(); defer mu.Unlock(); return rng.Float64() < 0.3 })
	// Users fall dormant one cohort a day; the bus also refuses some whole calls.
	const cohorts, size = 8, 15
	for c := range cohorts {
		for i := range size {
			create(t, s, fmt.Sprintf("k%d-%02d", c, i), dormancy.Days(45-c)-time.Hour)
		}
	}
	now := t0
	clock := func() time.Time { return now }
	for day := range cohorts + 4 {
		if day%3 == 1 {
			b.FailCalls(2)
		}
		if _, err := newSweeper(s, s, pub, clock).Run(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		now = now.Add(24 * time.Hour)
	}
	b.FailEntries(nil)
	final, err := newSweeper(s, s, pub, clock).Run(context.Background(), false)
	if err != nil || final.EventsPending != 0 {
		t.Fatalf("final run: %+v, %v", final, err)
	}
	byID, byUser := deactivationEvents(t, b)
	if len(byUser) != cohorts*size {
		t.Errorf("events for %d users, want %d", len(byUser), cohorts*size)
	}
	for id, c := range byID {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
}

func TestRacingChangesLeaveAnExplainedTrail(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	const users = 12
	for i := range users {
		create(t, s, fmt.Sprintf("r%02d", i), dormancy.Days(50))
	}
	_, pub := bus(t)
	var clockNanos atomic.Int64
	clockNanos.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clockNanos.Add(int64(time.Millisecond))).UTC() }
	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * time.Second)
	worker := func(seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, seed*31))
		for time.Now().Before(deadline) {
			id := fmt.Sprintf("r%02d", rng.IntN(users))
			switch rng.IntN(4) {
			case 0: // a sign-in (PostAuthentication's write)
				s.RecordSignIn(ctx, id, now(), "")
			case 1: // a manual deactivation
				if u, err := s.GetUser(ctx, id); err == nil {
					if c, err := dormancy.DeactivateByAdmin(u, "admin-1", "racing", 45, now()); err == nil {
						s.Apply(ctx, c)
					}
				}
			case 2: // a reactivation with approval
				if u, err := s.GetUser(ctx, id); err == nil {
					r := dormancy.ReactivationRequest{Actor: "admin-2", ApprovalReference: "BH-7", ApprovedBy: "bh-1"}
					if c, err := dormancy.Reactivate(u, r, now()); err == nil {
						s.Apply(ctx, c)
					}
				}
			case 3: // a sweep, at a time when everyone idle since t0 is dormant
				later := t0.Add(dormancy.Days(46))
				newSweeper(s, s, pub, func() time.Time { return later }).Run(ctx, false)
			}
		}
	}
	for g := range 8 {
		wg.Add(1)
		go worker(uint64(g + 1))
	}
	wg.Wait()
	for i := range users {
		explained(t, s, fmt.Sprintf("r%02d", i))
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
