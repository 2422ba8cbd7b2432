package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// The Runs table (RUNS_TABLE) holds every run's record, under pk "RUN#" +
// kind with sk startedAt#runId (so a kind's runs read newest first), and,
// under pk "STATE", what lives between runs: the sweep's hold (sk "sweep")
// and the pool sync's place (sk "sync").

const (
	statePK      = "STATE"
	stateSweepSK = "sweep"
	stateSyncSK  = "sync"
)

func runPK(kind string) string { return "RUN#" + kind }

func runKey(r dormancy.Run) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(runPK(r.Kind)), "sk": str(ts(r.StartedAt) + "#" + r.RunID)}
}

// PutRun records a run, or updates its record (a sync that spans
// invocations keeps one record).
func (s *Store) PutRun(ctx context.Context, r dormancy.Run) error {
	policy, _ := json.Marshal(r.Policy)
	it := runKey(r)
	it["runId"], it["kind"], it["startedAt"] = str(r.RunID), str(r.Kind), str(ts(r.StartedAt))
	it["dryRun"], it["held"] = &types.AttributeValueMemberBOOL{Value: r.DryRun}, &types.AttributeValueMemberBOOL{Value: r.Held}
	it["policy"] = str(string(policy))
	if !r.EndedAt.IsZero() {
		it["endedAt"] = str(ts(r.EndedAt))
	}
	if r.HoldReason != "" {
		it["holdReason"] = str(r.HoldReason)
	}
	if len(r.Summary) > 0 {
		it["summary"] = str(string(r.Summary))
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Runs, Item: it})
	return translate("record run "+r.RunID, err)
}

func runFrom(it map[string]types.AttributeValue) (dormancy.Run, error) {
	a := attrs(it)
	r := dormancy.Run{RunID: a.str("runId"), Kind: a.str("kind"), HoldReason: a.str("holdReason")}
	var err error
	if r.StartedAt, err = parseTS(a.str("startedAt")); err != nil {
		return r, fmt.Errorf("run %s: %w", r.RunID, err)
	}
	if r.EndedAt, err = parseTS(a.str("endedAt")); err != nil {
		return r, fmt.Errorf("run %s: %w", r.RunID, err)
	}
	if b, ok := it["dryRun"].(*types.AttributeValueMemberBOOL); ok {
		r.DryRun = b.Value
	}
	if b, ok := it["held"].(*types.AttributeValueMemberBOOL); ok {
		r.Held = b.Value
	}
	if p := a.str("policy"); p != "" {
		if err := json.Unmarshal([]byte(p), &r.Policy); err != nil {
			return r, fmt.Errorf("run %s: policy: %w", r.RunID, err)
		}
	}
	if sum := a.str("summary"); sum != "" {
		r.Summary = json.RawMessage(sum)
	}
	return r, nil
}

// RunPage is a page of runs, newest first.
type RunPage struct {
	Runs   []dormancy.Run
	Cursor string
}

type runCursor struct {
	K string `json:"k"` // the sort key of the last run returned
}

var runSK = func(s string) bool {
	t, id, ok := strings.Cut(s, "#")
	return ok && isTimestamp(t) && id != "" && len(id) <= 128
}

// ListRuns lists runs of one kind, or of every kind when kind is empty,
// started between from and to, newest first.
func (s *Store) ListRuns(ctx context.Context, kind string, from, to time.Time, limit int, cursor string) (RunPage, error) {
	var cur runCursor
	if cursor != "" {
		if err := decodeJSONCursor(cursor, &cur); err != nil || !runSK(cur.K) {
			return RunPage{}, errBadCursor
		}
	}
	kinds := []string{dormancy.RunSweep, dormancy.RunSync}
	if kind != "" {
		kinds = []string{kind}
	}
	upper := ts(to) + "#~"
	if cur.K != "" && cur.K < upper {
		upper = cur.K
	}
	var all []dormancy.Run
	for _, k := range kinds {
		// Each kind reads at most limit+1 runs below the cursor: enough that
		// the newest limit of them all are among those read.
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:              &s.tables.Runs,
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(runPK(k)), ":from": str(ts(from)), ":to": str(upper),
			},
			ScanIndexForward: aws.Bool(false),
			Limit:            aws.Int32(int32(limit + 1)),
		})
		if err != nil {
			return RunPage{}, translate("list runs", err)
		}
		for _, it := range out.Items {
			if attrs(it).str("sk") == cur.K {
				continue // BETWEEN is inclusive: the cursor's own run was on the last page
			}
			r, err := runFrom(it)
			if err != nil {
				return RunPage{}, err
			}
			all = append(all, r)
		}
	}
	sk := func(r dormancy.Run) string { return ts(r.StartedAt) + "#" + r.RunID }
	sort.Slice(all, func(i, j int) bool { return sk(all[i]) > sk(all[j]) })
	var page RunPage
	if len(all) > limit {
		all = all[:limit]
		page.Cursor = encodeJSONCursor(runCursor{K: sk(all[limit-1])})
	}
	page.Runs = all
	return page, nil
}

// SweepHold reads the sweep's hold (zero when none was ever recorded).
func (s *Store) SweepHold(ctx context.Context) (dormancy.SweepHold, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.tables.Runs, Key: map[string]types.AttributeValue{"pk": str(statePK), "sk": str(stateSweepSK)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return dormancy.SweepHold{}, translate("read sweep hold", err)
	}
	if out.Item == nil {
		return dormancy.SweepHold{}, nil
	}
	var h dormancy.SweepHold
	if err := json.Unmarshal([]byte(attrs(out.Item).str("hold")), &h); err != nil {
		return h, fmt.Errorf("sweep hold: %w", err)
	}
	h.Version = attrs(out.Item).num("version")
	return h, nil
}

// holdPut writes the sweep's hold, on the condition that it is still the
// version read (0: none yet).
func (s *Store) holdPut(h dormancy.SweepHold) *types.Put {
	expect := h.Version
	h.Version++
	b, _ := json.Marshal(h)
	p := &types.Put{
		TableName: &s.tables.Runs,
		Item: map[string]types.AttributeValue{
			"pk": str(statePK), "sk": str(stateSweepSK), "hold": str(string(b)), "version": num(h.Version),
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(expect)},
	}
	return p
}

// HoldSweep records a held run: the hold, its audit entry and its
// SweepHeld event, in one transaction.
func (s *Store) HoldSweep(ctx context.Context, h dormancy.SweepHold, audit dormancy.AuditEntry, ev dormancy.Event) error {
	put, head := s.auditPut(audit, h.AuditHash)
	h.AuditHash = head
	err := s.transact(ctx, []types.TransactWriteItem{
		{Put: s.holdPut(h)},
		{Put: put},
		{Put: s.outboxPut(eventOutboxItem(ev, ""))},
	})
	return translate("hold sweep "+h.RunID, err)
}

// ReleaseSweep records an admin's release of a held sweep, with its audit
// entry, if the hold is still as read: ErrConflict otherwise.
func (s *Store) ReleaseSweep(ctx context.Context, h dormancy.SweepHold, audit dormancy.AuditEntry) error {
	put, head := s.auditPut(audit, h.AuditHash)
	h.AuditHash = head
	err := s.transact(ctx, []types.TransactWriteItem{{Put: s.holdPut(h)}, {Put: put}})
	return translate("release sweep "+h.RunID, err)
}

// ClearSweepHold ends a hold once a run went ahead.
func (s *Store) ClearSweepHold(ctx context.Context, h dormancy.SweepHold) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.tables.Runs, Item: func() map[string]types.AttributeValue {
			p := s.holdPut(dormancy.SweepHold{Version: h.Version, AuditHash: h.AuditHash})
			return p.Item
		}(),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(h.Version)},
	})
	return translate("clear sweep hold", err)
}

// SyncState is where the pool sync is: the run in progress, the page it
// resumes from, what it has counted so far, and until when the invocation
// working on it holds it.
type SyncState struct {
	RunID     string    `json:"runId"`
	StartedAt time.Time `json:"startedAt"`
	// Token is Cognito's ListUsers pagination token of the next page; empty
	// before the first page.
	Token         string    `json:"token,omitempty"`
	Listed        int       `json:"listed"`
	Imported      int       `json:"imported"`
	GroupsUpdated int       `json:"groupsUpdated"`
	Matched       int       `json:"matched"` // listed users Dormancy knew or brought in
	Complete      bool      `json:"complete"`
	LeaseUntil    time.Time `json:"leaseUntil"`
	Version       int64     `json:"-"`
}

// SyncState reads the pool sync's state (zero when no sync ever ran).
func (s *Store) SyncState(ctx context.Context) (SyncState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.tables.Runs, Key: map[string]types.AttributeValue{"pk": str(statePK), "sk": str(stateSyncSK)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return SyncState{}, translate("read sync state", err)
	}
	if out.Item == nil {
		return SyncState{}, nil
	}
	var st SyncState
	if err := json.Unmarshal([]byte(attrs(out.Item).str("state")), &st); err != nil {
		return st, fmt.Errorf("sync state: %w", err)
	}
	st.Version = attrs(out.Item).num("version")
	return st, nil
}

// SaveSync writes the sync's state if it is still the version read, and
// returns it at its new version; ErrConflict means another invocation wrote
// it meanwhile (and this one must stop).
func (s *Store) SaveSync(ctx context.Context, st SyncState) (SyncState, error) {
	b, _ := json.Marshal(st)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.tables.Runs,
		Item: map[string]types.AttributeValue{
			"pk": str(statePK), "sk": str(stateSyncSK), "state": str(string(b)), "version": num(st.Version + 1),
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(st.Version)},
	})
	if err != nil {
		return st, translate("save sync state", err)
	}
	st.Version++
	return st, nil
}

// UsersByID reads the users with the given ids; unknown ones are absent.
func (s *Store) UsersByID(ctx context.Context, ids []string) (map[string]dormancy.User, error) {
	refs := make([]dormancy.FieldRef, len(ids))
	for i, id := range ids {
		refs[i].UserID = id
	}
	return s.usersByID(ctx, refs)
}
