// Package eventrules defines Dormancy's EventBridge rules once: the CDK app
// builds the deployed rules from them, and the local stack matches events
// with the very same patterns (quamina), so the two cannot drift apart.
package eventrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Pattern is an EventBridge event pattern on source and detail type.
type Pattern struct {
	Source     []string `json:"source"`
	DetailType []string `json:"detail-type"`
}

// JSON is the pattern as EventBridge (and quamina) read it.
func (p Pattern) JSON() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// UserDeactivated routes every deactivation to the reassignment function.
var UserDeactivated = Pattern{Source: []string{dormancy.SourceUsers}, DetailType: []string{dormancy.TypeUserDeactivated}}

// Notices routes what people are told about to the notify function: a
// user's warning, deactivation and reactivation, and the admins' held sweep
// and per-run digest.
var Notices = Pattern{
	Source: []string{dormancy.SourceUsers, dormancy.SourceSweeps},
	DetailType: []string{
		dormancy.TypeUserDormancyWarning, dormancy.TypeUserDeactivated, dormancy.TypeUserReactivated,
		dormancy.TypeSweepHeld, dormancy.TypeSweepCompleted,
	},
}

// Invocation reads a scheduled function's payload: empty, {} or the
// schedule's EventBridge event (source aws.events) are a plain run (nil
// fields); anything else must be one JSON object whose keys are among
// allowed, exactly as spelled (encoding/json would match them in any case),
// returned raw for the caller to decode.
func Invocation(raw json.RawMessage, allowed ...string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return nil, nil
	}
	var probe map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&probe); err != nil || dec.More() {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return nil, err
	}
	if _, ok := probe["detail-type"]; ok {
		var src string
		json.Unmarshal(probe["source"], &src)
		if src != "aws.events" {
			return nil, fmt.Errorf("event from %q is not the schedule's", src)
		}
		return nil, nil
	}
	for k := range probe {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("unknown field %q (want %s)", k, strings.Join(allowed, ", "))
		}
	}
	return probe, nil
}
