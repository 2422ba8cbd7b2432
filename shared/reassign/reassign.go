// Package reassign clears a deactivated user from the open records that name
// them. It is the target of the EventBridge rule on UserDeactivated: for each
// Open record naming the user, each such field is cleared, flagged for
// reassignment, audited and announced with RecordUserCleared — conditionally,
// so a field someone re-assigned meanwhile keeps its new user and a
// redelivered event changes nothing. Closed, Resolved and Cancelled records
// are never touched. Reactivating the user restores nothing.
package reassign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// Store is what a reassignment needs.
type Store interface {
	GetUser(ctx context.Context, userID string) (dormancy.User, error)
	OpenRecordsNaming(ctx context.Context, userID string, cursor string) (dynamo.RefPage, error)
	Clear(ctx context.Context, c dormancy.Clearing) error
}

// Handler handles UserDeactivated events.
type Handler struct {
	Store Store
	// Relay, if set, publishes the clearings' events once they are written;
	// what it cannot send stays owed for the sweeper.
	Relay interface {
		Deliver(ctx context.Context, ids []string) (outbox.Result, error)
	}
	Now func() time.Time
	Log *slog.Logger
	// Workers is how many clearings are written at once.
	Workers int
	// Reserve: with less than this left before the invocation's deadline,
	// the handler stops and fails, so the retry carries on where it stopped.
	Reserve time.Duration
}

// New returns a handler that writes eight clearings at once. relay, if not
// nil, sends the clearings' events at once.
func New(store Store, relay *outbox.Relay, now func() time.Time, log *slog.Logger) *Handler {
	h := &Handler{Store: store, Now: now, Log: log, Workers: 8}
	if relay != nil {
		h.Relay = relay
	}
	return h
}

// ErrBadEvent: the event is not a UserDeactivated event from Dormancy.
// Nothing is written for it, and retrying it cannot help.
var ErrBadEvent = errors.New("not a UserDeactivated event")

// ErrNotDeactivated: the event names a user who is not deactivated in the
// store (a forged event, or one overtaken by a reactivation). Nothing is
// cleared; the event ends in the dead-letter queue for a person to see.
var ErrNotDeactivated = fmt.Errorf("%w: the user is not deactivated", ErrBadEvent)

// Result says what one event did.
type Result struct {
	EventID  string   `json:"eventId"`
	UserID   string   `json:"userId"`
	Cleared  int      `json:"cleared"`
	Skipped  int      `json:"skipped"` // already cleared or re-assigned meanwhile
	Failed   []string `json:"failed,omitempty"`
	Complete bool     `json:"complete"`
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	ev, err := Parse(raw)
	if err != nil {
		h.Log.ErrorContext(ctx, "refused event", "err", err)
		return Result{}, err
	}
	return h.Clear(ctx, ev)
}

// Parse decodes an EventBridge envelope carrying a UserDeactivated detail,
// strictly: a wrong source or type, or a detail that does not match the
// contract, is ErrBadEvent.
func Parse(raw json.RawMessage) (dormancy.UserDeactivated, error) {
	var env events.EventBridgeEvent
	if err := json.Unmarshal(raw, &env); err != nil {
		return dormancy.UserDeactivated{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if env.Source != dormancy.SourceUsers || env.DetailType != dormancy.TypeUserDeactivated {
		return dormancy.UserDeactivated{}, fmt.Errorf("%w: source %q, detail-type %q", ErrBadEvent, env.Source, env.DetailType)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Detail))
	dec.DisallowUnknownFields()
	var d dormancy.UserDeactivated
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("%w: detail: %v", ErrBadEvent, err)
	}
	if d.EventID == "" || !dormancy.ValidUserID(d.UserID) {
		return d, fmt.Errorf("%w: detail needs eventId and a valid userId", ErrBadEvent)
	}
	return d, nil
}

// Clear clears the user from every open record naming them. A record that
// fails does not stop the others; the failures are returned as one error
// naming each record, so the retry policy (and then the dead-letter queue)
// carries them. Running out of time is an error too: the retry continues.
//
// The event is only a signal: anyone allowed to put events on the bus could
// send one. The user must be DEACTIVATED in the store, and the actor, the
// user name and the source of the audit entries come from the store's
// record of that deactivation, never from the event.
func (h *Handler) Clear(ctx context.Context, ev dormancy.UserDeactivated) (Result, error) {
	res := Result{EventID: ev.EventID, UserID: ev.UserID}
	log := h.Log.With("eventId", ev.EventID, "userId", ev.UserID)
	u, err := h.Store.GetUser(ctx, ev.UserID)
	switch {
	case errors.Is(err, dormancy.ErrNotFound):
		return res, fmt.Errorf("%w: user %s is not known to Dormancy", ErrNotDeactivated, ev.UserID)
	case err != nil:
		return res, fmt.Errorf("reassign for %s (event %s): read user: %w", ev.UserID, ev.EventID, err)
	case u.Status != dormancy.Deactivated || u.Deactivation == nil:
		return res, fmt.Errorf("%w: user %s is %s in the store", ErrNotDeactivated, ev.UserID, u.Status)
	}
	actor, username := u.Deactivation.By, u.Username
	source := dormancy.SourceAutomaticDeactivation
	if !u.Deactivation.Automatic {
		source = dormancy.SourceAdmin
	}
	var sent []string
	var (
		mu      sync.Mutex
		failed  []string
		wg      sync.WaitGroup
		outTime bool
	)
	jobs := make(chan dormancy.FieldRef)
	for range max(1, h.Workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ref := range jobs {
				c := dormancy.ClearField(ref, username, ev.EventID, actor, source, h.Now())
				err := h.Store.Clear(ctx, c)
				mu.Lock()
				switch {
				case err == nil:
					res.Cleared++
					sent = append(sent, c.Event.ID)
					log.InfoContext(ctx, "field cleared", "recordId", ref.RecordID, "field", ref.Field)
				case errors.Is(err, dormancy.ErrConflict):
					res.Skipped++ // done by an earlier delivery, or re-assigned meanwhile
				default:
					failed = append(failed, ref.RecordID+"."+ref.Field)
					log.ErrorContext(ctx, "clearing failed", "recordId", ref.RecordID, "field", ref.Field, "err", err)
				}
				mu.Unlock()
			}
		}()
	}
	start := ""
	var readErr error
	for {
		if h.outOfTime(ctx) {
			outTime = true
			break
		}
		page, err := h.Store.OpenRecordsNaming(ctx, ev.UserID, start)
		if err != nil {
			readErr = err
			break
		}
		for _, ref := range page.Refs {
			jobs <- ref
		}
		if start = page.Next; start == "" {
			break
		}
	}
	close(jobs)
	wg.Wait()
	sort.Strings(failed)
	res.Failed = failed
	switch {
	case readErr != nil:
		return res, fmt.Errorf("reassign for %s (event %s): read records: %w", ev.UserID, ev.EventID, readErr)
	case outTime:
		return res, fmt.Errorf("reassign for %s (event %s): stopped before the deadline after %d clearings; the retry continues", ev.UserID, ev.EventID, res.Cleared)
	case len(failed) > 0:
		shown := failed[:min(len(failed), 20)]
		return res, fmt.Errorf("reassign for %s (event %s): %d fields failed, among them %s", ev.UserID, ev.EventID, len(failed), strings.Join(shown, ", "))
	}
	res.Complete = true
	log.InfoContext(ctx, "reassignment done", "cleared", res.Cleared, "skipped", res.Skipped)
	if h.Relay != nil && len(sent) > 0 {
		if _, err := h.Relay.Deliver(ctx, sent); err != nil {
			log.WarnContext(ctx, "RecordUserCleared events not all sent; the sweeper will", "err", err)
		}
	}
	return res, nil
}

func (h *Handler) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	reserve := h.Reserve
	if reserve == 0 {
		reserve = 10 * time.Second
	}
	return ok && time.Until(d) < reserve
}
