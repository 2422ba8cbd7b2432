package outbox_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// deactivated commits n deactivations, each owing an event and a sign-out.
func deactivated(t *testing.T, s *dynamo.Store, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		u, audit := dormancy.NewAccount(id, "user-"+id, nil, dormancy.Import, "admin", t0.Add(-dormancy.Days(60)), t0.Add(-dormancy.Days(60)))
		if err := s.CreateUser(context.Background(), u, audit); err != nil {
			t.Fatal(err)
		}
		p := dormancy.Policy{DefaultDays: 45}
		if err := s.Apply(context.Background(), dormancy.DeactivateForInactivity(u, p.Evaluate(u, t0), t0)); err != nil {
			t.Fatal(err)
		}
	}
}

// A sign-out Cognito refuses stays owed, with the failure recorded, rather
// than dropped. The call fails on purpose: the user is not in the pool (as
// on AWS when a user was deleted meanwhile: UserNotFoundException), so the
// test keeps testing the relay when cognito-local, which in 5.3.0 does not
// implement AdminUserGlobalSignOut at all, grows the call.
func TestFailedSignOutStaysOwed(t *testing.T) {
	local, err := cognitotest.Start(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer local.Stop()
	ctx := context.Background()
	c := cognitotest.NewClient(local.Endpoint)
	pool, _, err := cognitotest.CreatePool(ctx, c, "signout")
	if err != nil {
		t.Fatal(err)
	}
	// user-s00, whom deactivated() owes a sign-out, is not in the pool.
	s := dynamotest.NewStore(t)
	deactivated(t, s, 1)
	_, pub := newBus(t)
	relay := &outbox.Relay{Store: s, Publisher: pub, SignOuter: outbox.Cognito{Client: c, UserPoolID: pool}, Log: quiet}
	for run := 1; run <= 2; run++ {
		res, err := relay.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.SignOutsPending != 1 || res.SignedOut != 0 {
			t.Fatalf("run %d: %+v", run, res)
		}
		owed, _ := s.Outbox(ctx, 10)
		var so dynamo.OutboxItem
		for _, o := range owed {
			if o.Kind == dynamo.KindSignOut {
				so = o
			}
		}
		if so.Attempts != run || !strings.Contains(so.LastErr, "AdminUserGlobalSignOut") {
			t.Errorf("run %d: sign-out item %+v", run, so)
		}
	}
}

type clockedSignOuts struct {
	mu    sync.Mutex
	times []time.Time
	users []string
}

func (c *clockedSignOuts) SignOut(_ context.Context, username string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
	c.users = append(c.users, username)
	return nil
}

func TestSignOutsArePacedAndCleared(t *testing.T) {
	s := dynamotest.NewStore(t)
	deactivated(t, s, 12)
	_, pub := newBus(t)
	rec := &clockedSignOuts{}
	const rps = 40
	relay := &outbox.Relay{Store: s, Publisher: pub, SignOuter: rec, Limiter: rate.NewLimiter(rps, 1), Log: quiet}
	res, err := relay.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.SignedOut != 12 || res.SignOutsPending != 0 || len(rec.users) != 12 {
		t.Fatalf("%+v, signed out %d", res, len(rec.users))
	}
	// Calls start no faster than the limiter allows (a burst of 1).
	span := rec.times[len(rec.times)-1].Sub(rec.times[0])
	if min := time.Duration(len(rec.times)-1) * time.Second / rps; span < min*9/10 {
		t.Errorf("12 sign-outs took %v; at %d/s they need at least %v", span, rps, min)
	}
	if owed, _ := s.Outbox(context.Background(), 10); len(owed) != 0 {
		t.Errorf("still owed: %d", len(owed))
	}
}

// A relay without a sign-outer (the reassignment's) publishes events and
// leaves sign-outs to the sweeper's relay, untouched.
func TestRelayWithoutSignOuterLeavesSignOutsOwed(t *testing.T) {
	s := dynamotest.NewStore(t)
	deactivated(t, s, 3)
	b, pub := newBus(t)
	relay := &outbox.Relay{Store: s, Publisher: pub, Log: quiet}
	res, err := relay.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 3 || res.SignedOut != 0 || res.SignOutsPending != 3 || len(b.Accepted()) != 3 {
		t.Fatalf("%+v, bus %d", res, len(b.Accepted()))
	}
	owed, _ := s.Outbox(context.Background(), 10)
	for _, o := range owed {
		if o.Kind != dynamo.KindSignOut || o.Attempts != 0 {
			t.Errorf("owed %+v", o)
		}
	}
	rec := &clockedSignOuts{}
	sweeperRelay := &outbox.Relay{Store: s, Publisher: pub, SignOuter: rec, Log: quiet}
	if res, err := sweeperRelay.Flush(context.Background()); err != nil || res.SignedOut != 3 {
		t.Fatalf("sweeper's relay: %+v, %v", res, err)
	}
}
