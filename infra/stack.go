// Package infra is Dormancy's AWS CDK app: one construct per concern (data,
// login hook, sweeper, reassignment, API, observability) composed by one
// stack. Names are left to CloudFormation; permissions are granted on the
// resources, action by action.
package infra

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/eventrules"
)

// StackProps are the stack's properties: the usual ones and the settings.
type StackProps struct {
	awscdk.StackProps
	Settings Settings
}

// Stack is the deployed system.
type Stack struct {
	awscdk.Stack
	Data      *Data
	Bus       awsevents.EventBus
	Pool      awscognito.IUserPool
	LoginHook awslambda.Function
	Sweeper   awslambda.Function
	Reassign  awslambda.Function
	API       awslambda.Function
	DLQ       awssqs.Queue
}

// NewStack composes the constructs.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := props.Settings
	out := &Stack{Stack: st}
	out.Data = NewData(st, "Data")
	out.Bus = awsevents.NewEventBus(st, jsii.String("Bus"), &awsevents.EventBusProps{})

	out.LoginHook = newFunction(st, "LoginHook", s, "loginhook", fnOpts{timeout: 5, memory: 512})
	out.Pool = newPool(st, s, out.LoginHook)

	out.Sweeper = newFunction(st, "Sweeper", s, "sweeper", fnOpts{timeout: 900, memory: 512, env: map[string]string{
		"EVENT_BUS_NAME": *out.Bus.EventBusName(), "USER_POOL_ID": *out.Pool.UserPoolId(), "COGNITO_RPS": strconv.Itoa(s.CognitoRPS),
	}})
	out.DLQ = awssqs.NewQueue(st, jsii.String("ReassignDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true),
	})
	out.Reassign = newFunction(st, "Reassign", s, "reassign", fnOpts{timeout: 300, memory: 512, onFailure: out.DLQ, env: map[string]string{
		"EVENT_BUS_NAME": *out.Bus.EventBusName(),
	}})
	out.API = newFunction(st, "Api", s, "api", fnOpts{timeout: 10, memory: 512, env: map[string]string{
		"EVENT_BUS_NAME": *out.Bus.EventBusName(), "USER_POOL_ID": *out.Pool.UserPoolId(), "COGNITO_RPS": strconv.Itoa(s.CognitoRPS),
	}})

	d := out.Data
	// Login hook: users, its audit entries and owed events.
	d.Users.GrantReadWriteData(out.LoginHook)
	d.Audit.GrantWriteData(out.LoginHook)
	d.Outbox.GrantWriteData(out.LoginHook)
	// Sweeper: users (and their indexes), audit, the outbox, the bus, sign-outs.
	d.Users.GrantReadWriteData(out.Sweeper)
	d.Audit.GrantWriteData(out.Sweeper)
	d.Outbox.GrantReadWriteData(out.Sweeper)
	out.Bus.GrantPutEventsTo(out.Sweeper, nil)
	grantSignOut(out.Sweeper, out.Pool)
	// Reassignment: records, audit, the outbox and the bus (its events).
	d.Records.GrantReadWriteData(out.Reassign)
	d.Audit.GrantWriteData(out.Reassign)
	d.Outbox.GrantReadWriteData(out.Reassign)
	out.Bus.GrantPutEventsTo(out.Reassign, nil)
	// API: everything it serves, the bus and sign-outs for manual deactivation.
	d.Users.GrantReadWriteData(out.API)
	d.Records.GrantReadWriteData(out.API)
	d.Audit.GrantReadWriteData(out.API)
	d.Outbox.GrantReadWriteData(out.API)
	out.Bus.GrantPutEventsTo(out.API, nil)
	grantSignOut(out.API, out.Pool)
	d.setEnv(out.LoginHook, "USERS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE")
	d.setEnv(out.Sweeper, "USERS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE")
	d.setEnv(out.Reassign, "RECORDS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE")
	d.setEnv(out.API, "USERS_TABLE", "RECORDS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE")

	schedule := awsevents.NewRule(st, jsii.String("SweepSchedule"), &awsevents.RuleProps{
		Schedule: awsevents.Schedule_Expression(jsii.String(s.Schedule)), Description: jsii.String("Runs the dormancy sweep"),
	})
	schedule.AddTarget(awseventstargets.NewLambdaFunction(out.Sweeper, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)}))

	p := eventrules.UserDeactivated
	rule := awsevents.NewRule(st, jsii.String("UserDeactivatedRule"), &awsevents.RuleProps{
		EventBus:     out.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(p.Source...), DetailType: jsii.Strings(p.DetailType...)},
		Description:  jsii.String("Clears deactivated users from open records"),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(out.Reassign, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: out.DLQ, MaxEventAge: awscdk.Duration_Hours(jsii.Number(24)), RetryAttempts: jsii.Number(8),
	}))

	newAPI(st, s, out.API, out.Pool)
	newObservability(st, s, out)
	return out
}

// Data holds the tables, built from the schema the code declares.
type Data struct {
	constructs.Construct
	Users, Audit, Records, Outbox awsdynamodb.Table
}

// NewData creates the four tables of dynamo.Schema: on-demand, encrypted,
// with point-in-time recovery and deletion protection; the ones whose data
// must outlive the stack are retained when it is deleted.
func NewData(scope constructs.Construct, id string) *Data {
	c := constructs.NewConstruct(scope, jsii.String(id))
	d := &Data{Construct: c}
	for _, t := range dynamo.Schema {
		props := &awsdynamodb.TableProps{
			PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(t.PK), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
			DeletionProtection:               jsii.Bool(t.Retain),
			RemovalPolicy:                    awscdk.RemovalPolicy_DESTROY,
		}
		if t.Retain {
			props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
		}
		if t.SK != "" {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SK), Type: awsdynamodb.AttributeType_STRING}
		}
		table := awsdynamodb.NewTable(c, jsii.String(t.Name), props)
		for _, ix := range t.Indexes {
			gsi := &awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PK), Type: awsdynamodb.AttributeType_STRING},
				ProjectionType: awsdynamodb.ProjectionType(ix.Projection),
			}
			if ix.SK != "" {
				gsi.SortKey = &awsdynamodb.Attribute{Name: jsii.String(ix.SK), Type: awsdynamodb.AttributeType_STRING}
			}
			if len(ix.NonKey) > 0 {
				gsi.NonKeyAttributes = jsii.Strings(ix.NonKey...)
			}
			table.AddGlobalSecondaryIndex(gsi)
		}
		switch t.Name {
		case "Users":
			d.Users = table
		case "Audit":
			d.Audit = table
		case "Records":
			d.Records = table
		case "Outbox":
			d.Outbox = table
		}
	}
	return d
}

// setEnv gives a function the names of the tables it was granted.
func (d *Data) setEnv(fn awslambda.Function, vars ...string) {
	tables := map[string]awsdynamodb.Table{"USERS_TABLE": d.Users, "AUDIT_TABLE": d.Audit, "RECORDS_TABLE": d.Records, "OUTBOX_TABLE": d.Outbox}
	for _, v := range vars {
		fn.AddEnvironment(jsii.String(v), tables[v].TableName(), nil)
	}
}

type fnOpts struct {
	timeout, memory float64
	env             map[string]string
	onFailure       awssqs.IQueue
}

// newFunction is one Go function: provided.al2023 on arm64, its bootstrap
// from <assets>/<dir>, JSON logs kept a month, the policy in its environment.
func newFunction(scope constructs.Construct, id string, s Settings, dir string, o fnOpts) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	env := map[string]*string{}
	for k, v := range s.policyEnv() {
		env[k] = jsii.String(v)
	}
	for k, v := range o.env {
		env[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(s.AssetsDir, dir)), nil),
		MemorySize:    jsii.Number(o.memory),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(o.timeout)),
		Environment:   &env,
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

// newPool creates a pool with the Admin and Ops groups and the four triggers
// on the login hook, or, given userPoolId, uses an existing pool: then the
// hook only gets the permission Cognito needs to call it, and the triggers
// are attached once with the AWS CLI (infra/README.md says how), because
// UpdateUserPool replaces every setting it is not given.
func newPool(scope constructs.Construct, s Settings, hook awslambda.Function) awscognito.IUserPool {
	if s.UserPoolID != "" {
		pool := awscognito.UserPool_FromUserPoolId(scope, jsii.String("Pool"), jsii.String(s.UserPoolID))
		hook.AddPermission(jsii.String("CognitoInvoke"), &awslambda.Permission{
			Principal: awsiam.NewServicePrincipal(jsii.String("cognito-idp.amazonaws.com"), nil),
			SourceArn: pool.UserPoolArn(),
		})
		awscdk.NewCfnOutput(scope, jsii.String("LoginHookArn"), &awscdk.CfnOutputProps{
			Value: hook.FunctionArn(), Description: jsii.String("Attach as PreAuthentication, PostAuthentication, PostConfirmation and PreTokenGeneration"),
		})
		return pool
	}
	pool := awscognito.NewUserPool(scope, jsii.String("Pool"), &awscognito.UserPoolProps{
		SelfSignUpEnabled:  jsii.Bool(false),
		SignInAliases:      &awscognito.SignInAliases{Username: jsii.Bool(true), Email: jsii.Bool(true)},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		LambdaTriggers: &awscognito.UserPoolTriggers{
			PreAuthentication: hook, PostAuthentication: hook, PostConfirmation: hook, PreTokenGeneration: hook,
		},
	})
	for _, g := range strings.Split(s.AdminGroups, ",") {
		pool.AddGroup(jsii.String("Group"+g), &awscognito.UserPoolGroupOptions{GroupName: jsii.String(g)})
	}
	pool.AddClient(jsii.String("Client"), &awscognito.UserPoolClientOptions{
		AuthFlows: &awscognito.AuthFlow{UserSrp: jsii.Bool(true), UserPassword: jsii.Bool(false)},
	})
	awscdk.NewCfnOutput(scope, jsii.String("UserPoolId"), &awscdk.CfnOutputProps{Value: pool.UserPoolId()})
	return pool
}

// grantSignOut lets a function revoke sessions in the one pool, and nothing
// else in Cognito.
func grantSignOut(fn awslambda.Function, pool awscognito.IUserPool) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cognito-idp:AdminUserGlobalSignOut"),
		Resources: &[]*string{pool.UserPoolArn()},
	}))
}

// newAPI puts the API function behind a REST API with a Cognito authorizer
// on every method, throttling and JSON access logs.
func newAPI(scope constructs.Construct, s Settings, fn awslambda.Function, pool awscognito.IUserPool) awsapigateway.RestApi {
	auth := awsapigateway.NewCognitoUserPoolsAuthorizer(scope, jsii.String("Authorizer"), &awsapigateway.CognitoUserPoolsAuthorizerProps{
		CognitoUserPools: &[]awscognito.IUserPool{pool},
	})
	access := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_YEAR, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	props := &awsapigateway.LambdaRestApiProps{
		Handler: fn,
		Proxy:   jsii.Bool(true),
		DefaultMethodOptions: &awsapigateway.MethodOptions{
			Authorizer: auth, AuthorizationType: awsapigateway.AuthorizationType_COGNITO,
		},
		CloudWatchRole: jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String("v1"),
			ThrottlingRateLimit:  jsii.Number(50),
			ThrottlingBurstLimit: jsii.Number(100),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(access),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(false), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
		},
	}
	if len(s.CORSOrigins) > 0 {
		props.DefaultCorsPreflightOptions = &awsapigateway.CorsOptions{
			AllowOrigins: jsii.Strings(s.CORSOrigins...),
			AllowHeaders: jsii.Strings("Authorization", "Content-Type"),
			AllowMethods: jsii.Strings("GET", "POST", "PUT"),
		}
	}
	api := awsapigateway.NewLambdaRestApi(scope, jsii.String("RestApi"), props)
	awscdk.NewCfnOutput(scope, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: api.Url()})
	return api
}

// newObservability adds the alarms: dead letters waiting, function errors,
// and a sweep that finished with events still owed.
func newObservability(scope constructs.Construct, s Settings, st *Stack) {
	c := constructs.NewConstruct(scope, jsii.String("Observability"))
	var topic awssns.Topic
	if s.AlarmEmail != "" {
		topic = awssns.NewTopic(c, jsii.String("Alarms"), &awssns.TopicProps{EnforceSSL: jsii.Bool(true)})
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.AlarmEmail), nil))
	}
	alarm := func(id string, m awscloudwatch.IMetric, periods float64, desc string) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric: m, Threshold: jsii.Number(0), EvaluationPeriods: jsii.Number(periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String(desc),
		})
		if topic != nil {
			a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		}
	}
	alarm("DeadLetters", st.DLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}), 1,
		"Reassignment events failed after every retry and wait in the dead-letter queue")
	for id, fn := range map[string]awslambda.Function{"LoginHook": st.LoginHook, "Sweeper": st.Sweeper, "Reassign": st.Reassign, "Api": st.API} {
		alarm(id+"Errors", fn.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}), 1,
			"The "+id+" function failed")
	}
	pending := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("Dormancy"), MetricName: jsii.String("EventsPending"),
		Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Hours(jsii.Number(1)),
	})
	alarm("EventsPending", pending, 1, "A sweep finished with events not yet accepted by EventBridge")
}
