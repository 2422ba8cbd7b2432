package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// reopenTries bounds how often Reopen starts over when a user it kept was
// deactivated while it wrote.
const reopenTries = 3

// Reopen turns a Closed or Resolved record Open again, as the domain's
// Record.Reopen decides: fields naming a user who is not ACTIVE are cleared
// and flagged, each audited and evented, in one transaction with the record;
// the kept fields get their reference items back, on the condition, checked
// in the same transaction, that their users are still ACTIVE. A deactivation
// landing in between makes it decide again on what is there now.
func (s *Store) Reopen(ctx context.Context, id, actor string, now time.Time) (dormancy.Record, []dormancy.Clearing, error) {
	for try := 1; ; try++ {
		r, clearings, err := s.reopenOnce(ctx, id, actor, now)
		if !errors.Is(err, errUserNoLongerActive) {
			return r, clearings, err
		}
		if try == reopenTries {
			return r, nil, fmt.Errorf("reopen %s: users changed %d times meanwhile: %w", id, try, dormancy.ErrConflict)
		}
	}
}

var errUserNoLongerActive = errors.New("a kept user is no longer active")

func (s *Store) reopenOnce(ctx context.Context, id, actor string, now time.Time) (dormancy.Record, []dormancy.Clearing, error) {
	r, err := s.GetRecord(ctx, id)
	if err != nil {
		return r, nil, err
	}
	users, err := s.usersByID(ctx, r.Assigned())
	if err != nil {
		return r, nil, err
	}
	out, clearings, kept, err := r.Reopen(users, actor, now)
	if err != nil {
		return r, nil, err
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: &s.tables.Records, Item: recordItem(out),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(r.Version)},
	}}}
	head := r.AuditHash
	for _, c := range clearings {
		var put *types.Put
		put, head = s.auditPut(c.Audit, head)
		items = append(items, types.TransactWriteItem{Put: put},
			types.TransactWriteItem{Put: s.outboxPut(eventOutboxItem(c.Event, c.Audit.UserAccount))})
	}
	out.AuditHash = head
	items[0].Put.Item = recordItem(out)
	if len(out.NeedsReassignment) > 0 {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Records, Item: queueItem(out)}})
	}
	for _, a := range kept {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Records, Item: refItem(a)}})
	}
	firstCheck := len(items)
	checks := activeChecks(kept)
	for _, u := range checks {
		items = append(items, s.activeCheck(u))
	}
	if err := s.transact(ctx, items); err != nil {
		if i, ok := failedItem(err); ok && i >= firstCheck {
			return r, nil, errUserNoLongerActive
		}
		return r, nil, translate("reopen "+id, err)
	}
	return out, clearings, nil
}
