package sweeper_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/outbox"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
	"github.com/dormancy/dormancy/shared/testkit/localbus/localbustest"
)

// testBus is a local PutEvents endpoint driven through the real SDK client,
// validating every detail against its JSON Schema.
type testBus struct {
	t         *testing.T
	bus       *localbus.Bus
	publisher *outbox.EventBridge
}

func newTestBus(t *testing.T) *testBus {
	b, client := localbustest.New(t)
	return &testBus{t: t, bus: b, publisher: &outbox.EventBridge{Client: client, Bus: "dormancy-test", Sleep: func(time.Duration) error { return nil }}}
}

func (b *testBus) failCalls(n int) { b.bus.FailCalls(n) }

// failEveryNth fails each entry on its first try when its position in the
// bus's history is a multiple of n, so every call sees some failures.
func (b *testBus) failEveryNth(n int) {
	count := 0
	b.bus.FailEntries(func(_ []byte, attempt int) bool {
		count++
		return attempt == 1 && count%n == 0
	})
}

func (b *testBus) all() []dormancy.Event {
	var out []dormancy.Event
	for _, e := range b.bus.Accepted() {
		var id struct {
			EventID string `json:"eventId"`
			UserID  string `json:"userId"`
		}
		if err := json.Unmarshal(e.Detail, &id); err != nil {
			b.t.Fatal(err)
		}
		out = append(out, dormancy.Event{ID: id.EventID, Source: e.Source, DetailType: e.DetailType, UserID: id.UserID, Detail: e.Detail})
	}
	return out
}

func (b *testBus) byType(detailType string) []dormancy.Event {
	var out []dormancy.Event
	for _, e := range b.all() {
		if e.DetailType == detailType {
			out = append(out, e)
		}
	}
	return out
}
