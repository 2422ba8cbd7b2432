package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/reassign"
	"github.com/dormancy/dormancy/shared/sweeper"
)

// wire builds the functions as their mains do (boot.LoadFunction, with
// endpoints from the SDK's standard variables), each given only the
// variables shared/access declares it reads, from one map of values.
func (s *Stack) wire(busURL string) error {
	// The AWS SDK's settings are process-wide, as in a Lambda sandbox.
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_DYNAMODB": s.ddb.Endpoint, "AWS_ENDPOINT_URL_EVENTBRIDGE": busURL,
		"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": s.cognito.Endpoint, "AWS_ENDPOINT_URL_LAMBDA": s.InvokeURL,
		"AWS_ENDPOINT_URL_SESV2": s.SESURL,
	} {
		os.Setenv(k, v)
	}
	values := map[string]string{
		"USERS_TABLE": s.Tables.Users, "AUDIT_TABLE": s.Tables.Audit, "RECORDS_TABLE": s.Tables.Records, "OUTBOX_TABLE": s.Tables.Outbox,
		"RUNS_TABLE": s.Tables.Runs, "NOTICES_TABLE": s.Tables.Notices,
		"SENDER_EMAIL": LocalSender, "ADMIN_NOTIFY_EMAIL": LocalAdmins,
		"EVENT_BUS_NAME": "dormancy-local", "EXEMPT_GROUPS": "BreakGlass", "SCOPE_GROUPS": "", "ADMIN_CONTACT": "",
		"USER_POOL_ID": s.PoolID, "LOGIN_HOOK_ARN": LocalHookARN, "POOL_SYNC_FUNCTION": "PoolSync",
		"COGNITO_RPS": "20", "HOLD_ABOVE_COUNT": "50", "HOLD_ABOVE_PERCENT": "10", "SYNC_RPS": "10",
		"CORS_ORIGINS": s.ConsoleURL,
	}
	maps.Copy(values, s.opts.Env)
	s.given = map[string]map[string]string{}
	s.configs = map[string]config.Config{}
	load := func(name string) (boot.Env, error) {
		given := map[string]string{}
		for _, k := range access.Get(name).Env() {
			if v, ok := values[k]; ok {
				given[k] = v
			}
		}
		e, err := boot.LoadFunction(name, func(k string) (string, bool) { v, ok := given[k]; return v, ok })
		if err != nil {
			return e, fmt.Errorf("%s: %w", name, err)
		}
		s.given[name], s.configs[name] = given, e.Config
		e.Log = slog.New(requestIDs{s.log.Handler()}).With("function", name)
		return e, nil
	}
	// Each function is wired with the helpers its main uses, in the same
	// order; only the clock (movable) and the metrics (discarded) differ.
	e, err := load("LoginHook")
	if err != nil {
		return err
	}
	s.hook = loginhook.New(boot.Store(e, boot.MaxAttempts(2)), e.Config.Policy, s.Clock.Now, e.Log)
	s.function("LoginHook", func(ctx context.Context, p []byte) ([]byte, error) { return s.hook.Handle(ctx, p) })

	if e, err = load("Sweeper"); err != nil {
		return err
	}
	store := boot.Store(e)
	sw := sweeper.New(store, s.localRelay(e, store), e.Config.Policy, s.Clock.Now, e.Log)
	sw.Guard = e.Config.Guard()
	sw.Pool = boot.Pool(e)
	s.function("Sweeper", func(ctx context.Context, p []byte) ([]byte, error) {
		sum, err := sw.Handle(ctx, p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(sum)
	})

	if e, err = load("Reassign"); err != nil {
		return err
	}
	store = boot.Store(e)
	ra := reassign.New(store, boot.Relay(e, store, boot.WithoutSignOuts), s.Clock.Now, e.Log)
	s.function("Reassign", func(ctx context.Context, p []byte) ([]byte, error) {
		res, err := ra.Handle(ctx, p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	})

	if err = s.wireNotify(load); err != nil {
		return err
	}

	if err = s.wirePoolSync(load); err != nil {
		return err
	}

	if e, err = load("Api"); err != nil {
		return err
	}
	store = boot.Store(e)
	a := api.New(store, e.Config.Policy, e.Config.AdminGroups, s.localRelay(e, store), s.Clock.Now, e.Log)
	a.Sync = boot.SyncStarter(e)
	a.Origins = e.Config.CORSOrigins
	a.Guard = e.Config.Guard()
	s.function("Api", func(ctx context.Context, p []byte) ([]byte, error) {
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, fmt.Errorf("not an API Gateway proxy event: %w", err)
		}
		resp, err := a.HandleProxy(ctx, req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	})
	return nil
}

// function registers a handler to be invoked as Lambda invokes it: with a
// Lambda context (a fresh request id, which every log line of the
// invocation carries) and the function's declared timeout as its deadline.
func (s *Stack) function(name string, h Function) {
	timeout := access.Get(name).Timeout
	s.functions[name] = func(ctx context.Context, p []byte) ([]byte, error) {
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
			AwsRequestID:       newRequestID(),
			InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:" + name,
		})
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return h(ctx, p)
	}
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// requestIDs adds the Lambda request id of a record's context to it, as
// Lambda's own log format does.
type requestIDs struct{ slog.Handler }

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDs{h.Handler.WithAttrs(as)}
}
func (h requestIDs) WithGroup(n string) slog.Handler { return requestIDs{h.Handler.WithGroup(n)} }
