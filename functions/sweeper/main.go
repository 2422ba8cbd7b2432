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
	lambda.Start(sweeper.FromEnv(env, time.Now, os.Stdout).Handle)
}
