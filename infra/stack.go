// Package infra is Dormancy's AWS CDK app: one stack composed of the Data
// construct (the tables, data.go), the functions (functions.go: one per
// declaration in shared/access, each with exactly the permissions and
// environment declared there), the user pool, the bus and its rules, the
// REST API (built by functions of this file, in the stack's own scope, so
// their logical ids read plainly in the template), and the Observability
// construct (alarms). Names are left to CloudFormation.
package infra

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/access"
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
	// Functions are the four by their access.Function name.
	Functions map[string]awslambda.Function
	DLQ       awssqs.Queue
}

// NewStack composes the constructs.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := props.Settings
	out := &Stack{Stack: st, Functions: map[string]awslambda.Function{}}
	out.Data = NewData(st, "Data")
	out.Bus = awsevents.NewEventBus(st, jsii.String("Bus"), &awsevents.EventBusProps{})
	out.DLQ = awssqs.NewQueue(st, jsii.String("ReassignDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)), Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true),
	})
	suppress(out.DLQ, false, nag{id: "AwsSolutions-SQS3", reason: "This queue is the dead-letter queue (of the UserDeactivated and Notices rules' targets, and of the reassignment and notify functions' async on-failure destination); a further DLQ behind it would only move the same messages. Nothing consumes it automatically: the DeadLetters alarm fires on any message, kept 14 days for an operator to redrive."})

	// One function per declaration; what each is given comes from
	// shared/access (grantAccess, below), once the pool exists.
	for _, f := range deployed(s) {
		o := fnOpts{timeout: f.Timeout.Seconds(), memory: float64(f.MemoryMB)}
		if f.Name == "Reassign" || f.Name == "Notify" {
			o.onFailure = out.DLQ // failed async invocations go to the stack's DLQ
		}
		out.Functions[f.Name] = newFunction(st, f.Name, s, f.Dir, o)
	}
	out.LoginHook, out.Sweeper, out.Reassign, out.API = out.Functions["LoginHook"], out.Functions["Sweeper"], out.Functions["Reassign"], out.Functions["Api"]
	out.Pool = newPool(st, s, out.LoginHook)
	// The admin console: the API's CORS origins start with its URL (the one
	// API Gateway's own responses name); the API function answers for them.
	admin := newConsole(st, out.Pool)
	s.CORSOrigins = append([]string{*admin.Origin}, s.CORSOrigins...)
	for _, f := range deployed(s) {
		out.grantAccess(f, s)
	}

	schedule := awsevents.NewRule(st, jsii.String("SweepSchedule"), &awsevents.RuleProps{
		Schedule: awsevents.Schedule_Expression(jsii.String(s.Schedule)), Description: jsii.String("Runs the dormancy sweep"),
	})
	schedule.AddTarget(awseventstargets.NewLambdaFunction(out.Sweeper, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)}))
	// The pool sync, half an hour before the sweep by default, so that a
	// user moved into an exempt group is exempt before it runs.
	syncSchedule := awsevents.NewRule(st, jsii.String("SyncSchedule"), &awsevents.RuleProps{
		Schedule: awsevents.Schedule_Expression(jsii.String(s.SyncSchedule)), Description: jsii.String("Brings the pool's users into Dormancy"),
	})
	syncSchedule.AddTarget(awseventstargets.NewLambdaFunction(out.Functions["PoolSync"], &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)}))

	p := eventrules.UserDeactivated
	rule := awsevents.NewRule(st, jsii.String("UserDeactivatedRule"), &awsevents.RuleProps{
		EventBus:     out.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(p.Source...), DetailType: jsii.Strings(p.DetailType...)},
		Description:  jsii.String("Clears deactivated users from open records"),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(out.Reassign, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: out.DLQ, MaxEventAge: awscdk.Duration_Hours(jsii.Number(24)), RetryAttempts: jsii.Number(8),
	}))

	newNotices(st, out) // the Notices rule (with senderEmail) and the TTLs

	// The admin console learns the API's URL.
	admin.connect(newAPI(st, s, out.API, out.Pool))
	newObservability(st, s, out)
	return out
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
		SelfSignUpEnabled: jsii.Bool(false),
		// Cognito's defaults, stated: 8 characters or more, of all four kinds.
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength: jsii.Number(8), RequireLowercase: jsii.Bool(true), RequireUppercase: jsii.Bool(true),
			RequireDigits: jsii.Bool(true), RequireSymbols: jsii.Bool(true),
		},
		SignInAliases:      &awscognito.SignInAliases{Username: jsii.Bool(true), Email: jsii.Bool(true)},
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		LambdaTriggers: &awscognito.UserPoolTriggers{
			PreAuthentication: hook, PostAuthentication: hook, PostConfirmation: hook, PreTokenGeneration: hook,
		},
	})
	suppress(pool, false,
		nag{id: "AwsSolutions-COG2", reason: "MFA is the organisation's sign-in policy for this pool's users (the CRM's staff), not Dormancy's: requiring it changes how every user signs in (each must enrol a factor and the CRM's client must handle the MFA challenges). An organisation that requires MFA sets it on the pool, or deploys against its existing pool (userPoolId)."},
		nag{id: "AwsSolutions-COG8", reason: "The Plus feature plan (threat protection) is billed per monthly active user, which at the 10 M users the stack is sized for would dwarf the rest of the system; it is an organisation-wide choice for the pool, available by changing the pool's tier or by deploying against an existing Plus pool (userPoolId)."},
	)
	for _, g := range strings.Split(s.AdminGroups, ",") {
		pool.AddGroup(jsii.String("Group"+g), &awscognito.UserPoolGroupOptions{GroupName: jsii.String(g)})
	}
	// SRP for sign-in pages; ADMIN_USER_PASSWORD_AUTH so that an admin with
	// IAM credentials for cognito-idp:AdminInitiateAuth on this pool can get
	// an ID token from a shell (infra/README.md). Neither sends a password
	// in the clear, and the second is closed to anyone without those
	// credentials.
	client := pool.AddClient(jsii.String("Client"), &awscognito.UserPoolClientOptions{
		AuthFlows: &awscognito.AuthFlow{UserSrp: jsii.Bool(true), AdminUserPassword: jsii.Bool(true), UserPassword: jsii.Bool(false)},
		// No OAuth: CDK's default (implicit grant, callback example.com)
		// would be live on the console's managed-login domain.
		DisableOAuth: jsii.Bool(true),
	})
	awscdk.NewCfnOutput(scope, jsii.String("UserPoolId"), &awscdk.CfnOutputProps{Value: pool.UserPoolId()})
	awscdk.NewCfnOutput(scope, jsii.String("UserPoolClientId"), &awscdk.CfnOutputProps{Value: client.UserPoolClientId()})
	return pool
}

// newAPI puts the API function behind a REST API with a Cognito authorizer
// on every method, throttling, JSON access logs, error-level execution logs
// (never bodies) and a request validator.
func newAPI(scope constructs.Construct, s Settings, fn awslambda.Function, pool awscognito.IUserPool) awsapigateway.RestApi {
	auth := awsapigateway.NewCognitoUserPoolsAuthorizer(scope, jsii.String("Authorizer"), &awsapigateway.CognitoUserPoolsAuthorizerProps{
		CognitoUserPools: &[]awscognito.IUserPool{pool},
	})
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
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
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled:     jsii.Bool(false),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
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
	addErrorResponses(api, s)

	// API Gateway writes execution logs to a group it names after the API
	// and stage, with no expiry unless the group exists first: create it,
	// kept a month, before the stage.
	execLogs := awslogs.NewLogGroup(scope, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("API-Gateway-Execution-Logs_" + *api.RestApiId() + "/v1"),
		Retention:    awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	api.DeploymentStage().Node().AddDependency(execLogs)

	// Every method but CORS preflights validates the request parameters it
	// declares (the {proxy+} path) before the function runs. A proxy
	// integration has no per-route body model: the function itself refuses
	// malformed, unknown-field and oversized bodies (spec §8).
	validator := api.AddRequestValidator(jsii.String("Validator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody: jsii.Bool(true), ValidateRequestParameters: jsii.Bool(true),
	})
	for _, m := range *api.Methods() {
		// (CORS preflights: a browser sends them without credentials; cdk-nag
		// knows them and they never reach the function.)
		if *m.HttpMethod() != "OPTIONS" {
			m.Node().DefaultChild().(awsapigateway.CfnMethod).SetRequestValidatorId(validator.RequestValidatorId())
		}
	}

	suppress(api.DeploymentStage(), false, nag{id: "AwsSolutions-APIG3", reason: "No anonymous route exists: every method needs a Cognito token of the pool (the authorizer), the function authorises each route by the caller's groups (ADMIN_GROUPS), refuses callers not ACTIVE in the store, and refuses malformed, unknown-field and oversized bodies, and the stage is throttled (50 req/s, burst 100). WAF's common managed rule set blocks bodies over 8 KB, i.e. bulk imports, unless tuned; an organisation that mandates WAF attaches its Firewall Manager policy to the stage."})
	suppress(api.Node().FindChild(jsii.String("CloudWatchRole")), false, nag{
		id:        "AwsSolutions-IAM4",
		reason:    "CloudWatchRole is API Gateway's account-wide logging role (AWS::ApiGateway::Account), required for the access and execution logs; AmazonAPIGatewayPushToCloudWatchLogs is AWS's own policy for it, and it cannot be scoped to this API's log groups because the role serves every REST API of the account and region.",
		appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
	})
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
		"Events failed every retry of the reassignment or the notify function and wait in the dead-letter queue")
	for id, fn := range st.Functions {
		alarm(id+"Errors", fn.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}), 1,
			"The "+id+" function failed")
	}
	pending := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("Dormancy"), MetricName: jsii.String("EventsPending"),
		Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Hours(jsii.Number(1)),
	})
	alarm("EventsPending", pending, 1, "A sweep finished with events not yet accepted by EventBridge")
	held := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("Dormancy"), MetricName: jsii.String("Held"),
		Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Hours(jsii.Number(1)),
	})
	alarm("SweepHeld", held, 1, "A sweep was held (too many users due at once, or the pool's triggers do not call the login hook): nobody was deactivated; see GET /runs and release with POST /sweeps/release")
}

// addErrorResponses makes what API Gateway answers itself (a missing or
// expired token, throttling, its own faults) take the API's error shape
// (spec §8: {"error":{"code","message"}}), with the CORS origin where one is
// configured, so a client has one shape to read whoever refused it.
func addErrorResponses(api awsapigateway.RestApi, s Settings) {
	headers := map[string]*string{}
	if len(s.CORSOrigins) == 1 {
		headers["Access-Control-Allow-Origin"] = jsii.String("'" + s.CORSOrigins[0] + "'")
	}
	for _, r := range []struct {
		id   string
		typ  awsapigateway.ResponseType
		code string
	}{
		{"Unauthorized", awsapigateway.ResponseType_UNAUTHORIZED(), "Unauthorized"},
		{"AccessDenied", awsapigateway.ResponseType_ACCESS_DENIED(), "Forbidden"},
		{"Throttled", awsapigateway.ResponseType_THROTTLED(), "TooManyRequests"},
		{"TooLarge", awsapigateway.ResponseType_REQUEST_TOO_LARGE(), "PayloadTooLarge"},
		{"Default4xx", awsapigateway.ResponseType_DEFAULT_4XX(), "BadRequest"},
		{"Default5xx", awsapigateway.ResponseType_DEFAULT_5XX(), "Unavailable"},
	} {
		api.AddGatewayResponse(jsii.String(r.id), &awsapigateway.GatewayResponseOptions{
			Type:            r.typ,
			ResponseHeaders: &headers,
			Templates: &map[string]*string{
				"application/json": jsii.String(`{"error":{"code":"` + r.code + `","message":$context.error.messageString}}`),
			},
		})
	}
}

// deployed lists the functions the settings deploy: all of shared/access's
// but Notify, which needs a sender (senderEmail) to send from.
func deployed(s Settings) []access.Function {
	var out []access.Function
	for _, f := range access.Functions {
		if f.SendEmail && s.SenderEmail == "" {
			continue
		}
		out = append(out, f)
	}
	return out
}
