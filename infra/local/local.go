// Package local is Dormancy on one machine, with no AWS account: DynamoDB
// Local with the stack's tables, cognito-local as the user pool, a local
// EventBridge bus routing with the CDK rule's own pattern, the four functions
// wired exactly as their mains wire them (from the SDK's standard endpoint
// variables), the REST API with a Cognito-style authorizer, a Lambda Invoke
// API, the sweeper on its schedule, and a clock a person can move.
package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/eventrules"
	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/reassign"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/sestest"
)

// Options say where the stack listens and what policy it runs.
type Options struct {
	APIAddr     string // the REST API, 127.0.0.1:3000
	InvokeAddr  string // the Lambda Invoke API and /local routes, 127.0.0.1:3001
	ConsoleAddr string // the admin console, 127.0.0.1:3002 ("": none)
	DynamoPort  int    // DynamoDB Local, 8000
	CognitoPort int    // cognito-local, 9229
	SESPort     int    // aws-ses-v2-local, 8005 (0: a free port)
	DataDir     string // cognito-local's data
	Schedule    string // the sweep's schedule expression
	// SyncSchedule is the pool sync's ("": cron(45 22 * * ? *)).
	SyncSchedule string
	// Env overrides the functions' settings (DORMANCY_DAYS, …); each
	// function is given those it declares in shared/access. A variable no
	// function reads is an error.
	Env map[string]string
	Log *slog.Logger
}

// Defaults are the addresses of spec §11.
func Defaults() Options {
	return Options{
		APIAddr: "127.0.0.1:3000", InvokeAddr: "127.0.0.1:3001", ConsoleAddr: "127.0.0.1:3002", DynamoPort: 8000, CognitoPort: 9229, SESPort: 8005,
		DataDir: ".dev", Schedule: "cron(15 23 * * ? *)",
	}
}

// Function is one function's handler on raw JSON, as Lambda invokes it.
type Function func(ctx context.Context, payload []byte) ([]byte, error)

// Stack is the running system.
type Stack struct {
	Clock     *Clock
	PoolID    string
	ClientID  string
	Tables    dynamo.Tables
	APIURL    string
	InvokeURL string
	SESURL    string // aws-ses-v2-local: sent mail in a browser, and at GET /store
	// ConsoleURL is the admin console's address, the one origin the
	// REST API answers CORS for ("" without a console).
	ConsoleURL string

	opts      Options
	log       *slog.Logger
	ddb       *dynamotest.Local
	cognito   *cognitotest.Local
	ses       *sestest.Local
	cip       *cip.Client
	bus       *localbus.Bus
	store     *dynamo.Store
	hook      *loginhook.Hook
	functions map[string]Function
	given     map[string]map[string]string // per function, the variables it was given
	configs   map[string]config.Config     // per function, the configuration it was built from
	jwks      []byte
	servers   []*http.Server
	sched     Schedule
	syncSched Schedule
	// SignOuts are the sessions the local stack revoked.
	SignOuts   SignOuts
	cognitoDir string
	stop       chan struct{}
	wg         sync.WaitGroup

	// consoleListener holds the console's address from before the API
	// starts (its CORS needs the origin) until it is served.
	consoleListener net.Listener
}

// Start brings everything up, or nothing: a port already taken is an error
// that says so, and whatever started is stopped again.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.SyncSchedule == "" {
		o.SyncSchedule = "cron(45 22 * * ? *)"
	}
	syncSched, err := ParseSchedule(o.SyncSchedule)
	if err != nil {
		return nil, err
	}
	sched, err := ParseSchedule(o.Schedule)
	if err != nil {
		return nil, err
	}
	if err := checkOverrides(o.Env); err != nil {
		return nil, err
	}
	for _, addr := range []string{o.APIAddr, o.InvokeAddr, o.ConsoleAddr, "127.0.0.1:" + strconv.Itoa(o.DynamoPort), "127.0.0.1:" + strconv.Itoa(o.CognitoPort), "127.0.0.1:" + strconv.Itoa(o.SESPort)} {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is already in use: is make dev already running? (stop it first)", addr)
		}
	}
	s = &Stack{Clock: &Clock{}, opts: o, log: o.Log, sched: sched, syncSched: syncSched, stop: make(chan struct{}), functions: map[string]Function{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	dir, err := dynamotest.Dir()
	if err != nil {
		return nil, err
	}
	if s.ddb, err = dynamotest.Start(dir, o.DynamoPort); err != nil {
		return nil, err
	}
	s.Tables = dynamo.Tables{Users: "dormancy-users", Audit: "dormancy-audit", Records: "dormancy-records", Outbox: "dormancy-outbox", Runs: "dormancy-runs", Notices: "dormancy-notices"}
	db := dynamotest.NewClient(s.ddb.Endpoint)
	if err = dynamo.CreateTables(ctx, db, s.Tables); err != nil {
		return nil, err
	}
	s.store = dynamo.New(db, s.Tables)

	if err = os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	cdir, err := os.MkdirTemp(o.DataDir, "cognito-")
	if err != nil {
		return nil, err
	}
	s.cognitoDir = cdir
	if s.cognito, err = cognitotest.Start(cdir, o.CognitoPort); err != nil {
		return nil, err
	}
	s.cip = cognitotest.NewClient(s.cognito.Endpoint)
	if s.PoolID, s.ClientID, err = cognitotest.CreatePool(ctx, s.cip, "dormancy"); err != nil {
		return nil, err
	}
	if s.jwks, err = get(s.cognito.JWKSURL(s.PoolID)); err != nil {
		return nil, fmt.Errorf("read the pool's JWKS: %w", err)
	}
	if err = s.startSES(); err != nil {
		return nil, err
	}

	s.bus = localbus.New(nil)
	busURL, err := s.serve("127.0.0.1:0", s.bus)
	if err != nil {
		return nil, err
	}
	if err = s.attachTriggers(ctx); err != nil {
		return nil, err
	}
	// The Invoke API's address is known before the functions are wired:
	// the API invokes the pool sync through it, as on AWS through Lambda.
	invokeL, err := net.Listen("tcp", o.InvokeAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.InvokeAddr, err)
	}
	s.InvokeURL = "http://" + invokeL.Addr().String()
	// The console's origin is known before the functions are wired: the API
	// answers CORS for it, as on AWS.
	if err = s.listenConsole(o.ConsoleAddr); err != nil {
		invokeL.Close()
		return nil, err
	}
	if err = s.wire(busURL); err != nil {
		invokeL.Close()
		return nil, err
	}
	if err = s.bus.Route("UserDeactivatedRule", eventrules.UserDeactivated.JSON(), func(ctx context.Context, env []byte) error {
		_, err := s.functions["Reassign"](ctx, env)
		return err
	}); err != nil {
		return nil, err
	}
	if err = s.routeNotices(); err != nil {
		return nil, err
	}
	if s.APIURL, err = s.serve(o.APIAddr, s.cors(http.HandlerFunc(s.gateway))); err != nil {
		return nil, err
	}
	s.serveOn(invokeL, s.invokeMux())
	s.serveConsole()
	s.wg.Add(2)
	go s.runSchedule()
	go s.runSyncSchedule()
	return s, nil
}

// wire builds the four functions as their mains do (boot.LoadFunction, with
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

// checkOverrides refuses an override that no function reads: a misspelt
// name would otherwise be ignored without a word.
func checkOverrides(env map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		read := false
		for _, f := range access.Functions {
			read = read || slices.Contains(f.Env(), k)
		}
		if !read {
			return fmt.Errorf("Options.Env: no function reads %s (see shared/access)", k)
		}
	}
	return nil
}

// serve listens on addr and serves h until Close.
func (s *Stack) serve(addr string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.serveOn(l, h)
	return "http://" + l.Addr().String(), nil
}

// serveOn serves h on l until Close.
func (s *Stack) serveOn(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go srv.Serve(l)
}

// runSchedule fires the sweeper when the (movable) clock passes the
// schedule's next time; a jump over many firings runs it once, as a late
// schedule would, and the sweep catches up on everything past due.
func (s *Stack) runSchedule() {
	defer s.wg.Done()
	s.onSchedule(s.sched, func() {
		now := s.Clock.Now()
		ev, _ := json.Marshal(map[string]any{
			"version": "0", "id": fmt.Sprintf("sched-%d", now.Unix()), "detail-type": "Scheduled Event", "source": "aws.events",
			"account": "000000000000", "time": now.Format(time.RFC3339), "region": "us-east-1",
			"resources": []string{"arn:aws:events:us-east-1:000000000000:rule/SweepSchedule"}, "detail": map[string]any{},
		})
		out, err := s.functions["Sweeper"](context.Background(), ev)
		if err != nil {
			s.log.Error("scheduled sweep failed", "err", err)
			return
		}
		s.log.Info("scheduled sweep", "summary", json.RawMessage(out))
	})
}

// onSchedule calls fire when the (movable) clock passes the schedule's
// next time, until Close.
func (s *Stack) onSchedule(sched Schedule, fire func()) {
	last := s.Clock.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := s.Clock.Now()
		if now.Before(sched.Next(last)) {
			if now.Before(last) {
				last = now // the clock was set back
			}
			continue
		}
		last = now
		fire()
	}
}

// Close stops everything it started, leaving no process or port behind.
func (s *Stack) Close() {
	select {
	case <-s.stop:
		return
	default:
		close(s.stop)
	}
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		srv.Shutdown(ctx)
	}
	if s.consoleListener != nil {
		s.consoleListener.Close() // if Start failed before serving it
	}
	s.cognito.Stop()
	s.stopSES()
	s.ddb.Stop()
	if s.cognitoDir != "" {
		os.RemoveAll(s.cognitoDir)
	}
}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
