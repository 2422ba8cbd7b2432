// Package sweeper deactivates users whose last activity is past their
// threshold, warns those about to be, and has their events and sign-outs
// delivered. It reads only users at or past a cut-off, from the sparse,
// sharded activity index: its cost follows the dormant users, not the table.
package sweeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// Store is what a sweep needs from the data store.
type Store interface {
	SweepCandidates(ctx context.Context, shard string, cutoff time.Time, limit int32, cursor string) (dynamo.SweepPage, error)
	Apply(ctx context.Context, c dormancy.Change) error
}

// Relay delivers what the outbox owes.
type Relay interface {
	Flush(ctx context.Context) (outbox.Result, error)
}

// Sweeper runs sweeps.
type Sweeper struct {
	Store  Store
	Relay  Relay
	Policy dormancy.Policy
	Now    func() time.Time // the policy's clock (movable in the local stack)
	Log    *slog.Logger
	// Metrics receives one CloudWatch Embedded Metric Format line per sweep.
	Metrics io.Writer
	// Readers is how many index shards are read at once; Writers how many
	// deactivations are written at once.
	Readers, Writers int
	// Reserve: no new work is taken once less than this much of the
	// invocation's time is left (spec: 30 s).
	Reserve time.Duration
	// TimeLeft reports the invocation's remaining time; by default from the
	// context's deadline (Lambda sets it), unlimited without one.
	TimeLeft func(ctx context.Context) time.Duration
	// PageSize is the Query limit per index page.
	PageSize int32
}

// New returns a sweeper with the concurrency it runs with in Lambda: four
// shard readers, sixteen writers. now is the policy's clock.
func New(store Store, relay Relay, policy dormancy.Policy, now func() time.Time, log *slog.Logger) *Sweeper {
	return &Sweeper{Store: store, Relay: relay, Policy: policy, Now: now, Log: log, Readers: 4, Writers: 16}
}

// Summary is what a sweep returns and logs (spec §5).
type Summary struct {
	Examined        int   `json:"examined"`
	Deactivated     int   `json:"deactivated"`
	Warned          int   `json:"warned"`
	Exempt          int   `json:"exempt"`
	EventsPublished int   `json:"eventsPublished"`
	EventsPending   int   `json:"eventsPending"`
	DryRun          bool  `json:"dryRun"`
	DurationMs      int64 `json:"durationMs"`
	ItemsRead       int   `json:"itemsRead"`
	Raced           int   `json:"raced"`  // changed by someone else between read and write; left alone
	Failed          int   `json:"failed"` // writes that failed; retried by the next sweep
	SignedOut       int   `json:"signedOut"`
	SignOutsPending int   `json:"signOutsPending"`
	Complete        bool  `json:"complete"` // false: stopped early for time, the next run carries on
	// A dry run's answer: who would be deactivated and warned, the first
	// DryRunListCap of each (the answer must stay far below Lambda's 6 MB at
	// any scale); the full numbers are WouldDeactivateCount and
	// WouldWarnCount.
	WouldDeactivate      []string `json:"wouldDeactivate,omitempty"`
	WouldWarn            []string `json:"wouldWarn,omitempty"`
	WouldDeactivateCount int      `json:"wouldDeactivateCount,omitempty"`
	WouldWarnCount       int      `json:"wouldWarnCount,omitempty"`
}

// DryRunListCap bounds the user ids a dry run lists per kind.
const DryRunListCap = 1000

// Input is a direct invocation's payload.
type Input struct {
	DryRun bool `json:"dryRun"`
}

// ErrBadInput: the invocation payload is neither the schedule's event nor
// {"dryRun": bool}. Nothing is done for it.
var ErrBadInput = errors.New("invalid sweeper input")

// Handle is the Lambda handler: an EventBridge scheduled event sweeps for
// real; {"dryRun": true} reports without changing anything.
func (s *Sweeper) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	in, err := ParseInput(raw)
	if err != nil {
		return Summary{}, err
	}
	return s.Run(ctx, in.DryRun)
}

// ParseInput accepts a scheduled event (any EventBridge envelope from
// aws.events), an empty payload, or {"dryRun": bool} and nothing else.
func ParseInput(raw json.RawMessage) (Input, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return Input{}, nil
	}
	var probe map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&probe); err != nil || dec.More() {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return Input{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, ok := probe["detail-type"]; ok {
		var src string
		json.Unmarshal(probe["source"], &src)
		if src != "aws.events" {
			return Input{}, fmt.Errorf("%w: event from %q is not the schedule's", ErrBadInput, src)
		}
		return Input{}, nil
	}
	// encoding/json matches keys case-insensitively; the contract is exact.
	var in Input
	for k, v := range probe {
		if k != "dryRun" {
			return Input{}, fmt.Errorf(`%w: unknown field %q (want {"dryRun": true|false})`, ErrBadInput, k)
		}
		if err := json.Unmarshal(v, &in.DryRun); err != nil {
			return Input{}, fmt.Errorf(`%w: dryRun must be true or false`, ErrBadInput)
		}
	}
	return in, nil
}

// Run sweeps once. Lambda's deadline (ctx) bounds it: it stops taking new
// work when Reserve is left, and the next run carries on where it stopped.
func (s *Sweeper) Run(ctx context.Context, dryRun bool) (Summary, error) {
	started := time.Now()
	r := &run{s: s, ctx: ctx, now: s.Now(), dryRun: dryRun, jobs: make(chan func(), 64)}
	r.sum.DryRun = dryRun
	if !dryRun && s.Relay != nil {
		// Events and sign-outs owed by earlier runs, the login hook and the
		// API go first, but only for a share of the time: a backlog of
		// sign-outs must never keep a run from sweeping (spec §5). What is
		// left waits for the flush after the sweep, and the next run.
		res, err := s.flush(ctx, s.openingBudget(ctx))
		r.sum.EventsPublished += res.Published
		r.sum.SignedOut += res.SignedOut
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			s.Log.ErrorContext(ctx, "flushing owed events failed", "err", err)
		}
	}
	r.sweep()
	if !dryRun && s.Relay != nil {
		res, err := s.flush(ctx, 0)
		r.sum.EventsPublished += res.Published
		r.sum.SignedOut += res.SignedOut
		r.sum.EventsPending, r.sum.SignOutsPending = res.EventsPending, res.SignOutsPending
		if err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "publishing events failed", "err", err)
			r.fail(err)
		}
		if res.EventsPending > 0 || res.SignOutsPending > 0 {
			r.stopped.Store(true)
		}
	}
	sum := r.summary()
	sum.DurationMs = time.Since(started).Milliseconds()
	s.Log.InfoContext(ctx, "sweep finished", "summary", sum)
	s.emitMetrics(sum)
	if r.firstErr != nil && sum.Examined == 0 {
		// Nothing could be read at all: fail the invocation so it is visible
		// (Errors alarm); partial progress returns the summary instead.
		return sum, fmt.Errorf("sweep: %w", r.firstErr)
	}
	return sum, nil
}

// run is one sweep in progress: shard readers decide, writers apply.
type run struct {
	s      *Sweeper
	ctx    context.Context
	now    time.Time
	dryRun bool
	jobs   chan func()

	examined, read, deactivated, warned, exempt, raced, failed atomic.Int64
	stopped                                                    atomic.Bool

	mu              sync.Mutex
	firstErr        error
	wouldDeactivate []string
	wouldWarn       []string
	sum             Summary
}

type task struct {
	shard  string
	cutoff time.Time
}

// tasks are the shards to read: the not-yet-warned ones up to the warning
// cut-off, the warned ones up to the deactivation cut-off, both taken from
// the smallest threshold any user can have.
func (r *run) tasks() []task {
	p := r.s.Policy
	deactivate := r.now.Add(-dormancy.Days(p.MinThresholdDays()))
	warn := deactivate
	if p.WarningDays > 0 {
		warn = r.now.Add(-dormancy.Days(p.MinThresholdDays() - p.WarningDays))
	}
	var out []task
	for _, sh := range dynamo.SweepShards(false) {
		out = append(out, task{sh, warn})
	}
	for _, sh := range dynamo.SweepShards(true) {
		out = append(out, task{sh, deactivate})
	}
	return out
}

func (r *run) sweep() {
	var writers sync.WaitGroup
	for range max(1, r.s.Writers) {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j := range r.jobs {
				j()
			}
		}()
	}
	tasks := make(chan task)
	var readers sync.WaitGroup
	for range max(1, r.s.Readers) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for t := range tasks {
				r.readShard(t)
			}
		}()
	}
	for _, t := range r.tasks() {
		tasks <- t
	}
	close(tasks)
	readers.Wait()
	close(r.jobs)
	writers.Wait()
}

// readShard pages through one shard and hands each decision to a writer.
func (r *run) readShard(t task) {
	start := ""
	for {
		if r.s.outOfTime(r.ctx) {
			r.stopped.Store(true)
			return
		}
		p, err := r.s.Store.SweepCandidates(r.ctx, t.shard, t.cutoff, r.s.pageSize(), start)
		if err != nil {
			r.s.Log.ErrorContext(r.ctx, "reading shard failed", "shard", t.shard, "err", err)
			r.fail(err)
			r.stopped.Store(true)
			return
		}
		r.read.Add(int64(p.Read))
		for _, u := range p.Users {
			r.consider(u)
		}
		if start = p.Next; start == "" {
			return
		}
	}
}

// consider applies the policy to one user read from the index.
func (r *run) consider(u dormancy.User) {
	r.examined.Add(1)
	v := r.s.Policy.Evaluate(u, r.now)
	switch v.Action {
	case dormancy.Exempted:
		r.exempt.Add(1)
	case dormancy.Deactivate:
		if r.dryRun {
			r.note(&r.wouldDeactivate, u.UserID)
			return
		}
		c := dormancy.DeactivateForInactivity(u, v, r.now)
		r.jobs <- func() { r.apply(c, &r.deactivated, "deactivated") }
	case dormancy.Warn:
		if r.dryRun {
			r.note(&r.wouldWarn, u.UserID)
			return
		}
		c := dormancy.WarnDormant(u, v, r.now)
		r.jobs <- func() { r.apply(c, &r.warned, "warned") }
	}
}

// apply writes one change; a conflict means a sign-in, an admin or another
// sweep came first, and is left alone.
func (r *run) apply(c dormancy.Change, counter *atomic.Int64, what string) {
	if r.s.outOfTime(r.ctx) {
		r.stopped.Store(true)
		return
	}
	switch err := r.s.Store.Apply(r.ctx, c); {
	case err == nil:
		counter.Add(1)
		r.s.Log.InfoContext(r.ctx, what, "userId", c.User.UserID, "eventId", c.Events[0].ID)
	case errors.Is(err, dormancy.ErrConflict):
		r.raced.Add(1)
	default:
		r.failed.Add(1)
		r.s.Log.ErrorContext(r.ctx, what+" failed", "userId", c.User.UserID, "err", err)
		r.fail(err)
	}
}

// note counts a dry run's finding and keeps the first DryRunListCap ids.
func (r *run) note(list *[]string, id string) {
	r.mu.Lock()
	if list == &r.wouldDeactivate {
		r.sum.WouldDeactivateCount++
	} else {
		r.sum.WouldWarnCount++
	}
	if len(*list) < DryRunListCap {
		*list = append(*list, id)
	}
	r.mu.Unlock()
}

func (r *run) fail(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

func (r *run) summary() Summary {
	sum := r.sum
	sum.Examined, sum.ItemsRead = int(r.examined.Load()), int(r.read.Load())
	sum.Deactivated, sum.Warned, sum.Exempt = int(r.deactivated.Load()), int(r.warned.Load()), int(r.exempt.Load())
	sum.Raced, sum.Failed = int(r.raced.Load()), int(r.failed.Load())
	sort.Strings(r.wouldDeactivate)
	sort.Strings(r.wouldWarn)
	sum.WouldDeactivate, sum.WouldWarn = r.wouldDeactivate, r.wouldWarn
	sum.Complete = !r.stopped.Load() && r.firstErr == nil
	return sum
}

func (s *Sweeper) pageSize() int32 {
	if s.PageSize > 0 {
		return s.PageSize
	}
	return 200
}

func (s *Sweeper) timeLeft(ctx context.Context) time.Duration {
	if s.TimeLeft != nil {
		return s.TimeLeft(ctx)
	}
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return time.Duration(1<<63 - 1)
}

func (s *Sweeper) outOfTime(ctx context.Context) bool {
	return ctx.Err() != nil || s.timeLeft(ctx) < s.reserve()
}

func (s *Sweeper) reserve() time.Duration {
	if s.Reserve > 0 {
		return s.Reserve
	}
	return 30 * time.Second
}

// openingBudget is the time the flush before a sweep may take: a quarter
// of what the invocation has beyond the reserve, at most two minutes.
func (s *Sweeper) openingBudget(ctx context.Context) time.Duration {
	spare := s.timeLeft(ctx) - s.reserve()
	return min(max(spare/4, time.Second), 2*time.Minute)
}

// flush gives the relay at most budget (0: the invocation's time less a
// margin to return).
func (s *Sweeper) flush(ctx context.Context, budget time.Duration) (outbox.Result, error) {
	limit := budget
	if left := s.timeLeft(ctx); left < 24*time.Hour && (limit == 0 || left-5*time.Second < limit) {
		limit = max(left-5*time.Second, time.Second)
	}
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	return s.Relay.Flush(ctx)
}

// emitMetrics writes the sweep's figures in CloudWatch Embedded Metric
// Format: Lambda sends stdout to CloudWatch Logs, which extracts them.
func (s *Sweeper) emitMetrics(sum Summary) {
	if s.Metrics == nil {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	names := []string{"Deactivated", "Warned", "Exempt", "EventsPublished", "EventsPending", "SignOutsPending", "ItemsRead"}
	var ms []metric
	for _, n := range names {
		ms = append(ms, metric{n, "Count"})
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": "Dormancy", "Dimensions": [][]string{{}}, "Metrics": ms,
			}},
		},
		"Deactivated": sum.Deactivated, "Warned": sum.Warned, "Exempt": sum.Exempt,
		"EventsPublished": sum.EventsPublished, "EventsPending": sum.EventsPending,
		"SignOutsPending": sum.SignOutsPending, "ItemsRead": sum.ItemsRead, "DryRun": sum.DryRun,
	}
	b, _ := json.Marshal(doc)
	fmt.Fprintln(s.Metrics, string(b))
}
