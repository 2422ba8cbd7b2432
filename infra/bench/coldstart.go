package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// coldStarts lists the functions and the sample event each answers first.
var coldStarts = []struct{ fn, pkg, sample string }{
	{"loginhook", "./functions/loginhook", "cognito-pre-authentication.json"},
	{"sweeper", "./functions/sweeper", "sweeper-dry-run.json"},
	{"reassign", "./functions/reassign", "eventbridge-user-deactivated.json"},
	{"api", "./functions/api", "apigateway-get-user.json"},
	{"poolsync", "./functions/poolsync", "eventbridge-scheduled.json"},
	{"notify", "./functions/notify", "eventbridge-user-deactivated.json"},
}

// benchColdStart builds each bootstrap as Lambda runs it (linux/arm64, for
// its size) and for this machine (to run it), starts it against a local
// Lambda Runtime API, and times process start to first answer, against the
// smallest Go function built the same way.
func benchColdStart(ctx context.Context, endpoint string) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "dormancy-coldstart")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db := dynamotest.NewClient(endpoint)
	tables, err := newTables(ctx, db, "cold")
	if err != nil {
		return nil, err
	}
	build := func(pkg, goarch, out string) (int64, error) {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if b, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build %s: %v\n%s", pkg, err, b)
		}
		st, err := os.Stat(out)
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	// Services other than DynamoDB answer every call at once with an error
	// no SDK retries, so a function's first answer is not its retry backoff.
	nowhere := refuser()
	defer nowhere.Close()
	env := []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + endpoint, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + nowhere.URL,
		"USERS_TABLE=" + tables.Users, "AUDIT_TABLE=" + tables.Audit, "RECORDS_TABLE=" + tables.Records,
		"OUTBOX_TABLE=" + tables.Outbox, "RUNS_TABLE=" + tables.Runs, "NOTICES_TABLE=" + tables.Notices, "EVENT_BUS_NAME=bench",
		"SENDER_EMAIL=dormancy@example.com", "AWS_ENDPOINT_URL_SESV2=" + nowhere.URL,
		"USER_POOL_ID=us-east-1_bench", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=" + nowhere.URL,
	}
	helloSize, err := build("./infra/bench/hello", "arm64", filepath.Join(dir, "hello-arm64"))
	if err != nil {
		return nil, err
	}
	if _, err := build("./infra/bench/hello", runtime.GOARCH, filepath.Join(dir, "hello")); err != nil {
		return nil, err
	}
	helloTime, err := firstAnswer(filepath.Join(dir, "hello"), env, []byte(`{}`))
	if err != nil {
		return nil, err
	}
	var figs []Figure
	for _, c := range coldStarts {
		if _, err := os.Stat(strings.TrimPrefix(c.pkg, "./")); err != nil {
			figs = append(figs, Figure{Name: c.fn + " cold start", Target: "function exists", Holds: false})
			continue
		}
		size, err := build(c.pkg, "arm64", filepath.Join(dir, c.fn+"-arm64"))
		if err != nil {
			return nil, err
		}
		if _, err := build(c.pkg, runtime.GOARCH, filepath.Join(dir, c.fn)); err != nil {
			return nil, err
		}
		event, err := events.Sample(c.sample)
		if err != nil {
			return nil, fmt.Errorf("%s: sample %s: %w", c.fn, c.sample, err)
		}
		d, err := firstAnswer(filepath.Join(dir, c.fn), env, event)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.fn, err)
		}
		figs = append(figs,
			atMost(c.fn+" bootstrap size linux/arm64 (vs minimal Go function)", "MiB", float64(size)/(1<<20), float64(helloSize)/(1<<20), 4),
			coldStartFigure(c.fn, d, helloTime))
	}
	return figs, nil
}

// refuser is an endpoint that refuses every call with a client error (not
// retried by the SDK) in the JSON shape Cognito, EventBridge and SES use.
func refuser() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"bench: no such resource"}`)
	}))
}

// firstAnswer runs a bootstrap against a one-shot Lambda Runtime API and
// returns the time from process start until it posted its first answer
// (a response or an error: both are answers).
func firstAnswer(bin string, env []string, event []byte) (time.Duration, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	answered := make(chan time.Time, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "bench-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:bench")
		w.Write(event)
	})
	answer := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case answered <- time.Now():
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", answer)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", answer)
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+l.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=bench", "_HANDLER=bootstrap")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	select {
	case t := <-answered:
		return t.Sub(start), nil
	case <-time.After(20 * time.Second):
		return 0, fmt.Errorf("no answer within 20 s")
	}
}

// coldStartLimit bounds process start to first answer, DynamoDB round trips
// of the first event included: far below Cognito's 5 s for a trigger, and
// small beside Lambda's own start of a provided.al2023 sandbox.
const coldStartLimit = 250 * time.Millisecond

func coldStartFigure(fn string, d, hello time.Duration) Figure {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Figure{
		Name: fn + " process start to first answer (baseline: minimal Go function)", Value: ms(d), Unit: "ms",
		Baseline: ms(hello), Ratio: round(ms(d) / ms(hello)),
		Target: fmt.Sprintf("value <= %d ms", coldStartLimit.Milliseconds()), Holds: d <= coldStartLimit,
	}
}
