package dynamo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// life takes an account through every change that writes to its chain.
func life(t *testing.T, s *dynamo.Store, id string) {
	t.Helper()
	ctx := context.Background()
	create(t, s, id, dormancy.Days(60))
	p := dormancy.Policy{DefaultDays: 45}
	step := func(build func(dormancy.User) (dormancy.Change, error)) {
		t.Helper()
		u, err := s.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := build(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	step(func(u dormancy.User) (dormancy.Change, error) {
		return dormancy.DeactivateForInactivity(u, p.Evaluate(u, t0), t0), nil
	})
	step(func(u dormancy.User) (dormancy.Change, error) {
		return dormancy.Reactivate(u, dormancy.ReactivationRequest{Actor: "admin-1", ApprovalReference: "BH-1", ApprovedBy: "bh"}, t0.Add(time.Minute))
	})
	step(func(u dormancy.User) (dormancy.Change, error) {
		return dormancy.SetExpiry(u, dormancy.ExpiryRequest{Actor: "admin-1", ExpiresAt: t0.Add(dormancy.Days(30)), Reason: "contract"}, t0.Add(2*time.Minute))
	})
	step(func(u dormancy.User) (dormancy.Change, error) {
		return dormancy.DeactivateByAdmin(u, "admin-1", "left", 45, t0.Add(3*time.Minute))
	})
}

func auditItems(t *testing.T, s *dynamo.Store, id string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := dynamotest.Client(t).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(s.Tables().Audit), KeyConditionExpression: aws.String("userId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// The chain holds through creation, deactivation, reactivation, expiry and
// a manual deactivation, and through record clearings; each link is the
// previous entry's hash, and the account keeps the last one.
func TestChainIsIntactThroughEveryChange(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	life(t, s, "c1")
	v, err := s.VerifyAccount(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Intact || v.Entries != 5 || v.Chained != 5 || v.Unchained != 0 {
		t.Errorf("verification %+v", v)
	}
	items := auditItems(t, s, "c1")
	prev := ""
	for _, it := range items { // in time order, as the chain is
		if got := it["prevHash"].(*types.AttributeValueMemberS).Value; got != prev {
			t.Errorf("%v links to %q, want %q", it["operation"], got, prev)
		}
		prev = it["hash"].(*types.AttributeValueMemberS).Value
	}
	if u, _ := s.GetUser(ctx, "c1"); u.AuditHash != prev {
		t.Errorf("the account keeps %q, its last entry is %q", u.AuditHash, prev)
	}

	// A record's clearings chain on the record.
	create(t, s, "worker", time.Hour)
	r, err := s.PutRecord(ctx, dormancy.Record{ID: "lead-1", Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": "worker", "owner": "worker"}}, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"assignedTo", "owner"} {
		c := dormancy.ClearField(dormancy.FieldRef{RecordID: r.ID, Module: r.Module, Field: f, UserID: "worker"}, "name-worker", "cause", "system", dormancy.SourceAutomaticDeactivation, t0)
		if err := s.Clear(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := s.GetRecord(ctx, "lead-1")
	var cleared []map[string]types.AttributeValue
	for _, it := range auditItems(t, s, "worker") {
		if it["operation"].(*types.AttributeValueMemberS).Value == string(dormancy.OpRecordUserCleared) {
			cleared = append(cleared, it)
		}
	}
	if len(cleared) != 2 {
		t.Fatalf("clearings %d", len(cleared))
	}
	heads := map[string]bool{rec.AuditHash: true}
	links := map[string]bool{}
	for _, it := range cleared {
		links[it["prevHash"].(*types.AttributeValueMemberS).Value] = true
		heads[it["hash"].(*types.AttributeValueMemberS).Value] = true
	}
	if !links[""] || len(links) != 2 || len(heads) != 2 { // "" -> h1 -> h2 = the record's head
		t.Errorf("record chain: links %v, hashes and head %v", links, heads)
	}
	if v, _ := s.VerifyAccount(ctx, "worker"); !v.Intact {
		t.Errorf("worker %+v", v)
	}
}

// Two changes racing for one account cannot fork its chain: the version
// condition lets one through.
func TestRacingChangesDoNotForkTheChain(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	u := create(t, s, "race", dormancy.Days(60))
	got, _ := s.GetUser(ctx, "race")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := dormancy.DeactivateByAdmin(got, "admin-"+string(rune('a'+i)), "left", 45, t0.Add(time.Duration(i)*time.Millisecond))
			s.Apply(ctx, c)
		}()
	}
	wg.Wait()
	v, err := s.VerifyAccount(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Intact || v.Entries != 2 {
		t.Errorf("verification %+v", v)
	}
}

// A changed, deleted or reordered entry is found, at its place; entries
// written before the chain are unchained, not broken.
func TestTamperingIsDetected(t *testing.T) {
	db := dynamotest.Client(t)
	ctx := context.Background()
	type tamper func(s *dynamo.Store, items []map[string]types.AttributeValue) (wantAt string)
	key := func(it map[string]types.AttributeValue) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"userId": it["userId"], "sk": it["sk"]}
	}
	op := func(it map[string]types.AttributeValue) string {
		return it["operation"].(*types.AttributeValueMemberS).Value
	}
	for name, change := range map[string]tamper{
		"a reason rewritten": func(s *dynamo.Store, items []map[string]types.AttributeValue) string {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(s.Tables().Audit), Key: key(items[2]),
				UpdateExpression:          aws.String("SET approvalReference = :x"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":x": &types.AttributeValueMemberS{Value: "BH-FORGED"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return op(items[2])
		},
		"a middle entry deleted": func(s *dynamo.Store, items []map[string]types.AttributeValue) string {
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Tables().Audit), Key: key(items[1])}); err != nil {
				t.Fatal(err)
			}
			return op(items[2]) // the entry after it links to nothing left
		},
		"the last entry deleted": func(s *dynamo.Store, items []map[string]types.AttributeValue) string {
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Tables().Audit), Key: key(items[len(items)-1])}); err != nil {
				t.Fatal(err)
			}
			return "" // the chain ends before the account's head
		},
		"two entries swapped in time": func(s *dynamo.Store, items []map[string]types.AttributeValue) string {
			a, b := items[1]["occurredAt"], items[2]["occurredAt"]
			for _, p := range []struct {
				it map[string]types.AttributeValue
				at types.AttributeValue
			}{{items[1], b}, {items[2], a}} {
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String(s.Tables().Audit), Key: key(p.it),
					UpdateExpression: aws.String("SET occurredAt = :t"), ExpressionAttributeValues: map[string]types.AttributeValue{":t": p.at},
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			return op(items[1])
		},
	} {
		s := dynamotest.NewStore(t)
		life(t, s, "victim")
		items := auditItems(t, s, "victim")
		wantAt := change(s, items)
		v, err := s.VerifyAccount(ctx, "victim")
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case v.Intact || v.FirstBroken == nil:
			t.Errorf("%s: not detected: %+v", name, v)
		case v.FirstBroken.Operation != wantAt:
			t.Errorf("%s: first broken %+v, want the %q entry", name, v.FirstBroken, wantAt)
		}
	}

	// An entry from before the chain existed.
	s := dynamotest.NewStore(t)
	old := map[string]types.AttributeValue{
		"userId": &types.AttributeValueMemberS{Value: "old"}, "sk": &types.AttributeValueMemberS{Value: "2020-01-01T00:00:00.000Z#legacy"},
		"auditId": &types.AttributeValueMemberS{Value: "legacy"}, "operation": &types.AttributeValueMemberS{Value: "CreateUserAccount"},
		"occurredAt": &types.AttributeValueMemberS{Value: "2020-01-01T00:00:00.000Z"},
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables().Audit), Item: old}); err != nil {
		t.Fatal(err)
	}
	create(t, s, "old", time.Hour)
	if v, _ := s.VerifyAccount(ctx, "old"); !v.Intact || v.Unchained != 1 || v.Chained != 1 {
		t.Errorf("with a pre-chain entry: %+v", v)
	}
}

// The canonical encoding is what doc says: an independent encoding of a
// stored entry (sorted keys, compact JSON, no HTML escaping, numbers as
// numbers) hashes to its hash.
func TestCanonicalEncodingIsReproducible(t *testing.T) {
	s := dynamotest.NewStore(t)
	life(t, s, "doc<&>")
	for _, it := range auditItems(t, s, "doc<&>") {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			t.Fatal(err)
		}
		want := m["hash"].(string)
		delete(m, "hash")
		delete(m, "sk")
		delete(m, "auditDay")
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(m) // encoding/json sorts map keys
		sum := sha256.Sum256([]byte(strings.TrimSuffix(b.String(), "\n")))
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%v: independent hash %s, stored %s", m["operation"], got, want)
		}
	}
}
