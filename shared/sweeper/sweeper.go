// Package sweeper deactivates users whose last activity is past their
// threshold, warns those about to be, and has their events and sign-outs
// delivered. It reads only users at or past a cut-off, from the sparse,
// sharded activity index: its cost follows the dormant users, not the table.
package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// Store is what a sweep needs from the data store.
type Store interface {
	SweepCandidates(ctx context.Context, shard string, cutoff time.Time, limit int32, cursor string) (dynamo.SweepPage, error)
	Apply(ctx context.Context, c dormancy.Change) error
	CountUsers(ctx context.Context) (dynamo.Counts, error)
	SweepHold(ctx context.Context) (dormancy.SweepHold, error)
	HoldSweep(ctx context.Context, h dormancy.SweepHold, audit dormancy.AuditEntry, ev dormancy.Event) error
	ClearSweepHold(ctx context.Context, h dormancy.SweepHold) error
	OweEvent(ctx context.Context, ev dormancy.Event) error
	PutRun(ctx context.Context, r dormancy.Run) error
}

// Pool is what a sweep asks the user pool, read once per run.
type Pool interface {
	// MissingTriggers names the triggers (PreAuthentication,
	// PostAuthentication, PostConfirmation, PreTokenGeneration) that do
	// not call the login hook.
	MissingTriggers(ctx context.Context) ([]string, error)
	// LongestSession is the longest refresh-token validity of the pool's
	// app clients: past it since a user's last sign-in, no session of
	// theirs can be alive.
	LongestSession(ctx context.Context) (time.Duration, error)
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
	// Guard holds a run that would deactivate too many users at once.
	Guard dormancy.Guard
	// Pool, when set, is checked for the login hook's triggers before
	// anyone is deactivated, and tells which sign-outs are worth a call.
	Pool Pool
	Now  func() time.Time // the policy's clock (movable in the local stack)
	Log  *slog.Logger
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
	Examined        int    `json:"examined"`
	Deactivated     int    `json:"deactivated"`
	Warned          int    `json:"warned"`
	Exempt          int    `json:"exempt"`
	EventsPublished int    `json:"eventsPublished"`
	EventsPending   int    `json:"eventsPending"`
	DryRun          bool   `json:"dryRun"`
	DurationMs      int64  `json:"durationMs"`
	ItemsRead       int    `json:"itemsRead"`
	Raced           int    `json:"raced"`  // changed by someone else between read and write; left alone
	Failed          int    `json:"failed"` // writes that failed; retried by the next sweep
	SignedOut       int    `json:"signedOut"`
	SignOutsPending int    `json:"signOutsPending"`
	Complete        bool   `json:"complete"` // false: stopped early for time, the next run carries on
	RunID           string `json:"runId"`
	// Held: the run deactivated nobody (spec §5), for HoldReason
	// (TooMany or TriggersNotAttached); a dry run says whether the real
	// run would hold.
	Held            bool   `json:"held"`
	HoldReason      string `json:"holdReason,omitempty"`
	Due             int    `json:"due"`         // users past their threshold this run found
	ActiveUsers     int    `json:"activeUsers"` // the active population the guard measured against
	Expired         int    `json:"expired"`
	SignOutsSkipped int    `json:"signOutsSkipped"` // deactivations with no session left to revoke
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
//
// It reads first and writes after: the guard must know how many users the
// run would deactivate before it deactivates anyone. A run that would
// deactivate more than the guard allows, or that finds the pool not calling
// the login hook, is held: it changes no user, records the hold (audited,
// with a SweepHeld event) and waits for an admin's release (or for the
// triggers to be attached).
func (s *Sweeper) Run(ctx context.Context, dryRun bool) (Summary, error) {
	started := time.Now()
	r := &run{s: s, ctx: ctx, now: s.Now(), dryRun: dryRun}
	r.sum.DryRun = dryRun
	r.sum.RunID = dormancy.StableID("SweepRun", dormancy.FormatTime(r.now), fmt.Sprint(started.UnixNano()))
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
	hold, missing, err := r.prepare()
	if err != nil {
		// Without the pool's answer or the store's state, nobody may be
		// deactivated: fail so the Errors alarm shows it.
		sum := r.finish(started)
		return sum, fmt.Errorf("sweep: %w", err)
	}
	r.read()
	r.sum.Due = r.due()
	reason := ""
	switch {
	case len(missing) > 0:
		reason = dormancy.HoldTriggersNotAttached
	case s.Guard.Holds(r.sum.Due, r.sum.ActiveUsers) && !hold.Covers(r.sum.Due, s.Guard):
		reason = dormancy.HoldTooMany
	}
	r.sum.Held, r.sum.HoldReason = reason != "", reason
	switch {
	case dryRun:
	case reason != "":
		r.hold(hold, reason, missing)
	default:
		r.write()
		r.digest()
		if hold.Held && !r.stopped.Load() && r.firstErr == nil {
			// The released (or no longer needed) hold ends with a run that
			// went ahead and finished.
			if err := s.Store.ClearSweepHold(ctx, hold); err != nil {
				// Left released, the hold still covers no more than it did
				// (SweepHold.Covers); the run is not complete.
				s.Log.ErrorContext(ctx, "cannot clear the sweep's hold", "err", err)
				r.fail(err)
			}
		}
	}
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
	sum := r.finish(started)
	if r.firstErr != nil && sum.Examined == 0 {
		// Nothing could be read at all: fail the invocation so it is visible
		// (Errors alarm); partial progress returns the summary instead.
		return sum, fmt.Errorf("sweep: %w", r.firstErr)
	}
	return sum, nil
}

// prepare reads what the run decides with: the sweep's hold, the active
// population, and (with a pool) the triggers and the longest session.
func (r *run) prepare() (dormancy.SweepHold, []string, error) {
	s, ctx := r.s, r.ctx
	hold, err := s.Store.SweepHold(ctx)
	if err != nil {
		return hold, nil, err
	}
	counts, err := s.Store.CountUsers(ctx)
	if err != nil {
		return hold, nil, err
	}
	r.sum.ActiveUsers = counts.Active
	if s.Pool == nil {
		return hold, nil, nil
	}
	missing, err := s.Pool.MissingTriggers(ctx)
	if err != nil {
		return hold, nil, fmt.Errorf("check the pool's triggers: %w", err)
	}
	if r.maxSession, err = s.Pool.LongestSession(ctx); err != nil {
		return hold, nil, fmt.Errorf("read the pool's token validity: %w", err)
	}
	return hold, missing, nil
}

// hold records the run as held: the hold, its audit entry and SweepHeld.
func (r *run) hold(prev dormancy.SweepHold, reason string, missing []string) {
	h := dormancy.SweepHold{
		Held: true, HoldReason: reason, RunID: r.sum.RunID, HeldAt: r.now.UTC(),
		Due: r.sum.Due, Active: r.sum.ActiveUsers, Missing: missing, Version: prev.Version, AuditHash: prev.AuditHash,
	}
	audit, ev := dormancy.HoldSweep(h, r.s.Guard, r.now)
	if err := r.s.Store.HoldSweep(r.ctx, h, audit, ev); err != nil {
		r.s.Log.ErrorContext(r.ctx, "cannot record the sweep's hold", "err", err)
		r.fail(err)
		return
	}
	r.s.Log.WarnContext(r.ctx, "sweep held: nobody deactivated", "holdReason", reason, "due", h.Due, "activeUsers", h.Active, "missingTriggers", missing)
}

// digest owes the admins' SweepCompleted event when the run deactivated
// anyone: one message per run, not one per user.
func (r *run) digest() {
	if len(r.deactivated) == 0 {
		return
	}
	users := r.deactivated
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	ev := dormancy.SweepCompleted{
		EventID: dormancy.StableID(dormancy.TypeSweepCompleted, r.sum.RunID), RunID: r.sum.RunID,
		OccurredAt: dormancy.FormatTime(r.now), Deactivated: len(users), Users: users[:min(len(users), dormancy.MaxDigestUsers)],
	}
	if err := r.s.Store.OweEvent(r.ctx, dormancy.NewEvent(ev.EventID, dormancy.SourceSweeps, dormancy.TypeSweepCompleted, dormancy.SweepsAccount, r.now, ev)); err != nil {
		r.s.Log.ErrorContext(r.ctx, "cannot owe the sweep's digest", "err", err)
		r.fail(err) // the run is not complete: the admins were not told
	}
}

// finish sums the run up, logs it, records it and emits its metrics.
func (r *run) finish(started time.Time) Summary {
	sum := r.summary()
	sum.DurationMs = time.Since(started).Milliseconds()
	s := r.s
	s.Log.InfoContext(r.ctx, "sweep finished", "summary", sum)
	s.emitMetrics(sum)
	b, _ := json.Marshal(sum)
	rec := dormancy.Run{
		RunID: sum.RunID, Kind: dormancy.RunSweep, StartedAt: r.now, EndedAt: r.now.Add(time.Since(started)),
		DryRun: r.dryRun, Held: sum.Held, HoldReason: sum.HoldReason, Summary: b,
		Policy: dormancy.InForce(s.Policy, s.Guard),
	}
	if err := s.Store.PutRun(context.WithoutCancel(r.ctx), rec); err != nil {
		s.Log.ErrorContext(r.ctx, "cannot record the run", "runId", sum.RunID, "err", err)
	}
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
