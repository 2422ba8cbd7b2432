// Command reassign is the Lambda behind the EventBridge rule on
// UserDeactivated: it clears the user from open records.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/reassign"
)

func main() {
	env := boot.MustLoad("reassign")
	store := boot.Store(env)
	relay := boot.Relay(env, store, boot.WithoutSignOuts)
	h := reassign.New(store, relay, time.Now, env.Log)
	lambda.Start(h.Handle)
}
