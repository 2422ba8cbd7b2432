package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

const (
	skRecord   = "RECORD"
	skQueue    = "QUEUE"
	refPrefix  = "REF#"
	queueKey   = "QUEUE"
	maxRefPage = 100
)

func isRefSK(s string) bool {
	f, ok := strings.CutPrefix(s, refPrefix)
	return ok && dormancy.ValidFieldName(f)
}

func isRefKey(s string) bool {
	i := strings.LastIndexByte(s, '#')
	return i > 0 && dormancy.ValidRecordID(s[:i]) && dormancy.ValidFieldName(s[i+1:])
}

func recordKey(id, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"recordId": str(id), "sk": str(sk)}
}

func recordItem(r dormancy.Record) map[string]types.AttributeValue {
	fields := map[string]types.AttributeValue{}
	for f, u := range r.Fields {
		fields[f] = str(u)
	}
	it := map[string]types.AttributeValue{
		"recordId": str(r.ID), "sk": str(skRecord), "module": str(r.Module), "status": str(string(r.Status)),
		"fields": &types.AttributeValueMemberM{Value: fields}, "version": num(r.Version), "updatedAt": str(ts(r.UpdatedAt)),
	}
	if len(r.NeedsReassignment) > 0 {
		it["needsReassignment"] = &types.AttributeValueMemberSS{Value: r.NeedsReassignment}
	}
	if r.AuditHash != "" {
		it["auditHash"] = str(r.AuditHash)
	}
	return it
}

func recordFrom(it map[string]types.AttributeValue) (dormancy.Record, error) {
	s := attrs(it).str
	at, err := parseTS(s("updatedAt"))
	if err != nil {
		return dormancy.Record{}, fmt.Errorf("record %s: %w", s("recordId"), err)
	}
	r := dormancy.Record{ID: s("recordId"), Module: s("module"), Status: dormancy.RecordStatus(s("status")), Fields: map[string]string{}, UpdatedAt: at, AuditHash: s("auditHash")}
	if m, ok := it["fields"].(*types.AttributeValueMemberM); ok {
		for f, v := range m.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				r.Fields[f] = sv.Value
			}
		}
	}
	if ss, ok := it["needsReassignment"].(*types.AttributeValueMemberSS); ok {
		r.NeedsReassignment = append([]string(nil), ss.Value...)
		slices.Sort(r.NeedsReassignment)
	}
	r.Version = attrs(it).num("version")
	return r, nil
}

func refItem(ref dormancy.FieldRef) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"recordId": str(ref.RecordID), "sk": str(refPrefix + ref.Field), "refUserId": str(ref.UserID),
		"refKey": str(ref.RecordID + "#" + ref.Field), "field": str(ref.Field), "module": str(ref.Module),
	}
}

func queueItem(r dormancy.Record) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"recordId": str(r.ID), "sk": str(skQueue), "refUserId": str(queueKey), "refKey": str(r.ID), "module": str(r.Module),
	}
}

// GetRecord reads one record.
func (s *Store) GetRecord(ctx context.Context, id string) (dormancy.Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Records, Key: recordKey(id, skRecord), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return dormancy.Record{}, translate("get record "+id, err)
	}
	if out.Item == nil {
		return dormancy.Record{}, fmt.Errorf("record %s: %w", id, dormancy.ErrNotFound)
	}
	return recordFrom(out.Item)
}

// PutRecord creates a record (expectVersion 0) or replaces version
// expectVersion of it, keeping its reference and queue items in step, in one
// transaction. Every user a field names must be ACTIVE at that moment: the
// transaction checks each one, so a deactivation cannot slip in between. It
// returns the stored record; ErrConflict when the version moved (or the
// record exists, on create); ErrInvalid naming the field whose user is not
// active.
func (s *Store) PutRecord(ctx context.Context, r dormancy.Record, expectVersion int64, now time.Time) (dormancy.Record, error) {
	if err := r.Validate(); err != nil {
		return r, err
	}
	var old dormancy.Record
	if expectVersion != 0 {
		var err error
		if old, err = s.GetRecord(ctx, r.ID); err != nil {
			return r, err
		}
		if old.Version != expectVersion {
			return r, fmt.Errorf("record %s is at version %d, not %d: %w", r.ID, old.Version, expectVersion, dormancy.ErrConflict)
		}
	}
	r.AuditHash = old.AuditHash // an edit adds no entry: the chain's head stays
	r.PruneReassignment()
	r.Version = expectVersion + 1
	r.UpdatedAt = now.UTC()
	put := &types.Put{TableName: &s.tables.Records, Item: recordItem(r)}
	if expectVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(recordId)")
	} else {
		put.ConditionExpression = aws.String("version = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(expectVersion)}
	}
	items := []types.TransactWriteItem{{Put: put}}
	refs := map[string]bool{}
	if r.Status == dormancy.Open {
		for _, a := range r.Assigned() {
			a.RecordID, a.Module = r.ID, r.Module
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Records, Item: refItem(a)}})
			refs[a.Field] = true
		}
	}
	if old.Status == dormancy.Open {
		for _, a := range old.Assigned() {
			if !refs[a.Field] {
				items = append(items, s.retire(r.ID, refPrefix+a.Field))
			}
		}
	}
	if len(r.NeedsReassignment) > 0 {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Records, Item: queueItem(r)}})
	} else if len(old.NeedsReassignment) > 0 {
		items = append(items, s.retire(r.ID, skQueue))
	}
	// Each named user, once, must be active.
	firstCheck := len(items)
	checks := activeChecks(r.Assigned())
	for _, u := range checks {
		items = append(items, s.activeCheck(u))
	}
	if err := s.transact(ctx, items); err != nil {
		if i, ok := failedItem(err); ok && i >= firstCheck {
			u := checks[i-firstCheck]
			for _, a := range r.Assigned() {
				if a.UserID == u {
					return r, dormancy.Invalid("field %s: user %s is not an active user", a.Field, u)
				}
			}
		}
		return r, translate("put record "+r.ID, err)
	}
	return r, nil
}

// RefPage is a page of the open-record references naming one user.
type RefPage struct {
	Refs []dormancy.FieldRef
	Next string // an opaque cursor; empty after the last page
}

// OpenRecordsNaming lists the user fields of Open records that name userID,
// a page at a time; its cost follows those references, not the table.
func (s *Store) OpenRecordsNaming(ctx context.Context, userID string, cursor string) (RefPage, error) {
	start, err := decodeKeyCursor(cursor, keyShape{
		"recordId": dormancy.ValidRecordID, "sk": isRefSK, "refUserId": equals(userID), "refKey": isRefKey,
	})
	if err != nil {
		return RefPage{}, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Records, IndexName: aws.String(IndexByUser),
		KeyConditionExpression:    aws.String("refUserId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(userID)},
		Limit:                     aws.Int32(maxRefPage),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return RefPage{}, translate("records naming "+userID, err)
	}
	p := RefPage{Next: encodeCursor(out.LastEvaluatedKey)}
	for _, it := range out.Items {
		ref := dormancy.FieldRef{UserID: userID}
		if v, ok := it["recordId"].(*types.AttributeValueMemberS); ok {
			ref.RecordID = v.Value
		}
		if v, ok := it["field"].(*types.AttributeValueMemberS); ok {
			ref.Field = v.Value
		}
		if v, ok := it["module"].(*types.AttributeValueMemberS); ok {
			ref.Module = v.Value
		}
		p.Refs = append(p.Refs, ref)
	}
	return p, nil
}

// clearTries bounds how often a clearing starts over when another change
// to the same record (another field's clearing, an edit) came first.
const clearTries = 5

// Clear writes one clearing atomically: the field is emptied and flagged,
// only if the record is still Open and the field still names the user (a
// field someone re-assigned meanwhile is left alone: ErrConflict); its
// reference item goes, the record joins the queue, and the audit entry
// (on the record's chain) and RecordUserCleared event are written. The
// record's version is the condition that keeps its chain straight: a
// concurrent change to the record makes the clearing read it again.
func (s *Store) Clear(ctx context.Context, c dormancy.Clearing) error {
	ref := c.Ref
	for try := 1; ; try++ {
		r, err := s.GetRecord(ctx, ref.RecordID)
		if err != nil {
			if errors.Is(err, dormancy.ErrNotFound) {
				return fmt.Errorf("clear %s.%s: %w", ref.RecordID, ref.Field, dormancy.ErrConflict)
			}
			return err
		}
		if r.Status != dormancy.Open || r.Fields[ref.Field] != ref.UserID {
			return fmt.Errorf("clear %s.%s: the field no longer names %s: %w", ref.RecordID, ref.Field, ref.UserID, dormancy.ErrConflict)
		}
		err = s.clearOnce(ctx, c, r)
		if err == nil || try == clearTries {
			return translate(fmt.Sprintf("clear %s.%s", ref.RecordID, ref.Field), err)
		}
		if _, ok := failedItem(err); !ok {
			return translate(fmt.Sprintf("clear %s.%s", ref.RecordID, ref.Field), err)
		}
	}
}

func (s *Store) clearOnce(ctx context.Context, c dormancy.Clearing, r dormancy.Record) error {
	ref := c.Ref
	at := ts(c.Audit.OccurredAt)
	put, head := s.auditPut(c.Audit, r.AuditHash)
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.tables.Records, Key: recordKey(ref.RecordID, skRecord),
			UpdateExpression:         aws.String("SET #fields.#f = :empty, version = version + :one, updatedAt = :at, auditHash = :head ADD needsReassignment :flag"),
			ConditionExpression:      aws.String("#status = :open AND #fields.#f = :u AND version = :v"),
			ExpressionAttributeNames: map[string]string{"#fields": "fields", "#f": ref.Field, "#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":empty": str(""), ":one": num(1), ":at": str(at), ":flag": &types.AttributeValueMemberSS{Value: []string{ref.Field}},
				":open": str(string(dormancy.Open)), ":u": str(ref.UserID), ":v": num(r.Version), ":head": str(head),
			},
		}},
		s.retire(ref.RecordID, refPrefix+ref.Field),
		{Put: &types.Put{TableName: &s.tables.Records, Item: queueItem(dormancy.Record{ID: ref.RecordID, Module: ref.Module})}},
		{Put: put},
		{Put: s.outboxPut(eventOutboxItem(c.Event, c.Audit.UserAccount))},
	}
	return s.transact(ctx, items)
}

// retire takes a reference (or queue) item out of the byUser index by
// removing its index key. Nothing deletes from the Records table: no role
// holds DeleteItem on it, so a retired item stays, small and unindexed, until
// the same field is assigned again and the item is rewritten.
func (s *Store) retire(recordID, sk string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.tables.Records, Key: recordKey(recordID, sk),
		UpdateExpression: aws.String("REMOVE refUserId, refKey"),
	}}
}

// activeChecks lists, once each and in order, the users that refs name.
func activeChecks(refs []dormancy.FieldRef) []string {
	var out []string
	for _, a := range refs {
		if !slices.Contains(out, a.UserID) {
			out = append(out, a.UserID)
		}
	}
	return out
}

// activeCheck is a transaction's check that a user is ACTIVE.
func (s *Store) activeCheck(userID string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.tables.Users, Key: userKey(userID),
		ConditionExpression:       aws.String("#status = :active"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":active": str(string(dormancy.Active))},
	}}
}

// RecordPage is a page of records with an opaque cursor to the next.
type RecordPage struct {
	Records []dormancy.Record
	Cursor  string
}

// ReassignmentQueue lists the records with fields waiting for a new user.
func (s *Store) ReassignmentQueue(ctx context.Context, limit int32, cursor string) (RecordPage, error) {
	start, err := decodeKeyCursor(cursor, keyShape{
		"recordId": dormancy.ValidRecordID, "sk": equals(skQueue), "refUserId": equals(queueKey), "refKey": dormancy.ValidRecordID,
	})
	if err != nil {
		return RecordPage{}, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Records, IndexName: aws.String(IndexByUser),
		KeyConditionExpression:    aws.String("refUserId = :q"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":q": str(queueKey)},
		Limit:                     aws.Int32(limit), ExclusiveStartKey: start,
	})
	if err != nil {
		return RecordPage{}, translate("reassignment queue", err)
	}
	page := RecordPage{Cursor: encodeCursor(out.LastEvaluatedKey)}
	for _, it := range out.Items {
		id := it["recordId"].(*types.AttributeValueMemberS).Value
		r, err := s.GetRecord(ctx, id)
		if err != nil {
			return page, err
		}
		if len(r.NeedsReassignment) > 0 {
			page.Records = append(page.Records, r)
		}
	}
	return page, nil
}
