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
