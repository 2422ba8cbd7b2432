// Package localbustest starts local buses for tests.
package localbustest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/testkit/localbus"
)

// New starts a bus for one test, reached through the real SDK client.
// Every detail is validated against its JSON Schema, and the test fails at
// its end if any event the code emitted did not match.
func New(tb testing.TB) (*localbus.Bus, *eventbridge.Client) {
	tb.Helper()
	b := localbus.New(events.Validate)
	srv := b.Serve()
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() {
		if inv := b.Invalid(); len(inv) > 0 {
			tb.Errorf("events that do not match their schema: %v", inv)
		}
	})
	return b, localbus.Client(srv.URL)
}
