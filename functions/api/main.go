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
	store := boot.Store(env)
	relay := boot.Relay(env, store, boot.WithSignOuts)
	a := api.New(store, env.Config.Policy, env.Config.AdminGroups, relay, time.Now, env.Log)
	a.Sync = boot.SyncStarter(env) // POST /sync invokes the pool sync
	a.Origins = env.Config.CORSOrigins
	a.Guard = env.Config.Guard() // shown in the compliance report
	lambda.Start(a.HandleProxy)
}
