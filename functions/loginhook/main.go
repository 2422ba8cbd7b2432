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
	lambda.Start(loginhook.FromEnv(env, time.Now).Handle)
}
