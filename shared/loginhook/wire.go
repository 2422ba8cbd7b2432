package loginhook

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// FromEnv wires the hook from a function's environment.
func FromEnv(env boot.Env, now func() time.Time) *Hook {
	// Two tries at most: the hook's budget is Cognito's 5 s, not the SDK's
	// default backoff.
	db := dynamodb.NewFromConfig(env.AWS, func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
	store := dynamo.New(db, env.Tables())
	return New(store, env.Config.Policy, now, env.Log)
}
