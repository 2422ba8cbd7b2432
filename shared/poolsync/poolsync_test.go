package poolsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/poolsync"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var (
	t0    = time.Date(2026, 11, 24, 22, 45, 0, 0, time.UTC)
	quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))
)

type fixture struct {
	store   *dynamo.Store
	cognito *cip.Client
	pool    string
	subs    map[string]string // user name -> sub
}

// newFixture starts cognito-local with a pool of n users (user-000…), the
// first third in Contractors, the user-000 in BreakGlass too.
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	local, err := cognitotest.Start(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(local.Stop)
	ctx := context.Background()
	c := cognitotest.NewClient(local.Endpoint)
	pool, _, err := cognitotest.CreatePool(ctx, c, "sync")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: dynamotest.NewStore(t), cognito: c, pool: pool, subs: map[string]string{}}
	for i := range n {
		name := fmt.Sprintf("user-%03d", i)
		var groups []string
		if i < n/3 {
			groups = append(groups, "Contractors")
		}
		if i == 0 {
			groups = append(groups, "BreakGlass")
		}
		sub, err := cognitotest.CreateUser(ctx, c, pool, name, "Secret-123!", groups...)
		if err != nil {
			t.Fatal(err)
		}
		f.subs[name] = sub
	}
	return f
}

func (f *fixture) syncer(cognito poolsync.Cognito) *poolsync.Syncer {
	if cognito == nil {
		cognito = f.cognito
	}
	return poolsync.New(f.store, cognito, f.pool, 1000, func() time.Time { return t0 }, quiet)
}

// A pool of users who never signed in is brought in with their groups,
// measured from the sync, and deactivated a full period later: not before.
func TestBringsInThePoolAndMeasuresFromTheSync(t *testing.T) {
	f := newFixture(t, 7)
	ctx := context.Background()
	known, audit := dormancy.NewAccount(f.subs["user-006"], "user-006", nil, dormancy.SelfRegistration, "x", t0, t0)
	if err := f.store.CreateUser(ctx, known, audit); err != nil {
		t.Fatal(err)
	}
	s := f.syncer(nil)
	s.Policy = dormancy.RunPolicy{DefaultDays: 45, ExemptGroups: []string{"BreakGlass"}, HoldAboveCount: 50, HoldAbovePercent: 10}
	sum, err := s.Run(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Listed != 7 || sum.Imported != 6 || !sum.Complete || sum.MissingFromPool != 0 || sum.RunID == "" {
		t.Errorf("summary %+v", sum)
	}
	u, err := f.store.GetUser(ctx, f.subs["user-000"])
	if err != nil {
		t.Fatal(err)
	}
	if u.CreationSource != "" || !cmp.Equal(u.Groups, []string{"BreakGlass", "Contractors"}) || !u.LastActivity().Equal(t0) {
		t.Errorf("user-000 = %+v: want no creation source, its groups, activity from the sync", u)
	}
	p, _ := f.store.UserAudit(ctx, u.UserID, 10, "")
	if len(p.Entries) != 1 || p.Entries[0].Source != dormancy.SourcePoolSync || p.Entries[0].Operation != dormancy.OpCreateUserAccount {
		t.Errorf("audit %+v", p.Entries)
	}
	if k, _ := f.store.GetUser(ctx, f.subs["user-006"]); k.CreationSource != dormancy.SelfRegistration {
		t.Errorf("a known user's creation source changed: %+v", k)
	}
	// Sweeps: nobody is due on the day of adoption, nor at the threshold;
	// a full period later every brought-in user is deactivated but the
	// exempt one (BreakGlass, from the pool's groups).
	policy := dormancy.Policy{DefaultDays: 45, ExemptGroups: []string{"BreakGlass"}}
	sweep := func(at time.Time) sweeper.Summary {
		sw := sweeper.New(f.store, nil, policy, func() time.Time { return at }, quiet)
		sum, err := sw.Run(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if s := sweep(t0); s.Deactivated != 0 {
		t.Errorf("on the day of adoption: %+v", s)
	}
	if s := sweep(t0.Add(dormancy.Days(45))); s.Deactivated != 0 {
		t.Errorf("at the threshold: %+v", s)
	}
	if s := sweep(t0.Add(dormancy.Days(45) + time.Minute)); s.Deactivated != 6 || s.Exempt != 1 {
		t.Errorf("a full period after the sync: %+v (want user-001…006 deactivated, user-000 exempt)", s)
	}
	runs, err := f.store.ListRuns(ctx, dormancy.RunSync, t0.Add(-time.Hour), t0.Add(time.Hour), 10, "")
	if err != nil || len(runs.Runs) != 1 || runs.Runs[0].RunID != sum.RunID || runs.Runs[0].EndedAt.IsZero() {
		t.Fatalf("run records %+v %v", runs.Runs, err)
	}
	if d := cmp.Diff(s.Policy, runs.Runs[0].Policy); d != "" {
		t.Errorf("the sync run's policy in force (-want +got):\n%s", d)
	}
}

// A user moved into a group in the pool has it in Dormancy after the next
// sync, without signing in; users Dormancy knows that the pool no longer
// has are counted, and left as they are.
func TestGroupChangesReachDormancyAndMissingUsersAreCounted(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	if _, err := f.syncer(nil).Run(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cognito.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &f.pool, Username: aws.String("user-002"), GroupName: aws.String("BreakGlass")}); err != nil {
		t.Fatal(err)
	}
	gone, audit := dormancy.NewAccount("gone-user", "gone", nil, dormancy.Import, "x", t0, t0)
	if err := f.store.CreateUser(ctx, gone, audit); err != nil {
		t.Fatal(err)
	}
	sum, err := f.syncer(nil).Run(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 0 || sum.GroupsUpdated != 1 || sum.MissingFromPool != 1 {
		t.Errorf("second sync %+v", sum)
	}
	u, _ := f.store.GetUser(ctx, f.subs["user-002"])
	if !cmp.Equal(u.Groups, []string{"BreakGlass"}) {
		t.Errorf("groups %v", u.Groups)
	}
	if g, _ := f.store.GetUser(ctx, "gone-user"); g.Status != dormancy.Active {
		t.Errorf("a user missing from the pool was changed: %+v", g)
	}
}

// killing fails the sync's writes after a number of batches of creations,
// as an invocation killed in the middle of a page would stop.
type killing struct {
	*dynamo.Store
	left atomic.Int64
}

func (k *killing) CreateUsers(ctx context.Context, us []dormancy.User, as []dormancy.AuditEntry) ([]bool, error) {
	if k.left.Add(-1) < 0 {
		return make([]bool, len(us)), errors.New("killed")
	}
	return k.Store.CreateUsers(ctx, us, as)
}

// A sync killed mid-page resumes where it saved its place, and ends with
// every pool user known exactly once (one creation entry each).
func TestKilledSyncResumesWithoutDuplicates(t *testing.T) {
	f := newFixture(t, 130) // three pages of 60
	ctx := context.Background()
	k := &killing{Store: f.store}
	k.left.Store(3) // the first page (two batches), and half of the second
	s := f.syncer(nil)
	s.Store, s.Lease = k, time.Second
	first, err := s.Run(ctx, "run-1")
	if err == nil || first.Complete {
		t.Fatalf("the killed run: %+v, %v", first, err)
	}
	// A second sync started while the first holds the lease does nothing.
	if busy, err := f.syncer(nil).Run(ctx, "run-2"); err != nil || !busy.Busy {
		t.Fatalf("a second sync during the first's lease: %+v %v", busy, err)
	}
	time.Sleep(1100 * time.Millisecond) // the killed run's lease runs out
	sum, err := f.syncer(nil).Run(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete || sum.RunID != "run-1" || sum.Listed != 130 {
		t.Errorf("resumed %+v", sum)
	}
	db := dynamotest.Client(t)
	creations := map[string]int{}
	for _, it := range dynamotest.Items(t, db, f.store.Tables().Audit) {
		if it["operation"].(*ddbS).Value == string(dormancy.OpCreateUserAccount) {
			creations[it["userId"].(*ddbS).Value]++
		}
	}
	for name, sub := range f.subs {
		if creations[sub] != 1 {
			t.Errorf("%s created %d times", name, creations[sub])
		}
	}
	if c, _ := f.store.CountUsers(ctx); c.Active != 130 {
		t.Errorf("counts %+v", c)
	}
}

// throttling answers TooManyRequestsException to every other call.
type throttling struct {
	poolsync.Cognito
	n atomic.Int64
}

func (t *throttling) ListUsers(ctx context.Context, in *cip.ListUsersInput, o ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	if t.n.Add(1)%2 == 1 {
		return nil, &cipt.TooManyRequestsException{Message: aws.String("Rate exceeded")}
	}
	return t.Cognito.ListUsers(ctx, in, o...)
}

// Throttling slows the sync down; it loses nothing and imports nobody twice.
func TestThrottlingSlowsTheSyncDown(t *testing.T) {
	f := newFixture(t, 70)
	thr := &throttling{Cognito: f.cognito}
	s := f.syncer(thr)
	sum, err := s.Run(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Complete || sum.Imported != 70 || sum.Listed != 70 {
		t.Errorf("summary %+v", sum)
	}
	if s.Limiter.Limit() >= 1000 {
		t.Errorf("limit still %v after throttling", s.Limiter.Limit())
	}
}

func TestBadInputIsRefused(t *testing.T) {
	for _, raw := range []string{`{"runID":"x"}`, `{"runId":1}`, `{"runId":"../x"}`, `[`, `{"source":"evil","detail-type":"x"}`} {
		if _, err := poolsync.ParseInput([]byte(raw)); !errors.Is(err, poolsync.ErrBadInput) {
			t.Errorf("%s: %v", raw, err)
		}
	}
	for _, raw := range []string{``, `{}`, `{"runId":"abc-123"}`, `{"source":"aws.events","detail-type":"Scheduled Event"}`} {
		if _, err := poolsync.ParseInput([]byte(raw)); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

type ddbS = ddbtypes.AttributeValueMemberS
