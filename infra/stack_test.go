package infra

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/eventrules"
)

// synthesized templates, one per settings, shared by the tests (each synth
// costs seconds through jsii), with cdk-nag's findings on them.
var (
	mu     sync.Mutex
	synths = map[string]synthesized{}
)

type synthesized struct {
	tpl map[string]any
	nag []string // unsuppressed AwsSolutions errors and warnings
}

func template(t *testing.T, ctx map[string]string) map[string]any {
	t.Helper()
	return synth(t, ctx).tpl
}

// synth synthesizes the stack with the context, as cdkapp does: with the
// AwsSolutions checks.
func synth(t *testing.T, ctx map[string]string) synthesized {
	t.Helper()
	key, _ := json.Marshal(ctx)
	mu.Lock()
	defer mu.Unlock()
	if s, ok := synths[string(key)]; ok {
		return s
	}
	assets := t.TempDir()
	for _, fn := range access.Functions {
		os.MkdirAll(filepath.Join(assets, fn.Dir), 0o755)
		// The template does not depend on the code; a stand-in file makes the asset.
		os.WriteFile(filepath.Join(assets, fn.Dir, "bootstrap"), []byte("stand-in"), 0o755)
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
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	st := NewStack(app, "Test", &StackProps{Settings: s})
	AddNagChecks(app)
	var out synthesized
	ann := assertions.Annotations_FromStack(st.Stack)
	rule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	//lint:ignore SA1019 the Go binding's Annotations.FindError and FindWarning return this type; there is no other
	for level, msgs := range map[string]*[]*cxapi.SynthesisMessage{
		"error": ann.FindError(jsii.String("*"), rule), "warning": ann.FindWarning(jsii.String("*"), rule),
	} {
		for _, m := range *msgs {
			//lint:ignore SA1019 see above
			out.nag = append(out.nag, fmt.Sprintf("%s %s: %v", level, *m.Id, m.Entry.Data))
		}
	}
	sort.Strings(out.nag)
	raw := assertions.Template_FromStack(st.Stack, nil).ToJSON()
	b, _ := json.Marshal(raw)
	json.Unmarshal(b, &out.tpl)
	synths[string(key)] = out
	return out
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
		name, ours := strings.CutPrefix(d, "Dormancy ")
		if !ours {
			continue // CDK's own (the console's BucketDeployment handler)
		}
		out[name] = f
	}
	return out
}

func TestFunctions(t *testing.T) {
	tpl := template(t, nil)
	fns := functionsByDescription(tpl)
	if len(fns) != len(access.Functions)-1 {
		t.Fatalf("functions: %v (all but Notify, which needs senderEmail)", fns)
	}
	ids := logicalIDs(tpl)
	wantTimeout := map[string]float64{"loginhook": 5, "sweeper": 900, "reassign": 300, "api": 10, "poolsync": 900, "notify": 60}
	for _, decl := range access.Functions {
		name := decl.Dir
		f, ok := fns[name]
		if !ok {
			if !decl.SendEmail { // Notify needs senderEmail
				t.Errorf("no function described %q", "Dormancy "+name)
			}
			continue
		}
		p := props(f)
		if p["Runtime"] != "provided.al2023" || !cmp.Equal(p["Architectures"], []any{"arm64"}) || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v", name, p["Runtime"], p["Architectures"], p["Handler"])
		}
		if lc, _ := p["LoggingConfig"].(map[string]any); lc["LogFormat"] != "JSON" {
			t.Errorf("%s: logging %v", name, p["LoggingConfig"])
		}
		if to := p["Timeout"]; to != wantTimeout[name] {
			t.Errorf("%s: timeout %v, want %v", name, to, wantTimeout[name])
		}
		vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
		var keys []string
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if d := cmp.Diff(decl.Env(), keys); d != "" {
			t.Errorf("%s environment (-want +got):\n%s", name, d)
		}
		if vars["DORMANCY_DAYS"] != "45" || vars["WARNING_DAYS"] != "7" || vars["ADMIN_GROUPS"] != "Admin,Ops" {
			t.Errorf("%s policy env: %v", name, vars)
		}
		// Each variable names the resource it stands for.
		for _, table := range decl.Tables() {
			if v := access.TableVar(table); !cmp.Equal(vars[v], map[string]any{"Ref": ids.tables[table]}) {
				t.Errorf("%s: %s = %v, want the %s table", name, v, vars[v], table)
			}
		}
		for v, want := range map[string]any{
			"EVENT_BUS_NAME": map[string]any{"Ref": ids.bus}, "USER_POOL_ID": map[string]any{"Ref": ids.pool}, "COGNITO_RPS": "20",
		} {
			if got, ok := vars[v]; ok && !cmp.Equal(got, want) {
				t.Errorf("%s: %s = %v, want %v", name, v, got, want)
			}
		}
	}
}

// ids are the logical ids of the resources the functions are given.
type ids struct {
	tables    map[string]string // logical table name → logical id
	bus, pool string
	tableOf   map[string]string // logical id → logical table name
}

func logicalIDs(tpl map[string]any) ids {
	out := ids{tables: map[string]string{}, tableOf: map[string]string{}}
	for id := range resources(tpl, "AWS::DynamoDB::Table") {
		for _, t := range dynamo.Schema {
			if strings.HasPrefix(id, "Data"+t.Name) {
				out.tables[t.Name], out.tableOf[id] = id, t.Name
			}
		}
	}
	for id := range resources(tpl, "AWS::Events::EventBus") {
		out.bus = id
	}
	for id := range resources(tpl, "AWS::Cognito::UserPool") {
		out.pool = id
	}
	return out
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
	tpl := template(t, existingPool)
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
	var pattern map[string]any
	var target map[string]any
	schedules := map[string]any{} // target function -> expression
	for _, r := range resources(tpl, "AWS::Events::Rule") {
		p := props(r)
		if s, ok := p["ScheduleExpression"]; ok {
			arn, _ := json.Marshal(p["Targets"].([]any)[0].(map[string]any)["Arn"])
			for _, fn := range []string{"Sweeper", "PoolSync"} {
				if strings.Contains(string(arn), `"`+fn) {
					schedules[fn] = s
				}
			}
		}
		if ep, ok := p["EventPattern"].(map[string]any); ok {
			pattern = ep
			target = p["Targets"].([]any)[0].(map[string]any)
		}
	}
	// The pool sync runs half an hour before the sweep.
	if !cmp.Equal(schedules, map[string]any{"Sweeper": "cron(15 23 * * ? *)", "PoolSync": "cron(45 22 * * ? *)"}) {
		t.Errorf("schedules %v", schedules)
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
		if p["RequestValidatorId"] == nil {
			t.Errorf("%s: no request validator", id)
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
		// Execution logs: errors only, never request or response bodies.
		if ms["LoggingLevel"] != "ERROR" || ms["DataTraceEnabled"] != false {
			t.Errorf("execution logging: %v", ms)
		}
	}
}

// A DynamoDB resource of a policy statement: a table, or one of its indexes
// ("*" for index/*).
type dynamoResource struct{ table, index string }

// dynamoResourceOf reads a statement's resource: the table's Fn::GetAtt Arn,
// or a Fn::Join of it and "/index/<name>"; ok is false for anything else.
func (x ids) dynamoResourceOf(r any) (dynamoResource, bool) {
	tableOfArn := func(v any) (string, bool) {
		m, _ := v.(map[string]any)
		ga, _ := m["Fn::GetAtt"].([]any)
		if len(ga) != 2 || ga[1] != "Arn" {
			return "", false
		}
		name, ok := x.tableOf[fmt.Sprint(ga[0])]
		return name, ok
	}
	if name, ok := tableOfArn(r); ok {
		return dynamoResource{table: name}, true
	}
	m, _ := r.(map[string]any)
	join, _ := m["Fn::Join"].([]any)
	if len(join) != 2 || join[0] != "" {
		return dynamoResource{}, false
	}
	parts, _ := join[1].([]any)
	if len(parts) != 2 {
		return dynamoResource{}, false
	}
	name, ok := tableOfArn(parts[0])
	suffix, _ := parts[1].(string)
	if !ok || !strings.HasPrefix(suffix, "/index/") {
		return dynamoResource{}, false
	}
	return dynamoResource{table: name, index: strings.TrimPrefix(suffix, "/index/")}, true
}

// grants is what one role's policies allow and deny.
type grants struct {
	allow      map[dynamoResource][]string // dynamodb actions, sorted
	statements map[dynamoResource]int      // Allow statements naming the resource
	deny       map[dynamoResource][]string
	other      map[string][]string // every other allowed action: its resources, as JSON
}

// roleGrants collects the statements of every AWS::IAM::Policy attached to
// the function's role.
func roleGrants(t *testing.T, tpl map[string]any, fn map[string]any) grants {
	t.Helper()
	x := logicalIDs(tpl)
	ref, _ := props(fn)["Role"].(map[string]any)
	role, _ := ref["Fn::GetAtt"].([]any)
	if len(role) != 2 {
		t.Fatalf("function role %v", props(fn)["Role"])
	}
	g := grants{allow: map[dynamoResource][]string{}, statements: map[dynamoResource]int{}, deny: map[dynamoResource][]string{}, other: map[string][]string{}}
	for id, p := range resources(tpl, "AWS::IAM::Policy") {
		if !slices.ContainsFunc(list(props(p)["Roles"]), func(r any) bool { return cmp.Equal(r, map[string]any{"Ref": role[0]}) }) {
			continue
		}
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := st.(map[string]any)
			for _, r := range list(s["Resource"]) {
				res, isTable := x.dynamoResourceOf(r)
				if isTable && s["Effect"] == "Allow" {
					g.statements[res]++
				}
				for _, a := range list(s["Action"]) {
					action := a.(string)
					switch {
					case isTable && s["Effect"] == "Allow":
						g.allow[res] = append(g.allow[res], action)
					case isTable && s["Effect"] == "Deny":
						g.deny[res] = append(g.deny[res], action)
					case s["Effect"] == "Allow":
						rj, _ := json.Marshal(r)
						g.other[action] = append(g.other[action], string(rj))
					default:
						t.Errorf("%s: unexpected %v of %s on %v", id, s["Effect"], action, r)
					}
				}
			}
		}
	}
	for _, m := range []map[dynamoResource][]string{g.allow, g.deny} {
		for k, v := range m {
			slices.Sort(v)
			m[k] = slices.Compact(v)
		}
	}
	return g
}

// Each role is given exactly what shared/access declares, table by table
// and index by index: a widened grant fails here.
func TestRolesMatchTheDeclaration(t *testing.T) {
	for _, ctx := range []map[string]string{nil, existingPool, withSender} {
		tpl := template(t, ctx)
		fns := functionsByDescription(tpl)
		x := logicalIDs(tpl)
		for _, decl := range access.Functions {
			if fns[decl.Dir] == nil {
				if !decl.SendEmail { // Notify needs senderEmail
					t.Errorf("no function %s", decl.Dir)
				}
				continue
			}
			g := roleGrants(t, tpl, fns[decl.Dir])
			want := map[dynamoResource][]string{}
			for _, gr := range decl.Grants {
				want[dynamoResource{gr.Table, gr.Index}] = prefixAll("dynamodb:", decl.Actions(gr.Table, gr.Index))
			}
			if d := cmp.Diff(want, g.allow, cmp.AllowUnexported(dynamoResource{})); d != "" {
				t.Errorf("%s (context %v): DynamoDB actions (-declared +granted):\n%s", decl.Name, ctx, d)
			}
			for res, n := range g.statements {
				if n != 1 {
					t.Errorf("%s: %d statements on %v, want one", decl.Name, n, res)
				}
			}
			// Nothing else: its logs, the bus, the pool (and the reassignment's
			// dead letters), each on that one resource.
			fn := fns[decl.Dir]
			arnOf := func(id string) string {
				b, _ := json.Marshal(map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
				return string(b)
			}
			is := func(want string) func(string) bool { return func(got string) bool { return got == want } }
			logs := props(fn)["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
			wantOther := map[string]func(string) bool{"logs:CreateLogStream": is(arnOf(logs)), "logs:PutLogEvents": is(arnOf(logs))}
			if decl.PutEvents {
				wantOther["events:PutEvents"] = is(arnOf(x.bus))
			}
			for _, target := range decl.Invokes {
				wantOther["lambda:InvokeFunction"] = is(arnOf(logicalIDOfFunction(tpl, access.Get(target).Dir)))
			}
			for _, a := range decl.PoolActions {
				wantOther["cognito-idp:"+a] = is(arnOf(x.pool))
				if id := ctx["userPoolId"]; id != "" {
					wantOther["cognito-idp:"+a] = func(got string) bool { return strings.Contains(got, ":userpool/"+id+`"`) }
				}
			}
			if decl.SendEmail { // SES, from the sender identity only
				wantOther["ses:SendEmail"] = is(senderIdentityARN(ctx["senderEmail"]))
			}
			if decl.Name == "Reassign" || decl.Name == "Notify" { // their failed async invocations go to the dead-letter queue
				for _, a := range []string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"} {
					wantOther[a] = is(arnOf(logicalIDOf(tpl, "AWS::SQS::Queue")))
				}
			}
			for action, res := range g.other {
				if ok := wantOther[action]; ok == nil || len(res) != 1 || !ok(res[0]) {
					t.Errorf("%s (context %v): %s on %v", decl.Name, ctx, action, res)
				}
			}
			for action := range wantOther {
				if _, ok := g.other[action]; !ok {
					t.Errorf("%s (context %v): no %s", decl.Name, ctx, action)
				}
			}
			// Audit is append-only: explicitly denied changes on the table and
			// its indexes.
			for _, res := range []dynamoResource{{"Audit", ""}, {"Audit", "*"}} {
				want := prefixAll("dynamodb:", access.AuditDenied)
				slices.Sort(want)
				if d := cmp.Diff(want, g.deny[res]); d != "" {
					t.Errorf("%s: Deny on %v (-want +got):\n%s", decl.Name, res, d)
				}
				for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive"} {
					if !slices.Contains(g.deny[res], a) {
						t.Errorf("%s: %s not denied on %v", decl.Name, a, res)
					}
				}
			}
			if len(g.deny) != 2 {
				t.Errorf("%s: denies %v", decl.Name, g.deny)
			}
			// Functions have no AWS managed policy (AWSLambdaBasicExecutionRole
			// allows every log group).
			role := props(fn)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			if mp := props(resources(tpl, "AWS::IAM::Role")[role])["ManagedPolicyArns"]; mp != nil {
				t.Errorf("%s: managed policies %v", decl.Name, mp)
			}
		}
	}
}

// No role of the stack (functions or not) may Scan, delete users or
// records, or change an audit entry.
func TestNoScanNoDeletesNoAuditChanges(t *testing.T) {
	for _, ctx := range []map[string]string{nil, existingPool} {
		tpl := template(t, ctx)
		x := logicalIDs(tpl)
		for id, p := range resources(tpl, "AWS::IAM::Policy") {
			for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				s := st.(map[string]any)
				if s["Effect"] != "Allow" {
					continue
				}
				for _, a := range list(s["Action"]) {
					action := a.(string)
					if !strings.HasPrefix(action, "dynamodb:") {
						continue
					}
					op := strings.TrimPrefix(action, "dynamodb:")
					if op == "Scan" || strings.Contains(op, "*") {
						t.Errorf("%s allows %s", id, action)
					}
					for _, r := range list(s["Resource"]) {
						res, ok := x.dynamoResourceOf(r)
						if !ok {
							t.Errorf("%s: %s on %v, not a table or index", id, action, r)
							continue
						}
						if op == "DeleteItem" && (res.table == "Users" || res.table == "Records") {
							t.Errorf("%s allows DeleteItem on %s", id, res.table)
						}
						if res.table == "Audit" && (slices.Contains(access.AuditDenied, op) || strings.HasPrefix(op, "PartiQL")) {
							t.Errorf("%s allows %s on Audit", id, action)
						}
					}
				}
			}
		}
	}
}

// cdk-nag's AwsSolutions rules leave no unsuppressed error or warning, with
// a new pool and with an existing one, CORS and an alarm address.
func TestNagAwsSolutions(t *testing.T) {
	for _, ctx := range []map[string]string{nil, existingPool, {"alarmEmail": "ops@example.com"}, withSender} {
		if n := synth(t, ctx).nag; len(n) > 0 {
			t.Errorf("context %v: cdk-nag findings:\n%s", ctx, strings.Join(n, "\n"))
		}
	}
}

var existingPool = map[string]string{"userPoolId": "eu-west-1_AbCdEf123", "corsOrigins": "https://crm.example.com"}

func prefixAll(p string, actions []string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = p + a
	}
	return out
}

// logicalIDOf is the logical id of the one resource of a type.
func logicalIDOf(tpl map[string]any, typ string) string {
	for id := range resources(tpl, typ) {
		return id
	}
	return ""
}

// No inline policy grants "*" actions or "*" resources. (The AWS managed
// policy AmazonAPIGatewayPushToCloudWatchLogs of API Gateway's account-level
// logging role is AWS's own; the functions have no managed policy.)
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
	if len(tables) != 6 {
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
	if retained != 4 { // Users, Audit, Records, Runs
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
	want := []string{"ApproximateNumberOfMessagesVisible", "Errors", "Errors", "Errors", "Errors", "Errors", "EventsPending", "Held"} // an Errors alarm per function
	if !cmp.Equal(metrics, want) {
		t.Errorf("alarms on %v, want %v", metrics, want)
	}
}

func TestBadContextNamesTheKey(t *testing.T) {
	for key, val := range map[string]string{
		"dormancyDays": "0", "warningDays": "45", "groupPolicies": "Contractors", "schedule": "every day",
		"cognitoRps": "100", "userPoolId": "not-a-pool", "corsOrigins": "ftp://x", "alarmEmail": "nobody",
		"adminGroups": " , ", "adminContact": strings.Repeat("x", 201), "holdAbovePercent": "101", "holdAboveCount": "-1",
		"syncSchedule": "sometimes", "syncRps": "0", "senderEmail": "nobody", "adminNotifyEmail": "nobody",
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

// What API Gateway answers itself has the API's error shape (spec §8).
func TestGatewayErrorsHaveTheAPIShape(t *testing.T) {
	tpl := template(t, nil)
	got := map[string]string{}
	for _, r := range resources(tpl, "AWS::ApiGateway::GatewayResponse") {
		p := props(r)
		tmpl, _ := p["ResponseTemplates"].(map[string]any)["application/json"].(string)
		got[p["ResponseType"].(string)] = tmpl
	}
	for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX"} {
		var doc struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		body := strings.ReplaceAll(got[typ], "$context.error.messageString", `"from API Gateway"`)
		if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Error.Code == "" || doc.Error.Message == "" {
			t.Errorf("%s: template %q", typ, got[typ])
		}
	}
}

// logicalIDOfFunction is the logical id of the function described
// "Dormancy <dir>".
func logicalIDOfFunction(tpl map[string]any, dir string) string {
	for id, f := range resources(tpl, "AWS::Lambda::Function") {
		if props(f)["Description"] == "Dormancy "+dir {
			return id
		}
	}
	return ""
}

// withSender deploys the notify function (spec §13).
var withSender = map[string]string{"senderEmail": "dormancy@example.com", "adminNotifyEmail": "admins@example.com"}

// senderIdentityARN is, as the template writes it, the ARN of the SES
// identity of an e-mail address in the stack's account and region.
func senderIdentityARN(email string) string {
	b, _ := json.Marshal(map[string]any{"Fn::Join": []any{"", []any{
		"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ses:", map[string]any{"Ref": "AWS::Region"}, ":",
		map[string]any{"Ref": "AWS::AccountId"}, ":identity/" + email,
	}}})
	return string(b)
}

// noticesRules are the rules with eventrules.Notices' pattern, by logical id.
func noticesRules(tpl map[string]any) map[string]map[string]any {
	want := map[string]any{}
	json.Unmarshal([]byte(eventrules.Notices.JSON()), &want)
	out := map[string]map[string]any{}
	for id, r := range resources(tpl, "AWS::Events::Rule") {
		if cmp.Equal(props(r)["EventPattern"], want) {
			out[id] = r
		}
	}
	return out
}

// With senderEmail, the notify function is deployed with its declared
// environment, behind a rule on the bus with eventrules.Notices' pattern,
// with the reassignment's retries and dead-letter queue, and may send mail
// from the sender identity only.
func TestNotices(t *testing.T) {
	tpl := template(t, withSender)
	x := logicalIDs(tpl)
	fn := functionsByDescription(tpl)["notify"]
	if fn == nil {
		t.Fatal("no notify function with senderEmail")
	}
	fnID := logicalIDOfFunction(tpl, "notify")
	vars := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
	if d := cmp.Diff(access.Get("Notify").Env(), slices.Sorted(maps.Keys(vars))); d != "" {
		t.Errorf("environment (-want +got):\n%s", d)
	}
	if vars["SENDER_EMAIL"] != "dormancy@example.com" || vars["ADMIN_NOTIFY_EMAIL"] != "admins@example.com" ||
		!cmp.Equal(vars["NOTICES_TABLE"], map[string]any{"Ref": x.tables["Notices"]}) || !cmp.Equal(vars["USERS_TABLE"], map[string]any{"Ref": x.tables["Users"]}) {
		t.Errorf("environment %v", vars)
	}
	if p := props(fn); p["Timeout"] != float64(60) || p["MemorySize"] != float64(256) {
		t.Errorf("timeout %v, memory %v", p["Timeout"], p["MemorySize"])
	}

	rules := noticesRules(tpl)
	if len(rules) != 1 {
		t.Fatalf("rules with the Notices pattern: %d", len(rules))
	}
	for _, r := range rules {
		p := props(r)
		if !cmp.Equal(p["EventBusName"], map[string]any{"Ref": x.bus}) {
			t.Errorf("rule on bus %v", p["EventBusName"])
		}
		targets := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("targets: %v", targets)
		}
		target := targets[0].(map[string]any)
		if !cmp.Equal(target["Arn"], map[string]any{"Fn::GetAtt": []any{fnID, "Arn"}}) {
			t.Errorf("target %v, want the notify function", target["Arn"])
		}
		if rp := target["RetryPolicy"].(map[string]any); rp["MaximumRetryAttempts"] != float64(8) || rp["MaximumEventAgeInSeconds"] != float64(86400) {
			t.Errorf("retry policy %v", rp)
		}
		dlq := logicalIDOf(tpl, "AWS::SQS::Queue")
		if !cmp.Equal(target["DeadLetterConfig"], map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}}) {
			t.Errorf("dead-letter config %v", target["DeadLetterConfig"])
		}
	}
	// Its failed async invocations go to the same queue.
	found := false
	for _, c := range resources(tpl, "AWS::Lambda::EventInvokeConfig") {
		p := props(c)
		if cmp.Equal(p["FunctionName"], map[string]any{"Ref": fnID}) {
			_, found = p["DestinationConfig"].(map[string]any)["OnFailure"]
		}
	}
	if !found {
		t.Error("no on-failure destination for the notify function")
	}

	// SES: ses:SendEmail on the sender's identity alone, and only to the
	// notify function's role.
	ses := 0
	for id, p := range resources(tpl, "AWS::IAM::Policy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := st.(map[string]any)
			for _, a := range list(s["Action"]) {
				if !strings.HasPrefix(a.(string), "ses:") {
					continue
				}
				ses++
				if res, _ := json.Marshal(s["Resource"]); a != "ses:SendEmail" || string(res) != senderIdentityARN("dormancy@example.com") {
					t.Errorf("%s: %v on %s", id, a, res)
				}
			}
		}
	}
	if g := roleGrants(t, tpl, fn); ses != 1 || len(g.other["ses:SendEmail"]) != 1 {
		t.Errorf("SES granted %d times; the notify function's: %v", ses, g.other)
	}
}

// Without senderEmail there is no notify function, no Notices rule and no
// SES permission.
func TestNoNoticesWithoutSender(t *testing.T) {
	for _, ctx := range []map[string]string{nil, existingPool, {"adminNotifyEmail": "admins@example.com"}} {
		tpl := template(t, ctx)
		if fn := functionsByDescription(tpl)["notify"]; fn != nil {
			t.Errorf("context %v: a notify function", ctx)
		}
		if n := len(noticesRules(tpl)); n != 0 {
			t.Errorf("context %v: %d Notices rules", ctx, n)
		}
		b, _ := json.Marshal(resources(tpl, "AWS::IAM::Policy"))
		if strings.Contains(string(b), `"ses:`) {
			t.Errorf("context %v: an SES permission", ctx)
		}
	}
}

// DynamoDB deletes notices 30 days on (TTL on expiresAt, as
// dynamo.Schema declares), whether or not the notify function is deployed.
func TestNoticesExpire(t *testing.T) {
	for _, ctx := range []map[string]string{nil, withSender} {
		tpl := template(t, ctx)
		x := logicalIDs(tpl)
		ttls := map[string]any{}
		for id, tb := range resources(tpl, "AWS::DynamoDB::Table") {
			if ttl, ok := props(tb)["TimeToLiveSpecification"]; ok {
				ttls[x.tableOf[id]] = ttl
			}
		}
		want := map[string]any{}
		for _, tb := range dynamo.Schema {
			if tb.TTL != "" {
				want[tb.Name] = map[string]any{"AttributeName": tb.TTL, "Enabled": true}
			}
		}
		if want["Notices"] == nil {
			t.Error("dynamo.Schema declares no TTL on Notices")
		}
		if d := cmp.Diff(want, ttls); d != "" {
			t.Errorf("context %v: TTLs (-want +got):\n%s", ctx, d)
		}
	}
}
