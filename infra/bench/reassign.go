package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/reassign"
)

const reassignWorkers = 8

// benchReassign clears a user named by 1,000 open records and compares the
// rate with bare conditional updates of the same fields, and with the same
// transactions issued directly.
func benchReassign(ctx context.Context, db *dynamodb.Client) ([]Figure, error) {
	const n = 1000
	now := time.Now()
	setup := func(prefix string) (*dynamo.Store, dynamo.Tables, dormancy.User, error) {
		tables, err := newTables(ctx, db, prefix)
		if err != nil {
			return nil, tables, dormancy.User{}, err
		}
		s := dynamo.New(db, tables)
		u, audit := dormancy.NewAccount("busy-user", "busy", nil, dormancy.Import, "bench", now, now)
		if err := s.CreateUser(ctx, u, audit); err != nil {
			return nil, tables, u, err
		}
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i
		}
		err = forEach(ids, 16, func(i int) error {
			_, err := s.PutRecord(ctx, dormancy.Record{ID: fmt.Sprintf("lead-%05d", i), Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": u.UserID}}, 0, now)
			return err
		})
		return s, tables, u, err
	}

	// Bare conditional updates of the same fields.
	_, bt, bu, err := setup("rbare")
	if err != nil {
		return nil, err
	}
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	start := time.Now()
	if err := forEach(ids, reassignWorkers, func(i int) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &bt.Records,
			Key: map[string]types.AttributeValue{
				"recordId": &types.AttributeValueMemberS{Value: fmt.Sprintf("lead-%05d", i)}, "sk": &types.AttributeValueMemberS{Value: "RECORD"},
			},
			UpdateExpression:         aws.String("SET #f.assignedTo = :e"),
			ConditionExpression:      aws.String("#f.assignedTo = :u"),
			ExpressionAttributeNames: map[string]string{"#f": "fields"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":e": &types.AttributeValueMemberS{Value: ""}, ":u": &types.AttributeValueMemberS{Value: bu.UserID},
			},
		})
		return err
	}); err != nil {
		return nil, err
	}
	bareRate := n / time.Since(start).Seconds()

	// The same clearing transactions, issued directly.
	ts, _, tu, err := setup("rtx")
	if err != nil {
		return nil, err
	}
	start = time.Now()
	if err := forEach(ids, reassignWorkers, func(i int) error {
		ref := dormancy.FieldRef{RecordID: fmt.Sprintf("lead-%05d", i), Module: "lead", Field: "assignedTo", UserID: tu.UserID}
		return ts.Clear(ctx, dormancy.ClearField(ref, tu.Username, "3c9a1f0e-52b7-4d84-a1e6-0f2b9c7d5e18", "system", dormancy.SourceAutomaticDeactivation, now))
	}); err != nil {
		return nil, err
	}
	txRate := n / time.Since(start).Seconds()

	// The reassignment function's handler.
	rs, _, ru, err := setup("rfn")
	if err != nil {
		return nil, err
	}
	// Switched off for real first: reassignment trusts the store, not the event.
	ru, err = rs.GetUser(ctx, ru.UserID)
	if err != nil {
		return nil, err
	}
	c, err := dormancy.DeactivateByAdmin(ru, "bench-admin", "left", 45, now)
	if err != nil {
		return nil, err
	}
	if err := rs.Apply(ctx, c); err != nil {
		return nil, err
	}
	h := &reassign.Handler{Store: rs, Now: time.Now, Log: quiet, Workers: reassignWorkers}
	env, _ := json.Marshal(map[string]any{"version": "0", "id": "bench", "detail-type": c.Events[0].DetailType, "source": c.Events[0].Source,
		"account": "0", "time": now.Format(time.RFC3339), "region": "us-east-1", "resources": []string{}, "detail": json.RawMessage(c.Events[0].Detail)})
	start = time.Now()
	res, err := h.Handle(ctx, env)
	if err != nil {
		return nil, err
	}
	if res.Cleared != n {
		return nil, fmt.Errorf("cleared %d of %d", res.Cleared, n)
	}
	rate := n / time.Since(start).Seconds()
	return []Figure{
		atLeast(fmt.Sprintf("reassign fields cleared/s, 1,000 open records (vs its conditional transactions issued bare, %d writers)", reassignWorkers), "1/s", rate, txRate, 0.8),
		reported(fmt.Sprintf("reassign fields cleared/s (vs single-item conditional UpdateItem, %d writers)", reassignWorkers), "1/s", rate, bareRate),
	}, nil
}
