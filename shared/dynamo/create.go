package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableCreator is the part of the client CreateTables calls.
type TableCreator interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CreateTables creates every table of Schema under the given names, as the
// CDK stack declares them, and waits until they are active. Tables that
// already exist are left as they are. It is for DynamoDB Local (tests and
// make dev); in AWS the stack creates the tables.
func CreateTables(ctx context.Context, db TableCreator, names Tables) error {
	for _, t := range Schema {
		in := createInput(t, names.name(t.Name))
		if _, err := db.CreateTable(ctx, in); err != nil {
			var inUse *types.ResourceInUseException
			if !errors.As(err, &inUse) {
				return fmt.Errorf("create table %s: %w", *in.TableName, err)
			}
		}
	}
	for _, t := range Schema {
		name := names.name(t.Name)
		for {
			out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
			if err != nil {
				return fmt.Errorf("describe table %s: %w", name, err)
			}
			if out.Table.TableStatus == types.TableStatusActive {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func createInput(t Table, name string) *dynamodb.CreateTableInput {
	attrs := map[string]bool{}
	var defs []types.AttributeDefinition
	def := func(n string) {
		if n != "" && !attrs[n] {
			attrs[n] = true
			defs = append(defs, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS})
		}
	}
	key := func(pk, sk string) []types.KeySchemaElement {
		def(pk)
		def(sk)
		ks := []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}
		if sk != "" {
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
		}
		return ks
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		KeySchema:   key(t.PK, t.SK),
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, ix := range t.Indexes {
		p := &types.Projection{ProjectionType: types.ProjectionType(ix.Projection)}
		if len(ix.NonKey) > 0 {
			p.NonKeyAttributes = ix.NonKey
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name), KeySchema: key(ix.PK, ix.SK), Projection: p,
		})
	}
	in.AttributeDefinitions = defs
	return in
}
