package dynamo_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// imported makes n users who share one last activity, as one import does.
func imported(t *testing.T, s *dynamo.Store, prefix string, n int, at time.Time) {
	t.Helper()
	var users []dormancy.User
	for i := range n {
		users = append(users, dormancy.User{
			UserID: fmt.Sprintf("%s%04d", prefix, i), Username: fmt.Sprintf("%s-user-%04d", prefix, i),
			Status: dormancy.Active, Groups: []string{}, CreationSource: dormancy.Import, CreatedAt: at, ImportedAt: at, Version: 1,
		})
	}
	if err := s.BulkLoad(context.Background(), users); err != nil {
		t.Fatal(err)
	}
}

// Users who share lastActivityAt (one import makes hundreds) appear exactly
// once each, whatever the page size: the order is total.
func TestListingPagesEveryUserExactlyOnce(t *testing.T) {
	s := dynamotest.NewStore(t)
	imported(t, s, "imp", 500, t0.Add(-time.Hour))
	for _, id := range []string{"a", "b", "c"} {
		create(t, s, id, 2*time.Hour)
	}
	for _, size := range []int{1, 7, 25, 100} {
		seen := map[string]int{}
		cursor, pages := "", 0
		for {
			p, err := s.ListUsers(context.Background(), dynamo.UserFilter{}, size, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Users) > size {
				t.Fatalf("size %d: page of %d", size, len(p.Users))
			}
			for _, u := range p.Users {
				seen[u.UserID]++
			}
			if cursor = p.Cursor; cursor == "" {
				break
			}
			if pages > 2000 {
				t.Fatalf("size %d: no end", size)
			}
		}
		if len(seen) != 503 {
			t.Errorf("size %d: %d distinct users of 503", size, len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("size %d: %s listed %d times", size, id, n)
			}
		}
	}
}

// A search that matches little reads a bounded number of items per request
// and hands back a cursor, instead of walking the whole table in one call.
func TestSearchReadsABoundedPage(t *testing.T) {
	s := dynamotest.NewStore(t)
	imported(t, s, "bulk", 3000, t0.Add(-time.Hour))
	create(t, s, "rare", 3*time.Hour) // user name "name-rare"
	var found []string
	cursor, requests, read := "", 0, 0
	for {
		p, err := s.ListUsers(context.Background(), dynamo.UserFilter{Query: "RARE"}, 1, cursor)
		if err != nil {
			t.Fatal(err)
		}
		requests++
		// One page per shard at most: 32 shards (both statuses), 100 items.
		if p.Read > 32*100 {
			t.Fatalf("one request read %d items", p.Read)
		}
		read += p.Read
		for _, u := range p.Users {
			found = append(found, u.UserID)
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	if len(found) != 1 || found[0] != "rare" {
		t.Errorf("found %v, want [rare]", found)
	}
	if requests < 2 {
		t.Errorf("%d requests: the search should have stopped at its bound and returned a cursor", requests)
	}
	if read > 3001+32*100 {
		t.Errorf("the whole search read %d items for 3001 users", read)
	}
}

// Every cursor is checked against the key it resumes before it reaches
// DynamoDB: a forged one is ErrBadInput with fixed words, never DynamoDB's
// ValidationException text naming indexes and keys.
func TestForgedCursorsAreRefusedBeforeDynamoDB(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	forge := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	from, to := t0.Add(-48*time.Hour), t0
	calls := map[string]func(string) error{
		"queue": func(c string) error { _, err := s.ReassignmentQueue(ctx, 10, c); return err },
		"records naming": func(c string) error {
			_, err := s.OpenRecordsNaming(ctx, "u1", c)
			return err
		},
		"user audit": func(c string) error { _, err := s.UserAudit(ctx, "u1", 10, c); return err },
		"audit": func(c string) error {
			_, err := s.Audit(ctx, dynamo.AuditFilter{From: from, To: to}, 10, c)
			return err
		},
		"users": func(c string) error { _, err := s.ListUsers(ctx, dynamo.UserFilter{}, 10, c); return err },
		"sweep": func(c string) error { _, err := s.SweepCandidates(ctx, "A#00", t0, 10, c); return err },
	}
	cursors := map[string]string{
		"not base64":        "%%%",
		"not json":          forge("{"),
		"wrong index key":   forge(`{"recordId":"r1","sk":"QUEUE","refUserId":"someone-else","refKey":"r1"}`),
		"missing key":       forge(`{"recordId":"r1"}`),
		"extra key":         forge(`{"recordId":"r1","sk":"QUEUE","refUserId":"QUEUE","refKey":"r1","x":"y"}`),
		"huge":              forge(`{"recordId":"` + strings.Repeat("r", 3000) + `"}`),
		"day out of range":  forge(`{"d":"0001-01-01"}`),
		"day not a day":     forge(`{"d":"yesterday"}`),
		"other user's key":  forge(`{"userId":"u2","sk":"2026-11-24T12:00:00.000Z#x"}`),
		"list key garbage":  forge(`{"k":"zzz"}`),
		"sweep other shard": forge(`{"userId":"u1","sweepShard":"W#03","lastActivityAt":"2026-11-24T12:00:00.000Z"}`),
	}
	for cname, c := range cursors {
		for name, call := range calls {
			err := call(c)
			if !errors.Is(err, dormancy.ErrBadInput) {
				t.Errorf("%s cursor to %s: err = %v, want ErrBadInput", cname, name, err)
				continue
			}
			msg, ok := dormancy.ClientMessage(err)
			if !ok || msg != "cursor is not one this API gave out" {
				t.Errorf("%s cursor to %s: client message %q", cname, name, msg)
			}
		}
	}
}

// Two sweeps that read the same unwarned user both try to warn them: one
// warning is written and owed, the other write is a conflict and owes
// nothing.
func TestWarningIsWrittenOncePerPeriod(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	u := create(t, s, "w1", dormancy.Days(40))
	p := dormancy.Policy{DefaultDays: 45, WarningDays: 7}
	v := p.Evaluate(u, t0)
	if v.Action != dormancy.Warn {
		t.Fatalf("verdict %v", v.Action)
	}
	first, second := dormancy.WarnDormant(u, v, t0), dormancy.WarnDormant(u, v, t0.Add(time.Minute))
	if err := s.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The first warning is published and leaves the outbox...
	owed, _ := s.Outbox(ctx, 10)
	for _, o := range owed {
		if err := s.Done(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// ...and the racing sweep's write must not owe it again.
	if err := s.Apply(ctx, second); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("second warning: err = %v, want ErrConflict", err)
	}
	if owed, _ := s.Outbox(ctx, 10); len(owed) != 0 {
		t.Errorf("the warning is owed again: %+v", owed)
	}
}

// interleave runs before() once, just before the first transaction it sees,
// as another writer landing between a read and a write would.
type interleave struct {
	dynamo.API
	once   sync.Once
	before func()
}

func (i *interleave) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	i.once.Do(i.before)
	return i.API.TransactWriteItems(ctx, in, o...)
}

// Reopening checks, inside its write, that the users it keeps are still
// ACTIVE: a deactivation landing between its read and its write cannot leave
// an Open record naming a deactivated user.
func TestReopenRacingADeactivationKeepsNoDeactivatedUser(t *testing.T) {
	db := dynamotest.Client(t)
	tables := dynamotest.NewTables(t, db)
	plain := dynamo.New(db, tables)
	ctx := context.Background()
	u := create(t, plain, "keeper", time.Hour)
	create(t, plain, "other", time.Hour)
	r, err := plain.PutRecord(ctx, dormancy.Record{ID: "lead-9", Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": "keeper", "owner": "other"}}, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	r.Status = dormancy.Closed
	if r, err = plain.PutRecord(ctx, r, r.Version, t0); err != nil {
		t.Fatal(err)
	}
	racing := &interleave{API: db, before: func() {
		c, err := dormancy.DeactivateByAdmin(u, "admin-1", "left", 45, t0)
		if err != nil {
			t.Error(err)
			return
		}
		if err := plain.Apply(ctx, c); err != nil {
			t.Error(err)
		}
	}}
	reopened, cleared, err := dynamo.New(racing, tables).Reopen(ctx, "lead-9", "admin-2", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := plain.GetRecord(ctx, "lead-9")
	if stored.Status != dormancy.Open || stored.Fields["assignedTo"] != "" || stored.Fields["owner"] != "other" {
		t.Errorf("stored record %+v: keeper was deactivated meanwhile and must be cleared", stored)
	}
	if len(cleared) != 1 || cleared[0].Ref.UserID != "keeper" || reopened.Fields["assignedTo"] != "" {
		t.Errorf("cleared %+v, reopened %+v", cleared, reopened)
	}
	if len(stored.NeedsReassignment) != 1 || stored.NeedsReassignment[0] != "assignedTo" {
		t.Errorf("needsReassignment %v", stored.NeedsReassignment)
	}
}

// DynamoDB's own refusals keep their text out of the client's words.
func TestValidationExceptionHasFixedWords(t *testing.T) {
	db := dynamotest.Client(t)
	s := dynamo.New(&refusing{API: db}, dynamotest.NewTables(t, db))
	_, err := s.GetUser(context.Background(), "u1")
	if !errors.Is(err, dormancy.ErrBadInput) {
		t.Fatalf("err = %v", err)
	}
	if msg, _ := dormancy.ClientMessage(err); strings.Contains(msg, "IndexName") || msg != "the request cannot be served as given" {
		t.Errorf("client message %q", msg)
	}
}

// refusing sends every GetItem with a key DynamoDB refuses, for real.
type refusing struct{ dynamo.API }

func (r *refusing) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.Key = map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: "u1"}, "IndexName": &types.AttributeValueMemberS{Value: "byUser"}}
	return r.API.GetItem(ctx, in, o...)
}
