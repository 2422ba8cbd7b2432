// Command notify is the Lambda behind the EventBridge rule on the notices
// (eventrules.Notices): it mails users about their warnings, deactivations
// and reactivations, and the admins about held and completed sweeps.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/notify"
)

func main() {
	env := boot.MustLoad("notify")
	store := boot.Store(env)
	h := notify.New(store, boot.SES(env), env.Config, time.Now, env.Log)
	lambda.Start(h.Handle)
}
