package sweeper

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// run is one sweep in progress: shard readers decide, then (unless the
// decisions make the run hold) writers apply them.
type run struct {
	s      *Sweeper
	ctx    context.Context
	now    time.Time
	dryRun bool
	// maxSession is the longest a session can live in the pool (its
	// clients' longest refresh-token validity); 0 when unknown.
	maxSession time.Duration

	decided         sync.Mutex
	deactivate      []dormancy.Change
	warn            []dormancy.Change
	deactivated     []dormancy.DeactivatedEntry // applied, for the admins' digest
	signOutsSkipped atomic.Int64

	seen                                                                      sync.Map
	examined, itemsRead, deactivatedN, warned, exempt, raced, failed, expired atomic.Int64
	stopped                                                                   atomic.Bool

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
	// Temporary accounts, by their end date: those past it, and those to be
	// warned of it.
	for _, sh := range dynamo.ExpiryShards() {
		out = append(out, task{sh, r.now.Add(dormancy.Days(p.WarningDays))})
	}
	return out
}

// read reads every shard and decides, without writing anything.
func (r *run) read() {
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
}

// write applies the decisions, deactivations and warnings, Writers at once.
func (r *run) write() {
	jobs := make(chan func())
	var writers sync.WaitGroup
	for range max(1, r.s.Writers) {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	for _, c := range r.deactivate {
		jobs <- func() {
			if r.apply(c, &r.deactivatedN, "deactivated") {
				d := c.User.Deactivation
				r.decided.Lock()
				r.deactivated = append(r.deactivated, dormancy.DeactivatedEntry{UserID: c.User.UserID, Username: c.User.Username, Reason: d.Reason, ThresholdDays: d.ThresholdDays})
				r.decided.Unlock()
			}
		}
	}
	for _, c := range r.warn {
		jobs <- func() { r.apply(c, &r.warned, "warned") }
	}
	close(jobs)
	writers.Wait()
}

// readShard pages through one shard and decides on each user.
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
		r.itemsRead.Add(int64(p.Read))
		for _, u := range p.Users {
			r.consider(u)
		}
		if start = p.Next; start == "" {
			return
		}
	}
}

// consider applies the policy to one user read from an index. A user with
// an end date may be in both indexes a sweep reads: the first read decides.
func (r *run) consider(u dormancy.User) {
	if _, seen := r.seen.LoadOrStore(u.UserID, true); seen {
		return
	}
	r.examined.Add(1)
	v := r.s.Policy.Evaluate(u, r.now)
	switch v.Action {
	case dormancy.Exempted:
		r.exempt.Add(1)
	case dormancy.Deactivate, dormancy.Expire:
		if v.Action == dormancy.Expire {
			r.expired.Add(1)
		}
		if r.dryRun {
			r.note(&r.wouldDeactivate, u.UserID)
			return
		}
		c := dormancy.DeactivateForInactivity(u, v, r.now)
		if r.maxSession > 0 && (u.LastLoginAt.IsZero() || r.now.Sub(u.LastLoginAt) > r.maxSession) {
			// No session can still be alive: no sign-out to pay for (spec §5).
			c.SignOut = false
			r.signOutsSkipped.Add(1)
		}
		r.decided.Lock()
		r.deactivate = append(r.deactivate, c)
		r.decided.Unlock()
	case dormancy.Warn:
		if r.dryRun {
			r.note(&r.wouldWarn, u.UserID)
			return
		}
		r.decided.Lock()
		r.warn = append(r.warn, dormancy.WarnDormant(u, v, r.now))
		r.decided.Unlock()
	}
}

// due is how many users the run would deactivate.
func (r *run) due() int {
	if r.dryRun {
		return r.sum.WouldDeactivateCount
	}
	return len(r.deactivate)
}

// apply writes one change; a conflict means a sign-in, an admin or another
// sweep came first, and is left alone.
func (r *run) apply(c dormancy.Change, counter *atomic.Int64, what string) bool {
	if r.s.outOfTime(r.ctx) {
		r.stopped.Store(true)
		return false
	}
	switch err := r.s.Store.Apply(r.ctx, c); {
	case err == nil:
		counter.Add(1)
		r.s.Log.InfoContext(r.ctx, what, "userId", c.User.UserID, "eventId", c.Events[0].ID)
		return true
	case errors.Is(err, dormancy.ErrConflict):
		r.raced.Add(1)
	default:
		r.failed.Add(1)
		r.s.Log.ErrorContext(r.ctx, what+" failed", "userId", c.User.UserID, "err", err)
		r.fail(err)
	}
	return false
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
	sum.Examined, sum.ItemsRead = int(r.examined.Load()), int(r.itemsRead.Load())
	sum.Deactivated, sum.Warned, sum.Exempt = int(r.deactivatedN.Load()), int(r.warned.Load()), int(r.exempt.Load())
	sum.Expired = int(r.expired.Load())
	if !r.dryRun && !sum.Held {
		sum.SignOutsSkipped = int(r.signOutsSkipped.Load())
	}
	sum.Raced, sum.Failed = int(r.raced.Load()), int(r.failed.Load())
	sort.Strings(r.wouldDeactivate)
	sort.Strings(r.wouldWarn)
	sum.WouldDeactivate, sum.WouldWarn = r.wouldDeactivate, r.wouldWarn
	sum.Complete = !r.stopped.Load() && r.firstErr == nil
	return sum
}
