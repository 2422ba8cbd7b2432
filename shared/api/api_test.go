package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/localbus/localbustest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var (
	t0     = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	quiet  = slog.New(slog.NewJSONHandler(io.Discard, nil))
	policy = dormancy.Policy{DefaultDays: 45, WarningDays: 7}
)

// newAPIWith is the fixture's API under another policy.
func newAPIWith(f *fixture, p dormancy.Policy) *api.API {
	return api.New(f.store, p, []string{"Admin", "Ops"}, f.relay, func() time.Time { return f.now }, quiet)
}

type fixture struct {
	relay *outbox.Relay
	store *dynamo.Store
	api   *api.API
	bus   *localbus.Bus
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := dynamotest.NewStore(t)
	b, client := localbustest.New(t)
	relay := &outbox.Relay{Store: s, Publisher: &outbox.EventBridge{Client: client, Bus: "api-test"}, Log: quiet}
	f := &fixture{store: s, bus: b, now: t0, relay: relay}
	f.api = newAPIWith(f, policy)
	f.user(t, "admin-1", "alice", []string{"Admin"}, 1)
	f.user(t, "ops-1", "oscar", []string{"Ops"}, 1)
	f.user(t, "plain-1", "paul", nil, 1)
	return f
}

// user seeds an active user last active daysAgo.
func (f *fixture) user(t *testing.T, id, name string, groups []string, daysAgo int) {
	t.Helper()
	u, audit := dormancy.NewAccount(id, name, groups, dormancy.SelfRegistration, id, t0.Add(-dormancy.Days(daysAgo)), t0.Add(-dormancy.Days(daysAgo)))
	if err := f.store.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) deactivate(t *testing.T, id string) {
	t.Helper()
	u, _ := f.store.GetUser(context.Background(), id)
	c, err := dormancy.DeactivateByAdmin(u, "admin-1", "test", 45, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

var (
	admin = map[string]any{"sub": "admin-1", "cognito:username": "alice", "cognito:groups": "Admin"}
	ops   = map[string]any{"sub": "ops-1", "cognito:username": "oscar", "cognito:groups": "[Ops Sales]"}
	plain = map[string]any{"sub": "plain-1", "cognito:username": "paul"}
)

type response struct {
	Code int
	Body map[string]any
	Raw  string
}

// call sends a request through API Gateway's proxy integration, as a
// client the Cognito authorizer let through, and checks both the request
// and the answer against openapi.yaml.
func (f *fixture) call(t *testing.T, claims map[string]any, method, path, body string) response {
	t.Helper()
	return f.send(t, claims, method, path, body, true)
}

// callRaw is call for a request the test makes malformed on purpose (bad
// JSON, unknown fields, oversized bodies, values out of range): the request
// must break openapi.yaml, and the answer is checked against it all the
// same.
func (f *fixture) callRaw(t *testing.T, claims map[string]any, method, path, body string) response {
	t.Helper()
	return f.send(t, claims, method, path, body, false)
}

// callCSV posts a CSV import; its request and response are checked
// against openapi.yaml like every call's.
func (f *fixture) callCSV(t *testing.T, claims map[string]any, body string) response {
	t.Helper()
	return f.sendAs(t, claims, "POST", "/users/import", body, "text/csv", true)
}

func (f *fixture) send(t *testing.T, claims map[string]any, method, path, body string, wellFormed bool) response {
	t.Helper()
	return f.sendAs(t, claims, method, path, body, "application/json", wellFormed)
}

func (f *fixture) sendAs(t *testing.T, claims map[string]any, method, path, body, contentType string, wellFormed bool) response {
	t.Helper()
	p, q, _ := strings.Cut(path, "?")
	req := events.APIGatewayProxyRequest{HTTPMethod: method, Path: p, Body: body, QueryStringParameters: map[string]string{}, Headers: map[string]string{}}
	if q != "" {
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if u, err := url.QueryUnescape(v); err == nil {
				v = u // API Gateway passes parameters decoded
			}
			req.QueryStringParameters[k] = v
		}
	}
	if body != "" {
		req.Headers["Content-Type"] = contentType
	}
	if claims != nil {
		req.RequestContext.Authorizer = map[string]any{"claims": claims}
	}
	resp, err := f.api.HandleProxy(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkTraffic(t, req, resp, wellFormed)
	r := response{Code: resp.StatusCode, Raw: resp.Body}
	json.Unmarshal([]byte(resp.Body), &r.Body)
	return r
}

func errCode(r response) string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// every route, with a body that would pass validation.
var routes = []struct{ method, path, body string }{
	{"GET", "/users", ""},
	{"GET", "/users/lookup?q=pa", ""},
	{"POST", "/users/import", `[{"userId":"imp-1","username":"ivy"}]`},
	{"GET", "/users/plain-1", ""},
	{"POST", "/users/plain-1/activate", `{"approvalReference":"BH-1","approvedBy":"bh"}`},
	{"POST", "/users/plain-1/deactivate", `{"reason":"x"}`},
	{"GET", "/users/plain-1/audit", ""},
	{"GET", "/audit", ""},
	{"GET", "/records?needsReassignment=true", ""},
	{"GET", "/records/r1", ""},
	{"PUT", "/records/r1", `{"module":"lead","status":"Open","fields":{}}`},
	{"POST", "/records/r1/reopen", ""},
}

func TestEveryRouteRefusesMissingOrMalformedClaims(t *testing.T) {
	f := newFixture(t)
	for _, rt := range routes {
		for name, claims := range map[string]map[string]any{
			"none": nil, "no sub": {"cognito:username": "x"}, "bad sub": {"sub": "../x", "cognito:username": "x"},
		} {
			if r := f.call(t, claims, rt.method, rt.path, rt.body); r.Code != 401 || errCode(r) != "Unauthorized" {
				t.Errorf("%s %s with %s claims: %d %s", rt.method, rt.path, name, r.Code, r.Raw)
			}
		}
	}
}

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	f := newFixture(t)
	adminOnly := map[string]bool{"/users": true, "/users/import": true, "/users/plain-1/activate": true, "/users/plain-1/deactivate": true, "/users/plain-1/audit": true, "/audit": true}
	for _, rt := range routes {
		p, _, _ := strings.Cut(rt.path, "?")
		if !adminOnly[p] {
			continue
		}
		if r := f.call(t, plain, rt.method, rt.path, rt.body); r.Code != 403 {
			t.Errorf("%s %s by a non-admin: %d %s", rt.method, rt.path, r.Code, r.Raw)
		}
	}
	// A user may read themself, not others.
	if r := f.call(t, plain, "GET", "/users/plain-1", ""); r.Code != 200 {
		t.Errorf("reading oneself: %d", r.Code)
	}
	if r := f.call(t, plain, "GET", "/users/ops-1", ""); r.Code != 403 {
		t.Errorf("reading someone else: %d", r.Code)
	}
}

func TestDeactivatedCallerRefusedOnEveryRoute(t *testing.T) {
	f := newFixture(t)
	f.deactivate(t, "admin-1")
	for _, rt := range routes {
		if r := f.call(t, admin, rt.method, rt.path, rt.body); r.Code != 403 {
			t.Errorf("%s %s with a deactivated admin's token: %d", rt.method, rt.path, r.Code)
		}
	}
	stranger := map[string]any{"sub": "nobody", "cognito:username": "ghost", "cognito:groups": "Admin"}
	if r := f.call(t, stranger, "GET", "/users", ""); r.Code != 403 {
		t.Errorf("unknown caller: %d", r.Code)
	}
}

func TestActivation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "u1", "uma", nil, 100)
	f.deactivate(t, "u1")
	bad := map[string]struct {
		body      string
		code      int
		malformed bool // the body itself breaks openapi.yaml
	}{
		"no approval":          {`{"approvedBy":"bh"}`, 400, true},
		"no approver":          {`{"approvalReference":"BH-1"}`, 400, true},
		"blank approver":       {`{"approvalReference":"BH-1","approvedBy":"  "}`, 400, false},
		"approver is caller":   {`{"approvalReference":"BH-1","approvedBy":"admin-1"}`, 400, false},
		"approver is username": {`{"approvalReference":"BH-1","approvedBy":"Alice"}`, 400, false},
		"unknown field":        {`{"approvalReference":"BH-1","approvedBy":"bh","note":"x"}`, 400, true},
		"case-variant field":   {`{"ApprovalReference":"BH-1","approvedBy":"bh"}`, 400, true},
		"two values":           {`{"approvalReference":"BH-1","approvedBy":"bh"}{}`, 400, true},
		"not json":             {`approve please`, 400, true},
		"control characters":   {`{"approvalReference":"BH\u0000-1","approvedBy":"bh"}`, 400, false},
		"oversized":            {`{"approvalReference":"` + strings.Repeat("x", 70000) + `","approvedBy":"bh"}`, 413, true},
	}
	for name, c := range bad {
		send := f.call
		if c.malformed {
			send = f.callRaw
		}
		if r := send(t, admin, "POST", "/users/u1/activate", c.body); r.Code != c.code {
			t.Errorf("%s: %d %s, want %d", name, r.Code, r.Raw, c.code)
		}
	}
	if u, _ := f.store.GetUser(ctx, "u1"); u.Status != dormancy.Deactivated {
		t.Fatal("a refused activation changed the user")
	}
	if r := f.call(t, admin, "POST", "/users/nobody/activate", `{"approvalReference":"BH-1","approvedBy":"bh"}`); r.Code != 404 {
		t.Errorf("unknown user: %d", r.Code)
	}
	if r := f.call(t, admin, "POST", "/users/plain-1/activate", `{"approvalReference":"BH-1","approvedBy":"bh"}`); r.Code != 409 {
		t.Errorf("active user: %d %s", r.Code, r.Raw)
	}

	f.now = t0.Add(time.Hour)
	r := f.call(t, ops, "POST", "/users/u1/activate", `{"approvalReference":"BH-2024-17","approvedBy":"bh-7","comment":"back from leave"}`)
	if r.Code != 200 || r.Body["activeStatus"] != "Yes" || !cmp.Equal(r.Body["actions"], []any{"deactivate"}) {
		t.Fatalf("activation: %d %s", r.Code, r.Raw)
	}
	react := r.Body["reactivation"].(map[string]any)
	if react["approvalReference"] != "BH-2024-17" || react["approvedBy"] != "bh-7" || react["reactivatedBy"] != "ops-1" {
		t.Errorf("reactivation = %v", react)
	}
	p, _ := f.store.UserAudit(ctx, "u1", 10, "")
	last := p.Entries[len(p.Entries)-1]
	if last.Operation != dormancy.OpEnableUserAccount || !last.IsEnabled || last.Actor != "ops-1" || last.Source != "Admin" ||
		last.ApprovalReference != "BH-2024-17" || last.ApprovedBy != "bh-7" || last.Reason != "back from leave" || !last.OccurredAt.Equal(f.now) {
		t.Errorf("audit entry = %+v", last)
	}
	var published int
	for _, e := range f.bus.Accepted() {
		if e.DetailType == dormancy.TypeUserReactivated {
			published++
		}
	}
	if published != 1 {
		t.Errorf("UserReactivated published %d times", published)
	}
	if r := f.call(t, admin, "POST", "/users/u1/activate", `{"approvalReference":"BH-1","approvedBy":"bh"}`); r.Code != 409 {
		t.Errorf("second activation: %d", r.Code)
	}
}

// After activation the user signs in at once, and gets a full period.
func TestActivationLetsTheUserInForAFullPeriod(t *testing.T) {
	f := newFixture(t)
	f.user(t, "back", "bella", nil, 200)
	ctx := context.Background()
	clock := func() time.Time { return f.now }
	hook := loginhook.New(f.store, policy, clock, quiet)
	preAuth := func() error {
		raw, _ := json.Marshal(map[string]any{"version": "1", "triggerSource": "PreAuthentication_Authentication", "userName": "bella",
			"region": "eu-west-1", "userPoolId": "p", "callerContext": map[string]string{}, "request": map[string]any{"userAttributes": map[string]string{"sub": "back"}}})
		_, err := hook.Handle(ctx, raw)
		return err
	}
	if err := preAuth(); err == nil {
		t.Fatal("a 200-day dormant user was let in")
	}
	if r := f.call(t, admin, "POST", "/users/back/activate", `{"approvalReference":"BH-9","approvedBy":"bh"}`); r.Code != 200 {
		t.Fatalf("activate: %d %s", r.Code, r.Raw)
	}
	if err := preAuth(); err != nil {
		t.Fatalf("after activation: %v", err)
	}
	sw := &sweeper.Sweeper{Store: f.store, Policy: policy, Now: clock, Log: quiet}
	status := func() dormancy.Status {
		u, err := f.store.GetUser(ctx, "back")
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}
	f.now = t0.Add(dormancy.Days(45))
	if _, err := sw.Run(ctx, false); err != nil || status() != dormancy.Active {
		t.Fatalf("the sweeper deactivated a user within 45 days of their reactivation (%v)", err)
	}
	f.now = t0.Add(dormancy.Days(45) + time.Second)
	if _, err := sw.Run(ctx, false); err != nil || status() != dormancy.Deactivated {
		t.Fatalf("after a full period the user is %s (%v)", status(), err)
	}
}

func TestManualDeactivation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "d1", "dan", []string{"Sales"}, 3)
	for _, body := range []string{`{}`, `{"reason":""}`, `{"reason":"x","extra":1}`, `{"Reason":"x"}`} {
		if r := f.callRaw(t, admin, "POST", "/users/d1/deactivate", body); r.Code != 400 {
			t.Errorf("%s: %d", body, r.Code)
		}
	}
	r := f.call(t, admin, "POST", "/users/d1/deactivate", `{"reason":"left the company"}`)
	if r.Code != 200 || r.Body["activeStatus"] != "No" || !cmp.Equal(r.Body["actions"], []any{"activate"}) {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	d := r.Body["deactivation"].(map[string]any)
	if d["deactivationReason"] != "ADMIN" || d["deactivatedBy"] != "admin-1" || d["reason"] != "left the company" || d["automaticDeactivation"] != false {
		t.Errorf("deactivation = %v", d)
	}
	p, _ := f.store.UserAudit(ctx, "d1", 10, "")
	last := p.Entries[len(p.Entries)-1]
	if last.Operation != dormancy.OpDisableUserAccount || last.Source != "Admin" || last.Actor != "admin-1" || last.Reason != "left the company" || last.IsEnabled {
		t.Errorf("audit = %+v", last)
	}
	n := 0
	for _, e := range f.bus.Accepted() {
		if e.DetailType == dormancy.TypeUserDeactivated {
			n++
		}
	}
	if n != 1 {
		t.Errorf("UserDeactivated published %d times", n)
	}
	if r := f.call(t, admin, "POST", "/users/d1/deactivate", `{"reason":"again"}`); r.Code != 409 {
		t.Errorf("second deactivation: %d", r.Code)
	}
}

func TestListingIsCompleteStableAndCarriesActions(t *testing.T) {
	f := newFixture(t)
	for i := range 57 {
		f.user(t, fmt.Sprintf("l%02d", i), fmt.Sprintf("lister%02d", i), nil, 2+i%9) // many share a time
	}
	f.deactivate(t, "l03")
	var seen []string
	cursor := ""
	for page := 0; page < 20; page++ {
		path := "/users?limit=10"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := f.call(t, admin, "GET", path, "")
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Raw)
		}
		users := r.Body["users"].([]any)
		if len(users) > 10 {
			t.Fatalf("page of %d", len(users))
		}
		for _, u := range users {
			m := u.(map[string]any)
			seen = append(seen, m["userId"].(string))
			wantAction := "deactivate"
			if m["activeStatus"] == "No" {
				wantAction = "activate"
			}
			if !cmp.Equal(m["actions"], []any{wantAction}) {
				t.Errorf("%s actions %v", m["userId"], m["actions"])
			}
		}
		cursor, _ = r.Body["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if len(seen) != 60 {
		t.Fatalf("listed %d users, want 60 (57 + 3 staff)", len(seen))
	}
	uniq := map[string]bool{}
	for _, id := range seen {
		uniq[id] = true
	}
	if len(uniq) != 60 {
		t.Errorf("a user appeared twice: %d distinct of %d", len(uniq), len(seen))
	}
	// Newest activity first.
	var times []string
	for _, id := range seen {
		u, _ := f.store.GetUser(context.Background(), id)
		times = append(times, dormancy.FormatTime(u.LastActivity()))
	}
	if !sort.SliceIsSorted(times, func(i, j int) bool { return times[i] > times[j] }) {
		t.Error("not newest activity first")
	}
	r := f.call(t, admin, "GET", "/users?status=No", "")
	if users := r.Body["users"].([]any); len(users) != 1 || users[0].(map[string]any)["userId"] != "l03" {
		t.Errorf("status=No: %s", r.Raw)
	}
	if r := f.call(t, admin, "GET", "/users?q=lister0", ""); len(r.Body["users"].([]any)) != 10 {
		t.Errorf("q=lister0: %d users", len(r.Body["users"].([]any)))
	}
	for _, bad := range []string{"/users?limit=0", "/users?limit=1000", "/users?status=maybe", "/users?cursor=%%%"} {
		if r := f.callRaw(t, admin, "GET", bad, ""); r.Code != 400 && r.Code != 422 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
}

func TestActionsForNonAdmins(t *testing.T) {
	f := newFixture(t)
	r := f.call(t, plain, "GET", "/users/plain-1", "")
	if r.Code != 200 || !cmp.Equal(r.Body["actions"], []any{}) {
		t.Errorf("plain user sees %v", r.Body["actions"])
	}
	if r := f.call(t, admin, "GET", "/users/plain-1", ""); !cmp.Equal(r.Body["actions"], []any{"deactivate"}) {
		t.Errorf("admin sees %v", r.Body["actions"])
	}
}

func TestLookupOffersOnlyActiveUsers(t *testing.T) {
	f := newFixture(t)
	f.user(t, "p2", "pamela", nil, 1)
	f.deactivate(t, "p2")
	r := f.call(t, plain, "GET", "/users/lookup?q=PA", "")
	users := r.Body["users"].([]any)
	if r.Code != 200 || len(users) != 1 || users[0].(map[string]any)["userId"] != "plain-1" || !cmp.Equal(users[0].(map[string]any)["actions"], []any{}) {
		t.Errorf("%d %s", r.Code, r.Raw)
	}
	if r := f.call(t, admin, "GET", "/users/lookup?q=pa", ""); !cmp.Equal(r.Body["users"].([]any)[0].(map[string]any)["actions"], []any{"deactivate"}) {
		t.Errorf("admin's picker: %s", r.Raw)
	}
	if r := f.callRaw(t, plain, "GET", "/users/lookup", ""); r.Code != 400 {
		t.Errorf("empty q: %d", r.Code)
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	for name, c := range map[string]struct {
		body      string
		malformed bool // the body itself breaks openapi.yaml
	}{
		"empty":       {`[]`, true},
		"not a list":  {`{"userId":"x"}`, true},
		"bad id":      {`[{"userId":"../x","username":"x"}]`, true},
		"space":       {`[{"userId":"x1","username":"two words"}]`, false},
		"future":      {`[{"userId":"x1","username":"x","lastLoginAt":"2999-01-01T00:00:00Z"}]`, false},
		"bad time":    {`[{"userId":"x1","username":"x","createdAt":"yesterday"}]`, true},
		"duplicate":   {`[{"userId":"x1","username":"x"},{"userId":"x1","username":"y"}]`, false},
		"unknown key": {`[{"userId":"x1","username":"x","role":"god"}]`, true},
	} {
		send := f.call
		if c.malformed {
			send = f.callRaw
		}
		if r := send(t, admin, "POST", "/users/import", c.body); r.Code != 400 {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("refused imports wrote (-before +after):\n%s", d)
	}
	r := f.call(t, admin, "POST", "/users/import", `[
		{"userId":"i1","username":"ian","groups":["Sales"],"createdAt":"2024-01-01T00:00:00Z"},
		{"userId":"i2","username":"ina","createdAt":"2024-01-01T00:00:00Z","lastLoginAt":"2026-11-01T00:00:00Z"},
		{"userId":"plain-1","username":"paul-again"}]`)
	if r.Code != 200 || !cmp.Equal(r.Body["imported"], []any{"i1", "i2"}) || !cmp.Equal(r.Body["alreadyKnown"], []any{"plain-1"}) {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	i1, _ := f.store.GetUser(ctx, "i1")
	if i1.CreationSource != dormancy.Import || !i1.LastActivity().Equal(t0) || !cmp.Equal(i1.Groups, []string{"Sales"}) {
		t.Errorf("i1 = %+v (activity must run from the import)", i1)
	}
	i2, _ := f.store.GetUser(ctx, "i2")
	if !i2.LastActivity().Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("i2 activity %v, want its last sign-in", i2.LastActivity())
	}
	if p, _ := f.store.GetUser(ctx, "plain-1"); p.Username != "paul" || p.CreationSource != dormancy.SelfRegistration {
		t.Errorf("a known user was changed by the import: %+v", p)
	}
	p, _ := f.store.UserAudit(ctx, "i1", 10, "")
	if len(p.Entries) != 1 || p.Entries[0].Source != "Import" || p.Entries[0].Actor != "admin-1" {
		t.Errorf("i1 audit = %+v", p.Entries)
	}
}

func TestAuditRoutes(t *testing.T) {
	f := newFixture(t)
	f.user(t, "a1", "ann", nil, 1)
	f.call(t, admin, "POST", "/users/a1/deactivate", `{"reason":"r1"}`)
	f.now = t0.Add(time.Hour)
	f.call(t, admin, "POST", "/users/a1/activate", `{"approvalReference":"BH-3","approvedBy":"bh"}`)
	r := f.call(t, admin, "GET", "/users/a1/audit", "")
	entries := r.Body["entries"].([]any)
	var ops []string
	for _, e := range entries {
		ops = append(ops, e.(map[string]any)["operation"].(string))
	}
	if !cmp.Equal(ops, []string{"CreateUserAccount", "DisableUserAccount", "EnableUserAccount"}) {
		t.Errorf("trail = %v", ops)
	}
	r = f.call(t, admin, "GET", "/audit?operation=DisableUserAccount&from=2026-11-01T00:00:00Z&to=2026-11-30T00:00:00Z", "")
	if es := r.Body["entries"].([]any); r.Code != 200 || len(es) != 1 || es[0].(map[string]any)["reason"] != "r1" {
		t.Errorf("%d %s", r.Code, r.Raw)
	}
	// Paging across users and days gives every entry once.
	var all []string
	cursor := ""
	for i := 0; i < 20; i++ {
		path := "/audit?from=2026-07-01T00:00:00Z&to=2026-11-30T00:00:00Z&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := f.call(t, admin, "GET", path, "")
		for _, e := range r.Body["entries"].([]any) {
			all = append(all, e.(map[string]any)["auditId"].(string))
		}
		if cursor, _ = r.Body["cursor"].(string); cursor == "" {
			break
		}
	}
	if len(all) != 6 { // 4 creations, 1 disable, 1 enable
		t.Errorf("paged %d entries, want 6", len(all))
	}
	for _, bad := range []string{"/audit?operation=Nope", "/audit?from=x"} {
		if r := f.callRaw(t, admin, "GET", bad, ""); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
	// Well-formed times, in the wrong order or too far apart.
	for _, bad := range []string{"/audit?from=2026-11-30T00:00:00Z&to=2026-11-01T00:00:00Z", "/audit?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		if r := f.call(t, admin, "GET", bad, ""); r.Code != 400 {
			t.Errorf("%s: %d", bad, r.Code)
		}
	}
}

func TestRecordRoutes(t *testing.T) {
	f := newFixture(t)
	f.user(t, "w1", "walt", nil, 1)
	r := f.call(t, plain, "PUT", "/records/lead-1", `{"module":"lead","status":"Open","fields":{"assignedTo":"w1","owner":"plain-1"}}`)
	if r.Code != 201 || r.Body["version"] != float64(1) {
		t.Fatalf("create: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, plain, "PUT", "/records/lead-1", `{"module":"lead","status":"Open","fields":{}}`); r.Code != 409 {
		t.Errorf("create over an existing record: %d", r.Code)
	}
	f.deactivate(t, "w1")
	if r := f.call(t, plain, "PUT", "/records/lead-2", `{"module":"lead","status":"Open","fields":{"assignedTo":"w1"}}`); r.Code != 422 || !strings.Contains(r.Raw, "not an active user") {
		t.Errorf("deactivated assignee: %d %s", r.Code, r.Raw)
	}
	r = f.call(t, plain, "PUT", "/records/lead-1", `{"module":"lead","status":"Closed","fields":{"assignedTo":"w1","owner":"plain-1"},"version":1}`)
	if r.Code != 422 {
		// w1 is deactivated: the record cannot be saved naming them.
		t.Errorf("save naming a deactivated user: %d %s", r.Code, r.Raw)
	}
	r = f.call(t, plain, "PUT", "/records/lead-1", `{"module":"lead","status":"Closed","fields":{"owner":"plain-1"},"version":1}`)
	if r.Code != 200 || r.Body["status"] != "Closed" {
		t.Fatalf("close: %d %s", r.Code, r.Raw)
	}
	r = f.call(t, plain, "POST", "/records/lead-1/reopen", "")
	if r.Code != 200 || r.Body["status"] != "Open" {
		t.Errorf("reopen: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, plain, "GET", "/records/lead-1", ""); r.Code != 200 || r.Body["recordId"] != "lead-1" {
		t.Errorf("get: %d", r.Code)
	}
	if r := f.call(t, plain, "GET", "/records/nope", ""); r.Code != 404 {
		t.Errorf("unknown record: %d", r.Code)
	}
	if r := f.call(t, plain, "GET", "/records?needsReassignment=true", ""); r.Code != 200 {
		t.Errorf("queue: %d %s", r.Code, r.Raw)
	}
	for _, bad := range []string{`{"module":"Lead!","status":"Open"}`, `{"module":"lead","status":"Done"}`, `{"module":"lead","status":"Open","assignee":"x"}`} {
		if r := f.callRaw(t, plain, "PUT", "/records/lead-9", bad); r.Code != 400 {
			t.Errorf("%s: %d %s", bad, r.Code, r.Raw)
		}
	}
	// OpenAPI 3.0 cannot say what a field's name must be: the document
	// allows this body, the API does not.
	if r := f.call(t, plain, "PUT", "/records/lead-9", `{"module":"lead","status":"Open","fields":{"1x":"u"}}`); r.Code != 400 {
		t.Errorf("field named 1x: %d %s", r.Code, r.Raw)
	}
}

func TestInternalErrorsNeverReachClients(t *testing.T) {
	s := dynamo.New(dynamotest.NewClient("http://127.0.0.1:1"), dynamo.Tables{Users: "U", Audit: "A", Records: "R", Outbox: "O"})
	a := api.New(s, policy, []string{"Admin"}, nil, time.Now, quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/users", RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"claims": admin}}}
	resp, _ := a.HandleProxy(ctx, req)
	checkTraffic(t, req, resp, true)
	if resp.StatusCode != 503 || strings.Contains(resp.Body, "127.0.0.1") || strings.Contains(resp.Body, "dial") {
		t.Errorf("%d %s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, `"code":"Unavailable"`) {
		t.Errorf("body %s", resp.Body)
	}
}

func TestUnknownRoute(t *testing.T) {
	f := newFixture(t)
	if r := f.callRaw(t, admin, "DELETE", "/users/plain-1", ""); r.Code != 404 && r.Code != 405 {
		t.Errorf("%d", r.Code)
	}
}
