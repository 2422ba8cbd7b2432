// Package outbox delivers what committed changes still owe: their events, to
// EventBridge, and their users' sign-outs, to Cognito. A change writes these
// into the outbox table in the same transaction as itself; the relay here
// sends them and removes each one only once it was accepted, so a crash or
// an outage anywhere in between loses nothing: the next flush sends it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Store is the outbox table.
type Store interface {
	Outbox(ctx context.Context, limit int32) ([]dynamo.OutboxItem, error)
	Owed(ctx context.Context, kind string, limit int32) ([]dynamo.OutboxItem, error)
	OutboxItem(ctx context.Context, id string) (dynamo.OutboxItem, error)
	Claim(ctx context.Context, o dynamo.OutboxItem, now, until time.Time) error
	Done(ctx context.Context, o dynamo.OutboxItem) error
	Failed(ctx context.Context, o dynamo.OutboxItem, cause error) error
}

// Publisher sends events to the bus and says which ones it accepted.
type Publisher interface {
	Publish(ctx context.Context, events []dormancy.Event) (accepted []string, err error)
}

// SignOuter revokes a user's sessions.
type SignOuter interface {
	SignOut(ctx context.Context, username string) error
}

// Relay flushes the outbox.
type Relay struct {
	Store     Store
	Publisher Publisher
	// SignOuter revokes sessions. A relay without one leaves owed sign-outs
	// to a relay that has one (the sweeper's), unless DropSignOuts says there
	// is no user pool at all, and so no session to revoke.
	SignOuter    SignOuter
	DropSignOuts bool
	// Limiter paces sign-outs (Cognito allows about 25 a second per pool).
	Limiter *rate.Limiter
	Log     *slog.Logger
	// Lease is how long a claim keeps other relays off an item.
	Lease time.Duration
	// Batch is how many items per outbox shard one pass reads.
	Batch int32
	// Now is the clock of claims; time.Now when nil.
	Now func() time.Time
}

// Result counts what a flush did.
type Result struct {
	Published       int
	SignedOut       int
	EventsPending   int // events still owed after the flush
	SignOutsPending int
}

// Flush sends everything owed, events first and then sign-outs, pass after
// pass, until the outbox holds nothing this flush has not tried already, or
// ctx ends. Items another relay holds are left to it; items that fail stay
// owed for the next flush.
func (r *Relay) Flush(ctx context.Context) (Result, error) {
	var res Result
	batch := r.Batch
	if batch == 0 {
		batch = 250
	}
	r.flushKind(ctx, dynamo.KindEvent, batch, &res)
	if r.SignOuter != nil || r.DropSignOuts {
		r.flushKind(ctx, dynamo.KindSignOut, batch, &res)
	}
	// What is still owed, for the summary and the EventsPending alarm.
	var left []dynamo.OutboxItem
	err := r.settle(ctx, func(c context.Context) error {
		var err error
		left, err = r.Store.Outbox(c, batch)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("count outbox: %w", err)
	}
	for _, o := range left {
		if o.Kind == dynamo.KindEvent {
			res.EventsPending++
		} else {
			res.SignOutsPending++
		}
	}
	return res, ctx.Err()
}

func (r *Relay) flushKind(ctx context.Context, kind string, batch int32, res *Result) {
	tried := map[string]bool{}
	for ctx.Err() == nil {
		items, err := r.Store.Owed(ctx, kind, batch)
		if err != nil {
			r.Log.WarnContext(ctx, "cannot read the outbox", "kind", kind, "err", err)
			return
		}
		var fresh []dynamo.OutboxItem
		for _, o := range items {
			if !tried[o.Event.ID] {
				tried[o.Event.ID] = true
				fresh = append(fresh, o)
			}
		}
		if len(fresh) == 0 {
			return
		}
		r.send(ctx, fresh, res)
	}
}

// Deliver sends the named items at once, and nothing else: an admin's
// change or a reassignment sends what it owes itself without taking on the
// rest of the outbox. What fails, or what ctx leaves no time for, is
// released for the next flush.
func (r *Relay) Deliver(ctx context.Context, ids []string) (Result, error) {
	var res Result
	var items []dynamo.OutboxItem
	for _, id := range ids {
		o, err := r.Store.OutboxItem(ctx, id)
		switch {
		case errors.Is(err, dormancy.ErrNotFound):
			continue // sent already
		case err != nil:
			return res, fmt.Errorf("deliver %s: %w", id, err)
		}
		if o.Kind == dynamo.KindSignOut && r.SignOuter == nil && !r.DropSignOuts {
			continue
		}
		items = append(items, o)
	}
	r.send(ctx, items, &res)
	for _, o := range items {
		err := r.settle(ctx, func(c context.Context) error { _, err := r.Store.OutboxItem(c, o.Event.ID); return err })
		if err == nil {
			if o.Kind == dynamo.KindEvent {
				res.EventsPending++
			} else {
				res.SignOutsPending++
			}
		}
	}
	return res, ctx.Err()
}

// send claims the items and delivers the claimed ones: events, then
// sign-outs.
func (r *Relay) send(ctx context.Context, items []dynamo.OutboxItem, res *Result) {
	lease := r.Lease
	if lease == 0 {
		lease = 2 * time.Minute
	}
	now := r.now()
	var evs []dormancy.Event
	evItems := map[string]dynamo.OutboxItem{}
	var signOuts []dynamo.OutboxItem
	for _, o := range r.claim(ctx, items, now, now.Add(lease)) {
		if o.Kind == dynamo.KindEvent {
			evs = append(evs, o.Event)
			evItems[o.Event.ID] = o
		} else {
			signOuts = append(signOuts, o)
		}
	}
	if len(evs) > 0 {
		n, _ := r.publish(ctx, evs, evItems)
		res.Published += n
	}
	if len(signOuts) > 0 {
		res.SignedOut += r.signOut(ctx, signOuts)
	}
}

func (r *Relay) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// settle records an item's outcome (done, or failed and released) on a
// context of its own: ctx may have ended (the API's 3 s, the sweep's
// deadline), and a claim left behind would keep the item from the next
// flush until its lease ran out.
func (r *Relay) settle(ctx context.Context, record func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return record(c)
}

// claim takes the items for this relay, concurrently; items held elsewhere
// are skipped.
func (r *Relay) claim(ctx context.Context, items []dynamo.OutboxItem, now, until time.Time) []dynamo.OutboxItem {
	var mu sync.Mutex
	var out []dynamo.OutboxItem
	var g errgroup.Group
	g.SetLimit(16)
	for _, o := range items {
		g.Go(func() error {
			if err := r.Store.Claim(ctx, o, now, until); err != nil {
				if !errors.Is(err, dormancy.ErrConflict) {
					r.Log.WarnContext(ctx, "cannot claim outbox item", "id", o.Event.ID, "err", err)
				}
				return nil
			}
			mu.Lock()
			out = append(out, o)
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	return out
}

func (r *Relay) publish(ctx context.Context, evs []dormancy.Event, items map[string]dynamo.OutboxItem) (int, error) {
	accepted, perr := r.Publisher.Publish(ctx, evs)
	ok := map[string]bool{}
	n := 0
	for _, id := range accepted {
		ok[id] = true
		if err := r.settle(ctx, func(c context.Context) error { return r.Store.Done(c, items[id]) }); err != nil {
			// Published but still in the outbox: it will be published again
			// after the lease. Consumers dedupe by eventId.
			r.Log.ErrorContext(ctx, "event published but not cleared from the outbox", "eventId", id, "err", err)
		}
		n++
	}
	for _, e := range evs {
		if !ok[e.ID] {
			cause := perr
			if cause == nil {
				cause = errors.New("not accepted by EventBridge")
			}
			r.Log.WarnContext(ctx, "event not published; it stays owed", "eventId", e.ID, "detailType", e.DetailType, "userId", e.UserID, "err", cause)
			if err := r.settle(ctx, func(c context.Context) error { return r.Store.Failed(c, items[e.ID], cause) }); err != nil {
				r.Log.ErrorContext(ctx, "cannot record failed publish", "eventId", e.ID, "err", err)
			}
		}
	}
	return n, perr
}

func (r *Relay) signOut(ctx context.Context, items []dynamo.OutboxItem) int {
	var n atomic.Int64
	var g errgroup.Group
	g.SetLimit(4)
	for _, o := range items {
		if r.SignOuter == nil { // DropSignOuts: no pool, no sessions to revoke
			if err := r.settle(ctx, func(c context.Context) error { return r.Store.Done(c, o) }); err != nil {
				r.Log.ErrorContext(ctx, "cannot clear a sign-out with no pool to revoke it in", "userId", o.Event.UserID, "err", err)
			}
			continue
		}
		if r.Limiter != nil {
			if err := r.Limiter.Wait(ctx); err != nil {
				// Out of time: release the rest for the next flush.
				if ferr := r.settle(ctx, func(c context.Context) error { return r.Store.Failed(c, o, err) }); ferr != nil {
					r.Log.ErrorContext(ctx, "cannot release a sign-out", "userId", o.Event.UserID, "err", ferr)
				}
				continue
			}
		}
		g.Go(func() error {
			if err := r.SignOuter.SignOut(ctx, o.Username); err != nil {
				r.Log.WarnContext(ctx, "sign-out failed; it stays owed", "userId", o.Event.UserID, "username", o.Username, "err", err)
				if ferr := r.settle(ctx, func(c context.Context) error { return r.Store.Failed(c, o, err) }); ferr != nil {
					r.Log.ErrorContext(ctx, "cannot record failed sign-out", "userId", o.Event.UserID, "err", ferr)
				}
				return nil
			}
			if err := r.settle(ctx, func(c context.Context) error { return r.Store.Done(c, o) }); err != nil {
				r.Log.ErrorContext(ctx, "signed out but not cleared from the outbox", "userId", o.Event.UserID, "err", err)
				return nil
			}
			n.Add(1)
			return nil
		})
	}
	g.Wait()
	return int(n.Load())
}
