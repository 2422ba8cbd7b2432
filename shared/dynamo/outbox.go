package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Kinds of outbox items.
const (
	KindEvent   = "event"
	KindSignOut = "signout"
)

// OutboxItem is work a committed change still owes: an event to publish or a
// user's sessions to revoke.
type OutboxItem struct {
	Kind     string
	Event    dormancy.Event // for KindEvent; for KindSignOut only ID, UserID and OccurredAt
	Username string
	Attempts int
	LastErr  string
	shard    string
}

func eventOutboxItem(e dormancy.Event, username string) OutboxItem {
	return OutboxItem{Kind: KindEvent, Event: e, Username: username}
}

func signOutOutboxItem(u dormancy.User, at time.Time, changeID string) OutboxItem {
	return OutboxItem{
		Kind:     KindSignOut,
		Event:    dormancy.Event{ID: signOutID(changeID), UserID: u.UserID, OccurredAt: at},
		Username: u.Username,
	}
}

// outboxShard spreads the items of a kind over outboxShards partitions:
// events in "0".."3", sign-outs in "S0".."S3", so that a backlog of one
// kind never stands in front of the other.
func outboxShard(kind, id string) string {
	n := strconv.Itoa(shardOf(id, outboxShardCount))
	if kind == KindSignOut {
		return "S" + n
	}
	return n
}

func outboxShards(kind string) []string {
	prefix := ""
	if kind == KindSignOut {
		prefix = "S"
	}
	var out []string
	for i := range outboxShardCount {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// OwedIDs are the outbox items a change owes: its events and its sign-out.
func OwedIDs(c dormancy.Change) []string {
	var ids []string
	for _, e := range c.Events {
		ids = append(ids, e.ID)
	}
	if c.SignOut {
		ids = append(ids, signOutID(c.Audit.ID))
	}
	return ids
}

func signOutID(changeID string) string { return "signout-" + changeID }

func kindOf(id string) string {
	if strings.HasPrefix(id, "signout-") {
		return KindSignOut
	}
	return KindEvent
}

func (s *Store) outboxPut(o OutboxItem) *types.Put {
	it := map[string]types.AttributeValue{
		"shard":      str(outboxShard(o.Kind, o.Event.ID)),
		"sk":         str(o.Event.ID),
		"kind":       str(o.Kind),
		"userId":     str(o.Event.UserID),
		"username":   str(o.Username),
		"occurredAt": str(ts(o.Event.OccurredAt)),
		"attempts":   num(0),
	}
	if o.Kind == KindEvent {
		it["source"] = str(o.Event.Source)
		it["detailType"] = str(o.Event.DetailType)
		it["detail"] = str(string(o.Event.Detail))
	}
	return &types.Put{TableName: &s.tables.Outbox, Item: it}
}

func outboxFrom(it map[string]types.AttributeValue) (OutboxItem, error) {
	s := attrs(it).str
	at, err := parseTS(s("occurredAt"))
	if err != nil {
		return OutboxItem{}, fmt.Errorf("outbox item %s: %w", s("sk"), err)
	}
	o := OutboxItem{
		Kind:     s("kind"),
		Username: s("username"),
		LastErr:  s("lastError"),
		shard:    s("shard"),
		Event: dormancy.Event{
			ID: s("sk"), Source: s("source"), DetailType: s("detailType"), UserID: s("userId"),
			OccurredAt: at, Detail: []byte(s("detail")),
		},
	}
	o.Attempts = int(attrs(it).num("attempts"))
	return o, nil
}

// Outbox lists what is owed of both kinds, up to limit items per shard.
func (s *Store) Outbox(ctx context.Context, limit int32) ([]OutboxItem, error) {
	ev, err := s.Owed(ctx, KindEvent, limit)
	if err != nil {
		return ev, err
	}
	so, err := s.Owed(ctx, KindSignOut, limit)
	return append(ev, so...), err
}

// Owed lists what is owed of one kind, up to limit items per shard.
func (s *Store) Owed(ctx context.Context, kind string, limit int32) ([]OutboxItem, error) {
	var all []OutboxItem
	for _, shard := range outboxShards(kind) {
		var start map[string]types.AttributeValue
		for n := int32(0); n < limit; {
			out, err := s.db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 &s.tables.Outbox,
				KeyConditionExpression:    aws.String("#shard = :s"),
				ExpressionAttributeNames:  map[string]string{"#shard": "shard"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
				ConsistentRead:            aws.Bool(true),
				Limit:                     aws.Int32(limit - n),
				ExclusiveStartKey:         start,
			})
			if err != nil {
				return all, translate("read outbox", err)
			}
			for _, it := range out.Items {
				o, err := outboxFrom(it)
				if err != nil {
					return all, err
				}
				all = append(all, o)
			}
			n += int32(len(out.Items))
			if start = out.LastEvaluatedKey; start == nil {
				break
			}
		}
	}
	return all, nil
}

// OutboxItem reads one owed item by id; ErrNotFound once it was delivered.
func (s *Store) OutboxItem(ctx context.Context, id string) (OutboxItem, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.tables.Outbox,
		Key:            map[string]types.AttributeValue{"shard": str(outboxShard(kindOf(id), id)), "sk": str(id)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return OutboxItem{}, translate("read outbox item "+id, err)
	}
	if out.Item == nil {
		return OutboxItem{}, fmt.Errorf("outbox item %s: %w", id, dormancy.ErrNotFound)
	}
	return outboxFrom(out.Item)
}

// Done removes an item once EventBridge (or Cognito) accepted it.
func (s *Store) Done(ctx context.Context, o OutboxItem) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.tables.Outbox,
		Key:       map[string]types.AttributeValue{"shard": str(s.shardOf(o)), "sk": str(o.Event.ID)},
	})
	return translate("outbox done "+o.Event.ID, err)
}

// Failed records a failed attempt, so an item that keeps failing is visible.
func (s *Store) Failed(ctx context.Context, o OutboxItem, cause error) error {
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.tables.Outbox,
		Key:                       map[string]types.AttributeValue{"shard": str(s.shardOf(o)), "sk": str(o.Event.ID)},
		UpdateExpression:          aws.String("SET attempts = attempts + :one, lastError = :e REMOVE claimedUntil"),
		ConditionExpression:       aws.String("attribute_exists(sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1), ":e": str(msg)},
	})
	if err = translate("outbox failed "+o.Event.ID, err); isConflict(err) {
		return nil // already done by a concurrent run
	}
	return err
}

func (s *Store) shardOf(o OutboxItem) string {
	if o.shard != "" {
		return o.shard
	}
	return outboxShard(kindOf(o.Event.ID), o.Event.ID)
}

// Claim takes an item for one relay until the given time, so that two sweeps
// running at once do not both publish it. ErrConflict means another relay
// holds it (or it is done).
func (s *Store) Claim(ctx context.Context, o OutboxItem, now, until time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.tables.Outbox,
		Key:                       map[string]types.AttributeValue{"shard": str(s.shardOf(o)), "sk": str(o.Event.ID)},
		UpdateExpression:          aws.String("SET claimedUntil = :until"),
		ConditionExpression:       aws.String("attribute_exists(sk) AND (attribute_not_exists(claimedUntil) OR claimedUntil < :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": str(ts(until)), ":now": str(ts(now))},
	})
	return translate("claim outbox item "+o.Event.ID, err)
}

// OweEvent puts an event in the outbox on its own, for the relay to
// publish: one that no state change carries (a sweep's digest).
func (s *Store) OweEvent(ctx context.Context, ev dormancy.Event) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.tables.Outbox, Item: s.outboxPut(eventOutboxItem(ev, "")).Item,
	})
	return translate("owe event "+ev.ID, err)
}
