package sweeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return Input{}, nil
	}
	var probe map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&probe); err != nil || dec.More() {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return Input{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, ok := probe["detail-type"]; ok {
		var src string
		json.Unmarshal(probe["source"], &src)
		if src != "aws.events" {
			return Input{}, fmt.Errorf("%w: event from %q is not the schedule's", ErrBadInput, src)
		}
		return Input{}, nil
	}
	// encoding/json matches keys case-insensitively; the contract is exact.
	var in Input
	for k, v := range probe {
		if k != "dryRun" {
			return Input{}, fmt.Errorf(`%w: unknown field %q (want {"dryRun": true|false})`, ErrBadInput, k)
		}
		if err := json.Unmarshal(v, &in.DryRun); err != nil {
			return Input{}, fmt.Errorf(`%w: dryRun must be true or false`, ErrBadInput)
		}
	}
	return in, nil
}
