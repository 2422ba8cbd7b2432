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
	lambda.Start(reassign.FromEnv(env, time.Now).Handle)
}
