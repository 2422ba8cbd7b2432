package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// UserFilter selects users for the admin listing.
type UserFilter struct {
	Status dormancy.Status // empty for both
	// Query matches user names containing it (case-insensitive) or user ids
	// starting with it.
	Query string
}

// listCursor is the position after the last user of a page: users are
// ordered by last activity, newest first, then by user id.
type listCursor struct {
	T string `json:"t"`
	U string `json:"u"`
}

func after(c *listCursor, t, u string) bool {
	return c == nil || t < c.T || (t == c.T && u < c.U)
}

// ListUsers lists users newest activity first, a page at a time. It merges
// the byList shards of the statuses asked for; each page reads at most a
// page per shard (more when Query filters many out). The cursor is opaque
// and stable: users that change meanwhile may move, but a page never
// repeats or skips a user whose activity did not change.
func (s *Store) ListUsers(ctx context.Context, f UserFilter, limit int, cursor string) ([]dormancy.User, string, error) {
	var cur *listCursor
	if cursor != "" {
		cur = &listCursor{}
		if err := decodeJSONCursor(cursor, cur); err != nil {
			return nil, "", err
		}
	}
	statuses := []dormancy.Status{dormancy.Active, dormancy.Deactivated}
	if f.Status != "" {
		statuses = []dormancy.Status{f.Status}
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	var shards []string
	for _, st := range statuses {
		for i := range UserShards {
			shards = append(shards, fmt.Sprintf("%s#%02d", st, i))
		}
	}
	var (
		mu       sync.Mutex
		all      []dormancy.User
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, 8)
	)
	for _, sh := range shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got, err := s.listShard(ctx, sh, q, cur, limit+1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			all = append(all, got...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, "", firstErr
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := ts(all[i].LastActivity()), ts(all[j].LastActivity())
		if ti != tj {
			return ti > tj
		}
		return all[i].UserID > all[j].UserID
	})
	next := ""
	if len(all) > limit {
		all = all[:limit]
		last := all[limit-1]
		next = encodeJSONCursor(listCursor{T: ts(last.LastActivity()), U: last.UserID})
	}
	return all, next, nil
}

// listShard reads up to want users of one shard past the cursor.
func (s *Store) listShard(ctx context.Context, shard, q string, cur *listCursor, want int) ([]dormancy.User, error) {
	in := &dynamodb.QueryInput{
		TableName: &s.tables.Users, IndexName: aws.String(IndexByList),
		KeyConditionExpression:    aws.String("listShard = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(want)),
	}
	if cur != nil {
		in.KeyConditionExpression = aws.String("listShard = :s AND lastActivityAt <= :t")
		in.ExpressionAttributeValues[":t"] = str(cur.T)
	}
	if q != "" {
		in.FilterExpression = aws.String("contains(usernameLower, :q) OR begins_with(userId, :q)")
		in.ExpressionAttributeValues[":q"] = str(q)
	}
	var out []dormancy.User
	for len(out) < want {
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, translate("list users", err)
		}
		for _, it := range res.Items {
			u, err := userFrom(it)
			if err != nil {
				return nil, err
			}
			if after(cur, ts(u.LastActivity()), u.UserID) {
				out = append(out, u)
			}
		}
		if res.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	return out, nil
}
