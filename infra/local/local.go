// Package local is Dormancy on one machine, with no AWS account: DynamoDB
// Local with the stack's tables, cognito-local as the user pool, a local
// EventBridge bus routing with the CDK rules' own patterns, the functions
// wired exactly as their mains wire them (from the SDK's standard endpoint
// variables), the REST API with a Cognito-style authorizer, a Lambda Invoke
// API, the sweeper on its schedule, and a clock a person can move.
package local

import (
	"context"
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

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/eventrules"
	"github.com/dormancy/dormancy/shared/loginhook"
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
