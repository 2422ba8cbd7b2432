package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// auditPut is the only write of the audit table: a put that fails if the
// entry exists, so an entry is never changed. It seals the entry onto its
// chain after prev (chain.go) and returns the new head.
func (s *Store) auditPut(e dormancy.AuditEntry, prev string) (*types.Put, string) {
	it := auditItem(e)
	h := prev
	if !s.unchained {
		h = seal(it, prev)
	}
	return &types.Put{
		TableName:           &s.tables.Audit,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(sk)"),
	}, h
}

func auditItem(e dormancy.AuditEntry) map[string]types.AttributeValue {
	at := ts(e.OccurredAt)
	it := map[string]types.AttributeValue{
		"userId":     str(e.UserID),
		"sk":         str(at + "#" + e.ID),
		"auditDay":   str(at[:10]),
		"auditId":    str(e.ID),
		"operation":  str(string(e.Operation)),
		"occurredAt": str(at),
		"isEnabled":  &types.AttributeValueMemberBOOL{Value: e.IsEnabled},
		"actor":      str(e.Actor),
		"source":     str(e.Source),
	}
	opt := map[string]string{
		"userAccount": e.UserAccount, "reason": e.Reason, "approvalReference": e.ApprovalReference,
		"approvedBy": e.ApprovedBy, "comment": e.Comment, "eventId": e.EventID, "recordId": e.RecordID,
		"module": e.Module, "field": e.Field, "previousUserId": e.PreviousUserID, "previousUsername": e.PreviousUsername,
	}
	for k, v := range opt {
		if v != "" {
			it[k] = str(v)
		}
	}
	if e.ThresholdDays != 0 {
		it["thresholdDays"] = num(int64(e.ThresholdDays))
	}
	if e.Version != 0 {
		it["version"] = num(e.Version)
	}
	return it
}

func auditFrom(it map[string]types.AttributeValue) (dormancy.AuditEntry, error) {
	s := attrs(it).str
	at, err := parseTS(s("occurredAt"))
	if err != nil {
		return dormancy.AuditEntry{}, fmt.Errorf("audit entry %s: %w", s("auditId"), err)
	}
	e := dormancy.AuditEntry{
		ID: s("auditId"), UserID: s("userId"), Operation: dormancy.Operation(s("operation")), OccurredAt: at,
		UserAccount: s("userAccount"), Actor: s("actor"), Source: s("source"), Reason: s("reason"),
		ApprovalReference: s("approvalReference"), ApprovedBy: s("approvedBy"), Comment: s("comment"),
		EventID: s("eventId"), RecordID: s("recordId"), Module: s("module"), Field: s("field"),
		PreviousUserID: s("previousUserId"), PreviousUsername: s("previousUsername"),
		Hash: s("hash"), PrevHash: s("prevHash"),
	}
	if b, ok := it["isEnabled"].(*types.AttributeValueMemberBOOL); ok {
		e.IsEnabled = b.Value
	}
	e.ThresholdDays, e.Version = int(attrs(it).num("thresholdDays")), attrs(it).num("version")
	return e, nil
}

// AppendAudit writes one audit entry on its own. It returns ErrExists if an
// entry with the same id and time is already there.
func (s *Store) AppendAudit(ctx context.Context, e dormancy.AuditEntry) error {
	put, _ := s.auditPut(e, e.PrevHash)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.tables.Audit, Item: put.Item, ConditionExpression: put.ConditionExpression,
	})
	if err = translate("append audit "+e.ID, err); isConflict(err) {
		return fmt.Errorf("append audit %s: %w", e.ID, dormancy.ErrExists)
	}
	return err
}

// AuditPage is a page of the audit trail with an opaque cursor to the next.
type AuditPage struct {
	Entries []dormancy.AuditEntry
	Cursor  string
	Read    int // items DynamoDB read for the page
}

// UserAudit lists one user's audit trail, oldest first.
func (s *Store) UserAudit(ctx context.Context, userID string, limit int32, cursor string) (AuditPage, error) {
	start, err := decodeKeyCursor(cursor, keyShape{"userId": equals(userID), "sk": isAuditSK})
	if err != nil {
		return AuditPage{}, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.tables.Audit,
		KeyConditionExpression:    aws.String("userId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(userID)},
		Limit:                     aws.Int32(limit),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return AuditPage{}, translate("audit of "+userID, err)
	}
	return auditPage(out.Items, out.LastEvaluatedKey)
}

// AuditFilter selects entries of the cross-user trail.
type AuditFilter struct {
	Operation dormancy.Operation // empty for all
	From, To  time.Time          // inclusive bounds; both required
}

const dayLayout = "2006-01-02"

// auditCursor is the position in the cross-user trail: the day being read
// and DynamoDB's key within it.
type auditCursor struct {
	Day string            `json:"d"`
	Key map[string]string `json:"k,omitempty"`
}

// Audit lists the trail across users between From and To, oldest first, one
// day partition at a time.
func (s *Store) Audit(ctx context.Context, f AuditFilter, limit int32, cursor string) (AuditPage, error) {
	cur := auditCursor{Day: f.From.UTC().Format(dayLayout)}
	lastDay := f.To.UTC().Format(dayLayout)
	if cursor != "" {
		// A cursor resumes inside [from, to], at a day that parses, with the
		// key of an entry of that day: anything else would let a forged
		// cursor walk days outside the range the request was checked for.
		if err := decodeJSONCursor(cursor, &cur); err != nil {
			return AuditPage{}, err
		}
		if _, err := time.Parse(dayLayout, cur.Day); err != nil || cur.Day < f.From.UTC().Format(dayLayout) || cur.Day > lastDay {
			return AuditPage{}, errBadCursor
		}
		if cur.Key != nil {
			if err := checkKey(cur.Key, keyShape{"userId": dormancy.ValidUserID, "sk": isAuditSK, "auditDay": equals(cur.Day)}); err != nil {
				return AuditPage{}, err
			}
		}
	}
	var page AuditPage
	for cur.Day <= lastDay && int32(len(page.Entries)) < limit {
		in := &dynamodb.QueryInput{
			TableName:              &s.tables.Audit,
			IndexName:              aws.String(IndexByDay),
			KeyConditionExpression: aws.String("auditDay = :d AND sk BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":d": str(cur.Day), ":from": str(ts(f.From)), ":to": str(ts(f.To) + "#~"),
			},
			Limit: aws.Int32(limit - int32(len(page.Entries))),
		}
		if f.Operation != "" {
			in.FilterExpression = aws.String("#op = :op")
			in.ExpressionAttributeNames = map[string]string{"#op": "operation"}
			in.ExpressionAttributeValues[":op"] = str(string(f.Operation))
		}
		if cur.Key != nil {
			in.ExclusiveStartKey = map[string]types.AttributeValue{}
			for k, v := range cur.Key {
				in.ExclusiveStartKey[k] = str(v)
			}
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return AuditPage{}, translate("audit of "+cur.Day, err)
		}
		page.Read += int(out.ScannedCount)
		for _, it := range out.Items {
			e, err := auditFrom(it)
			if err != nil {
				return AuditPage{}, err
			}
			page.Entries = append(page.Entries, e)
		}
		if out.LastEvaluatedKey != nil {
			cur.Key = map[string]string{}
			for k, v := range out.LastEvaluatedKey {
				if sv, ok := v.(*types.AttributeValueMemberS); ok {
					cur.Key[k] = sv.Value
				}
			}
			continue
		}
		d, err := time.Parse(dayLayout, cur.Day)
		if err != nil {
			return AuditPage{}, fmt.Errorf("audit day %q: %w", cur.Day, err)
		}
		cur = auditCursor{Day: d.AddDate(0, 0, 1).Format(dayLayout)}
	}
	if cur.Day <= lastDay {
		page.Cursor = encodeJSONCursor(cur)
	}
	return page, nil
}

func auditPage(items []map[string]types.AttributeValue, last map[string]types.AttributeValue) (AuditPage, error) {
	var p AuditPage
	for _, it := range items {
		e, err := auditFrom(it)
		if err != nil {
			return p, err
		}
		p.Entries = append(p.Entries, e)
	}
	p.Cursor = encodeCursor(last)
	return p, nil
}
