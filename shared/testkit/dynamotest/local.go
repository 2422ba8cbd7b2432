// Package dynamotest runs DynamoDB Local, AWS's own emulator, for tests and
// for the local stack, and gives each test its own freshly created tables.
// There is no in-memory imitation of DynamoDB here: conditions, transactions
// and indexes behave as DynamoDB's own code makes them behave.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dormancy/dormancy/shared/testkit/localproc"
)

// EndpointVar is the SDK's standard variable for the DynamoDB endpoint.
const EndpointVar = "AWS_ENDPOINT_URL_DYNAMODB"

// Local is a running DynamoDB Local process.
type Local struct {
	Endpoint string
	*localproc.Process
}

// Dir finds the unpacked emulator: $DYNAMODB_LOCAL_DIR, else .cache/dynamodb-local
// at the module root. When it is missing it asks the Makefile to fetch it.
func Dir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if d := os.Getenv("DYNAMODB_LOCAL_DIR"); d != "" {
		if !filepath.IsAbs(d) { // relative to the module, not to a test's package
			d = filepath.Join(root, d)
		}
		return d, nil
	}
	d := filepath.Join(root, ".cache", "dynamodb-local")
	if _, err := os.Stat(filepath.Join(d, "DynamoDBLocal.jar")); err == nil {
		return d, nil
	}
	cmd := exec.Command("make", "-C", root, "dynamodb-local")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("fetch DynamoDB Local with make dynamodb-local: %w", err)
	}
	return d, nil
}

// ModuleRoot is the folder of go.mod above the working directory (tests run
// in their package's folder).
func ModuleRoot() (string, error) { return localproc.ModuleRoot() }

// Start runs DynamoDB Local in memory on 127.0.0.1:port (0 picks a free
// port) and waits until it answers.
func Start(dir string, port int) (*Local, error) { return start(dir, port, "") }

// StartPersistent runs DynamoDB Local keeping its data in dbPath, so that a
// restart (after Kill, say) finds it again.
func StartPersistent(dir string, port int, dbPath string) (*Local, error) {
	return start(dir, port, dbPath)
}

func start(dir string, port int, dbPath string) (*Local, error) {
	port, err := localproc.Port("DynamoDB Local", port)
	if err != nil {
		return nil, err
	}
	args := []string{"-Xmx1g", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-disableTelemetry", "-port", strconv.Itoa(port)}
	if dbPath == "" {
		args = append(args, "-inMemory")
	} else {
		args = append(args, "-sharedDb", "-dbPath", dbPath)
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = dir
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	db := NewClient(endpoint)
	ready := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
		return err
	}
	p, err := localproc.Start("DynamoDB Local", cmd, "DYNAMODB_LOCAL_LOG", ready, 60*time.Second)
	if err != nil {
		return nil, err
	}
	return &Local{Endpoint: endpoint, Process: p}, nil
}

// NewClient is a DynamoDB client for a local endpoint, with dummy
// credentials and the SDK's usual retries.
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}
