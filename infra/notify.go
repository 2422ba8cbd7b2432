package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/eventrules"
)

// newNotices wires what notices need (spec §13). When the notify
// function is deployed (context senderEmail), the rule with
// eventrules.Notices on the bus invokes it with the reassignment's retry
// policy (8 tries within 24 h) and dead-letter queue, which is also its
// async on-failure destination (NewStack), so a notice that cannot be sent
// ends where an operator sees it (the DeadLetters alarm) instead of being
// dropped.
func newNotices(scope constructs.Construct, out *Stack) {
	fn, ok := out.Functions["Notify"]
	if !ok {
		return
	}
	p := eventrules.Notices
	rule := awsevents.NewRule(scope, jsii.String("NoticesRule"), &awsevents.RuleProps{
		EventBus:     out.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(p.Source...), DetailType: jsii.Strings(p.DetailType...)},
		Description:  jsii.String("Mails users about their warnings, deactivations and reactivations, and the admins about held and completed sweeps"),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: out.DLQ, MaxEventAge: awscdk.Duration_Hours(jsii.Number(24)), RetryAttempts: jsii.Number(8),
	}))
}

// sendEmailStatement allows SES API v2's SendEmail from the sender identity
// only: arn:<partition>:ses:<region>:<account>:identity/<senderEmail>. SES
// checks ses:SendEmail on the identity of the From address for a send with
// Simple content (Raw content would need ses:SendRawEmail, which Notify
// does not use), so senderEmail must be verified as an e-mail address
// identity: a send from an address of a verified domain is checked against
// identity/<domain>, which this does not allow.
func sendEmailStatement(scope constructs.Construct, senderEmail string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ses:SendEmail"),
		Resources: &[]*string{awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ses"), Resource: jsii.String("identity"), ResourceName: jsii.String(senderEmail),
			ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		})},
	})
}
