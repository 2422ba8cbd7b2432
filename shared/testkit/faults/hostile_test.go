package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/sweeper"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// hostile strings Cognito could never send: injection-looking values with
// spaces, unicode tricks, control characters, invalid UTF-8, oversized.
var hostile = []string{
	`" OR 1=1 --`, `{"$ne": null}`, `'; DROP TABLE Users; --`, `#status = :active`,
	"ｕｓｅｒ\u202eevil", "zero\u200bwidth", "nul\x00byte", "new\nline", "\xff\xfe not utf-8",
	strings.Repeat("a", 129), strings.Repeat("界", 200), strings.Repeat("x", 1<<20),
}

// odd but legal Cognito user names: stored as data, verbatim, never
// interpreted.
var oddButLegal = []string{`../../etc/passwd`, `#status=:active`, `'OR'1'='1`, `${jndi:ldap://x}`, "ｕｓｅｒ", "名前", "ñoño"}

func TestHostileInputToTheLoginHook(t *testing.T) {
	s := dynamotest.NewStore(t)
	db := dynamotest.Client(t)
	hook := loginhook.New(s, policy, func() time.Time { return t0 }, quiet)
	before := dynamotest.Snapshot(t, db, s.Tables())
	ctx := context.Background()
	for _, src := range []string{"PreAuthentication_Authentication", "PostAuthentication_Authentication", "PostConfirmation_ConfirmSignUp", "TokenGeneration_RefreshTokens"} {
		for _, h := range hostile {
			for _, field := range []string{"userName", "sub"} {
				ev := map[string]any{
					"version": "1", "triggerSource": src, "region": "eu-west-1", "userPoolId": "eu-west-1_X",
					"userName": "jane", "callerContext": map[string]string{},
					"request": map[string]any{"userAttributes": map[string]string{"sub": "8f3b2c41-7d5e-4a19-9c6e-2b0f1d3a4e57"}},
				}
				if field == "userName" {
					ev["userName"] = h
				} else {
					ev["request"] = map[string]any{"userAttributes": map[string]string{"sub": h}}
				}
				raw, _ := json.Marshal(ev)
				_, err := hook.Handle(ctx, raw)
				if !errors.Is(err, loginhook.ErrMalformed) {
					t.Errorf("%s with %s %.40q: err = %v, want ErrMalformed", src, field, h, err)
				}
			}
		}
	}
	for _, raw := range []string{``, `null`, `"str"`, `{"triggerSource":null}`, `{"triggerSource":"PreAuthentication_Authentication","request":null}`, strings.Repeat("[", 100000)} {
		if _, err := hook.Handle(ctx, json.RawMessage(raw)); !errors.Is(err, loginhook.ErrMalformed) {
			t.Errorf("%.40q: err = %v, want ErrMalformed", raw, err)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, s.Tables())); d != "" {
		t.Errorf("hostile input wrote (-before +after):\n%s", d)
	}
	for i, name := range oddButLegal {
		sub := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		raw, _ := json.Marshal(map[string]any{
			"version": "1", "triggerSource": "PostAuthentication_Authentication", "region": "eu-west-1", "userPoolId": "eu-west-1_X",
			"userName": name, "callerContext": map[string]string{}, "request": map[string]any{"userAttributes": map[string]string{"sub": sub}},
		})
		if _, err := hook.Handle(ctx, raw); err != nil {
			t.Errorf("legal user name %q refused: %v", name, err)
			continue
		}
		if u, err := s.GetUser(ctx, sub); err != nil || u.Username != name || u.Status != "ACTIVE" {
			t.Errorf("legal user name %q stored as %+v, %v", name, u, err)
		}
	}
}

func TestHostileInputToTheSweeper(t *testing.T) {
	s := dynamotest.NewStore(t)
	create(t, s, "victim", 60*24*time.Hour)
	_, pub := bus(t)
	sw := newSweeper(s, s, pub, func() time.Time { return t0 })
	for _, raw := range []string{`{"dryRun":1}`, `{"dryRun":true,"dryRun":false,"x":1}`, `{"DRYRUN":false}`, `{"source":"dormancy.users","detail-type":"Scheduled Event"}`, `"` + strings.Repeat("x", 1<<20) + `"`, `{"dryRun":`, `[]`} {
		if _, err := sw.Handle(context.Background(), json.RawMessage(raw)); !errors.Is(err, sweeper.ErrBadInput) {
			t.Errorf("%.40q: err = %v, want ErrBadInput", raw, err)
		}
	}
	if u, _ := s.GetUser(context.Background(), "victim"); u.Status != "ACTIVE" {
		t.Error("hostile input made the sweeper act")
	}
}
