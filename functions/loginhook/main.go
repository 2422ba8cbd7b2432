// Command loginhook is the Cognito trigger Lambda (PreAuthentication,
// PostAuthentication, PostConfirmation, pre token generation).
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/loginhook"
)

func main() {
	env := boot.MustLoad("loginhook", "USERS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE")
	store := dynamo.New(dynamodb.NewFromConfig(env.AWS), env.Tables())
	lambda.Start(loginhook.New(store, env.Config.Policy, time.Now, env.Log).Handle)
}
