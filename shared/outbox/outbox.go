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
	"time"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/boot"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Store is the outbox table.
type Store interface {
	Outbox(ctx context.Context, limit int32) ([]dynamo.OutboxItem, error)
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
}

// Result counts what a flush did.
type Result struct {
	Published       int
	SignedOut       int
	EventsPending   int // events still owed after the flush
	SignOutsPending int
}

// Flush sends everything owed, pass after pass, until the outbox holds
// nothing this flush has not tried already, or ctx ends. Items another relay
// holds are left to it; items that fail stay owed for the next flush.
func (r *Relay) Flush(ctx context.Context) (Result, error) {
	var res Result
	lease := r.Lease
	if lease == 0 {
		lease = 2 * time.Minute
	}
	batch := r.Batch
	if batch == 0 {
		batch = 250
	}
	tried := map[string]bool{}
	for ctx.Err() == nil {
		items, err := r.Store.Outbox(ctx, batch)
		if err != nil {
			return res, fmt.Errorf("flush outbox: %w", err)
		}
		var fresh []dynamo.OutboxItem
		for _, o := range items {
			if o.Kind == dynamo.KindSignOut && r.SignOuter == nil && !r.DropSignOuts {
				continue // not this relay's to do
			}
			if !tried[o.Event.ID] {
				tried[o.Event.ID] = true
				fresh = append(fresh, o)
			}
		}
		if len(fresh) == 0 {
			break
		}
		now := time.Now()
		var evs []dormancy.Event
		evItems := map[string]dynamo.OutboxItem{}
		var signOuts []dynamo.OutboxItem
		for _, o := range r.claim(ctx, fresh, now, now.Add(lease)) {
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
	// What is still owed, for the summary and the EventsPending alarm.
	left, err := r.Store.Outbox(context.WithoutCancel(ctx), batch)
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

// claim takes the items for this relay, concurrently; items held elsewhere
// are skipped.
func (r *Relay) claim(ctx context.Context, items []dynamo.OutboxItem, now, until time.Time) []dynamo.OutboxItem {
	var mu sync.Mutex
	var out []dynamo.OutboxItem
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, o := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.Store.Claim(ctx, o, now, until)
			if err != nil {
				if !errors.Is(err, dormancy.ErrConflict) {
					r.Log.Warn("cannot claim outbox item", "id", o.Event.ID, "err", err)
				}
				return
			}
			mu.Lock()
			out = append(out, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (r *Relay) publish(ctx context.Context, evs []dormancy.Event, items map[string]dynamo.OutboxItem) (int, error) {
	accepted, perr := r.Publisher.Publish(ctx, evs)
	ok := map[string]bool{}
	n := 0
	for _, id := range accepted {
		ok[id] = true
		if err := r.Store.Done(ctx, items[id]); err != nil {
			// Published but still in the outbox: it will be published again
			// after the lease. Consumers dedupe by eventId.
			r.Log.Error("event published but not cleared from the outbox", "eventId", id, "err", err)
		}
		n++
	}
	for _, e := range evs {
		if !ok[e.ID] {
			cause := perr
			if cause == nil {
				cause = errors.New("not accepted by EventBridge")
			}
			r.Log.Warn("event not published; it stays owed", "eventId", e.ID, "detailType", e.DetailType, "userId", e.UserID, "err", cause)
			if err := r.Store.Failed(ctx, items[e.ID], cause); err != nil {
				r.Log.Error("cannot record failed publish", "eventId", e.ID, "err", err)
			}
		}
	}
	return n, perr
}

func (r *Relay) signOut(ctx context.Context, items []dynamo.OutboxItem) int {
	var mu sync.Mutex
	n := 0
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, o := range items {
		if r.SignOuter == nil { // DropSignOuts: no pool, no sessions to revoke
			if err := r.Store.Done(ctx, o); err != nil {
				r.Log.Error("cannot clear a sign-out with no pool to revoke it in", "userId", o.Event.UserID, "err", err)
			}
			continue
		}
		if r.Limiter != nil {
			if err := r.Limiter.Wait(ctx); err != nil {
				break // out of time: the rest stays owed
			}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.SignOuter.SignOut(ctx, o.Username); err != nil {
				r.Log.Warn("sign-out failed; it stays owed", "userId", o.Event.UserID, "username", o.Username, "err", err)
				if ferr := r.Store.Failed(ctx, o, err); ferr != nil {
					r.Log.Error("cannot record failed sign-out", "userId", o.Event.UserID, "err", ferr)
				}
				return
			}
			if err := r.Store.Done(ctx, o); err != nil {
				r.Log.Error("signed out but not cleared from the outbox", "userId", o.Event.UserID, "err", err)
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return n
}

// FromEnv is the relay of a function's environment: EventBridge on
// EVENT_BUS_NAME and, with signOuts, Cognito on USER_POOL_ID paced at
// COGNITO_RPS (without a pool there is nothing to revoke, and owed
// sign-outs are cleared).
func FromEnv(env boot.Env, store *dynamo.Store, signOuts bool) *Relay {
	relay := &Relay{
		Store:     store,
		Publisher: &EventBridge{Client: eventbridge.NewFromConfig(env.AWS), Bus: env.Config.EventBusName},
		Limiter:   rate.NewLimiter(rate.Limit(env.Config.CognitoRPS), 1),
		Log:       env.Log,
	}
	switch {
	case !signOuts:
	case env.Config.UserPoolID != "":
		relay.SignOuter = Cognito{Client: cip.NewFromConfig(env.AWS), UserPoolID: env.Config.UserPoolID}
	default:
		relay.DropSignOuts = true
	}
	return relay
}
