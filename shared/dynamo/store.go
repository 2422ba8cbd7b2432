package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// API is the part of the DynamoDB client the store calls.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Store reads and writes Dormancy's tables.
type Store struct {
	db     API
	tables Tables
	// unchained writes audit entries without hashes: the bench's baseline
	// for what the chain costs, never a function's store.
	unchained bool
}

// Unchained is the store writing audit entries without their chain, for
// make bench to measure the chain's cost against; no function uses it.
func (s *Store) Unchained() *Store {
	c := *s
	c.unchained = true
	return &c
}

// New returns a store over the given tables.
func New(db API, tables Tables) *Store { return &Store{db: db, tables: tables} }

// Tables returns the names the store works on.
func (s *Store) Tables() Tables { return s.tables }

// Shards of the sparse user indexes, and of the outbox.
const (
	UserShards       = 16
	outboxShardCount = 4
)

func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// SweepShards lists the bySweep partition keys a sweep reads: the not-yet-
// warned ("A#nn") and the warned ("W#nn") shards.
func SweepShards(warned bool) []string {
	p := "A#"
	if warned {
		p = "W#"
	}
	out := make([]string, UserShards)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", p, i)
	}
	return out
}

// ts formats a time for storage; the zero time is stored as absent.
func ts(t time.Time) string { return dormancy.FormatTime(t) }

func parseTS(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(dormancy.TimeLayout, s)
}

// attrs reads the attributes of an item; a missing or differently typed
// attribute reads as the zero value.
type attrs map[string]types.AttributeValue

func (a attrs) str(k string) string {
	if v, ok := a[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (a attrs) num(k string) int64 {
	if v, ok := a[k].(*types.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return 0
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

// translate turns a DynamoDB error into the domain's: a failed condition is
// dormancy.ErrConflict, a cancelled transaction is ErrConflict when a
// condition (or a concurrent transaction) cancelled it, and anything else is
// ErrUnavailable. It is the only place that knows DynamoDB's error types.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%s: %w", op, dormancy.ErrConflict)
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed", "TransactionConflict":
				return fmt.Errorf("%s: %s: %w", op, reasons(tce), dormancy.ErrConflict)
			}
		}
		return fmt.Errorf("%s: %s: %w: %v", op, reasons(tce), dormancy.ErrUnavailable, err)
	}
	var tip *types.TransactionInProgressException
	if errors.As(err, &tip) {
		return fmt.Errorf("%s: %w", op, dormancy.ErrConflict)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", op, dormancy.ErrUnavailable, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" {
		// A request DynamoDB refused as malformed is a bug or bad input, not
		// an outage. Its text names indexes and keys: the client gets the
		// fixed words of errRefused, the log the rest.
		return fmt.Errorf("%s: %w (DynamoDB refused the request: %v)", op, errRefused, err)
	}
	return fmt.Errorf("%s: %w: %v", op, dormancy.ErrUnavailable, err)
}

// onlyConflicts reports whether a cancelled transaction lost only to
// concurrent transactions (no condition of its own failed).
func onlyConflicts(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	conflict := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}

// failedItem says which item of a cancelled transaction failed its
// condition.
func failedItem(err error) (int, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return 0, false
	}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			return i, true
		}
	}
	return 0, false
}

func reasons(tce *types.TransactionCanceledException) string {
	var parts []string
	for _, r := range tce.CancellationReasons {
		parts = append(parts, aws.ToString(r.Code))
	}
	return "cancelled [" + strings.Join(parts, " ") + "]"
}

var errRefused = dormancy.BadInput("the request cannot be served as given")

func isConflict(err error) bool { return errors.Is(err, dormancy.ErrConflict) }

// conditionItem returns the item DynamoDB sent back with a failed condition
// (nil when the item did not exist).
func conditionItem(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, false
	}
	return ccf.Item, true
}
