package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func startStack(t *testing.T) *Stack {
	t.Helper()
	o := Options{APIAddr: "127.0.0.1:0", InvokeAddr: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "cron(15 23 * * ? *)",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type client struct {
	t *testing.T
}

func (c client) do(method, url, token, body string) (int, map[string]any, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

// The README's walkthrough, step by step, against the started stack.
func TestWalkthrough(t *testing.T) {
	s := startStack(t)
	c := client{t}
	signIn := func(user string) (int, map[string]any) {
		code, m, _ := c.do("POST", s.InvokeURL+"/local/signin", "", `{"username":"`+user+`","password":"Dormancy-2026!"}`)
		return code, m
	}
	// 1. Seed, and alice signs in.
	if code, _, raw := c.do("POST", s.InvokeURL+"/local/seed", "", ""); code != 200 {
		t.Fatalf("seed: %d %s", code, raw)
	}
	if code, m := signIn("alice"); code != 200 || m["idToken"] == nil {
		t.Fatalf("alice's first sign-in: %d %v", code, m)
	}
	// 2. 46 days pass; the sweep runs.
	if code, m, _ := c.do("POST", s.InvokeURL+"/local/clock", "", `{"advance":"1104h"}`); code != 200 || m["now"] == nil {
		t.Fatalf("clock: %d %v", code, m)
	}
	code, sum, raw := c.do("POST", s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", `{}`)
	if code != 200 || sum["deactivated"].(float64) < 1 || sum["eventsPending"].(float64) != 0 {
		t.Fatalf("sweep: %d %s", code, raw)
	}
	// 3. alice is refused with the spec's message.
	code, m := signIn("alice")
	if code != 400 || m["error"] != "PreAuthentication failed with error Account deactivated due to 45 days of inactivity. Please contact Admin." {
		t.Fatalf("alice after 46 days: %d %v", code, m)
	}
	// 4. The break-glass admin (exempt) signs in and looks at the records:
	// the open lead lost alice, the closed one kept her.
	code, m = signIn("breakglass")
	if code != 200 {
		t.Fatalf("break-glass sign-in: %d %v", code, m)
	}
	admin := m["idToken"].(string)
	_, lead1, _ := c.do("GET", s.APIURL+"/records/lead-1", "Bearer "+admin, "")
	_, lead2, _ := c.do("GET", s.APIURL+"/records/lead-2", "Bearer "+admin, "")
	if f := lead1["fields"].(map[string]any); f["assignedTo"] != "" || !strings.Contains(toJSON(lead1["needsReassignment"]), "assignedTo") {
		t.Errorf("open lead-1 = %v", lead1)
	}
	_, users, _ := c.do("GET", s.APIURL+"/users?status=No&q=alice", "Bearer "+admin, "")
	list := users["users"].([]any)
	if len(list) != 1 {
		t.Fatalf("deactivated users named alice: %v", users)
	}
	alice := list[0].(map[string]any)
	if f := lead2["fields"].(map[string]any); f["assignedTo"] != alice["userId"] {
		t.Errorf("closed lead-2 = %v", lead2)
	}
	if toJSON(alice["actions"]) != `["activate"]` {
		t.Errorf("alice's actions %v", alice["actions"])
	}
	// 5. Reactivated with an approval reference, alice signs in again.
	code, _, raw = c.do("POST", s.APIURL+"/users/"+alice["userId"].(string)+"/activate", "Bearer "+admin, `{"approvalReference":"BH-2027-001","approvedBy":"head.of.sales"}`)
	if code != 200 {
		t.Fatalf("activate: %d %s", code, raw)
	}
	if code, m := signIn("alice"); code != 200 || m["idToken"] == nil {
		t.Fatalf("alice after reactivation: %d %v", code, m)
	}
	// No token, or a forged one: refused as API Gateway does.
	if code, _, raw := c.do("GET", s.APIURL+"/users", "", ""); code != 401 || !strings.Contains(raw, "Unauthorized") {
		t.Errorf("no token: %d %s", code, raw)
	}
	if code, _, _ := c.do("GET", s.APIURL+"/users", "Bearer "+admin[:len(admin)-4]+"AAAA", ""); code != 401 {
		t.Errorf("forged token: %d", code)
	}
}

// Invoking the functions with the sample payloads answers as Lambda would.
func TestInvokeWithSamples(t *testing.T) {
	s := startStack(t)
	c := client{t}
	invoke := func(fn, sample string) (int, http.Header, string) {
		payload, err := events.Sample(sample)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(s.InvokeURL+"/2015-03-31/functions/"+fn+"/invocations", "application/json", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	// PreAuthentication of a user Dormancy has not seen: let through, event echoed.
	code, h, body := invoke("LoginHook", "cognito-pre-authentication.json")
	var echoed struct{ TriggerSource string }
	json.Unmarshal([]byte(body), &echoed)
	if code != 200 || h.Get("X-Amz-Function-Error") != "" || echoed.TriggerSource != "PreAuthentication_Authentication" {
		t.Errorf("LoginHook: %d %s", code, body)
	}
	if code, _, body := invoke("Sweeper", "sweeper-dry-run.json"); code != 200 || !strings.Contains(body, `"dryRun":true`) {
		t.Errorf("Sweeper: %d %s", code, body)
	}
	if code, _, body := invoke("Reassign", "eventbridge-user-deactivated.json"); code != 200 || !strings.Contains(body, `"complete":true`) {
		t.Errorf("Reassign: %d %s", code, body)
	}
	// The API sample's caller is unknown here: the proxy response says 403.
	if code, _, body := invoke("Api", "apigateway-get-user.json"); code != 200 || !strings.Contains(body, `"statusCode":403`) {
		t.Errorf("Api: %d %s", code, body)
	}
	// A function error is reported the way Lambda reports one.
	if code, h, body := invoke("Sweeper", "cognito-pre-authentication.json"); code != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "errorMessage") {
		t.Errorf("Sweeper with a wrong payload: %d %v %s", code, h, body)
	}
	if code, _, _ := c.do("POST", s.InvokeURL+"/2015-03-31/functions/Nope/invocations", "", "{}"); code != 404 {
		t.Errorf("unknown function: %d", code)
	}
	if code, _, _ := c.do("POST", s.InvokeURL+"/local/clock", "", `{"advance":"soon"}`); code != 400 {
		t.Errorf("bad clock move: %d", code)
	}
}

func TestStartingTwiceIsAClearError(t *testing.T) {
	s := startStack(t)
	o := Options{APIAddr: strings.TrimPrefix(s.APIURL, "http://"), InvokeAddr: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "rate(1 day)"}
	_, err := Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second start: %v", err)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestCloseLeavesNoPortBehind(t *testing.T) {
	o := Options{APIAddr: "127.0.0.1:0", InvokeAddr: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "rate(1 day)",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{strings.TrimPrefix(s.APIURL, "http://"), strings.TrimPrefix(s.InvokeURL, "http://"),
		strings.TrimPrefix(s.ddb.Endpoint, "http://"), strings.TrimPrefix(s.cognito.Endpoint, "http://")}
	s.Close()
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, 300*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("%s still answers after Close", a)
		}
	}
}
