// Package eventrules defines Dormancy's EventBridge rules once: the CDK app
// builds the deployed rules from them, and the local stack matches events
// with the very same patterns (quamina), so the two cannot drift apart.
package eventrules

import (
	"encoding/json"

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
