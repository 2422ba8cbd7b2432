package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func forge(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }

// No DynamoDB text reaches a client: forged cursors and oversized searches
// are refused with the API's own words, before DynamoDB sees them.
func TestForgedCursorsAndHugeSearchesGetFixedWords(t *testing.T) {
	f := newFixture(t)
	for name, path := range map[string]string{
		"records cursor naming another index key": "/records?needsReassignment=true&cursor=" + forge(`{"recordId":"r1","sk":"QUEUE","refUserId":"x","refKey":"r1"}`),
		"records cursor with extra keys":          "/records?needsReassignment=true&cursor=" + forge(`{"recordId":"r1","IndexName":"byUser"}`),
		"audit cursor from year 1":                "/audit?cursor=" + forge(`{"d":"0001-01-01"}`),
		"audit cursor day that does not parse":    "/audit?cursor=" + forge(`{"d":"2026-13-45"}`),
		"users cursor":                            "/users?cursor=" + forge(`{"k":"x"}`),
		"user audit cursor of another user":       "/users/plain-1/audit?cursor=" + forge(`{"userId":"admin-1","sk":"2026-11-24T12:00:00.000Z#a"}`),
	} {
		r := f.call(t, admin, "GET", path, "")
		if r.Code != 400 || errCode(r) != "BadRequest" || !strings.Contains(r.Raw, "cursor is not one this API gave out") {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	huge := url.QueryEscape(strings.Repeat("é", 500)) // 1,000 bytes
	for _, path := range []string{"/users?q=" + huge, "/users/lookup?q=" + huge} {
		r := f.callRaw(t, admin, "GET", path, "")
		if r.Code != 400 || !strings.Contains(r.Raw, "q must be at most 128 characters") {
			t.Errorf("%s: %d %s", path[:14], r.Code, r.Raw)
		}
	}
	for _, r := range []response{
		f.call(t, admin, "GET", "/users?q="+url.QueryEscape(strings.Repeat("é", 128)), ""),
		f.call(t, admin, "GET", "/users?q=zz&limit=1", ""),
	} {
		if r.Code != 200 {
			t.Errorf("a search within bounds: %d %s", r.Code, r.Raw)
		}
	}
	for _, word := range []string{"IndexName", "byUser", "ValidationException", "range keys", "refUserId"} {
		for _, r := range []response{
			f.call(t, admin, "GET", "/records?needsReassignment=true&cursor="+forge(`{"recordId":"r1","sk":"QUEUE","refUserId":"x","refKey":"r1"}`), ""),
			f.callRaw(t, admin, "GET", "/users?q="+huge, ""),
		} {
			if strings.Contains(r.Raw, word) {
				t.Errorf("%q reached the client: %s", word, r.Raw)
			}
		}
	}
}

// approvedBy may not name the caller, however it is disguised: one rule, in
// the domain, the same status whichever way it is broken.
func TestSelfApprovalCannotBeDisguised(t *testing.T) {
	f := newFixture(t)
	f.user(t, "u1", "ursula", nil, 60)
	f.deactivate(t, "u1")
	caller := map[string]any{"sub": "admin-1", "cognito:username": "alice", "cognito:groups": "Admin", "email": "alice.smith@example.com"}
	for name, approver := range map[string]string{
		"zero-width space":    "alice\u200b",
		"bidi override":       "\u202ealice",
		"full-width letters":  "ＡＬＩＣＥ",
		"cyrillic a":          "\u0430lice",
		"upper case":          "ALICE",
		"caller's e-mail":     "Alice.Smith@example.com",
		"e-mail's local part": "alice.smith",
		"caller's id":         "ADMIN-1",
		"inner space":         "ali ce",
	} {
		r := f.call(t, caller, "POST", "/users/u1/activate", `{"approvalReference":"BH-1","approvedBy":"`+approver+`"}`)
		if r.Code != 400 || !strings.Contains(r.Raw, "approvedBy") {
			t.Errorf("%s (%q): %d %s", name, approver, r.Code, r.Raw)
		}
	}
	if u, _ := f.store.GetUser(context.Background(), "u1"); u.Status != dormancy.Deactivated {
		t.Fatal("a refused activation changed the user")
	}
	if r := f.call(t, caller, "POST", "/users/u1/activate", `{"approvalReference":"BH-1","approvedBy":"head.of.sales@example.com"}`); r.Code != 200 {
		t.Errorf("a real approver: %d %s", r.Code, r.Raw)
	}
}

// Import bodies are as strict as every other: exact keys, user names
// Cognito would accept, no id Dormancy keeps for itself. A refused import
// writes nothing.
func TestImportIsStrict(t *testing.T) {
	f := newFixture(t)
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	for name, c := range map[string]struct {
		body      string
		malformed bool // the body itself breaks openapi.yaml
	}{
		"upper-case key":    {`[{"USERID":"x1","username":"x"}]`, true},
		"case-variant key":  {`[{"userId":"x1","userName":"x"}]`, true},
		"bidi override":     {`[{"userId":"x1","username":"\u202eadmin"}]`, false},
		"no-break space":    {`[{"userId":"x1","username":"a\u00a0b"}]`, false},
		"zero-width joiner": {`[{"userId":"x1","username":"ad\u200dmin"}]`, false},
		"second item bad":   {`[{"userId":"x1","username":"ok"},{"userId":"x2","username":"x","Groups":[]}]`, true},
		// ids Dormancy keeps for itself: the sweep's audit account, the system actor
		"sweeps' account": {`[{"userId":"x1","username":"ok"},{"userId":"_dormancy_sweeps","username":"sweeps"}]`, false},
		"system actor":    {`[{"userId":"System","username":"system"}]`, false},
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
}

// An admin's change sends only its own events, within 3 s; when EventBridge
// does not answer in time, the change's items are released at once (not
// left claimed until a lease runs out) and the rest of the outbox is not
// touched.
func TestManualChangeReleasesWhatItCouldNotSend(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "other", "olga", nil, 1)
	f.user(t, "target", "tom", nil, 1)
	f.deactivate(t, "other") // owed by someone else, not yet sent
	f.bus.Delay(10 * time.Second)
	started := time.Now()
	if r := f.call(t, admin, "POST", "/users/target/deactivate", `{"reason":"left"}`); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	if d := time.Since(started); d > 6*time.Second {
		t.Errorf("the admin waited %v", d)
	}
	items := dynamotest.Items(t, dynamotest.Client(t), f.store.Tables().Outbox)
	if len(items) != 4 {
		t.Fatalf("outbox holds %d items, want 2 events and 2 sign-outs", len(items))
	}
	for _, it := range items {
		user := it["userId"].(*types.AttributeValueMemberS).Value
		kind := it["kind"].(*types.AttributeValueMemberS).Value
		if _, claimed := it["claimedUntil"]; claimed {
			t.Errorf("%s %s is still claimed: the next flush would wait for the lease", user, kind)
		}
		attempts := it["attempts"].(*types.AttributeValueMemberN).Value
		switch {
		case user == "other" && attempts != "0":
			t.Errorf("another change's %s was tried by the admin's request (attempts %s)", kind, attempts)
		case user == "target" && kind == "event" && attempts != "1":
			t.Errorf("the change's own event: attempts %s, want 1 recorded", attempts)
		}
	}
	// With EventBridge answering again, an admin's next change sends its own
	// event and still leaves the others' to the sweeper's relay.
	f.bus.Delay(0)
	if r := f.call(t, admin, "POST", "/users/other/activate", `{"approvalReference":"BH-5","approvedBy":"bh"}`); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	var sent []string
	for _, e := range f.bus.Accepted() {
		var d struct{ UserID string }
		json.Unmarshal(e.Detail, &d)
		sent = append(sent, e.DetailType+":"+d.UserID)
	}
	if !cmp.Equal(sent, []string{"UserReactivated:other"}) {
		t.Errorf("accepted %v: the admin's request sends its own change's event only", sent)
	}
	if u, _ := f.store.GetUser(ctx, "target"); u.Status != dormancy.Deactivated {
		t.Error("the deactivation did not take effect")
	}
}

// With API Gateway's proxy integration only the function can put
// Access-Control-Allow-Origin on a response: it does for the console's
// origin, and for no other.
func TestCORSOriginOnResponses(t *testing.T) {
	f := newFixture(t)
	f.api.Origins = []string{"https://console.example.com"}
	for origin, want := range map[string]string{"https://console.example.com": "https://console.example.com", "https://evil.example.com": "", "": ""} {
		req := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/users", Headers: map[string]string{"Origin": origin},
			RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"claims": admin}}}
		resp, err := f.api.HandleProxy(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Headers["Access-Control-Allow-Origin"]; got != want || resp.StatusCode != 200 {
			t.Errorf("origin %q: %d, Access-Control-Allow-Origin %q, want %q", origin, resp.StatusCode, got, want)
		}
	}
}
