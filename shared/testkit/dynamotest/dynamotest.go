package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dynamo"
)

// Main runs a package's tests against DynamoDB Local: the endpoint in
// AWS_ENDPOINT_URL_DYNAMODB when one is given (make test starts one for all
// packages), else a DynamoDB Local started for this package and stopped
// after it. Call it from TestMain.
func Main(m *testing.M) {
	if os.Getenv(EndpointVar) != "" {
		os.Exit(m.Run())
	}
	dir, err := Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest:", err)
		os.Exit(2)
	}
	l, err := Start(dir, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamotest:", err)
		os.Exit(2)
	}
	os.Setenv(EndpointVar, l.Endpoint)
	code := m.Run()
	l.Stop()
	os.Exit(code)
}

// Endpoint is the DynamoDB Local endpoint of this test run.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	e := os.Getenv(EndpointVar)
	if e == "" {
		tb.Fatalf("%s is not set: call dynamotest.Main from TestMain", EndpointVar)
	}
	return e
}

// Client is a DynamoDB client for this test run's DynamoDB Local.
func Client(tb testing.TB) *dynamodb.Client { return NewClient(Endpoint(tb)) }

// NewTables creates every table of the schema under names unique to this
// test, so tests can run in parallel on one DynamoDB Local.
func NewTables(tb testing.TB, db *dynamodb.Client) dynamo.Tables {
	tb.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	p := "t" + hex.EncodeToString(b) + "-"
	names := dynamo.Tables{Users: p + "Users", Audit: p + "Audit", Records: p + "Records", Outbox: p + "Outbox", Runs: p + "Runs", Notices: p + "Notices"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := dynamo.CreateTables(ctx, db, names); err != nil {
		tb.Fatalf("create tables: %v", err)
	}
	tb.Cleanup(func() {
		for _, n := range []string{names.Users, names.Audit, names.Records, names.Outbox, names.Runs, names.Notices} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &n})
		}
	})
	return names
}

// NewStore is a store over fresh tables.
func NewStore(tb testing.TB) *dynamo.Store {
	db := Client(tb)
	return dynamo.New(db, NewTables(tb, db))
}

// Items returns every item of a table (tests only: it scans).
func Items(tb testing.TB, db *dynamodb.Client, table string) []map[string]types.AttributeValue {
	tb.Helper()
	var all []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("scan %s: %v", table, err)
		}
		all = append(all, out.Items...)
	}
	return all
}

// Snapshot returns every item of every table as plain values, sorted, to
// show that something wrote nothing (compare two snapshots with cmp.Diff).
func Snapshot(tb testing.TB, db *dynamodb.Client, t dynamo.Tables) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for name, table := range map[string]string{"Users": t.Users, "Audit": t.Audit, "Records": t.Records, "Outbox": t.Outbox, "Runs": t.Runs, "Notices": t.Notices} {
		var rows []string
		for _, it := range Items(tb, db, table) {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				tb.Fatal(err)
			}
			b, _ := json.Marshal(m) // map keys are sorted
			rows = append(rows, string(b))
		}
		sort.Strings(rows)
		out[name] = rows
	}
	return out
}
