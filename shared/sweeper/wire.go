package sweeper

import (
	"io"
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// Required lists the settings the sweeper cannot run without.
var Required = []string{"USERS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE", "EVENT_BUS_NAME"}

// FromEnv wires a sweeper from a function's environment: DynamoDB,
// EventBridge and, when USER_POOL_ID is set, Cognito for sign-outs, paced at
// COGNITO_RPS. Metrics go to metrics (stdout in Lambda).
func FromEnv(env boot.Env, now func() time.Time, metrics io.Writer) *Sweeper {
	store := dynamo.New(dynamodb.NewFromConfig(env.AWS), env.Tables())
	return &Sweeper{
		Store: store, Relay: NewRelay(env, store), Policy: env.Config.Policy, Now: now, Log: env.Log,
		Metrics: metrics, Readers: 4, Writers: 16,
	}
}

// NewRelay is the outbox relay of a function's environment (the API uses it
// too, to send a change's event and sign-out at once).
func NewRelay(env boot.Env, store *dynamo.Store) *outbox.Relay {
	relay := &outbox.Relay{
		Store:     store,
		Publisher: &outbox.EventBridge{Client: eventbridge.NewFromConfig(env.AWS), Bus: env.Config.EventBusName},
		Limiter:   rate.NewLimiter(rate.Limit(env.Config.CognitoRPS), 1),
		Log:       env.Log,
	}
	if env.Config.UserPoolID != "" {
		relay.SignOuter = outbox.Cognito{Client: cip.NewFromConfig(env.AWS), UserPoolID: env.Config.UserPoolID}
	}
	return relay
}
