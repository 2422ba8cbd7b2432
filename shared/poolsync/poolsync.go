// Package poolsync brings an existing pool's users into Dormancy (spec
// §12): it pages through the pool, brings in every user Dormancy does not
// know (creationSource blank, audit source PoolSync, activity measured from
// the sync, groups and e-mail from the pool), updates the groups and e-mail
// of the users it knows, and counts those it knows that the pool no longer
// has. A pool too big for one invocation is finished by the next ones: the
// sync saves its place after every page, under a lease, so a second sync
// started meanwhile does not go over the same pages.
package poolsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/eventrules"
)

// Store is what a sync needs from the data store.
type Store interface {
	SyncState(ctx context.Context) (dynamo.SyncState, error)
	SaveSync(ctx context.Context, st dynamo.SyncState) (dynamo.SyncState, error)
	UsersByID(ctx context.Context, ids []string) (map[string]dormancy.User, error)
	CreateUsers(ctx context.Context, users []dormancy.User, audits []dormancy.AuditEntry) ([]bool, error)
	SetProfile(ctx context.Context, userID string, p dynamo.Profile) error
	CountUsers(ctx context.Context) (dynamo.Counts, error)
	PutRun(ctx context.Context, r dormancy.Run) error
}

// Cognito is the part of the Cognito client a sync reads the pool with.
// Quota categories (Cognito's defaults, per account and Region, as
// documented when this was written; check Service Quotas): ListUsers and
// ListUsersInGroup are UserList (30 requests a second), ListGroups is
// UserPoolResourceRead (20). The sync stays below both at SYNC_RPS (10 by
// default) for all its calls together.
type Cognito interface {
	ListUsers(ctx context.Context, in *cip.ListUsersInput, o ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	ListGroups(ctx context.Context, in *cip.ListGroupsInput, o ...func(*cip.Options)) (*cip.ListGroupsOutput, error)
	ListUsersInGroup(ctx context.Context, in *cip.ListUsersInGroupInput, o ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error)
}

// Syncer runs pool syncs.
type Syncer struct {
	Store   Store
	Cognito Cognito
	PoolID  string
	// Limiter paces every Cognito call; throttling halves its rate for the
	// rest of the invocation.
	Limiter *rate.Limiter
	Now     func() time.Time // the policy's clock: when users are brought in
	// Policy is the policy in force, recorded with each run (spec §14).
	Policy dormancy.RunPolicy
	Log    *slog.Logger
	// Reserve: no new page is started with less than this left before the
	// invocation's deadline.
	Reserve time.Duration
	// Lease is how long an invocation holds the sync without saving; it
	// renews it with every page. By default the invocation's time.
	Lease time.Duration
	// clock is real time, for leases and deadlines (tests may move it).
	clock func() time.Time
}

// New returns a syncer over the pool.
func New(store Store, cognito Cognito, poolID string, rps float64, now func() time.Time, log *slog.Logger) *Syncer {
	return &Syncer{Store: store, Cognito: cognito, PoolID: poolID, Limiter: rate.NewLimiter(rate.Limit(rps), 1), Now: now, Log: log}
}

// Summary is what a sync returns and records (spec §12).
type Summary struct {
	RunID           string `json:"runId"`
	Listed          int    `json:"listed"`
	Imported        int    `json:"imported"`
	GroupsUpdated   int    `json:"groupsUpdated"`
	MissingFromPool int    `json:"missingFromPool"`
	Complete        bool   `json:"complete"`
	DurationMs      int64  `json:"durationMs"`
	// Busy: another invocation holds the sync; this one did nothing.
	Busy bool `json:"busy,omitempty"`
}

// Input is a direct invocation's payload: POST /sync passes the run's id.
type Input struct {
	RunID string `json:"runId"`
}

// ErrBadInput: the payload is neither the schedule's event nor {"runId"}.
var ErrBadInput = errors.New("invalid pool sync input")

// Handle is the Lambda handler.
func (s *Syncer) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	in, err := ParseInput(raw)
	if err != nil {
		return Summary{}, err
	}
	return s.Run(ctx, in.RunID)
}

// ParseInput accepts a scheduled event, an empty payload or {"runId": "…"}.
func ParseInput(raw json.RawMessage) (Input, error) {
	fields, err := eventrules.Invocation(raw, "runId")
	if err != nil {
		return Input{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	var in Input
	if v, ok := fields["runId"]; ok {
		if err := json.Unmarshal(v, &in.RunID); err != nil || !validRunID(in.RunID) {
			return Input{}, fmt.Errorf("%w: runId must be an id", ErrBadInput)
		}
	}
	return in, nil
}

func validRunID(s string) bool { return dormancy.ValidUserID(s) }

// Run syncs, or carries on the sync in progress. runID names a new run
// (POST /sync passes the id it answered with); empty makes one up.
func (s *Syncer) Run(ctx context.Context, runID string) (Summary, error) {
	started := s.realNow()
	st, err := s.claim(ctx, runID)
	if errors.Is(err, errBusy) {
		s.Log.InfoContext(ctx, "another pool sync is running; nothing to do", "runId", st.RunID)
		return Summary{RunID: st.RunID, Busy: true}, nil
	}
	if err != nil {
		return Summary{}, fmt.Errorf("pool sync: %w", err)
	}
	log := s.Log.With("runId", st.RunID)
	st, err = s.sync(ctx, log, st)
	sum := Summary{RunID: st.RunID, Listed: st.Listed, Imported: st.Imported, GroupsUpdated: st.GroupsUpdated, Complete: st.Complete}
	if st.Complete {
		counts, cerr := s.Store.CountUsers(ctx)
		if cerr != nil && err == nil {
			err = cerr
		}
		sum.MissingFromPool = max(0, counts.Known()-st.Matched)
	}
	sum.DurationMs = s.realNow().Sub(started).Milliseconds()
	s.record(ctx, log, st, sum)
	log.InfoContext(ctx, "pool sync finished", "summary", sum, "err", err)
	if err != nil {
		return sum, fmt.Errorf("pool sync %s: %w", st.RunID, err)
	}
	return sum, nil
}

var errBusy = errors.New("another pool sync holds the lease")

// claim takes the sync for this invocation: the run in progress if there
// is one nobody holds (or it is the one asked for), else a new run.
func (s *Syncer) claim(ctx context.Context, runID string) (dynamo.SyncState, error) {
	st, err := s.Store.SyncState(ctx)
	if err != nil {
		return st, err
	}
	now := s.realNow()
	inProgress := st.RunID != "" && !st.Complete
	switch {
	case inProgress && st.LeaseUntil.After(now) && st.RunID != runID:
		return st, errBusy
	case !inProgress:
		if runID == "" {
			runID = dormancy.StableID("PoolSync", dormancy.FormatTime(now), fmt.Sprint(now.UnixNano()))
		}
		st = dynamo.SyncState{RunID: runID, StartedAt: s.Now().UTC(), Version: st.Version}
	}
	st.LeaseUntil = now.Add(s.lease(ctx))
	st, err = s.Store.SaveSync(ctx, st)
	if errors.Is(err, dormancy.ErrConflict) {
		return st, errBusy // another invocation claimed it first
	}
	return st, err
}

func (s *Syncer) lease(ctx context.Context) time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) + time.Minute
	}
	return 15 * time.Minute
}

// sync reads the groups, then the users page by page from where the run
// stopped, saving its place after each page.
func (s *Syncer) sync(ctx context.Context, log *slog.Logger, st dynamo.SyncState) (dynamo.SyncState, error) {
	groups, err := s.memberships(ctx)
	if err != nil {
		return st, fmt.Errorf("read the pool's groups: %w", err)
	}
	// The next page is read while this one is written: the sync keeps
	// Cognito's pace instead of adding its writes to it.
	type listed struct {
		page *cip.ListUsersOutput
		err  error
	}
	fetch := func(token string) <-chan listed {
		ch := make(chan listed, 1)
		go func() {
			in := &cip.ListUsersInput{UserPoolId: &s.PoolID, Limit: aws.Int32(60)}
			if token != "" {
				in.PaginationToken = aws.String(token)
			}
			var l listed
			l.err = s.call(ctx, func() error { var e error; l.page, e = s.Cognito.ListUsers(ctx, in); return e })
			ch <- l
		}()
		return ch
	}
	next := fetch(st.Token)
	for {
		if s.outOfTime(ctx) {
			log.InfoContext(ctx, "pool sync stopped before the deadline; the next run carries on", "listed", st.Listed)
			return st, nil
		}
		l := <-next
		if l.err != nil {
			return st, fmt.Errorf("list users: %w", l.err)
		}
		page := l.page
		if page.PaginationToken != nil {
			next = fetch(*page.PaginationToken)
		}
		if err := s.page(ctx, log, page.Users, groups, &st); err != nil {
			return st, err
		}
		st.Token = aws.ToString(page.PaginationToken)
		st.Complete = st.Token == ""
		st.LeaseUntil = s.realNow().Add(s.lease(ctx))
		if st, err = s.Store.SaveSync(ctx, st); err != nil {
			return st, fmt.Errorf("save the sync's place: %w", err)
		}
		if st.Complete {
			return st, nil
		}
	}
}

// pageWriters is how many of a page's users are written at once.
const pageWriters = 32

// page brings in the page's unknown users and updates the known ones,
// pageWriters at once: a page's writes must keep up with the pace of
// Cognito's reads.
func (s *Syncer) page(ctx context.Context, log *slog.Logger, users []cipt.UserType, groups map[string][]string, st *dynamo.SyncState) error {
	var ids []string
	for _, u := range users {
		if id := attr(u, "sub"); id != "" {
			ids = append(ids, id)
		}
	}
	known, err := s.Store.UsersByID(ctx, ids)
	if err != nil {
		return fmt.Errorf("read known users: %w", err)
	}
	now := s.Now()
	var mu sync.Mutex
	count := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	var newUsers []dormancy.User
	var newAudits []dormancy.AuditEntry
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pageWriters)
	for _, cu := range users {
		id, name := attr(cu, "sub"), aws.ToString(cu.Username)
		if !dormancy.ValidUserID(id) || !dormancy.ValidUsername(name) {
			log.WarnContext(ctx, "pool user skipped: not a sub and user name Dormancy can keep", "username", name)
			continue
		}
		count(func() { st.Listed++ })
		groups, email := groups[name], dormancy.Email(attr(cu, "email"))
		if groups == nil {
			groups = []string{}
		}
		if u, ok := known[id]; ok {
			count(func() { st.Matched++ })
			p := dynamo.ProfileChange(u, groups, email)
			if p == nil {
				continue
			}
			g.Go(func() error {
				if err := s.Store.SetProfile(gctx, id, *p); err != nil && !errors.Is(err, dormancy.ErrNotFound) {
					return fmt.Errorf("update %s: %w", id, err)
				}
				if p.Groups != nil {
					count(func() { st.GroupsUpdated++ })
				}
				return nil
			})
			continue
		}
		created := now
		if cu.UserCreateDate != nil && cu.UserCreateDate.Before(now) {
			created = *cu.UserCreateDate
		}
		// Users that existed before Dormancy: no creation source, activity
		// measured from now, so nobody is deactivated on the day of adoption.
		nu, audit := dormancy.NewAccount(id, name, groups, "", dormancy.SystemActor, created, now)
		nu.ImportedAt, nu.Email = now.UTC(), email
		audit.Source = dormancy.SourcePoolSync
		newUsers, newAudits = append(newUsers, nu), append(newAudits, audit)
	}
	// The page's new users, a few transactions at once.
	for start := 0; start < len(newUsers); start += createBatch {
		end := min(start+createBatch, len(newUsers))
		g.Go(func() error {
			created, err := s.Store.CreateUsers(gctx, newUsers[start:end], newAudits[start:end])
			for _, ok := range created {
				count(func() {
					st.Matched++ // created, or brought in meanwhile (a sign-in, or this page's earlier try)
					if ok {
						st.Imported++
					}
				})
			}
			if err != nil {
				return fmt.Errorf("bring in users: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// createBatch is how many new users one write brings in (a transaction).
const createBatch = 30

func (s *Syncer) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	reserve := s.Reserve
	if reserve == 0 {
		reserve = 30 * time.Second
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < reserve
}

func (s *Syncer) realNow() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// record writes (or updates) the run's record.
func (s *Syncer) record(ctx context.Context, log *slog.Logger, st dynamo.SyncState, sum Summary) {
	b, _ := json.Marshal(sum)
	r := dormancy.Run{RunID: st.RunID, Kind: dormancy.RunSync, StartedAt: st.StartedAt, Summary: b, Policy: s.Policy}
	if st.Complete {
		r.EndedAt = s.Now().UTC()
	}
	if err := s.Store.PutRun(context.WithoutCancel(ctx), r); err != nil {
		log.ErrorContext(ctx, "cannot record the sync run", "err", err)
	}
}

func attr(u cipt.UserType, name string) string {
	for _, a := range u.Attributes {
		if aws.ToString(a.Name) == name {
			return strings.TrimSpace(aws.ToString(a.Value))
		}
	}
	return ""
}
