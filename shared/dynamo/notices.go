package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Notices (NOTICES_TABLE), partition key eventId (S): one item per event a
// notice (an e-mail) is, or was, being sent for, so that an event delivered
// again mails nobody twice. Sending is claimed before the mail goes out and
// marked sent once SES accepted it:
//
//   - status SENDING with claimToken and leaseUntil: a delivery is sending
//     it. Another delivery cannot claim it until the lease has run out, so a
//     crash between claiming and sending loses the mail only until then;
//   - status FAILED: SES refused or could not be reached; the claim was
//     given back, and the next delivery claims and sends it again;
//   - status SENT (sentAt, messageId): done; every later delivery sends
//     nothing.
//
// attempts counts the claims; lastError keeps the latest failure. expiresAt
// (epoch seconds, the table's TTL attribute) lets DynamoDB delete an item
// NoticeRetention after its last claim: EventBridge gives up on an event
// long before (24 h), so no delivery can come after it is gone.
const (
	NoticeSending = "SENDING"
	NoticeSent    = "SENT"
	NoticeFailed  = "FAILED"
)

// NoticeRetention is how long a notice is kept after its last claim.
const NoticeRetention = 30 * 24 * time.Hour

var (
	// ErrNoticeSent: the event's notice was sent already.
	ErrNoticeSent = fmt.Errorf("notice already sent: %w", dormancy.ErrConflict)
	// ErrNoticeBusy: another delivery holds an unexpired claim on it.
	ErrNoticeBusy = fmt.Errorf("notice being sent by another delivery: %w", dormancy.ErrConflict)
)

// NoticeClaim is a delivery's hold on an event's notice.
type NoticeClaim struct {
	EventID string
	Token   string
	Attempt int       // 1 for the first claim
	Until   time.Time // the lease: when another delivery may claim it
}

// Notice is the stored state of an event's notice.
type Notice struct {
	EventID    string
	Kind       string // the event's detail type
	Status     string
	Attempts   int
	ClaimedAt  time.Time
	LeaseUntil time.Time
	SentAt     time.Time
	MessageID  string
	LastError  string
	ExpiresAt  time.Time
}

func noticeKey(eventID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"eventId": str(eventID)}
}

// ClaimNotice claims the sending of an event's notice for lease from now: it
// succeeds for an event never claimed, one whose sending failed, and one
// whose last claim has run out (a delivery that crashed). It returns
// ErrNoticeSent when the notice was sent already and ErrNoticeBusy while
// another delivery's claim holds.
func (s *Store) ClaimNotice(ctx context.Context, eventID, kind string, now time.Time, lease time.Duration) (NoticeClaim, error) {
	if eventID == "" || lease <= 0 {
		return NoticeClaim{}, fmt.Errorf("claim notice: %w", errRefused)
	}
	c := NoticeClaim{EventID: eventID, Token: newToken(), Until: now.Add(lease).UTC()}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.tables.Notices,
		Key:       noticeKey(eventID),
		UpdateExpression: aws.String("SET #s = :sending, claimToken = :tok, leaseUntil = :until, claimedAt = :now, kind = :kind, expiresAt = :exp " +
			"ADD attempts :one"),
		ConditionExpression:      aws.String("attribute_not_exists(eventId) OR #s = :failed OR (#s = :sending AND leaseUntil < :now)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sending": str(NoticeSending), ":failed": str(NoticeFailed), ":tok": str(c.Token),
			":until": str(ts(c.Until)), ":now": str(ts(now)), ":kind": str(kind),
			":exp": num(now.Add(NoticeRetention).Unix()), ":one": num(1),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		if old, ok := conditionItem(err); ok {
			n, _ := noticeFrom(old)
			if n.Status == NoticeSent {
				return c, fmt.Errorf("notice of event %s (sent %s): %w", eventID, ts(n.SentAt), ErrNoticeSent)
			}
			return c, fmt.Errorf("notice of event %s (claimed until %s): %w", eventID, ts(n.LeaseUntil), ErrNoticeBusy)
		}
		return c, translate("claim notice "+eventID, err)
	}
	c.Attempt = int(attrs(out.Attributes).num("attempts"))
	return c, nil
}

// MarkNoticeSent records that SES accepted the claimed notice. It holds
// whoever claims the notice now: the mail went out, so no later delivery
// may send it again.
func (s *Store) MarkNoticeSent(ctx context.Context, c NoticeClaim, messageID string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.tables.Notices,
		Key:                      noticeKey(c.EventID),
		UpdateExpression:         aws.String("SET #s = :sent, sentAt = :at, messageId = :mid, expiresAt = :exp REMOVE claimToken, leaseUntil"),
		ConditionExpression:      aws.String("attribute_exists(eventId)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sent": str(NoticeSent), ":at": str(ts(at)), ":mid": str(messageID), ":exp": num(at.Add(NoticeRetention).Unix()),
		},
	})
	return translate("mark notice "+c.EventID+" sent", err)
}

// ReleaseNotice gives a claim back after a failed send, so that the next
// delivery sends the notice at once instead of waiting out the lease. It
// changes nothing (and returns ErrConflict) when the claim is no longer
// this one's: another delivery took it over, or sent it.
func (s *Store) ReleaseNotice(ctx context.Context, c NoticeClaim, cause string, at time.Time) error {
	if len(cause) > 1000 {
		cause = cause[:1000]
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.tables.Notices,
		Key:                      noticeKey(c.EventID),
		UpdateExpression:         aws.String("SET #s = :failed, lastError = :cause, failedAt = :at REMOVE claimToken, leaseUntil"),
		ConditionExpression:      aws.String("#s = :sending AND claimToken = :tok"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": str(NoticeFailed), ":sending": str(NoticeSending), ":tok": str(c.Token),
			":cause": str(cause), ":at": str(ts(at)),
		},
	})
	return translate("release notice "+c.EventID, err)
}

// Notice reads an event's notice with a strongly consistent read;
// ErrNotFound when none was ever claimed.
func (s *Store) Notice(ctx context.Context, eventID string) (Notice, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.tables.Notices, Key: noticeKey(eventID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Notice{}, translate("get notice "+eventID, err)
	}
	if out.Item == nil {
		return Notice{}, fmt.Errorf("notice of event %s: %w", eventID, dormancy.ErrNotFound)
	}
	return noticeFrom(out.Item)
}

func noticeFrom(item map[string]types.AttributeValue) (Notice, error) {
	a := attrs(item)
	n := Notice{
		EventID: a.str("eventId"), Kind: a.str("kind"), Status: a.str("status"), Attempts: int(a.num("attempts")),
		MessageID: a.str("messageId"), LastError: a.str("lastError"),
	}
	if e := a.num("expiresAt"); e > 0 {
		n.ExpiresAt = time.Unix(e, 0).UTC()
	}
	var errs []error
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"claimedAt", &n.ClaimedAt}, {"leaseUntil", &n.LeaseUntil}, {"sentAt", &n.SentAt}} {
		t, err := parseTS(a.str(f.name))
		if err != nil {
			errs = append(errs, fmt.Errorf("notice %s: %s: %w", n.EventID, f.name, err))
		}
		*f.dst = t
	}
	return n, errors.Join(errs...)
}

// newToken tells one claim from another.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
