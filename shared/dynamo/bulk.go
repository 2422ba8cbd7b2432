package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// BulkLoad writes users as they are, 25 to a request, without audit entries
// or conditions, and adds them to the counts. It exists for benchmarks and
// local seed data, where a hundred thousand users must be in place quickly;
// no function calls it.
func (s *Store) BulkLoad(ctx context.Context, users []dormancy.User) error {
	counts := map[string][2]int64{}
	for _, u := range users {
		k := countKey(u.UserID)["userId"].(*types.AttributeValueMemberS).Value
		c := counts[k]
		if u.Status == dormancy.Active {
			c[0]++
		} else {
			c[1]++
		}
		counts[k] = c
	}
	for k, c := range counts {
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.tables.Users, Key: userKey(k),
			UpdateExpression:          aws.String("ADD active :a, deactivated :d"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":a": num(c[0]), ":d": num(c[1])},
		}); err != nil {
			return fmt.Errorf("bulk load counts: %w", err)
		}
	}
	for i := 0; i < len(users); i += 25 {
		var reqs []types.WriteRequest
		for _, u := range users[i:min(i+25, len(users))] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: userItem(u)}})
		}
		for len(reqs) > 0 {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.tables.Users: reqs},
			})
			if err != nil {
				return fmt.Errorf("bulk load: %w", err)
			}
			reqs = out.UnprocessedItems[s.tables.Users]
		}
	}
	return nil
}
