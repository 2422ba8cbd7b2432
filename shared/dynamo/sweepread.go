package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// SweepCandidates reads one shard of a sweep's index, oldest first: a
// bySweep shard (SweepShards) for users whose last activity is at or before
// cutoff, or a byExpiry shard (ExpiryShards) for users whose end date is.
// The indexes are eventually consistent: every change made from what they
// return must be conditional.
func (s *Store) SweepCandidates(ctx context.Context, shard string, cutoff time.Time, limit int32, cursor string) (SweepPage, error) {
	index, pk, sk := IndexBySweep, "sweepShard", "lastActivityAt"
	if strings.HasPrefix(shard, "X#") {
		index, pk, sk = IndexByExpiry, "expiryShard", "expiresAt"
	}
	start, err := decodeKeyCursor(cursor, keyShape{"userId": dormancy.ValidUserID, pk: equals(shard), sk: isTimestamp})
	if err != nil {
		return SweepPage{}, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.tables.Users,
		IndexName:              aws.String(index),
		KeyConditionExpression: aws.String(pk + " = :s AND " + sk + " <= :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": str(shard), ":c": str(ts(cutoff)),
		},
		Limit:             aws.Int32(limit),
		ExclusiveStartKey: start,
	})
	if err != nil {
		return SweepPage{}, translate("sweep shard "+shard, err)
	}
	p := SweepPage{Read: int(out.ScannedCount), Next: encodeCursor(out.LastEvaluatedKey)}
	for _, it := range out.Items {
		u, err := userFrom(it)
		if err != nil {
			return p, err
		}
		p.Users = append(p.Users, u)
	}
	return p, nil
}
