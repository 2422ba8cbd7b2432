// Package boot is what every function's main does before lambda.Start: read
// the configuration once, load the AWS SDK configuration (endpoints come from
// the SDK's standard variables such as AWS_ENDPOINT_URL_DYNAMODB), and make
// the structured logger. What a function cannot start without comes from its
// one declaration in shared/access. A bad setting stops the function at start
// with an error naming the variable.
package boot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/notify"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/sweeper"
)

// Env is what a function's main wires its handler from.
type Env struct {
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
}

// Tables are the DynamoDB table names from the configuration.
func (e Env) Tables() dynamo.Tables {
	c := e.Config
	return dynamo.Tables{Users: c.UsersTable, Audit: c.AuditTable, Records: c.RecordsTable, Outbox: c.OutboxTable, Runs: c.RunsTable, Notices: c.NoticesTable}
}

// MustLoad reads everything the named function (its Dir in shared/access,
// such as "loginhook") needs from the process environment, or exits with the
// reason.
func MustLoad(function string) Env {
	log := lambdacontext.NewLogger().With("function", function)
	env, err := LoadFunction(function, os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		fmt.Fprintf(os.Stderr, "%s: invalid configuration: %v\n", function, err)
		os.Exit(1)
	}
	env.Log = log
	return env
}

// LoadFunction reads the named function's configuration through lookup,
// requires what shared/access says it cannot start without, and loads the
// AWS SDK configuration (from the process environment, as the SDK does). The
// local stack uses it to wire each function exactly as its main does, with a
// lookup over only the variables the function is declared to read.
func LoadFunction(name string, lookup config.Lookup) (Env, error) {
	f, ok := access.Lookup(name)
	if !ok {
		return Env{}, fmt.Errorf("boot: no function %q in shared/access", name)
	}
	c, err := config.Load(lookup)
	if err != nil {
		return Env{}, err
	}
	if err := c.Require(f.Required()...); err != nil {
		return Env{}, err
	}
	a, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return Env{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return Env{Config: c, AWS: a}, nil
}

// Store is the DynamoDB store over the function's tables, its client built
// once, outside the handler, so warm invocations reuse it. opts adjust the
// client (the login hook bounds its retries).
func Store(env Env, opts ...func(*dynamodb.Options)) *dynamo.Store {
	return dynamo.New(dynamodb.NewFromConfig(env.AWS, opts...), env.Tables())
}

// SES is the SES (API v2) client notices are sent with (its endpoint from
// AWS_ENDPOINT_URL_SESV2 when set), retrying throttling and the SDK's other
// retryable errors as notify.DefaultRetries says.
func SES(env Env) *sesv2.Client {
	return sesv2.NewFromConfig(env.AWS, notify.DefaultRetries)
}

// MaxAttempts bounds the SDK's tries per call.
func MaxAttempts(n int) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) { o.RetryMaxAttempts = n }
}

// SignOuts says whether a relay revokes sessions.
type SignOuts bool

const (
	WithSignOuts    SignOuts = true  // the sweeper's and the API's relays
	WithoutSignOuts SignOuts = false // the reassignment's: it owes none
)

// Relay delivers what the outbox owes: events to EventBridge on
// EVENT_BUS_NAME and, with sign-outs, sessions revoked in USER_POOL_ID at
// COGNITO_RPS. Without a pool there is no session to revoke, and owed
// sign-outs are cleared.
func Relay(env Env, store *dynamo.Store, s SignOuts) *outbox.Relay {
	relay := &outbox.Relay{
		Store:     store,
		Publisher: &outbox.EventBridge{Client: eventbridge.NewFromConfig(env.AWS), Bus: env.Config.EventBusName},
		Limiter:   rate.NewLimiter(rate.Limit(env.Config.CognitoRPS), 1),
		Log:       env.Log,
	}
	switch {
	case !bool(s):
	case env.Config.UserPoolID != "":
		relay.SignOuter = outbox.Cognito{Client: cip.NewFromConfig(env.AWS), UserPoolID: env.Config.UserPoolID}
	default:
		relay.DropSignOuts = true
	}
	return relay
}

// Pool is the sweep's view of USER_POOL_ID (its triggers must name
// LOGIN_HOOK_ARN); nil without a pool, when there is nothing to check.
func Pool(env Env) sweeper.Pool {
	if env.Config.UserPoolID == "" {
		return nil
	}
	return sweeper.CognitoPool{Client: cip.NewFromConfig(env.AWS), PoolID: env.Config.UserPoolID, HookARN: env.Config.LoginHookARN}
}

// SyncStarter starts the pool sync (POOL_SYNC_FUNCTION) asynchronously, for
// POST /sync; nil without one.
func SyncStarter(env Env) api.SyncStarter {
	if env.Config.PoolSyncFunction == "" {
		return nil
	}
	return lambdaSync{client: lambda.NewFromConfig(env.AWS), function: env.Config.PoolSyncFunction}
}

type lambdaSync struct {
	client   *lambda.Client
	function string
}

func (l lambdaSync) StartSync(ctx context.Context, runID string) error {
	payload, _ := json.Marshal(map[string]string{"runId": runID})
	_, err := l.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: &l.function, InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload,
	})
	return err
}
