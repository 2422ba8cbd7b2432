// Package sweeper deactivates users whose last activity is past their
// threshold, warns those about to be, and has their events and sign-outs
// delivered. It reads only users at or past a cut-off, from the sparse,
// sharded activity index: its cost follows the dormant users, not the table.
package sweeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
