package local

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/poolsync"
)

// LocalHookARN is the login hook's ARN in the local pool's LambdaConfig, as
// the stack attaches it on AWS: the sweeper checks the four triggers name
// it before it deactivates anyone.
const LocalHookARN = "arn:aws:lambda:us-east-1:000000000000:function:LoginHook"

// attachTriggers gives the local pool the four triggers, as on AWS (spec
// §11). cognito-local keeps them but does not call them; the sign-in route
// calls the hook itself.
func (s *Stack) attachTriggers(ctx context.Context) error {
	hook := aws.String(LocalHookARN)
	_, err := s.cip.UpdateUserPool(ctx, &cip.UpdateUserPoolInput{UserPoolId: &s.PoolID, LambdaConfig: &cipt.LambdaConfigType{
		PreAuthentication: hook, PostAuthentication: hook, PostConfirmation: hook, PreTokenGeneration: hook,
	}})
	if err != nil {
		return fmt.Errorf("attach the triggers to the local pool: %w", err)
	}
	return nil
}

// SignOuts records the sign-outs the local stack made: cognito-local 5.3.0
// does not implement AdminUserGlobalSignOut, so the relays of the sweeper
// and the API revoke sessions here instead (the one place the local wiring
// differs from the mains').
type SignOuts struct {
	mu    sync.Mutex
	users []string
}

// SignOut records a sign-out.
func (l *SignOuts) SignOut(_ context.Context, username string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = append(l.users, username)
	return nil
}

// Users lists the users signed out, in order.
func (l *SignOuts) Users() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.users...)
}

// localRelay is boot.Relay with the local sign-outs.
func (s *Stack) localRelay(e boot.Env, store *dynamo.Store) *outbox.Relay {
	r := boot.Relay(e, store, boot.WithSignOuts)
	r.SignOuter, r.DropSignOuts = &s.SignOuts, false
	return r
}

// wirePoolSync wires the pool sync as its main does, against cognito-local.
func (s *Stack) wirePoolSync(load func(string) (boot.Env, error)) error {
	e, err := load("PoolSync")
	if err != nil {
		return err
	}
	sync := poolsync.New(boot.Store(e), cip.NewFromConfig(e.AWS), e.Config.UserPoolID, e.Config.SyncRPS, s.Clock.Now, e.Log)
	sync.Policy = dormancy.InForce(e.Config.Policy, e.Config.Guard())
	s.function("PoolSync", func(ctx context.Context, p []byte) ([]byte, error) {
		sum, err := sync.Handle(ctx, p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(sum)
	})
	return nil
}

// runSyncSchedule runs the pool sync on its schedule, on the movable clock,
// as runSchedule runs the sweep.
func (s *Stack) runSyncSchedule() {
	defer s.wg.Done()
	s.onSchedule(s.syncSched, func() {
		ev, _ := json.Marshal(map[string]any{
			"version": "0", "id": fmt.Sprintf("sync-%d", s.Clock.Now().Unix()), "detail-type": "Scheduled Event", "source": "aws.events",
			"account": "000000000000", "time": s.Clock.Now().Format(time.RFC3339), "region": "us-east-1",
			"resources": []string{"arn:aws:events:us-east-1:000000000000:rule/SyncSchedule"}, "detail": map[string]any{},
		})
		out, err := s.functions["PoolSync"](context.Background(), ev)
		if err != nil {
			s.log.Error("scheduled pool sync failed", "err", err)
			return
		}
		s.log.Info("scheduled pool sync", "summary", json.RawMessage(out))
	})
}
