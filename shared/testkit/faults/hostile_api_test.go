package faults

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/reassign"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// Hostile requests to every API route get a clear 4xx JSON error and write
// nothing.
func TestHostileInputToTheAPI(t *testing.T) {
	s := dynamotest.NewStore(t)
	db := dynamotest.Client(t)
	create(t, s, "admin-1", dormancy.Days(1))
	a := api.New(s, policy, []string{"Admin"}, nil, func() time.Time { return t0 }, quiet)
	claims := map[string]any{"sub": "admin-1", "cognito:username": "user-admin-1", "cognito:groups": "Admin"}
	before := dynamotest.Snapshot(t, db, s.Tables())
	huge := strings.Repeat("A", 200000)
	ids := []string{"' OR 1=1 --", "../../etc/passwd", "%00", "名前", "a\u202eb", strings.Repeat("x", 300), "{\"$ne\":1}"}
	var reqs []events.APIGatewayProxyRequest
	for _, id := range ids {
		p := "/users/" + url.PathEscape(id)
		reqs = append(reqs,
			events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: p},
			events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: p + "/activate", Body: `{"approvalReference":"x","approvedBy":"y"}`},
			events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: p + "/deactivate", Body: `{"reason":"x"}`},
			events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: p + "/audit"},
			events.APIGatewayProxyRequest{HTTPMethod: "PUT", Path: "/records/" + url.PathEscape(id), Body: `{"module":"lead","status":"Open","fields":{}}`},
			events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/records/" + url.PathEscape(id) + "/reopen"},
		)
	}
	for _, body := range []string{huge, `{"reason":"` + huge + `"}`, `{"reason":"\u0000"}`, `[` + strings.Repeat(`[`, 5000), `{"reason":{"$gt":""}}`, `null`} {
		reqs = append(reqs, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/users/admin-1/deactivate", Body: body})
	}
	for _, q := range []map[string]string{
		{"limit": "100000000000000000000"}, {"limit": "-1"}, {"cursor": huge}, {"cursor": "eyJ0IjoxfQ"}, {"status": "' OR 1=1"}, {"q": huge},
	} {
		reqs = append(reqs, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/users", QueryStringParameters: q})
	}
	reqs = append(reqs,
		events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/users/import", Body: `[` + strings.Repeat(`{"userId":"a","username":"b"},`, 600) + `{"userId":"z","username":"z"}]`},
		events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/audit", QueryStringParameters: map[string]string{"from": "0001-01-01T00:00:00Z"}},
		events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/users/lookup", QueryStringParameters: map[string]string{"q": "\x00"}},
	)
	for _, r := range reqs {
		r.RequestContext.Authorizer = map[string]any{"claims": claims}
		resp, err := a.HandleProxy(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error.Message == "" {
			t.Errorf("%s %.60s: %d %.200s", r.HTTPMethod, r.Path, resp.StatusCode, resp.Body)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, s.Tables())); d != "" {
		t.Errorf("hostile requests wrote (-before +after):\n%s", d)
	}
}

func TestHostileInputToTheReassignment(t *testing.T) {
	s := dynamotest.NewStore(t)
	db := dynamotest.Client(t)
	h := &reassign.Handler{Store: s, Now: func() time.Time { return t0 }, Log: quiet, Workers: 2}
	before := dynamotest.Snapshot(t, db, s.Tables())
	for _, raw := range []string{
		`{}`, `null`, `[]`, strings.Repeat(`{"a":`, 10000),
		`{"source":"dormancy.users","detail-type":"UserDeactivated","detail":{"eventId":"x","userId":"' OR 1=1"}}`,
		`{"source":"dormancy.users","detail-type":"UserDeactivated","detail":{"eventId":"x","userId":"` + strings.Repeat("u", 5000) + `"}}`,
		`{"source":"dormancy.users","detail-type":"UserDeactivated","detail":"not an object"}`,
	} {
		if _, err := h.Handle(context.Background(), json.RawMessage(raw)); !errors.Is(err, reassign.ErrBadEvent) {
			t.Errorf("%.50q: err = %v", raw, err)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, s.Tables())); d != "" {
		t.Errorf("hostile events wrote (-before +after):\n%s", d)
	}
}
