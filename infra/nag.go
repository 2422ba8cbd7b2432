package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddNagChecks runs cdk-nag's AwsSolutions rules on everything in scope (the
// app): a finding at error level fails synth, a warning is printed, and
// cdk.out gets a CSV report of every rule's result. Findings that do not
// apply are suppressed next to their resource (suppress), each with the
// reason.
func AddNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// nag is one cdk-nag suppression: the rule, why it does not apply, and
// optionally the findings of that rule it covers (e.g. one managed policy
// for AwsSolutions-IAM4); without appliesTo it covers every finding of the
// rule on the resource.
type nag struct {
	id, reason string
	appliesTo  []string
}

// suppress records suppressions on a construct's CloudFormation resource
// and, with children, on every resource under it.
func suppress(c constructs.IConstruct, children bool, ns ...nag) {
	var list []*cdknag.NagPackSuppression
	for _, n := range ns {
		s := &cdknag.NagPackSuppression{Id: jsii.String(n.id), Reason: jsii.String(n.reason)}
		if len(n.appliesTo) > 0 {
			to := make([]any, len(n.appliesTo))
			for i, a := range n.appliesTo {
				to[i] = a
			}
			s.AppliesTo = &to
		}
		list = append(list, s)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(children))
}
