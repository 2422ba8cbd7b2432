// Package localbus is an EventBridge bus on this machine: an HTTP server that
// speaks PutEvents as the real SDK client sends it (AWS JSON 1.1), records
// what it accepts, routes each event to targets with EventBridge event
// patterns (matched by quamina, the same patterns the CDK rules use), and can
// fail calls or entries on purpose. Tests and the local stack use it; there
// is no EventBridge emulator to use instead.
package localbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"quamina.net/go/quamina"
)

// Envelope is an event as EventBridge delivers it to a target.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Target receives a routed event; an error makes the bus retry it and, when
// retries run out, put it in the dead-letter list.
type Target func(ctx context.Context, envelope []byte) error

// Bus is the local event bus.
type Bus struct {
	mu         sync.Mutex
	accepted   []Envelope
	invalid    []string
	failCalls  int
	delay      time.Duration
	failEntry  func(detail []byte, attempt int) bool
	attempts   map[string]int
	validate   func(detailType string, detail []byte) error
	matcher    *quamina.Quamina
	targets    map[string]Target
	deadLetter []Envelope
	// Retries is how many times a failing target is retried before the
	// event goes to the dead-letter list (EventBridge's retry policy).
	Retries int
}

// New returns a bus. validate, if not nil, checks each entry's detail; an
// entry that fails it is refused (ErrorCode "InvalidDetail") and recorded.
func New(validate func(detailType string, detail []byte) error) *Bus {
	q, err := quamina.New()
	if err != nil {
		panic(err)
	}
	return &Bus{validate: validate, matcher: q, targets: map[string]Target{}, attempts: map[string]int{}, Retries: 2}
}

// Route sends events matching pattern (EventBridge pattern JSON) to target.
func (b *Bus) Route(name, pattern string, target Target) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.matcher.AddPattern(name, pattern); err != nil {
		return fmt.Errorf("rule %s: %w", name, err)
	}
	b.targets[name] = target
	return nil
}

// FailCalls makes the next n PutEvents calls fail whole (500 InternalException).
func (b *Bus) FailCalls(n int) { b.mu.Lock(); b.failCalls = n; b.mu.Unlock() }

// Delay makes every PutEvents call answer only after d (or when its caller
// gives up): EventBridge slow or unreachable behind a long timeout.
func (b *Bus) Delay(d time.Duration) { b.mu.Lock(); b.delay = d; b.mu.Unlock() }

// FailEntries makes entries for which fail returns true fail with
// ErrorCode "InternalFailure"; attempt counts the tries of the same detail.
func (b *Bus) FailEntries(fail func(detail []byte, attempt int) bool) {
	b.mu.Lock()
	b.failEntry = fail
	b.mu.Unlock()
}

// Accepted returns every event the bus accepted, in order.
func (b *Bus) Accepted() []Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Envelope(nil), b.accepted...)
}

// Invalid returns the details refused by validation.
func (b *Bus) Invalid() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.invalid...)
}

// DeadLetters returns events whose target kept failing.
func (b *Bus) DeadLetters() []Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Envelope(nil), b.deadLetter...)
}

// Serve starts the bus on an httptest server (tests); Close it when done.
func (b *Bus) Serve() *httptest.Server { return httptest.NewServer(b) }

type putEventsInput struct {
	Entries []struct {
		Source       string
		DetailType   string
		Detail       string
		EventBusName string
		Resources    []string
		Time         *float64
	}
}

type resultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// ServeHTTP answers PutEvents.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "only AWSEvents.PutEvents is served here")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	b.mu.Lock()
	delay := b.delay
	b.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the caller gave up: nothing accepted
		}
	}
	var in putEventsInput
	if err := json.Unmarshal(body, &in); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d entries: PutEvents takes 1 to 10", len(in.Entries)))
		return
	}
	b.mu.Lock()
	if b.failCalls > 0 {
		b.failCalls--
		b.mu.Unlock()
		awsError(w, http.StatusInternalServerError, "InternalException", "injected failure")
		return
	}
	var out struct {
		FailedEntryCount int
		Entries          []resultEntry
	}
	var routed []Envelope
	for _, e := range in.Entries {
		key := e.Source + "|" + e.DetailType + "|" + e.Detail
		b.attempts[key]++
		if b.validate != nil {
			if err := b.validate(e.DetailType, []byte(e.Detail)); err != nil {
				b.invalid = append(b.invalid, e.DetailType+": "+err.Error())
				out.FailedEntryCount++
				out.Entries = append(out.Entries, resultEntry{ErrorCode: "InvalidDetail", ErrorMessage: err.Error()})
				continue
			}
		}
		if b.failEntry != nil && b.failEntry([]byte(e.Detail), b.attempts[key]) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, resultEntry{ErrorCode: "InternalFailure", ErrorMessage: "injected entry failure"})
			continue
		}
		t := time.Now().UTC()
		if e.Time != nil {
			t = time.Unix(0, int64(*e.Time*1e9)).UTC()
		}
		env := Envelope{
			Version: "0", ID: newID(), DetailType: e.DetailType, Source: e.Source, Account: "000000000000",
			Time: t.Format(time.RFC3339), Region: "us-east-1", Resources: e.Resources, Detail: json.RawMessage(e.Detail),
		}
		if env.Resources == nil {
			env.Resources = []string{}
		}
		b.accepted = append(b.accepted, env)
		routed = append(routed, env)
		out.Entries = append(out.Entries, resultEntry{EventId: env.ID})
	}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
	for _, env := range routed {
		b.deliver(r.Context(), env)
	}
}

// deliver hands an event to every matching target, after the PutEvents call
// has been answered, as EventBridge does; a failing target is retried, then
// dead-lettered.
func (b *Bus) deliver(ctx context.Context, env Envelope) {
	raw, _ := json.Marshal(env)
	b.mu.Lock()
	matches, err := b.matcher.MatchesForEvent(raw)
	var targets []Target
	for _, m := range matches {
		targets = append(targets, b.targets[fmt.Sprint(m)])
	}
	retries := b.Retries
	b.mu.Unlock()
	if err != nil {
		return
	}
	for _, t := range targets {
		var terr error
		for try := 0; try <= retries; try++ {
			if terr = t(context.WithoutCancel(ctx), raw); terr == nil {
				break
			}
		}
		if terr != nil {
			b.mu.Lock()
			b.deadLetter = append(b.deadLetter, env)
			b.mu.Unlock()
		}
	}
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
