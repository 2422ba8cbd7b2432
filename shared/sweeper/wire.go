package sweeper

import (
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// FromEnv wires a sweeper from a function's environment: DynamoDB,
// EventBridge and, when USER_POOL_ID is set, Cognito for sign-outs, paced at
// COGNITO_RPS. Metrics go to metrics (stdout in Lambda).
func FromEnv(env boot.Env, now func() time.Time, metrics io.Writer) *Sweeper {
	store := dynamo.New(dynamodb.NewFromConfig(env.AWS), env.Tables())
	return &Sweeper{
		Store: store, Relay: outbox.FromEnv(env, store, true), Policy: env.Config.Policy, Now: now, Log: env.Log,
		Metrics: metrics, Readers: 4, Writers: 16,
	}
}
