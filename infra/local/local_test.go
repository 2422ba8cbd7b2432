package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/sestest"
	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

func startStack(t *testing.T) *Stack { t.Helper(); return startStackWith(t, nil) }

// startStackWith starts a stack on free ports with the options edit makes.
func startStackWith(t *testing.T, edit func(*Options)) *Stack {
	t.Helper()
	o := Options{APIAddr: "127.0.0.1:0", InvokeAddr: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "cron(15 23 * * ? *)",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if edit != nil {
		edit(&o)
	}
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
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
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
	// The schedule fires on the moved clock too, so this sweep may race the
	// scheduled one (one deactivates, the other finds it done): what counts
	// is that alice is deactivated and every event delivered.
	code, _, raw := c.do("POST", s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", `{}`)
	if code != 200 {
		t.Fatalf("sweep: %d %s", code, raw)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		owed, err := s.store.Outbox(context.Background(), 100)
		events := 0
		for _, o := range owed {
			if o.Kind == dynamo.KindEvent {
				events++
			}
		}
		if err == nil && events == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events still owed after the sweeps: %d (%v); sweep said %s", events, err, raw)
		}
		time.Sleep(100 * time.Millisecond)
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
	// 6. The evidence: alice's chain is intact; the report lists her
	// reactivation and the sweep's run.
	if code, v, raw := c.do("GET", s.APIURL+"/users/"+alice["userId"].(string)+"/audit/verify", "Bearer "+admin, ""); code != 200 || v["intact"] != true {
		t.Errorf("verify: %d %s", code, raw)
	}
	code, rep, raw := c.do("GET", s.APIURL+"/reports/compliance", "Bearer "+admin, "")
	if re, _ := rep["reactivations"].([]any); code != 200 || len(re) != 1 || len(rep["runs"].([]any)) == 0 {
		t.Errorf("report: %d %s", code, raw)
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
	// The sample's user is not deactivated here (not known at all): Reassign
	// refuses the event as a function error and clears nothing. (The
	// walkthrough sees it clear a deactivated user's records.)
	if code, h, body := invoke("Reassign", "eventbridge-user-deactivated.json"); code != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "not deactivated") {
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

// post sends body to the Invoke API with the given Content-Type ("" sends
// none) and extra headers (name, value, …).
func post(t *testing.T, url, contentType, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// A web page open in the same browser may POST to 127.0.0.1:3001 without a
// CORS preflight only as a "simple" request: with no Content-Type, or
// text/plain, a form's or a multipart one. So every POST there must say it
// is JSON (or, on the Invoke route, a Lambda payload as the AWS SDKs send
// it), which a page cannot say cross-origin without a preflight that is
// never granted: a page cannot invoke Api with forged admin claims, move the
// clock, sign in or seed.
func TestInvokeAPIRefusesSimpleRequests(t *testing.T) {
	s := startStack(t)
	forged, _ := json.Marshal(map[string]any{
		"httpMethod": "POST", "path": "/users/x/activate", "resource": "/{proxy+}",
		"body":           `{"approvalReference":"CSRF","approvedBy":"evil"}`,
		"requestContext": map[string]any{"authorizer": map[string]any{"claims": map[string]string{"sub": "x", "cognito:groups": "Admin"}}},
	})
	routes := map[string]string{
		"/2015-03-31/functions/Api/invocations":     string(forged),
		"/2015-03-31/functions/Sweeper/invocations": `{}`,
		"/local/clock":  `{"advance":"1104h"}`,
		"/local/signin": `{"username":"admin","password":"Dormancy-2026!"}`,
		"/local/seed":   ``,
	}
	simple := []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/jsonp", "application/json+evil", "not a media type"}
	before := s.Clock.Now()
	for path, body := range routes {
		refused := simple
		if strings.HasPrefix(path, "/local/") {
			refused = append(refused, "application/octet-stream")
		}
		for _, ct := range refused {
			code, h, raw := post(t, s.InvokeURL+path, ct, body)
			var m map[string]any
			if code != http.StatusUnsupportedMediaType || h.Get("Content-Type") != "application/json" ||
				json.Unmarshal([]byte(raw), &m) != nil || !strings.Contains(raw, "Content-Type: application/json") {
				t.Errorf("POST %s with Content-Type %q: %d %s", path, ct, code, raw)
			}
		}
	}
	if moved := s.Clock.Now().Sub(before); moved > time.Hour {
		t.Errorf("a refused request moved the clock by %s", moved)
	}
	if code, _, raw := post(t, s.InvokeURL+"/local/signin", "text/plain", `{"username":"admin","password":"Dormancy-2026!"}`); code != 415 {
		t.Errorf("sign-in as text/plain: %d %s", code, raw)
	}
	// Saying JSON, with parameters or in capitals, goes through.
	if code, _, raw := post(t, s.InvokeURL+"/local/seed", "application/json; charset=utf-8", ""); code != 200 {
		t.Fatalf("seed as JSON: %d %s", code, raw)
	}
	if code, _, raw := post(t, s.InvokeURL+"/local/signin", "Application/JSON", `{"username":"admin","password":"Dormancy-2026!"}`); code != 200 || !strings.Contains(raw, "idToken") {
		t.Errorf("sign-in as JSON: %d %s", code, raw)
	}
	if code, _, raw := post(t, s.InvokeURL+"/local/clock", "application/json;charset=UTF-8", `{"advance":"1h"}`); code != 200 {
		t.Errorf("clock as JSON: %d %s", code, raw)
	}
	// The AWS SDKs send a Lambda payload as application/octet-stream.
	dry, _ := events.Sample("sweeper-dry-run.json")
	for _, ct := range []string{"application/octet-stream", "application/json"} {
		if code, _, raw := post(t, s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", ct, string(dry)); code != 200 || !strings.Contains(raw, `"dryRun":true`) {
			t.Errorf("invoke as %s: %d %s", ct, code, raw)
		}
	}
	// The AWS CLI (botocore) sends a Lambda payload with no Content-Type but
	// signed (SigV4): a header no simple request can carry.
	sigv4 := "AWS4-HMAC-SHA256 Credential=local/20270101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	if code, _, raw := post(t, s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", string(dry), "Authorization", sigv4, "X-Amz-Date", "20270101T000000Z"); code != 200 || !strings.Contains(raw, `"dryRun":true`) {
		t.Errorf("signed invoke with no Content-Type: %d %s", code, raw)
	}
	if code, _, raw := post(t, s.InvokeURL+"/local/clock", "", `{"advance":"1h"}`, "Authorization", sigv4); code != 415 {
		t.Errorf("signed clock move with no Content-Type: %d %s", code, raw)
	}
	// A preflight (which a page would need to send JSON) is never granted.
	req, _ := http.NewRequest(http.MethodOptions, s.InvokeURL+"/2015-03-31/functions/Api/invocations", nil)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode/100 == 2 {
		t.Errorf("preflight: %s %v", resp.Status, resp.Header)
	}
}

// Each function is given exactly the variables shared/access declares it
// reads, from one map of values, and its configuration is read from those
// alone: a table it has no grant on is not even named to it.
func TestEachFunctionIsGivenItsDeclaredEnvironment(t *testing.T) {
	// A value for every setting any function reads, so that one given to a
	// function that does not declare it would show.
	s := startStackWith(t, func(o *Options) {
		o.Env = map[string]string{"DORMANCY_DAYS": "45", "WARNING_DAYS": "7", "GROUP_POLICIES": "Contractors=90",
			"EXEMPT_GROUPS": "BreakGlass", "ADMIN_GROUPS": "Admin,Ops", "COGNITO_RPS": "10"}
	})
	for _, f := range access.Functions {
		if s.functions[f.Name] == nil {
			t.Errorf("%s is declared but not wired in the local stack", f.Name)
			continue
		}
		want := f.Env()
		if got := slices.Sorted(maps.Keys(s.given[f.Name])); !slices.Equal(got, want) {
			t.Errorf("%s was given %v, want %v (access.Get(%q).Env())", f.Name, got, want, f.Name)
		}
		c := s.configs[f.Name]
		named := map[string]string{"Users": c.UsersTable, "Audit": c.AuditTable, "Records": c.RecordsTable, "Outbox": c.OutboxTable, "Runs": c.RunsTable, "Notices": c.NoticesTable}
		for _, tbl := range dynamo.Schema {
			if declared := slices.Contains(f.Tables(), tbl.Name); declared != (named[tbl.Name] != "") {
				t.Errorf("%s: declares %s: %v, but its configuration names it %q", f.Name, tbl.Name, declared, named[tbl.Name])
			}
		}
		if c.CognitoRPS != 10 && slices.Contains(f.Env(), "COGNITO_RPS") {
			t.Errorf("%s: COGNITO_RPS %v, want the override 10", f.Name, c.CognitoRPS)
		}
	}
	if got := s.configs["Reassign"].UsersTable; got != s.Tables.Users {
		t.Errorf("Reassign reads the user: USERS_TABLE %q", got)
	}
	if got := s.configs["LoginHook"].RecordsTable; got != "" {
		t.Errorf("LoginHook was given RECORDS_TABLE %q", got)
	}
}

// An override no function reads is a mistake (a misspelt DORMANCY_DAYS
// would otherwise be ignored), said before anything starts.
func TestUnknownOverrideIsAnError(t *testing.T) {
	o := Options{APIAddr: "127.0.0.1:0", InvokeAddr: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "rate(1 day)",
		Env: map[string]string{"DORMANCY_DAY": "30"}}
	if _, err := Start(context.Background(), o); err == nil || !strings.Contains(err.Error(), "DORMANCY_DAY") {
		t.Fatalf("Start with DORMANCY_DAY: %v", err)
	}
}

// make dev runs the policy and schedule cdk deploy would (cdk.json's
// context); the shell's variables override it.
func TestPolicyAndScheduleFromCDKContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cdk.json")
	os.WriteFile(path, []byte(`{"app":"x","context":{"dormancyDays":"60","warningDays":"5","exemptGroups":"Robots","schedule":"rate(1 day)","corsOrigins":""}}`), 0o644)
	o := Options{Schedule: "cron(15 23 * * ? *)"}
	shell := map[string]string{"WARNING_DAYS": "3"}
	if err := o.FromCDKContext(path, func(k string) (string, bool) { v, ok := shell[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DORMANCY_DAYS": "60", "WARNING_DAYS": "3", "EXEMPT_GROUPS": "Robots"}
	if d := cmp.Diff(want, o.Env); d != "" || o.Schedule != "rate(1 day)" {
		t.Errorf("env (-want +got):\n%s\nschedule %q", d, o.Schedule)
	}
	// The repository's own cdk.json: what make dev starts with.
	o = Options{}
	if err := o.FromCDKContext("../../cdk.json", func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if o.Env["DORMANCY_DAYS"] != "45" || o.Env["EXEMPT_GROUPS"] != "BreakGlass" || o.Schedule != "cron(15 23 * * ? *)" {
		t.Errorf("cdk.json gives %v, schedule %q", o.Env, o.Schedule)
	}
	if err := o.FromCDKContext(filepath.Join(t.TempDir(), "missing.json"), nil); err == nil {
		t.Error("a missing cdk.json is not an error")
	}
}

// A deactivation through the stack is mailed: the login hook records the
// user's e-mail from Cognito at sign-in, an admin deactivates them through
// the REST API, the local bus routes the UserDeactivated event with the
// Notices rule's pattern to Notify, and the mail is at aws-ses-v2-local's
// GET /store, from SENDER_EMAIL. A redelivery through the Invoke API mails
// nothing more; the reactivation is mailed too.
func TestDeactivationIsMailed(t *testing.T) {
	s := startStack(t)
	c := client{t}
	ctx := context.Background()
	if code, _, raw := c.do("POST", s.InvokeURL+"/local/seed", "", ""); code != 200 {
		t.Fatalf("seed: %d %s", code, raw)
	}
	if _, err := s.cip.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId: &s.PoolID, Username: aws.String("alice"),
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: aws.String("alice@example.com")}},
	}); err != nil {
		t.Fatal(err)
	}
	signIn := func(user string) map[string]any {
		t.Helper()
		code, m, raw := c.do("POST", s.InvokeURL+"/local/signin", "", `{"username":"`+user+`","password":"`+SeedPassword+`"}`)
		if code != 200 {
			t.Fatalf("%s signs in: %d %s", user, code, raw)
		}
		return m
	}
	signIn("alice") // the hook records her e-mail
	admin := "Bearer " + signIn("breakglass")["idToken"].(string)
	_, users, _ := c.do("GET", s.APIURL+"/users?q=alice", admin, "")
	alice := users["users"].([]any)[0].(map[string]any)["userId"].(string)

	if code, _, raw := c.do("POST", s.APIURL+"/users/"+alice+"/deactivate", admin, `{"reason":"left the company"}`); code != 200 {
		t.Fatalf("deactivate: %d %s", code, raw)
	}
	mails := waitForMail(t, s, "alice@example.com", 1)
	m := mails[0]
	if m.From != LocalSender || m.Subject != "Your account has been deactivated" {
		t.Errorf("mail from %s, subject %q", m.From, m.Subject)
	}
	for _, want := range []string{"Hello alice,", "by an administrator", "To have it reactivated, contact your administrator."} {
		if !strings.Contains(m.Body.Text, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.Body.Text)
		}
	}

	// The same event again, as EventBridge may deliver it, through the
	// Invoke API: nothing more is sent.
	var deactivated []byte
	for _, e := range s.bus.Accepted() {
		if e.DetailType == "UserDeactivated" {
			deactivated, _ = json.Marshal(e)
		}
	}
	code, h, body := post(t, s.InvokeURL+"/2015-03-31/functions/Notify/invocations", "application/json", string(deactivated))
	if code != 200 || h.Get("X-Amz-Function-Error") != "" || !strings.Contains(body, `"alreadySent":true`) {
		t.Errorf("redelivery: %d %s", code, body)
	}
	// The sample's user is not known here: a function error, as Lambda
	// reports one.
	sample, _ := events.Sample("eventbridge-user-deactivated.json")
	if code, h, body := post(t, s.InvokeURL+"/2015-03-31/functions/Notify/invocations", "application/json", string(sample)); code != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(body, "not known") {
		t.Errorf("Notify with the sample: %d %s", code, body)
	}

	if code, _, raw := c.do("POST", s.APIURL+"/users/"+alice+"/activate", admin, `{"approvalReference":"BH-2027-001","approvedBy":"head.of.sales"}`); code != 200 {
		t.Fatalf("activate: %d %s", code, raw)
	}
	mails = waitForMail(t, s, "alice@example.com", 2)
	if mails[1].Subject != "Your account has been reactivated" || !strings.Contains(mails[1].Body.Text, "You can sign in again.") {
		t.Errorf("reactivation mail: %q\n%s", mails[1].Subject, mails[1].Body.Text)
	}
	time.Sleep(200 * time.Millisecond)
	if all := sestest.To(storeEmails(t, s), "alice@example.com"); len(all) != 2 {
		t.Errorf("mails to alice: %d, want the deactivation and the reactivation", len(all))
	}

	// The local SES stops with the stack.
	addr := strings.TrimPrefix(s.SESURL, "http://")
	s.Close()
	if conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		conn.Close()
		t.Errorf("aws-ses-v2-local still answers at %s after Close", addr)
	}
}

// A sweep that deactivates anyone mails the admins one digest (the seeded
// users have no e-mail address: they are counted, not mailed).
func TestSweepDigestIsMailed(t *testing.T) {
	s := startStack(t)
	c := client{t}
	if code, _, raw := c.do("POST", s.InvokeURL+"/local/seed", "", ""); code != 200 {
		t.Fatalf("seed: %d %s", code, raw)
	}
	if code, _, raw := c.do("POST", s.InvokeURL+"/local/clock", "", `{"advance":"1104h"}`); code != 200 {
		t.Fatalf("clock: %d %s", code, raw)
	}
	if code, _, raw := c.do("POST", s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", `{}`); code != 200 {
		t.Fatalf("sweep: %d %s", code, raw)
	}
	// The schedule fires on the moved clock too, so the deactivations may
	// be split between two runs: one digest per run that deactivated anyone.
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; {
		text = ""
		for _, m := range sestest.To(storeEmails(t, s), LocalAdmins) {
			if m.From != LocalSender || !strings.Contains(m.Subject, "deactivated by the sweep") {
				t.Fatalf("digest from %s: %q", m.From, m.Subject)
			}
			text += m.Body.Text
		}
		if strings.Contains(text, "alice (") && strings.Contains(text, "bob (") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"alice (", "bob (", "no sign-in for 45 days"} {
		if !strings.Contains(text, want) {
			t.Errorf("digests lack %q:\n%s", want, text)
		}
	}
	for _, e := range storeEmails(t, s) {
		if !slices.Contains(e.Destination.To, LocalAdmins) {
			t.Errorf("a mail to %v: %q", e.Destination.To, e.Subject)
		}
	}
}

// storeEmails reads aws-ses-v2-local's GET /store over HTTP, as a person would.
func storeEmails(t *testing.T, s *Stack) []sestest.Email {
	t.Helper()
	resp, err := http.Get(s.SESURL + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var store struct {
		Emails []sestest.Email `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /store: %s %v", resp.Status, err)
	}
	return store.Emails
}

func waitForMail(t *testing.T, s *Stack, to string, n int) []sestest.Email {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got := sestest.To(storeEmails(t, s), to); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d mails to %s at %s/store", n, to, s.SESURL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
