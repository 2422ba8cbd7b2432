package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/dynamo"
)

// Data holds the tables, built from the schema the code declares.
type Data struct {
	constructs.Construct
	Users, Audit, Records, Outbox awsdynamodb.Table
	tables                        map[string]awsdynamodb.Table
}

// Table returns the table of a logical name of dynamo.Schema.
func (d *Data) Table(name string) awsdynamodb.Table {
	t, ok := d.tables[name]
	if !ok {
		panic(fmt.Sprintf("infra: no table %q in dynamo.Schema", name))
	}
	return t
}

// NewData creates the four tables of dynamo.Schema: on-demand, encrypted,
// with point-in-time recovery and deletion protection; the ones whose data
// must outlive the stack are retained when it is deleted.
func NewData(scope constructs.Construct, id string) *Data {
	c := constructs.NewConstruct(scope, jsii.String(id))
	d := &Data{Construct: c, tables: map[string]awsdynamodb.Table{}}
	for _, t := range dynamo.Schema {
		props := &awsdynamodb.TableProps{
			PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(t.PK), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
			DeletionProtection:               jsii.Bool(t.Retain),
			RemovalPolicy:                    awscdk.RemovalPolicy_DESTROY,
		}
		if t.Retain {
			props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
		}
		if t.TTL != "" {
			props.TimeToLiveAttribute = jsii.String(t.TTL)
		}
		if t.SK != "" {
			props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(t.SK), Type: awsdynamodb.AttributeType_STRING}
		}
		table := awsdynamodb.NewTable(c, jsii.String(t.Name), props)
		for _, ix := range t.Indexes {
			gsi := &awsdynamodb.GlobalSecondaryIndexProps{
				IndexName:      jsii.String(ix.Name),
				PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(ix.PK), Type: awsdynamodb.AttributeType_STRING},
				ProjectionType: awsdynamodb.ProjectionType(ix.Projection),
			}
			if ix.SK != "" {
				gsi.SortKey = &awsdynamodb.Attribute{Name: jsii.String(ix.SK), Type: awsdynamodb.AttributeType_STRING}
			}
			if len(ix.NonKey) > 0 {
				gsi.NonKeyAttributes = jsii.Strings(ix.NonKey...)
			}
			table.AddGlobalSecondaryIndex(gsi)
		}
		d.tables[t.Name] = table
		switch t.Name {
		case "Users":
			d.Users = table
		case "Audit":
			d.Audit = table
		case "Records":
			d.Records = table
		case "Outbox":
			d.Outbox = table
		}
	}
	return d
}
