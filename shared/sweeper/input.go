package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dormancy/dormancy/shared/eventrules"
)

// Input is a direct invocation's payload.
type Input struct {
	DryRun bool `json:"dryRun"`
}

// ErrBadInput: the invocation payload is neither the schedule's event nor
// {"dryRun": bool}. Nothing is done for it.
var ErrBadInput = errors.New("invalid sweeper input")

// Handle is the Lambda handler: an EventBridge scheduled event sweeps for
// real; {"dryRun": true} reports without changing anything.
func (s *Sweeper) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	in, err := ParseInput(raw)
	if err != nil {
		return Summary{}, err
	}
	return s.Run(ctx, in.DryRun)
}

// ParseInput accepts a scheduled event (any EventBridge envelope from
// aws.events), an empty payload, or {"dryRun": bool} and nothing else.
func ParseInput(raw json.RawMessage) (Input, error) {
	fields, err := eventrules.Invocation(raw, "dryRun")
	if err != nil {
		return Input{}, fmt.Errorf(`%w: %v (want {"dryRun": true|false})`, ErrBadInput, err)
	}
	var in Input
	if v, ok := fields["dryRun"]; ok {
		if err := json.Unmarshal(v, &in.DryRun); err != nil {
			return Input{}, fmt.Errorf(`%w: dryRun must be true or false`, ErrBadInput)
		}
	}
	return in, nil
}
