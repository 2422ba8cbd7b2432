package dynamo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// UserFilter selects users for the admin listing.
type UserFilter struct {
	Status dormancy.Status // empty for both
	// Query matches user names containing it (case-insensitive) or user ids
	// starting with it.
	Query string
}

// UserPage is one page of the admin listing.
type UserPage struct {
	Users []dormancy.User
	// Cursor resumes the listing; empty at its end. A page may hold fewer
	// users than asked for, even none, and still have a cursor: a search
	// stops at its read bound, not at the end of the table.
	Cursor string
	// Read is the number of items DynamoDB read for the page.
	Read int
}

// listCursor is the position after the last user of a page: its listKey
// (last activity, "#", user id). The order is total, so a page never
// repeats or skips a user whose activity did not change meanwhile.
type listCursor struct {
	K string `json:"k"`
}

func validListKey(k string) bool {
	t, id, ok := strings.Cut(k, "#")
	return ok && isTimestamp(t) && dormancy.ValidUserID(id)
}

// searchRead is how many items a search reads per shard and page: a search
// that matches little returns a cursor after that many, instead of walking
// the table in one request.
const searchRead = 100

// ListUsers lists users newest activity first, a page at a time, merging
// the byList shards of the statuses asked for. Each shard is read once per
// page, at most limit+1 items (searchRead with a Query), so a page reads at
// most one page per shard. Only the users above the lowest point every
// unfinished shard has reached are certain to be in order; the page ends
// there, and the cursor resumes from it.
func (s *Store) ListUsers(ctx context.Context, f UserFilter, limit int, cursor string) (UserPage, error) {
	var cur listCursor
	if cursor != "" {
		if err := decodeJSONCursor(cursor, &cur); err != nil || !validListKey(cur.K) {
			return UserPage{}, errBadCursor
		}
	}
	statuses := []dormancy.Status{dormancy.Active, dormancy.Deactivated}
	if f.Status != "" {
		statuses = []dormancy.Status{f.Status}
	}
	var shards []string
	for _, st := range statuses {
		for i := range UserShards {
			shards = append(shards, fmt.Sprintf("%s#%02d", st, i))
		}
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	read := int32(limit + 1)
	if q != "" {
		read = max(read, searchRead)
	}
	results := make([]shardRead, len(shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, sh := range shards {
		g.Go(func() error {
			r, err := s.readListShard(gctx, sh, q, cur.K, read)
			results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return UserPage{}, err
	}
	// floor: the highest key at which an unfinished shard stopped. Above
	// it, every shard has been read; at or below it, not.
	var page UserPage
	floor := ""
	var all []dormancy.User
	for _, r := range results {
		page.Read += r.read
		all = append(all, r.users...)
		if r.stoppedAt != "" && r.stoppedAt > floor {
			floor = r.stoppedAt
		}
	}
	sort.Slice(all, func(i, j int) bool {
		return listKey(all[i].LastActivity(), all[i].UserID) > listKey(all[j].LastActivity(), all[j].UserID)
	})
	for _, u := range all {
		k := listKey(u.LastActivity(), u.UserID)
		if k < floor {
			break
		}
		if len(page.Users) == limit {
			last := page.Users[limit-1]
			page.Cursor = encodeJSONCursor(listCursor{K: listKey(last.LastActivity(), last.UserID)})
			return page, nil
		}
		page.Users = append(page.Users, u)
	}
	if floor != "" {
		// Shards left unread below floor: resume there. floor itself was
		// read (and, if it matched, returned).
		page.Cursor = encodeJSONCursor(listCursor{K: floor})
	}
	return page, nil
}

// shardRead is what one page read of one shard found.
type shardRead struct {
	users     []dormancy.User
	read      int
	stoppedAt string // the listKey of the last item read, if the shard goes on
}

// readListShard reads one Query page of a shard, below the cursor key.
func (s *Store) readListShard(ctx context.Context, shard, q, below string, limit int32) (shardRead, error) {
	in := &dynamodb.QueryInput{
		TableName: &s.tables.Users, IndexName: aws.String(IndexByList),
		KeyConditionExpression:    aws.String("listShard = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(shard)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	}
	if below != "" {
		in.KeyConditionExpression = aws.String("listShard = :s AND listKey < :k")
		in.ExpressionAttributeValues[":k"] = str(below)
	}
	if q != "" {
		in.FilterExpression = aws.String("contains(usernameLower, :q)")
		if dormancy.ValidUserID(q) {
			in.FilterExpression = aws.String("contains(usernameLower, :q) OR begins_with(userId, :q)")
		}
		in.ExpressionAttributeValues[":q"] = str(q)
	}
	res, err := s.db.Query(ctx, in)
	if err != nil {
		return shardRead{}, translate("list users", err)
	}
	out := shardRead{read: int(res.ScannedCount)}
	for _, it := range res.Items {
		u, err := userFrom(it)
		if err != nil {
			return out, err
		}
		out.users = append(out.users, u)
	}
	if res.LastEvaluatedKey != nil {
		if v, ok := res.LastEvaluatedKey["listKey"].(*types.AttributeValueMemberS); ok {
			out.stoppedAt = v.Value
		}
	}
	return out, nil
}

// LookupActiveUsers finds ACTIVE users whose name starts with prefix (case
// insensitive), for pickers. Deactivated users are not in the index at all.
func (s *Store) LookupActiveUsers(ctx context.Context, prefix string, limit int32) ([]dormancy.User, error) {
	p := strings.ToLower(prefix)
	if p == "" {
		return nil, fmt.Errorf("%w: a look-up needs at least one character", dormancy.ErrInvalid)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Users, IndexName: aws.String(IndexByName),
		KeyConditionExpression:    aws.String("lookupKey = :k AND begins_with(usernameLower, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str("ACTIVE#" + firstRune(p)), ":p": str(p)},
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, translate("look up users", err)
	}
	var users []dormancy.User
	for _, it := range out.Items {
		u, err := userFrom(it)
		if err != nil {
			return nil, err
		}
		u.Status = dormancy.Active
		users = append(users, u)
	}
	return users, nil
}
