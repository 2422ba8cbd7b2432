// Command poolsync is the Lambda that brings an existing pool's users into
// Dormancy: on its schedule, and when an admin calls POST /sync.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/poolsync"
)

func main() {
	env := boot.MustLoad("poolsync")
	store := boot.Store(env)
	cognito := cip.NewFromConfig(env.AWS)
	s := poolsync.New(store, cognito, env.Config.UserPoolID, env.Config.SyncRPS, time.Now, env.Log)
	s.Policy = dormancy.InForce(env.Config.Policy, env.Config.Guard())
	lambda.Start(s.Handle)
}
