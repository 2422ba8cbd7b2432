package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"
)

// synthesized templates, one per settings, shared by the tests (each synth
// costs seconds through jsii).
var (
	mu        sync.Mutex
	templates = map[string]map[string]any{}
)

func template(t *testing.T, ctx map[string]string) map[string]any {
	t.Helper()
	key, _ := json.Marshal(ctx)
	mu.Lock()
	defer mu.Unlock()
	if tpl, ok := templates[string(key)]; ok {
		return tpl
	}
	assets := t.TempDir()
	for _, fn := range []string{"loginhook", "sweeper", "reassign", "api"} {
		os.MkdirAll(filepath.Join(assets, fn), 0o755)
		// The template does not depend on the code; a stand-in file makes the asset.
		os.WriteFile(filepath.Join(assets, fn, "bootstrap"), []byte("stand-in"), 0o755)
	}
	get := func(k string) string {
		if k == "assetsDir" {
			return assets
		}
		return ctx[k]
	}
	s, err := ParseSettings(get)
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(nil)
	st := NewStack(app, "Test", &StackProps{Settings: s})
	raw := assertions.Template_FromStack(st.Stack, nil).ToJSON()
	b, _ := json.Marshal(raw)
	var tpl map[string]any
	json.Unmarshal(b, &tpl)
	templates[string(key)] = tpl
	return tpl
}

func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		m := r.(map[string]any)
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

func props(r map[string]any) map[string]any { p, _ := r["Properties"].(map[string]any); return p }

func functionsByDescription(tpl map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, f := range resources(tpl, "AWS::Lambda::Function") {
		d, _ := props(f)["Description"].(string)
		out[strings.TrimPrefix(d, "Dormancy ")] = f
	}
	return out
}

func TestFunctions(t *testing.T) {
	tpl := template(t, nil)
	fns := functionsByDescription(tpl)
	wantEnv := map[string][]string{
		"loginhook": {"ADMIN_GROUPS", "AUDIT_TABLE", "DORMANCY_DAYS", "EXEMPT_GROUPS", "GROUP_POLICIES", "OUTBOX_TABLE", "USERS_TABLE", "WARNING_DAYS"},
		"sweeper":   {"ADMIN_GROUPS", "AUDIT_TABLE", "COGNITO_RPS", "DORMANCY_DAYS", "EVENT_BUS_NAME", "EXEMPT_GROUPS", "GROUP_POLICIES", "OUTBOX_TABLE", "USERS_TABLE", "USER_POOL_ID", "WARNING_DAYS"},
		"reassign":  {"ADMIN_GROUPS", "AUDIT_TABLE", "DORMANCY_DAYS", "EVENT_BUS_NAME", "EXEMPT_GROUPS", "GROUP_POLICIES", "OUTBOX_TABLE", "RECORDS_TABLE", "WARNING_DAYS"},
		"api":       {"ADMIN_GROUPS", "AUDIT_TABLE", "COGNITO_RPS", "DORMANCY_DAYS", "EVENT_BUS_NAME", "EXEMPT_GROUPS", "GROUP_POLICIES", "OUTBOX_TABLE", "RECORDS_TABLE", "USERS_TABLE", "USER_POOL_ID", "WARNING_DAYS"},
	}
	if len(fns) != 4 {
		t.Fatalf("functions: %v", fns)
	}
	for name, f := range fns {
		p := props(f)
		if p["Runtime"] != "provided.al2023" || !cmp.Equal(p["Architectures"], []any{"arm64"}) || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v", name, p["Runtime"], p["Architectures"], p["Handler"])
		}
		if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogFormat"] != "JSON" {
			t.Errorf("%s: logging %v", name, p["LoggingConfig"])
		}
		vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		var keys []string
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if d := cmp.Diff(wantEnv[name], keys); d != "" {
			t.Errorf("%s environment (-want +got):\n%s", name, d)
		}
		if vars["DORMANCY_DAYS"] != "45" || vars["WARNING_DAYS"] != "7" || vars["ADMIN_GROUPS"] != "Admin,Ops" {
			t.Errorf("%s policy env: %v", name, vars)
		}
	}
	if to := props(fns["loginhook"])["Timeout"]; to != float64(5) {
		t.Errorf("login hook timeout %v: Cognito gives a trigger 5 s", to)
	}
}

func TestPoolTriggersAndGroups(t *testing.T) {
	tpl := template(t, nil)
	pools := resources(tpl, "AWS::Cognito::UserPool")
	if len(pools) != 1 {
		t.Fatalf("pools: %d", len(pools))
	}
	var hookID string
	for id, f := range resources(tpl, "AWS::Lambda::Function") {
		if props(f)["Description"] == "Dormancy loginhook" {
			hookID = id
		}
	}
	for _, p := range pools {
		lc := props(p)["LambdaConfig"].(map[string]any)
		for _, trig := range []string{"PreAuthentication", "PostAuthentication", "PostConfirmation", "PreTokenGeneration"} {
			ref, _ := json.Marshal(lc[trig])
			if !strings.Contains(string(ref), hookID) {
				t.Errorf("%s = %s, want the login hook", trig, ref)
			}
		}
	}
	var groups []string
	for _, g := range resources(tpl, "AWS::Cognito::UserPoolGroup") {
		groups = append(groups, props(g)["GroupName"].(string))
	}
	sort.Strings(groups)
	if !cmp.Equal(groups, []string{"Admin", "Ops"}) {
		t.Errorf("groups %v", groups)
	}
}

func TestExistingPool(t *testing.T) {
	tpl := template(t, map[string]string{"userPoolId": "eu-west-1_AbCdEf123", "corsOrigins": "https://crm.example.com"})
	if n := len(resources(tpl, "AWS::Cognito::UserPool")); n != 0 {
		t.Errorf("a pool was created for an existing one: %d", n)
	}
	found := false
	for _, p := range resources(tpl, "AWS::Lambda::Permission") {
		pp := props(p)
		src, _ := json.Marshal(pp["SourceArn"])
		if pp["Principal"] == "cognito-idp.amazonaws.com" && strings.Contains(string(src), "userpool/eu-west-1_AbCdEf123") {
			found = true
		}
	}
	if !found {
		t.Error("no permission for Cognito to invoke the login hook")
	}
	// CORS preflight methods exist and are the only ones without the authorizer.
	opts := 0
	for _, m := range resources(tpl, "AWS::ApiGateway::Method") {
		if props(m)["HttpMethod"] == "OPTIONS" {
			opts++
		}
	}
	if opts == 0 {
		t.Error("CORS origins given but no preflight methods")
	}
}

func TestScheduleAndRule(t *testing.T) {
	tpl := template(t, nil)
	var schedule, pattern map[string]any
	var target map[string]any
	for _, r := range resources(tpl, "AWS::Events::Rule") {
		p := props(r)
		if s, ok := p["ScheduleExpression"]; ok {
			schedule = map[string]any{"expr": s}
		}
		if ep, ok := p["EventPattern"].(map[string]any); ok {
			pattern = ep
			target = p["Targets"].([]any)[0].(map[string]any)
		}
	}
	if schedule["expr"] != "cron(15 23 * * ? *)" {
		t.Errorf("schedule %v", schedule)
	}
	if !cmp.Equal(pattern, map[string]any{"source": []any{"dormancy.users"}, "detail-type": []any{"UserDeactivated"}}) {
		t.Errorf("pattern %v", pattern)
	}
	rp := target["RetryPolicy"].(map[string]any)
	if rp["MaximumRetryAttempts"] != float64(8) || rp["MaximumEventAgeInSeconds"] != float64(86400) {
		t.Errorf("retry policy %v", rp)
	}
	if _, ok := target["DeadLetterConfig"]; !ok {
		t.Error("no dead-letter queue on the rule's target")
	}
	arn, _ := json.Marshal(target["Arn"])
	if !strings.Contains(string(arn), "Reassign") {
		t.Errorf("target %s", arn)
	}
	cfgs := resources(tpl, "AWS::Lambda::EventInvokeConfig")
	if len(cfgs) != 1 {
		t.Fatalf("async invoke configs: %d", len(cfgs))
	}
	for _, c := range cfgs {
		if _, ok := props(c)["DestinationConfig"].(map[string]any)["OnFailure"]; !ok {
			t.Error("no on-failure destination for the reassignment function")
		}
	}
}

func TestAuthorizerOnEveryMethod(t *testing.T) {
	tpl := template(t, nil)
	methods := resources(tpl, "AWS::ApiGateway::Method")
	if len(methods) == 0 {
		t.Fatal("no methods")
	}
	for id, m := range methods {
		p := props(m)
		if p["HttpMethod"] == "OPTIONS" {
			continue
		}
		if p["AuthorizationType"] != "COGNITO_USER_POOLS" || p["AuthorizerId"] == nil {
			t.Errorf("%s: %v %v", id, p["AuthorizationType"], p["AuthorizerId"])
		}
	}
	for _, s := range resources(tpl, "AWS::ApiGateway::Stage") {
		p := props(s)
		if p["AccessLogSetting"] == nil {
			t.Error("no access logs")
		}
		ms := p["MethodSettings"].([]any)[0].(map[string]any)
		if ms["ThrottlingRateLimit"] == nil || ms["ThrottlingBurstLimit"] == nil {
			t.Errorf("no throttling: %v", ms)
		}
	}
}

// No inline policy grants "*" actions or "*" resources. (The AWS managed
// policies AWSLambdaBasicExecutionRole and, for API Gateway's account-level
// logging role, AmazonAPIGatewayPushToCloudWatchLogs, are AWS's own.)
func TestLeastPrivilege(t *testing.T) {
	tpl := template(t, nil)
	signOut := 0
	for id, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := st.(map[string]any)
			for _, a := range list(s["Action"]) {
				if a == "*" || strings.HasSuffix(a.(string), ":*") {
					t.Errorf("%s: action %v", id, a)
				}
				if a == "cognito-idp:AdminUserGlobalSignOut" {
					signOut++
					res, _ := json.Marshal(s["Resource"])
					if !strings.Contains(string(res), "Pool") || strings.Contains(string(res), `"*"`) {
						t.Errorf("%s: sign-out on %s", id, res)
					}
				}
			}
			for _, r := range list(s["Resource"]) {
				if r == "*" {
					t.Errorf("%s: resource * for %v", id, s["Action"])
				}
			}
		}
	}
	if signOut != 2 {
		t.Errorf("AdminUserGlobalSignOut granted %d times, want the sweeper and the API", signOut)
	}
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func TestTablesRetainedWithRecovery(t *testing.T) {
	tpl := template(t, nil)
	tables := resources(tpl, "AWS::DynamoDB::Table")
	if len(tables) != 4 {
		t.Fatalf("tables: %d", len(tables))
	}
	retained := 0
	for id, tb := range tables {
		p := props(tb)
		if pitr := p["PointInTimeRecoverySpecification"].(map[string]any); pitr["PointInTimeRecoveryEnabled"] != true {
			t.Errorf("%s: no point-in-time recovery", id)
		}
		if tb["DeletionPolicy"] == "Retain" {
			retained++
			if p["DeletionProtectionEnabled"] != true {
				t.Errorf("%s retained without deletion protection", id)
			}
		}
	}
	if retained != 3 {
		t.Errorf("retained tables: %d, want Users, Audit, Records", retained)
	}
}

func TestAlarms(t *testing.T) {
	tpl := template(t, nil)
	var metrics []string
	for _, a := range resources(tpl, "AWS::CloudWatch::Alarm") {
		metrics = append(metrics, props(a)["MetricName"].(string))
	}
	sort.Strings(metrics)
	want := []string{"ApproximateNumberOfMessagesVisible", "Errors", "Errors", "Errors", "Errors", "EventsPending"}
	if !cmp.Equal(metrics, want) {
		t.Errorf("alarms on %v, want %v", metrics, want)
	}
}

func TestBadContextNamesTheKey(t *testing.T) {
	for key, val := range map[string]string{
		"dormancyDays": "0", "warningDays": "45", "groupPolicies": "Contractors", "schedule": "every day",
		"cognitoRps": "100", "userPoolId": "not-a-pool", "corsOrigins": "ftp://x", "alarmEmail": "nobody",
		"adminGroups": " , ",
	} {
		_, err := ParseSettings(func(k string) string {
			if k == key {
				return val
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: err %v, want one naming %s", key, val, err, key)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}
