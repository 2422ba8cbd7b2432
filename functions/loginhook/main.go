// Command loginhook is the Cognito trigger Lambda (PreAuthentication,
// PostAuthentication, PostConfirmation, pre token generation).
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/loginhook"
)

func main() {
	env := boot.MustLoad("loginhook")
	// Two tries at most: the hook answers within Cognito's 5 s, not after
	// the SDK's default backoff.
	store := boot.Store(env, boot.MaxAttempts(2))
	hook := loginhook.New(store, env.Config.Policy, time.Now, env.Log)
	lambda.Start(hook.Handle)
}
