// Command api is the Lambda behind API Gateway's proxy integration.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dormancy/dormancy/shared/api"
	"github.com/dormancy/dormancy/shared/boot"
)

func main() {
	env := boot.MustLoad("api")
	lambda.Start(api.FromEnv(env, time.Now).HandleProxy)
}
