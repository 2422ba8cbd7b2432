package sweeper_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var t0 = time.Date(2026, 11, 24, 23, 15, 0, 0, time.UTC)

var policy = dormancy.Policy{
	DefaultDays: 45, WarningDays: 7,
	GroupDays:    map[string]int{"Contractors": 90, "Temporary": 30},
	ExemptGroups: []string{"BreakGlass"},
}

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

type fixture struct {
	store *dynamo.Store
	bus   *testBus
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	return &fixture{store: dynamotest.NewStore(t), bus: newTestBus(t), now: t0}
}

func (f *fixture) sweeper(p dormancy.Policy) *sweeper.Sweeper {
	return &sweeper.Sweeper{
		Store:  f.store,
		Relay:  &outbox.Relay{Store: f.store, Publisher: f.bus.publisher, DropSignOuts: true, Log: quiet},
		Policy: p, Now: func() time.Time { return f.now }, Log: quiet,
		Readers: 4, Writers: 8,
	}
}

// seed writes an active user last active the given time before t0.
func (f *fixture) seed(t *testing.T, id string, idle time.Duration, groups ...string) {
	t.Helper()
	u := dormancy.User{
		UserID: id, Username: "user-" + id, Status: dormancy.Active, Groups: groups,
		CreationSource: dormancy.SelfRegistration, CreatedAt: t0.Add(-idle), Version: 1,
	}
	_, audit := dormancy.NewAccount(id, u.Username, groups, u.CreationSource, id, u.CreatedAt, u.CreatedAt)
	if err := f.store.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) status(t *testing.T, id string) dormancy.Status {
	t.Helper()
	u, err := f.store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Status
}

func days(n int) time.Duration { return dormancy.Days(n) }

func TestDeactivatesExactlyTheDormant(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "inside", days(45)-time.Second)
	f.seed(t, "at", days(45))
	f.seed(t, "outside", days(45)+time.Second)
	f.seed(t, "old", days(400))
	f.seed(t, "recent", days(3))
	f.seed(t, "temp", days(31), "Temporary")
	f.seed(t, "contractor", days(60), "Contractors")
	f.seed(t, "exempt", days(900), "BreakGlass")

	sum, err := f.sweeper(policy).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]dormancy.Status{
		"inside": dormancy.Active, "at": dormancy.Active, "outside": dormancy.Deactivated, "old": dormancy.Deactivated,
		"recent": dormancy.Active, "temp": dormancy.Deactivated, "contractor": dormancy.Active, "exempt": dormancy.Active,
	}
	got := map[string]dormancy.Status{}
	for id := range want {
		got[id] = f.status(t, id)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("states (-want +got):\n%s", d)
	}
	if sum.Deactivated != 3 || sum.Exempt != 1 || sum.EventsPending != 0 || !sum.Complete {
		t.Errorf("summary = %+v", sum)
	}
	// One UserDeactivated per deactivation, valid against the schema, plus
	// warnings for the users inside the warning window ("inside", "at").
	evs := f.bus.byType(dormancy.TypeUserDeactivated)
	if len(evs) != 3 {
		t.Fatalf("UserDeactivated events: %d, want 3", len(evs))
	}
	var temp dormancy.UserDeactivated
	for _, e := range evs {
		var d dormancy.UserDeactivated
		json.Unmarshal(e.Detail, &d)
		if d.UserID == "temp" {
			temp = d
		}
	}
	if temp.ThresholdDays != 30 || temp.Reason != dormancy.ReasonInactivity || !temp.Automatic || temp.Actor != "system" {
		t.Errorf("temp's event = %+v", temp)
	}
	if n := len(f.bus.byType(dormancy.TypeUserDormancyWarning)); n != 2 {
		t.Errorf("warnings: %d, want 2 (inside, at)", n)
	}
	// Three deactivations, two warnings, and the admins' digest of the run.
	if sum.EventsPublished != 6 || len(f.bus.byType(dormancy.TypeSweepCompleted)) != 1 {
		t.Errorf("eventsPublished = %d, want 6 (one of them SweepCompleted)", sum.EventsPublished)
	}
}

// signInFirst is a store whose first write for one user is preceded by that
// user signing in: the sign-in lands between the sweep's read and its write.
type signInFirst struct {
	*dynamo.Store
	user string
	once sync.Once
}

func (s *signInFirst) Apply(ctx context.Context, c dormancy.Change) error {
	if c.User.UserID == s.user {
		s.once.Do(func() {
			if err := s.Store.RecordSignIn(ctx, s.user, t0, ""); err != nil {
				panic(err)
			}
		})
	}
	return s.Store.Apply(ctx, c)
}

func TestSignInDuringSweepWins(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "sleepy", days(50))
	f.seed(t, "lucky", days(50))
	sw := f.sweeper(policy)
	sw.Store = &signInFirst{Store: f.store, user: "lucky"}
	sum, err := sw.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.status(t, "lucky") != dormancy.Active || f.status(t, "sleepy") != dormancy.Deactivated {
		t.Fatalf("lucky %s, sleepy %s", f.status(t, "lucky"), f.status(t, "sleepy"))
	}
	if sum.Deactivated != 1 || sum.Raced != 1 {
		t.Errorf("summary = %+v", sum)
	}
	for _, e := range f.bus.byType(dormancy.TypeUserDeactivated) {
		if e.UserID == "lucky" {
			t.Error("an event was published for the user whose sign-in won")
		}
	}
}

func TestConcurrentSweepsActOnce(t *testing.T) {
	f := newFixture(t)
	for i := range 40 {
		f.seed(t, fmt.Sprintf("d%02d", i), days(46+i))
	}
	var wg sync.WaitGroup
	var total atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := f.sweeper(policy).Run(context.Background(), false)
			if err != nil {
				t.Error(err)
			}
			total.Add(int64(sum.Deactivated))
		}()
	}
	wg.Wait()
	if total.Load() != 40 {
		t.Errorf("deactivations across both sweeps: %d, want 40", total.Load())
	}
	evs := f.bus.byType(dormancy.TypeUserDeactivated)
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.UserID]++
	}
	if len(evs) != 40 || len(seen) != 40 {
		t.Errorf("events %d for %d users, want one each for 40", len(evs), len(seen))
	}
	for _, id := range []string{"d00", "d39"} {
		audit, _ := f.store.UserAudit(context.Background(), id, 10, "")
		n := 0
		for _, e := range audit.Entries {
			if e.Operation == dormancy.OpDisableUserAccount {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has %d DisableUserAccount entries", id, n)
		}
	}
}

func TestPublishFailuresLoseNothingAndDuplicateNothing(t *testing.T) {
	f := newFixture(t)
	for i := range 25 {
		f.seed(t, fmt.Sprintf("p%02d", i), days(50))
	}
	// The bus refuses every call: the deactivations are committed and the
	// events stay owed.
	f.bus.failCalls(1000)
	sum, err := f.sweeper(policy).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deactivated != 25 || sum.EventsPending != 26 || sum.Complete { // and the run's digest
		t.Fatalf("with the bus down: %+v", sum)
	}
	// Then it fails some entries of every call.
	f.bus.failCalls(0)
	f.bus.failEveryNth(3)
	f.now = f.now.Add(time.Hour)
	for run := 0; run < 6; run++ {
		sum, err = f.sweeper(policy).Run(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if sum.EventsPending == 0 {
			break
		}
	}
	if sum.EventsPending != 0 {
		t.Fatalf("events still pending after recovery: %+v", sum)
	}
	evs := f.bus.byType(dormancy.TypeUserDeactivated)
	ids := map[string]int{}
	for _, e := range evs {
		ids[e.ID]++
	}
	if len(ids) != 25 || len(evs) != 25 {
		t.Errorf("accepted %d events with %d distinct ids, want 25 and 25", len(evs), len(ids))
	}
}

// countingStore counts the changes written through it.
type countingStore struct {
	*dynamo.Store
	applied atomic.Int64
}

func (c *countingStore) Apply(ctx context.Context, ch dormancy.Change) error {
	err := c.Store.Apply(ctx, ch)
	if err == nil {
		c.applied.Add(1)
	}
	return err
}

func TestDeadlineStopsAndNextRunFinishes(t *testing.T) {
	f := newFixture(t)
	for i := range 30 {
		f.seed(t, fmt.Sprintf("s%02d", i), days(60))
	}
	sw := f.sweeper(policy)
	counting := &countingStore{Store: f.store}
	sw.Store, sw.Readers, sw.Writers, sw.PageSize = counting, 1, 1, 5
	// Plenty of time for ten deactivations, then less than the 30 s reserve.
	sw.TimeLeft = func(context.Context) time.Duration {
		if counting.applied.Load() >= 10 {
			return 29 * time.Second
		}
		return 10 * time.Minute
	}
	first, err := sw.Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Complete || first.Deactivated != 10 {
		t.Fatalf("first run: %+v", first)
	}
	second, err := f.sweeper(policy).Run(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Deactivated+second.Deactivated != 30 || !second.Complete {
		t.Fatalf("first %d + second %d deactivations, want 30 (second %+v)", first.Deactivated, second.Deactivated, second)
	}
	if n := len(f.bus.byType(dormancy.TypeUserDeactivated)); n != 30 {
		t.Errorf("events: %d, want 30", n)
	}
}

func TestWarningsOncePerPeriod(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "w", days(39))
	run := func() sweeper.Summary {
		t.Helper()
		s, err := f.sweeper(policy).Run(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := run(); s.Warned != 1 {
		t.Fatalf("first sweep warned %d", s.Warned)
	}
	f.now = f.now.Add(days(1))
	if s := run(); s.Warned != 0 {
		t.Fatalf("second sweep in the same period warned %d", s.Warned)
	}
	// A sign-in starts a new period; its warning window comes 38 days later.
	if err := f.store.RecordSignIn(context.Background(), "w", f.now, ""); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(days(39))
	if s := run(); s.Warned != 1 {
		t.Fatalf("sweep in the new period warned %d", s.Warned)
	}
	warnings := f.bus.byType(dormancy.TypeUserDormancyWarning)
	if len(warnings) != 2 || warnings[0].ID == warnings[1].ID {
		t.Fatalf("warnings = %d (ids must differ per period)", len(warnings))
	}
	var w dormancy.UserDormancyWarning
	json.Unmarshal(warnings[1].Detail, &w)
	if w.ThresholdDays != 45 || w.DeactivationDue == "" {
		t.Errorf("warning detail = %+v", w)
	}
	// WARNING_DAYS=0 turns them off.
	off := policy
	off.WarningDays = 0
	f.seed(t, "quiet", days(40))
	s, _ := f.sweeper(off).Run(context.Background(), false)
	if s.Warned != 0 {
		t.Errorf("warnings sent with WARNING_DAYS=0: %d", s.Warned)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "d1", days(50))
	f.seed(t, "w1", days(40))
	f.seed(t, "ok", days(1))
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	raw := json.RawMessage(`{"dryRun": true}`)
	sum, err := f.sweeper(policy).Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.DryRun || !cmp.Equal(sum.WouldDeactivate, []string{"d1"}) || !cmp.Equal(sum.WouldWarn, []string{"w1"}) || sum.Deactivated != 0 {
		t.Errorf("summary = %+v", sum)
	}
	after := dynamotest.Snapshot(t, db, f.store.Tables())
	// A dry run changes no user, record or event; it is recorded as a run,
	// marked as dry.
	runs := after["Runs"]
	delete(before, "Runs")
	delete(after, "Runs")
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("dry run wrote (-before +after):\n%s", d)
	}
	if len(runs) != 1 || !strings.Contains(runs[0], `"dryRun":true`) {
		t.Errorf("run records %v, want the dry run's, marked", runs)
	}
	if n := len(f.bus.all()); n != 0 {
		t.Errorf("dry run published %d events", n)
	}
}

func TestReadCostFollowsDormantUsers(t *testing.T) {
	f := newFixture(t)
	const n, dormant = 1500, 40
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			idle := days(1 + i%30) // active: well inside the warning window
			if i < dormant {
				idle = days(46 + i)
			}
			id := fmt.Sprintf("r%05d", i)
			u := dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreatedAt: t0.Add(-idle), Version: 1}
			_, audit := dormancy.NewAccount(id, id, nil, dormancy.Import, "admin", u.CreatedAt, u.CreatedAt)
			if err := f.store.CreateUser(ctx, u, audit); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Without group policies the cut-off is the threshold itself. (A group
	// with a shorter threshold moves the cut-off for everyone: users between
	// it and their own threshold are read and kept; see shared/dynamo/doc.go.)
	plain := dormancy.Policy{DefaultDays: 45, WarningDays: 7}
	sum, err := f.sweeper(plain).Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Deactivated != dormant {
		t.Fatalf("deactivated %d, want %d", sum.Deactivated, dormant)
	}
	if float64(sum.ItemsRead) > 1.2*dormant {
		t.Errorf("read %d items for %d dormant users of %d (limit 1.2×)", sum.ItemsRead, dormant, n)
	}
}

func TestBadInputIsRefused(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "d", days(50))
	for _, raw := range []string{`{"dryRun":"yes"}`, `{"dryrun":true}`, `[true]`, `{"source":"evil","detail-type":"Scheduled Event"}`, `{"dryRun":true}{}`} {
		if _, err := f.sweeper(policy).Handle(context.Background(), json.RawMessage(raw)); !errors.Is(err, sweeper.ErrBadInput) {
			t.Errorf("%s: err = %v", raw, err)
		}
	}
	if f.status(t, "d") != dormancy.Active {
		t.Error("bad input deactivated someone")
	}
	if _, err := f.sweeper(policy).Handle(context.Background(), json.RawMessage(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-11-24T23:15:00Z","region":"eu-west-1","resources":[],"detail":{}}`)); err != nil {
		t.Fatal(err)
	}
	if f.status(t, "d") != dormancy.Deactivated {
		t.Error("the scheduled event did not sweep")
	}
}

func TestMetricsInEmbeddedMetricFormat(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "m", days(50))
	var buf strings.Builder
	sw := f.sweeper(policy)
	sw.Metrics = &buf
	if _, err := sw.Run(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace string
				Metrics   []struct{ Name string }
			}
		} `json:"_aws"`
		Deactivated, EventsPending int
	}
	if err := json.Unmarshal([]byte(buf.String()), &doc); err != nil {
		t.Fatalf("metrics line %q: %v", buf.String(), err)
	}
	if doc.Deactivated != 1 || doc.EventsPending != 0 || doc.AWS.CloudWatchMetrics[0].Namespace != "Dormancy" {
		t.Errorf("metrics = %+v", doc)
	}
}

// slowCognito stands in for Cognito's AdminUserGlobalSignOut: it records
// the calls; the relay's limiter paces them as it paces Cognito.
type slowCognito struct {
	mu    sync.Mutex
	users []string
}

func (c *slowCognito) SignOut(_ context.Context, username string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users = append(c.users, username)
	return nil
}

// A backlog of owed sign-outs never keeps a run from sweeping: the flush
// before the sweep gets a bounded share of the time, events go before
// sign-outs, and the sweep runs regardless.
func TestSignOutBacklogDoesNotStarveTheSweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 150 {
		id := fmt.Sprintf("gone%03d", i)
		f.seed(t, id, days(1))
		u, _ := f.store.GetUser(ctx, id)
		c, err := dormancy.DeactivateByAdmin(u, "admin-1", "left", 45, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.seed(t, "dormant", days(50))
	cognito := &slowCognito{}
	s := f.sweeper(policy)
	s.Relay = &outbox.Relay{Store: f.store, Publisher: f.bus.publisher, SignOuter: cognito, Limiter: rate.NewLimiter(15, 1), Log: quiet}
	// 150 sign-outs at 15 a second need 10 s; the run has 12 s, and stops
	// taking work with 8 s left.
	s.Reserve = 8 * time.Second
	runCtx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	sum, err := s.Run(runCtx, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Examined == 0 || sum.Deactivated != 1 || f.status(t, "dormant") != dormancy.Deactivated {
		t.Errorf("summary %+v: the sweep must run whatever the sign-out backlog", sum)
	}
	if sum.EventsPending != 0 {
		t.Errorf("%d events still owed: events go before sign-outs", sum.EventsPending)
	}
	if len(cognito.users) == 0 || sum.SignOutsPending == 0 {
		t.Errorf("signed out %d, pending %d: sign-outs are sent as time allows, the rest stays owed", len(cognito.users), sum.SignOutsPending)
	}
}

// A dry run's answer stays small at any scale: capped lists, full counts.
func TestDryRunListsAreCapped(t *testing.T) {
	f := newFixture(t)
	var users []dormancy.User
	n := sweeper.DryRunListCap + 7
	for i := range n {
		users = append(users, dormancy.User{
			UserID: fmt.Sprintf("d%05d", i), Username: fmt.Sprintf("d%05d", i), Status: dormancy.Active, Groups: []string{},
			CreationSource: dormancy.Import, CreatedAt: t0.Add(-days(60)), Version: 1,
		})
	}
	if err := f.store.BulkLoad(context.Background(), users); err != nil {
		t.Fatal(err)
	}
	sum, err := f.sweeper(policy).Run(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.WouldDeactivate) != sweeper.DryRunListCap || sum.WouldDeactivateCount != n {
		t.Errorf("listed %d, counted %d; want %d listed of %d", len(sum.WouldDeactivate), sum.WouldDeactivateCount, sweeper.DryRunListCap, n)
	}
	b, _ := json.Marshal(sum)
	if len(b) > 64<<10 {
		t.Errorf("the answer is %d bytes", len(b))
	}
}
