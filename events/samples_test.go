package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Every sample decodes strictly into the Go type its function receives, and
// encodes back to the same JSON.
func TestSamplesDecodeStrictly(t *testing.T) {
	types := map[string]func() any{
		"cognito-pre-authentication.json":                  func() any { return &events.CognitoEventUserPoolsPreAuthentication{} },
		"cognito-post-authentication.json":                 func() any { return &events.CognitoEventUserPoolsPostAuthentication{} },
		"cognito-post-confirmation-signup.json":            func() any { return &events.CognitoEventUserPoolsPostConfirmation{} },
		"cognito-post-confirmation-forgot-password.json":   func() any { return &events.CognitoEventUserPoolsPostConfirmation{} },
		"cognito-pre-token-generation-authentication.json": func() any { return &events.CognitoEventUserPoolsPreTokenGen{} },
		"cognito-pre-token-generation-refresh.json":        func() any { return &events.CognitoEventUserPoolsPreTokenGen{} },
		"eventbridge-scheduled.json":                       func() any { return &events.EventBridgeEvent{} },
		"eventbridge-user-deactivated.json":                func() any { return &events.EventBridgeEvent{} },
		"sweeper-dry-run.json": func() any {
			return &struct {
				DryRun bool `json:"dryRun"`
			}{}
		},
	}
	for _, name := range Samples() {
		if strings.HasPrefix(name, "apigateway-") {
			types[name] = func() any { return &events.APIGatewayProxyRequest{} }
		}
		newT, ok := types[name]
		if !ok {
			t.Errorf("sample %s has no Go type in this test", name)
			continue
		}
		raw, err := Sample(name)
		if err != nil {
			t.Fatal(err)
		}
		v := newT()
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		back, _ := json.Marshal(v)
		var want, got map[string]any
		json.Unmarshal(raw, &want)
		json.Unmarshal(back, &got)
		if strings.HasPrefix(name, "cognito-pre-token-generation") {
			// Cognito sends "claimsOverrideDetails": null; the Go type's
			// response is a struct, so it re-encodes as an empty object.
			delete(want, "response")
			delete(got, "response")
		}
		if d := cmp.Diff(want, got); d != "" && !strings.HasPrefix(name, "apigateway-") {
			t.Errorf("%s does not round-trip (-sample +re-encoded):\n%s", name, d)
		}
	}
}

func TestUserDeactivatedSampleMatchesSchemaAndType(t *testing.T) {
	raw, _ := Sample("eventbridge-user-deactivated.json")
	var env events.EventBridgeEvent
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if err := Validate(env.DetailType, env.Detail); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Detail))
	dec.DisallowUnknownFields()
	var d dormancy.UserDeactivated
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	good := `{"eventId":"3c9a1f0e-52b7-4d84-a1e6-0f2b9c7d5e18","userId":"u1","username":"jane","occurredAt":"2026-11-24T23:15:01.482Z","reason":"INACTIVITY","automatic":true,"actor":"system","lastActivityAt":"2026-10-09T08:12:44.000Z","thresholdDays":45}`
	if err := Validate("UserDeactivated", []byte(good)); err != nil {
		t.Fatalf("valid detail refused: %v", err)
	}
	bad := map[string]string{
		"missing field": strings.Replace(good, `"actor":"system",`, ``, 1),
		"extra field":   strings.Replace(good, `"actor":"system"`, `"actor":"system","role":"x"`, 1),
		"bad enum":      strings.Replace(good, `INACTIVITY`, `BORED`, 1),
		"bad time":      strings.Replace(good, `2026-11-24T23:15:01.482Z`, `yesterday`, 1),
		"bad id":        strings.Replace(good, `3c9a1f0e-52b7`, `not-a-uuid`, 1),
		"threshold 0":   strings.Replace(good, `"thresholdDays":45`, `"thresholdDays":0`, 1),
		"not json":      `{`,
	}
	for name, d := range bad {
		if err := Validate("UserDeactivated", []byte(d)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Validate("Nope", []byte(good)); err == nil {
		t.Error("unknown detail type accepted")
	}
	for _, dt := range DetailTypes() {
		if err := Validate(dt, []byte(`{}`)); err == nil {
			t.Errorf("%s: empty detail accepted", dt)
		}
	}
}
