// Package testkit groups what the tests and the local stack (make dev) run
// against, apart from the product's own packages: harnesses for DynamoDB
// Local (dynamotest, with withddb for make test) and cognito-local
// (cognitotest), the process runner both use (localproc), a local
// EventBridge PutEvents endpoint that routes with the CDK rules' own
// patterns (localbus), and the fault suite (faults). No function's main
// imports any of them.
package testkit
