package local

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
)

// Adopting a pool under make dev: a user who exists only in the pool is
// brought in by POST /sync (the API invokes PoolSync through the local
// Invoke API, as on AWS); the sweep checks the pool's triggers (attached as
// on AWS) and holds once PostAuthentication no longer names the hook.
func TestAdoptionUnderMakeDev(t *testing.T) {
	s := startStack(t)
	c := client{t}
	ctx := context.Background()
	if code, _, raw := c.do("POST", s.InvokeURL+"/local/seed", "", ""); code != 200 {
		t.Fatalf("seed: %d %s", code, raw)
	}
	if _, err := cognitotest.CreateUser(ctx, s.cip, s.PoolID, "old-timer", SeedPassword, "Contractors"); err != nil {
		t.Fatal(err)
	}
	_, tokens, _ := c.do("POST", s.InvokeURL+"/local/signin", "", `{"username":"admin","password":"`+SeedPassword+`"}`)
	token, _ := tokens["idToken"].(string)
	code, started, raw := c.do("POST", s.APIURL+"/sync", token, "")
	if code != 202 || started["runId"] == nil {
		t.Fatalf("POST /sync: %d %s", code, raw)
	}
	var found bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !found; time.Sleep(200 * time.Millisecond) {
		_, page, _ := c.do("GET", s.APIURL+"/users?q=old-timer", token, "")
		users, _ := page["users"].([]any)
		for _, u := range users {
			m := u.(map[string]any)
			found = m["username"] == "old-timer" && m["creationSource"] == "" && strings.Contains(strings.Join(anyStrings(m["groups"]), ","), "Contractors")
		}
	}
	if !found {
		t.Fatal("the pool's user was not brought in by the sync")
	}
	code, runs, raw := c.do("GET", s.APIURL+"/runs?kind=sync", token, "")
	if list, _ := runs["runs"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["runId"] != started["runId"] {
		t.Errorf("sync runs: %d %s", code, raw)
	}

	// The triggers are attached: a sweep goes ahead...
	code, sum, raw := c.do("POST", s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", `{}`)
	if code != 200 || sum["held"] != false {
		t.Fatalf("sweep with the triggers attached: %d %s", code, raw)
	}
	// ...and holds once PostAuthentication no longer names the login hook.
	hook := aws.String(LocalHookARN)
	if _, err := s.cip.UpdateUserPool(ctx, &cip.UpdateUserPoolInput{UserPoolId: &s.PoolID, LambdaConfig: &cipt.LambdaConfigType{
		PreAuthentication: hook, PostConfirmation: hook, PreTokenGeneration: hook,
	}}); err != nil {
		t.Fatal(err)
	}
	code, sum, raw = c.do("POST", s.InvokeURL+"/2015-03-31/functions/Sweeper/invocations", "", `{}`)
	if code != 200 || sum["held"] != true || sum["holdReason"] != "TriggersNotAttached" {
		t.Errorf("sweep without PostAuthentication: %d %s", code, raw)
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
