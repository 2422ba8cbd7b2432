package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Index helper attributes of a user item, derived from its state. Every write
// that changes the state sets them together with it.
func sweepShard(u dormancy.User) string {
	if u.Status != dormancy.Active {
		return ""
	}
	p := "A#"
	if !u.WarnedAt.IsZero() {
		p = "W#"
	}
	return fmt.Sprintf("%s%02d", p, shardOf(u.UserID, UserShards))
}

func listShard(userID string, s dormancy.Status) string {
	return fmt.Sprintf("%s#%02d", s, shardOf(userID, UserShards))
}

// expiryShard places an ACTIVE user with an end date in the byExpiry index
// ("X#nn", by the same hash as the sweep shards); absent otherwise.
func expiryShard(u dormancy.User) string {
	if u.Status != dormancy.Active || u.ExpiresAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("X#%02d", shardOf(u.UserID, UserShards))
}

// ExpiryShards lists the byExpiry partition keys a sweep reads.
func ExpiryShards() []string {
	out := make([]string, UserShards)
	for i := range out {
		out[i] = fmt.Sprintf("X#%02d", i)
	}
	return out
}

// listKey orders the admin listing totally: last activity, then user id, so
// users who share a last activity (one import makes hundreds) page exactly
// once each.
func listKey(lastActivity time.Time, userID string) string {
	return ts(lastActivity) + "#" + userID
}

// lookupKey partitions active users by the first letter of their name, for
// prefix look-ups; deactivated users have none and so are never offered.
func lookupKey(u dormancy.User) string {
	if u.Status != dormancy.Active {
		return ""
	}
	return "ACTIVE#" + firstRune(strings.ToLower(u.Username))
}

func firstRune(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsPrint(r) {
		return "_"
	}
	return string(r)
}

func userKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"userId": str(id)}
}

// GetUser reads one user with a strongly consistent read.
func (s *Store) GetUser(ctx context.Context, userID string) (dormancy.User, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.tables.Users, Key: userKey(userID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return dormancy.User{}, translate("get user "+userID, err)
	}
	if out.Item == nil {
		return dormancy.User{}, fmt.Errorf("user %s: %w", userID, dormancy.ErrNotFound)
	}
	return userFrom(out.Item)
}

// CreateUser writes a new user and its creation audit entry atomically. It
// returns ErrExists, and changes nothing, when the user is already known:
// creationSource is set once and never overwritten.
func (s *Store) CreateUser(ctx context.Context, u dormancy.User, audit dormancy.AuditEntry) error {
	put, head := s.auditPut(audit, "")
	u.AuditHash = head
	err := s.transact(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.tables.Users, Item: userItem(u), ConditionExpression: aws.String("attribute_not_exists(userId)")}},
		{Put: put},
		s.countMove(u.UserID, "", u.Status),
	})
	if i, ok := failedItem(err); ok && i == 0 {
		return fmt.Errorf("create user %s: %w", u.UserID, dormancy.ErrExists)
	}
	// Anything else, a concurrent transaction on the same items included,
	// is not "already known": the caller retries or reports it.
	return translate("create user "+u.UserID, err)
}

// RecordSignIn stamps a successful sign-in, only while the user is ACTIVE:
// a sign-in never reactivates anyone. It starts a new dormancy period, so a
// warning sent in the old one no longer counts. It returns ErrNotFound when
// the user has no record and ErrConflict when the user is not ACTIVE.
func (s *Store) RecordSignIn(ctx context.Context, userID string, at time.Time, email string) error {
	active := dormancy.User{UserID: userID, Status: dormancy.Active}
	expr := "SET lastLoginAt = :t, lastActivityAt = :t, listKey = :lk, sweepShard = :shard"
	values := map[string]types.AttributeValue{
		":t": str(ts(at)), ":lk": str(listKey(at, userID)), ":shard": str(sweepShard(active)), ":active": str(string(dormancy.Active)),
	}
	if email != "" {
		// The e-mail Cognito sent with the sign-in, in the same write.
		expr += ", email = :e"
		values[":e"] = str(email)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.tables.Users,
		Key:                                 userKey(userID),
		UpdateExpression:                    aws.String(expr + " REMOVE warnedAt"),
		ConditionExpression:                 aws.String("#status = :active"),
		ExpressionAttributeNames:            map[string]string{"#status": "status"},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		if old, ok := conditionItem(err); ok && old == nil {
			return fmt.Errorf("sign-in of %s: %w", userID, dormancy.ErrNotFound)
		}
		return translate("sign-in of "+userID, err)
	}
	return nil
}

// Profile is what Cognito says of a user beyond their state: the groups
// (sent only at token generation, or read by the pool sync) and the e-mail.
// A nil Groups leaves the groups as they are; an empty Email, the e-mail.
type Profile struct {
	Groups []string
	Email  string
}

// ProfileChange is what to record of groups (nil: keep) and e-mail (empty:
// keep) when they differ from the stored user; nil when nothing does.
func ProfileChange(u dormancy.User, groups []string, email string) *Profile {
	var p Profile
	if groups != nil && !sameSet(u.Groups, groups) {
		p.Groups = groups
	}
	if email != "" && email != u.Email {
		p.Email = email
	}
	if p.Groups == nil && p.Email == "" {
		return nil
	}
	return &p
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// SetProfile records a user's groups and e-mail as Cognito has them. It
// returns ErrNotFound when the user has no record.
func (s *Store) SetProfile(ctx context.Context, userID string, p Profile) error {
	var set []string
	values := map[string]types.AttributeValue{}
	names := map[string]string{}
	if p.Groups != nil {
		set = append(set, "#groups = :g")
		names["#groups"] = "groups"
		values[":g"] = groupsValue(p.Groups)
	}
	if p.Email != "" {
		set = append(set, "email = :e")
		values[":e"] = str(p.Email)
	}
	if len(set) == 0 {
		return nil
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 &s.tables.Users,
		Key:                       userKey(userID),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("attribute_exists(userId)"),
		ExpressionAttributeValues: values,
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	_, err := s.db.UpdateItem(ctx, in)
	if err = translate("set profile of "+userID, err); isConflict(err) {
		return fmt.Errorf("set profile of %s: %w", userID, dormancy.ErrNotFound)
	}
	return err
}

// Apply writes a state change atomically: the user's new state (only if the
// user is still as the change expects), its audit entry (if any), and the
// events and sign-out it owes, into the outbox. ErrConflict means the user
// was no longer as expected (a sign-in, another sweep or an admin came
// first) and nothing was written.
func (s *Store) Apply(ctx context.Context, c dormancy.Change) error {
	u := c.User
	names := map[string]string{"#status": "status"}
	values := map[string]types.AttributeValue{
		":expect": str(string(c.Expect.Status)),
		":status": str(string(u.Status)),
		":list":   str(listShard(u.UserID, u.Status)),
	}
	set := []string{"#status = :status", "listShard = :list"}
	var remove []string
	cond := []string{"#status = :expect"}
	if !c.Expect.LastActivity.IsZero() {
		cond = append(cond, "lastActivityAt = :la")
		values[":la"] = str(ts(c.Expect.LastActivity))
	}
	if c.Expect.Version != 0 {
		cond = append(cond, "version = :v")
		values[":v"] = num(c.Expect.Version)
	}
	if c.Expect.Unwarned {
		// One warning per period: a second sweep racing the first finds the
		// warning already there and writes (and owes) nothing.
		cond = append(cond, "(attribute_not_exists(warnedAt) OR warnedAt < :la)")
	}
	opt := func(attr, val string) {
		if val == "" {
			remove = append(remove, attr)
			return
		}
		set = append(set, attr+" = :"+attr)
		values[":"+attr] = str(val)
	}
	opt("sweepShard", sweepShard(u))
	opt("lookupKey", lookupKey(u))
	opt("warnedAt", ts(u.WarnedAt))
	opt("expiresAt", ts(u.ExpiresAt))
	opt("expiryShard", expiryShard(u))
	if c.Expect.Status != u.Status {
		// A state transition: record who, when and why, and bump the version.
		set = append(set, "version = version + :one")
		values[":one"] = num(1)
		attrs := deactivationAttrs(u.Deactivation)
		if u.Status == dormancy.Active {
			attrs = reactivationAttrs(u.Reactivation)
			set = append(set, "lastActivityAt = :reactivatedAt", "listKey = :listKey")
			values[":listKey"] = str(listKey(u.Reactivation.At, u.UserID))
		}
		for k, v := range attrs {
			set = append(set, k+" = :"+k)
			values[":"+k] = v
		}
		if u.Status == dormancy.Deactivated {
			// A deactivation's comment belongs to this deactivation only.
			if _, ok := attrs["deactivationComment"]; !ok {
				remove = append(remove, "deactivationComment")
			}
		} else if _, ok := attrs["reactivationComment"]; !ok {
			remove = append(remove, "reactivationComment")
		}
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: &s.tables.Users, Key: userKey(u.UserID),
		UpdateExpression: &expr, ConditionExpression: aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}}
	if c.Audit.ID != "" {
		// The entry goes on the account's chain after the head read with
		// the user; the version condition keeps a racing change off it.
		put, head := s.auditPut(c.Audit, c.User.AuditHash)
		items = append(items, types.TransactWriteItem{Put: put})
		if !s.unchained {
			setHead(items[0].Update, head)
		}
	}
	for _, e := range c.Events {
		items = append(items, types.TransactWriteItem{Put: s.outboxPut(eventOutboxItem(e, u.Username))})
	}
	if c.SignOut {
		items = append(items, types.TransactWriteItem{Put: s.outboxPut(signOutOutboxItem(u, c.Audit.OccurredAt, c.Audit.ID))})
	}
	if c.Expect.Status != u.Status {
		items = append(items, s.countMove(u.UserID, c.Expect.Status, u.Status))
	}
	err := s.transact(ctx, items)
	return translate(fmt.Sprintf("%s %s", changeName(c), u.UserID), err)
}

func changeName(c dormancy.Change) string {
	if c.Audit.Operation != "" {
		return string(c.Audit.Operation)
	}
	if len(c.Events) > 0 {
		return c.Events[0].DetailType
	}
	return "change"
}

// SweepPage is one page of a sweep shard.
type SweepPage struct {
	Users []dormancy.User
	// Read is the number of items DynamoDB read for the page.
	Read int
	// Next resumes the shard (an opaque cursor); empty when it is exhausted.
	Next string
}

// usersByID reads the users named by refs (unknown ones are absent).
func (s *Store) usersByID(ctx context.Context, refs []dormancy.FieldRef) (map[string]dormancy.User, error) {
	out := map[string]dormancy.User{}
	var keys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, r := range refs {
		if !seen[r.UserID] {
			seen[r.UserID] = true
			keys = append(keys, userKey(r.UserID))
		}
	}
	for len(keys) > 0 {
		batch := keys[:min(100, len(keys))]
		keys = keys[len(batch):]
		req := map[string]types.KeysAndAttributes{s.tables.Users: {Keys: batch, ConsistentRead: aws.Bool(true)}}
		for len(req) > 0 {
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, translate("read users", err)
			}
			for _, it := range res.Responses[s.tables.Users] {
				u, err := userFrom(it)
				if err != nil {
					return nil, err
				}
				out[u.UserID] = u
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// maxCreateBatch bounds the users created in one transaction: two items
// each (user, audit entry) and the count, within DynamoDB's 100.
const maxCreateBatch = 33

// CreateUsers creates many new users at once, each with its creation audit
// entry, a transaction per batch of maxCreateBatch (the batch's count moves
// in the same transaction). A batch in which a user already exists is
// written user by user instead, so each known user is reported, not
// overwritten: created[i] says whether users[i] was created (false: it
// already existed).
func (s *Store) CreateUsers(ctx context.Context, users []dormancy.User, audits []dormancy.AuditEntry) ([]bool, error) {
	created := make([]bool, len(users))
	for start := 0; start < len(users); start += maxCreateBatch {
		end := min(start+maxCreateBatch, len(users))
		var items []types.TransactWriteItem
		for i := start; i < end; i++ {
			put, head := s.auditPut(audits[i], "")
			u := users[i]
			u.AuditHash = head
			items = append(items,
				types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Users, Item: userItem(u), ConditionExpression: aws.String("attribute_not_exists(userId)")}},
				types.TransactWriteItem{Put: put})
		}
		items = append(items, s.countAdd(users[start].UserID, int64(end-start)))
		err := s.transact(ctx, items)
		if err == nil {
			for i := start; i < end; i++ {
				created[i] = true
			}
			continue
		}
		if _, ok := failedItem(err); !ok {
			return created, translate("create users", err)
		}
		for i := start; i < end; i++ {
			switch err := s.CreateUser(ctx, users[i], audits[i]); {
			case err == nil:
				created[i] = true
			case errors.Is(err, dormancy.ErrExists):
			default:
				return created, err
			}
		}
	}
	return created, nil
}

// setHead adds "auditHash = <head>" to an update's SET clause.
func setHead(u *types.Update, head string) {
	expr := *u.UpdateExpression
	set, rest, _ := strings.Cut(expr, " REMOVE ")
	set += ", auditHash = :auditHash"
	if rest != "" {
		set += " REMOVE " + rest
	}
	u.UpdateExpression = aws.String(set)
	u.ExpressionAttributeValues[":auditHash"] = str(head)
}
