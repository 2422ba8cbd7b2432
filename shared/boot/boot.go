// Package boot is what every function's main does before lambda.Start: read
// the configuration once, load the AWS SDK configuration (endpoints come from
// the SDK's standard variables such as AWS_ENDPOINT_URL_DYNAMODB), and make
// the structured logger. What a function cannot start without comes from its
// one declaration in shared/access. A bad setting stops the function at start
// with an error naming the variable.
package boot

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dormancy/dormancy/shared/access"
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

// MustLoad reads everything the named function (its Dir in shared/access,
// such as "loginhook") needs from the process environment, or exits with the
// reason.
func MustLoad(function string) Env {
	log := lambdacontext.NewLogger().With("function", function)
	env, err := LoadFunction(function, os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		fmt.Fprintf(os.Stderr, "%s: invalid configuration: %v\n", function, err)
		os.Exit(1)
	}
	env.Log = log
	return env
}

// LoadFunction reads the named function's configuration through lookup,
// requires what shared/access says it cannot start without, and loads the
// AWS SDK configuration (from the process environment, as the SDK does). The
// local stack uses it to wire each function exactly as its main does, with a
// lookup over only the variables the function is declared to read.
func LoadFunction(name string, lookup config.Lookup) (Env, error) {
	f, ok := function(name)
	if !ok {
		return Env{}, fmt.Errorf("boot: no function %q in shared/access", name)
	}
	c, err := config.Load(lookup)
	if err != nil {
		return Env{}, err
	}
	if err := c.Require(f.Required()...); err != nil {
		return Env{}, err
	}
	a, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return Env{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return Env{Config: c, AWS: a}, nil
}

// function finds a declaration by Name or Dir (access.Get panics instead).
func function(name string) (access.Function, bool) {
	for _, f := range access.Functions {
		if f.Name == name || f.Dir == name {
			return f, true
		}
	}
	return access.Function{}, false
}
