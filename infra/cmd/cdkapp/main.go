// Command cdkapp is Dormancy's CDK app (cdk.json runs it): it reads the
// context, stops with an error naming a bad key, and synthesizes the stack
// with cdk-nag's AwsSolutions checks (an unsuppressed error fails synth).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/infra"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	settings, err := infra.ParseSettings(func(key string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
			return v
		}
		if v := app.Node().TryGetContext(jsii.String(key)); v != nil {
			return fmt.Sprint(v)
		}
		return ""
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dormancy:", err)
		os.Exit(1)
	}
	props := &infra.StackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("Dormancy: switches off dormant Cognito accounts")},
		Settings:   settings,
	}
	// With credentials the CLI fills these in; offline the stack stays
	// environment-agnostic.
	if a, r := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); a != "" && r != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(a), Region: jsii.String(r)}
	}
	infra.NewStack(app, "Dormancy", props)
	infra.AddNagChecks(app)
	app.Synth(nil)
}
