package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/loginhook"
)

// benchLoginHook times PreAuthentication and PostAuthentication through the
// whole handler (decoding the Cognito event included) against the bare
// DynamoDB call each one needs, interleaved call by call on the same users.
func benchLoginHook(ctx context.Context, db *dynamodb.Client, n int) ([]Figure, error) {
	tables, err := newTables(ctx, db, "hook")
	if err != nil {
		return nil, err
	}
	store := dynamo.New(db, tables)
	now := time.Now()
	const pool = 500
	var users []dormancy.User
	for i := range pool {
		id := fmt.Sprintf("hook-%04d", i)
		users = append(users, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreatedAt: now.Add(-dormancy.Days(100)), LastLoginAt: now.Add(-dormancy.Days(3)), Version: 1})
	}
	if err := store.BulkLoad(ctx, users); err != nil {
		return nil, err
	}
	hook := loginhook.New(store, dormancy.Policy{DefaultDays: 45, WarningDays: 7}, time.Now, quiet)
	event := func(src string, u dormancy.User) json.RawMessage {
		hdr := events.CognitoEventUserPoolsHeader{Version: "1", TriggerSource: src, Region: "eu-west-1", UserPoolID: "eu-west-1_Bench", UserName: u.Username}
		attrs := map[string]string{"sub": u.UserID, "email_verified": "true", "cognito:user_status": "CONFIRMED"}
		var v any
		if src == "PreAuthentication_Authentication" {
			e := events.CognitoEventUserPoolsPreAuthentication{CognitoEventUserPoolsHeader: hdr}
			e.Request.UserAttributes = attrs
			v = e
		} else {
			e := events.CognitoEventUserPoolsPostAuthentication{CognitoEventUserPoolsHeader: hdr}
			e.Request.UserAttributes = attrs
			v = e
		}
		b, _ := json.Marshal(v)
		return b
	}
	bareGet := func(u dormancy.User) error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &tables.Users, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: u.UserID}}})
		return err
	}
	bareUpdate := func(u dormancy.User) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &tables.Users,
			Key:              map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: u.UserID}},
			UpdateExpression: aws.String("SET lastLoginAt = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":t": &types.AttributeValueMemberS{Value: dormancy.FormatTime(time.Now())},
			}})
		return err
	}
	measure := func(src string, bare func(dormancy.User) error) (hookD, bareD []time.Duration, err error) {
		evs := make([]json.RawMessage, len(users))
		for i, u := range users {
			evs[i] = event(src, u)
		}
		for i := 0; i < n+200; i++ { // the first 200 warm connections and caches
			u := users[i%pool]
			t := time.Now()
			if err := bare(u); err != nil {
				return nil, nil, err
			}
			b := time.Since(t)
			t = time.Now()
			if _, err := hook.Handle(ctx, evs[i%pool]); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", src, err)
			}
			h := time.Since(t)
			if i >= 200 {
				bareD, hookD = append(bareD, b), append(hookD, h)
			}
		}
		return hookD, bareD, nil
	}
	var figs []Figure
	for _, m := range []struct {
		name, src string
		bare      func(dormancy.User) error
		baseline  string
	}{
		{"loginhook PreAuthentication", "PreAuthentication_Authentication", bareGet, "GetItem"},
		{"loginhook PostAuthentication", "PostAuthentication_Authentication", bareUpdate, "UpdateItem"},
	} {
		h, b, err := measure(m.src, m.bare)
		if err != nil {
			return nil, err
		}
		figs = append(figs,
			atMost(m.name+" p50 (vs bare "+m.baseline+")", "ms", percentile(h, 0.50), percentile(b, 0.50), 1.2),
			atMost(m.name+" p99 (vs bare "+m.baseline+")", "ms", percentile(h, 0.99), percentile(b, 0.99), 1.5))
	}
	return figs, nil
}

// newTables creates a fresh set of tables for one measurement.
func newTables(ctx context.Context, db *dynamodb.Client, prefix string) (dynamo.Tables, error) {
	p := fmt.Sprintf("bench-%s-%d-", prefix, time.Now().UnixNano())
	t := dynamo.Tables{Users: p + "Users", Audit: p + "Audit", Records: p + "Records", Outbox: p + "Outbox", Runs: p + "Runs", Notices: p + "Notices"}
	return t, dynamo.CreateTables(ctx, db, t)
}
