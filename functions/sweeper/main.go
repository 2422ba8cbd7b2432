// Command sweeper is the scheduled Lambda that deactivates dormant users.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/sweeper"
)

func main() {
	env := boot.MustLoad("sweeper")
	store := boot.Store(env)
	relay := boot.Relay(env, store, boot.WithSignOuts)
	sw := sweeper.New(store, relay, env.Config.Policy, time.Now, env.Log)
	sw.Guard = env.Config.Guard()
	sw.Pool = boot.Pool(env) // the triggers and the clients' session length
	sw.Metrics = os.Stdout   // CloudWatch reads EMF lines from the function's output
	lambda.Start(sw.Handle)
}
