package infra

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// fnOpts are a function's timeout (seconds) and memory (MB), from its
// declaration, and where its failed async invocations go.
type fnOpts struct {
	timeout, memory float64
	onFailure       awssqs.IQueue
}

// newFunction is one Go function: provided.al2023 on arm64, its bootstrap
// from <assets>/<dir>, JSON logs kept a month. Its role starts with nothing
// but writing to its own log group (instead of the managed
// AWSLambdaBasicExecutionRole, which allows every log group of the account);
// its environment and other permissions are added by grantAccess.
func newFunction(scope constructs.Construct, id string, s Settings, dir string, o fnOpts) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Dormancy " + dir + ": what shared/access declares, and its own log group"),
	})
	logs.GrantWrite(role)
	props := &awslambda.FunctionProps{
		Role:          role,
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(s.AssetsDir, dir)), nil),
		MemorySize:    jsii.Number(o.memory),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(o.timeout)),
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logs,
		Description:   jsii.String("Dormancy " + dir),
	}
	if o.onFailure != nil {
		props.OnFailure = awslambdadestinations.NewSqsDestination(o.onFailure)
		props.RetryAttempts = jsii.Number(2)
	}
	return awslambda.NewFunction(scope, jsii.String(id), props)
}

// grantAccess gives a function's role exactly what access declares, and its
// environment exactly the variables the function reads:
//
//   - one statement per table or index with the declared DynamoDB actions,
//     on the table's ARN or on <table ARN>/index/<name>;
//   - an explicit Deny of access.AuditDenied on the Audit table and its
//     indexes, so that no later Allow can make the trail mutable (spec §9);
//   - events:PutEvents on the bus, and the declared cognito-idp actions on
//     the one pool;
//   - f.Env(), each variable from the resource or setting it names.
func (out *Stack) grantAccess(f access.Function, s Settings) {
	fn := out.Functions[f.Name]
	seen := map[[2]string]bool{}
	for _, g := range f.Grants {
		key := [2]string{g.Table, g.Index}
		if seen[key] {
			continue
		}
		seen[key] = true
		table := out.Data.Table(g.Table)
		arn := *table.TableArn()
		if g.Index != "" {
			if !hasIndex(g.Table, g.Index) {
				panic(fmt.Sprintf("infra: %s is granted index %s, which table %s does not have", f.Name, g.Index, g.Table))
			}
			arn += "/index/" + g.Index
		}
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   prefixed("dynamodb:", f.Actions(g.Table, g.Index)),
			Resources: jsii.Strings(arn),
		}))
	}
	audit := *out.Data.Table("Audit").TableArn()
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_DENY,
		Actions:   prefixed("dynamodb:", access.AuditDenied),
		Resources: jsii.Strings(audit, audit+"/index/*"),
	}))
	if f.PutEvents {
		out.Bus.GrantPutEventsTo(fn, nil)
	}
	if f.SendEmail {
		fn.AddToRolePolicy(sendEmailStatement(out.Stack, s.SenderEmail))
	}
	if len(f.PoolActions) > 0 {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   prefixed("cognito-idp:", f.PoolActions),
			Resources: &[]*string{out.Pool.UserPoolArn()},
		}))
	}

	values := s.policyEnv()
	for _, t := range dynamo.Schema {
		values[t.EnvVar] = *out.Data.Table(t.Name).TableName()
	}
	values["EVENT_BUS_NAME"] = *out.Bus.EventBusName()
	values["COGNITO_RPS"] = strconv.Itoa(s.CognitoRPS)
	values["SENDER_EMAIL"], values["ADMIN_NOTIFY_EMAIL"] = s.SenderEmail, s.AdminNotifyEmail
	values["HOLD_ABOVE_COUNT"] = strconv.Itoa(s.HoldAboveCount)
	values["HOLD_ABOVE_PERCENT"] = strconv.FormatFloat(s.HoldAbovePercent, 'f', -1, 64)
	values["SYNC_RPS"] = strconv.Itoa(s.SyncRPS)
	values["LOGIN_HOOK_ARN"] = *out.LoginHook.FunctionArn()
	values["CORS_ORIGINS"] = strings.Join(s.CORSOrigins, ",")
	if sync, ok := out.Functions["PoolSync"]; ok {
		values["POOL_SYNC_FUNCTION"] = *sync.FunctionName()
	}
	for _, name := range f.Invokes {
		// The function itself, not its versions (GrantInvoke adds ":*").
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &[]*string{out.Functions[name].FunctionArn()},
		}))
	}
	// A pool the stack creates names the login hook as its trigger: the hook
	// cannot name that pool back without a circular dependency.
	if fn != out.LoginHook || s.UserPoolID != "" {
		values["USER_POOL_ID"] = *out.Pool.UserPoolId()
	}
	for _, v := range f.Env() {
		val, ok := values[v]
		if !ok {
			panic(fmt.Sprintf("infra: function %s reads %s, which the stack has no value for", f.Name, v))
		}
		fn.AddEnvironment(jsii.String(v), jsii.String(val), nil)
	}
}

// prefixed puts a service prefix on each action.
func prefixed(service string, actions []string) *[]*string {
	out := make([]*string, len(actions))
	for i, a := range actions {
		out[i] = jsii.String(service + a)
	}
	return &out
}

// hasIndex reports whether dynamo.Schema declares the index on the table.
func hasIndex(table, index string) bool {
	for _, t := range dynamo.Schema {
		if t.Name == table {
			for _, ix := range t.Indexes {
				if ix.Name == index {
					return true
				}
			}
		}
	}
	return false
}
