package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// How many users Dormancy knows, by state, is kept in countShards counter
// items of the Users table (userId "#count#nn", which no user id can be),
// each changed in the same transaction as the user it counts: a creation
// adds one active user, a deactivation moves one from active to
// deactivated, a reactivation moves it back. Knowing the active population
// (the sweep's guard, the compliance report) so costs one BatchGetItem of
// countShards items, never a read of the users. The counts are spread over
// shards so that concurrent transitions seldom touch the same item.
const countShards = 32

// countKey is the counter item of a user. The id is salted before it is
// hashed: unsalted, the counter shard would follow the sweep shard (the same
// hash, modulo 16 and 32), and a sweep writing one sweep shard's users at
// once would pile them onto two counters.
func countKey(userID string) map[string]types.AttributeValue {
	return userKey(fmt.Sprintf("#count#%02d", shardOf("count:"+userID, countShards)))
}

// countMove is the transaction item that moves the user's count: +1 active
// for a new user (from ""), or from one state to the other.
func (s *Store) countMove(userID string, from, to dormancy.Status) types.TransactWriteItem {
	delta := map[dormancy.Status]int64{}
	if from != "" {
		delta[from]--
	}
	delta[to]++
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.tables.Users, Key: countKey(userID),
		UpdateExpression: aws.String("ADD active :a, deactivated :d"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":a": num(delta[dormancy.Active]), ":d": num(delta[dormancy.Deactivated]),
		},
	}}
}

// countAdd adds n new active users to the count of a shard.
func (s *Store) countAdd(userID string, n int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.tables.Users, Key: countKey(userID),
		UpdateExpression:          aws.String("ADD active :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": num(n)},
	}}
}

// Counts is how many users Dormancy knows, by state.
type Counts struct {
	Active, Deactivated int
}

// Known is every user Dormancy knows.
func (c Counts) Known() int { return c.Active + c.Deactivated }

// CountUsers reads the counters: one BatchGetItem, whatever the number of
// users.
func (s *Store) CountUsers(ctx context.Context) (Counts, error) {
	var keys []map[string]types.AttributeValue
	for i := range countShards {
		keys = append(keys, userKey(fmt.Sprintf("#count#%02d", i)))
	}
	var c Counts
	req := map[string]types.KeysAndAttributes{s.tables.Users: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for len(req) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return c, translate("count users", err)
		}
		for _, it := range out.Responses[s.tables.Users] {
			c.Active += int(attrs(it).num("active"))
			c.Deactivated += int(attrs(it).num("deactivated"))
		}
		req = out.UnprocessedKeys
	}
	return c, nil
}

// transactTries bounds how often a transaction cancelled only because
// another transaction held one of its items (a counter, usually) is tried.
const transactTries = 5

// transact writes items in one transaction. A cancellation caused only by
// concurrent transactions (TransactionConflict: no condition failed) is
// retried after a short, jittered pause; anything else is returned as
// DynamoDB said it, for the caller to translate.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	for try := 1; ; try++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || try == transactTries || !onlyConflicts(err) {
			return err
		}
		pause := time.Duration(try*10+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
