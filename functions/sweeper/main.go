// Command sweeper is the scheduled Lambda that deactivates dormant users.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/sweeper"
)

func main() {
	env := boot.MustLoad("sweeper", "USERS_TABLE", "AUDIT_TABLE", "OUTBOX_TABLE", "EVENT_BUS_NAME")
	store := dynamo.New(dynamodb.NewFromConfig(env.AWS), env.Tables())
	relay := &outbox.Relay{
		Store:     store,
		Publisher: &outbox.EventBridge{Client: eventbridge.NewFromConfig(env.AWS), Bus: env.Config.EventBusName},
		Limiter:   rate.NewLimiter(rate.Limit(env.Config.CognitoRPS), 1),
		Log:       env.Log,
	}
	if env.Config.UserPoolID != "" {
		relay.SignOuter = outbox.Cognito{Client: cip.NewFromConfig(env.AWS), UserPoolID: env.Config.UserPoolID}
	}
	s := &sweeper.Sweeper{
		Store: store, Relay: relay, Policy: env.Config.Policy, Now: time.Now, Log: env.Log,
		Metrics: os.Stdout, Readers: 4, Writers: 16,
	}
	lambda.Start(s.Handle)
}
