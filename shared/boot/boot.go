// Package boot is what every function's main does before lambda.Start: read
// the configuration once, load the AWS SDK configuration (endpoints come from
// the SDK's standard variables such as AWS_ENDPOINT_URL_DYNAMODB), and make
// the structured logger. A bad setting stops the function at start with an
// error naming the variable.
package boot

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Env is what a function's main wires its handler from.
type Env struct {
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
}

// Tables are the DynamoDB table names from the configuration.
func (e Env) Tables() dynamo.Tables {
	c := e.Config
	return dynamo.Tables{Users: c.UsersTable, Audit: c.AuditTable, Records: c.RecordsTable, Outbox: c.OutboxTable}
}

// MustLoad reads everything a function needs, or exits with the reason.
// required names the settings the function cannot run without.
func MustLoad(function string, required ...string) Env {
	log := lambdacontext.NewLogger().With("function", function)
	env, err := Load(required...)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		fmt.Fprintf(os.Stderr, "%s: invalid configuration: %v\n", function, err)
		os.Exit(1)
	}
	env.Log = log
	return env
}

// Load reads the configuration and the AWS SDK configuration; the local
// stack uses it to wire the functions exactly as their mains do.
func Load(required ...string) (Env, error) {
	c, err := config.FromEnv()
	if err != nil {
		return Env{}, err
	}
	if err := c.Require(required...); err != nil {
		return Env{}, err
	}
	a, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return Env{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return Env{Config: c, AWS: a}, nil
}
