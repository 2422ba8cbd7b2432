package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// PutEventsAPI is the EventBridge call the publisher makes.
type PutEventsAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge publishes events to one bus. PutEvents takes at most 10
// entries a call and may fail some of them (throttling, internal errors);
// those entries, and whole calls that fail, are retried with capped
// exponential backoff and jitter, up to Attempts times. An event is reported
// accepted only once EventBridge accepted it.
type EventBridge struct {
	Client   PutEventsAPI
	Bus      string
	Attempts int                       // default 4
	Sleep    func(time.Duration) error // default: time.Sleep that respects ctx
}

const maxEntries = 10

// Publish sends the events and returns the ids EventBridge accepted. The
// error, if any, says why the rest were not.
func (p *EventBridge) Publish(ctx context.Context, events []dormancy.Event) ([]string, error) {
	attempts := p.Attempts
	if attempts == 0 {
		attempts = 4
	}
	var accepted []string
	var lastErr error
	pending := events
	for attempt := 0; attempt < attempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := p.sleep(ctx, backoff(attempt)); err != nil {
				return accepted, fmt.Errorf("publish: %w (last failure: %v)", err, lastErr)
			}
		}
		var retry []dormancy.Event
		for i := 0; i < len(pending); i += maxEntries {
			batch := pending[i:min(i+maxEntries, len(pending))]
			ok, failed, err := p.put(ctx, batch)
			accepted = append(accepted, ok...)
			retry = append(retry, failed...)
			if err != nil {
				lastErr = err
			}
		}
		pending = retry
	}
	if len(pending) > 0 {
		if lastErr == nil {
			lastErr = errors.New("not accepted")
		}
		return accepted, fmt.Errorf("publish: %d of %d events not accepted after %d attempts: %w", len(pending), len(events), attempts, lastErr)
	}
	return accepted, nil
}

// put sends one batch: it returns the accepted ids and the events to retry.
func (p *EventBridge) put(ctx context.Context, batch []dormancy.Event) ([]string, []dormancy.Event, error) {
	entries := make([]ebtypes.PutEventsRequestEntry, len(batch))
	for i, e := range batch {
		entries[i] = ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(p.Bus),
			Source:       aws.String(e.Source),
			DetailType:   aws.String(e.DetailType),
			Detail:       aws.String(string(e.Detail)),
			Time:         aws.Time(e.OccurredAt),
		}
	}
	out, err := p.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return nil, batch, fmt.Errorf("PutEvents: %w", err)
	}
	if len(out.Entries) != len(batch) {
		return nil, batch, fmt.Errorf("PutEvents answered %d entries for %d", len(out.Entries), len(batch))
	}
	var ok []string
	var retry []dormancy.Event
	var firstErr error
	for i, r := range out.Entries {
		if r.ErrorCode != nil {
			retry = append(retry, batch[i])
			if firstErr == nil {
				firstErr = fmt.Errorf("entry %s: %s: %s", batch[i].ID, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
			continue
		}
		ok = append(ok, batch[i].ID)
	}
	return ok, retry, firstErr
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 5)
	return d/2 + rand.N(d/2)
}

func (p *EventBridge) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
