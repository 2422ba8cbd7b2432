package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// ErrBadEvent: the event is not one Notify handles (source and detail type
// of eventrules.Notices), or its detail does not decode strictly into its
// dormancy type with the fields a notice needs. Nothing is written or sent
// for it, and retrying it cannot help.
var ErrBadEvent = errors.New("not a notice event")

// Event is one decoded notice event: exactly one of its details is set.
type Event struct {
	ID         string
	Source     string
	DetailType string
	OccurredAt time.Time

	Warning     *dormancy.UserDormancyWarning
	Deactivated *dormancy.UserDeactivated
	Reactivated *dormancy.UserReactivated
	Held        *dormancy.SweepHeld
	Completed   *dormancy.SweepCompleted
}

// UserID is the user a user's event is about; empty for the admins' events.
func (e Event) UserID() string {
	switch {
	case e.Warning != nil:
		return e.Warning.UserID
	case e.Deactivated != nil:
		return e.Deactivated.UserID
	case e.Reactivated != nil:
		return e.Reactivated.UserID
	}
	return ""
}

// reasonExpired is the deactivation reason of an account past its expiry
// date (spec §13).
const reasonExpired dormancy.Reason = "EXPIRED"

// Parse decodes an EventBridge envelope carrying one of the events of
// eventrules.Notices, strictly: the source must go with the detail type, the
// detail must decode into the dormancy type with no unknown field and
// nothing after it, and carry the fields a notice is written from.
func Parse(raw json.RawMessage) (Event, error) {
	var env events.EventBridgeEvent
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	ev := Event{Source: env.Source, DetailType: env.DetailType}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s %s: %s", ErrBadEvent, env.Source, env.DetailType, fmt.Sprintf(format, args...))
	}
	var detail any
	switch [2]string{env.Source, env.DetailType} {
	case [2]string{dormancy.SourceUsers, dormancy.TypeUserDormancyWarning}:
		ev.Warning = &dormancy.UserDormancyWarning{}
		detail = ev.Warning
	case [2]string{dormancy.SourceUsers, dormancy.TypeUserDeactivated}:
		ev.Deactivated = &dormancy.UserDeactivated{}
		detail = ev.Deactivated
	case [2]string{dormancy.SourceUsers, dormancy.TypeUserReactivated}:
		ev.Reactivated = &dormancy.UserReactivated{}
		detail = ev.Reactivated
	case [2]string{dormancy.SourceSweeps, dormancy.TypeSweepHeld}:
		ev.Held = &dormancy.SweepHeld{}
		detail = ev.Held
	case [2]string{dormancy.SourceSweeps, dormancy.TypeSweepCompleted}:
		ev.Completed = &dormancy.SweepCompleted{}
		detail = ev.Completed
	default:
		return Event{}, fmt.Errorf("%w: source %q, detail-type %q", ErrBadEvent, env.Source, env.DetailType)
	}
	dec := json.NewDecoder(bytes.NewReader(env.Detail))
	dec.DisallowUnknownFields()
	if err := dec.Decode(detail); err != nil {
		return bad("detail: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("detail: more than one JSON value")
	}

	var id, occurred string
	var times []string // further timestamps that must parse
	switch {
	case ev.Warning != nil:
		d := ev.Warning
		id, occurred, times = d.EventID, d.OccurredAt, []string{d.LastActivityAt, d.DeactivationDue}
		if !dormancy.ValidUserID(d.UserID) {
			return bad("userId %q", d.UserID)
		}
		if d.ThresholdDays < 1 || d.ThresholdDays > dormancy.MaxDays {
			return bad("thresholdDays %d", d.ThresholdDays)
		}
	case ev.Deactivated != nil:
		d := ev.Deactivated
		id, occurred = d.EventID, d.OccurredAt
		if !dormancy.ValidUserID(d.UserID) {
			return bad("userId %q", d.UserID)
		}
		switch d.Reason {
		case dormancy.ReasonInactivity:
			if d.ThresholdDays < 1 || d.ThresholdDays > dormancy.MaxDays {
				return bad("thresholdDays %d", d.ThresholdDays)
			}
		case dormancy.ReasonAdmin, reasonExpired:
		default:
			return bad("reason %q", d.Reason)
		}
	case ev.Reactivated != nil:
		d := ev.Reactivated
		id, occurred = d.EventID, d.OccurredAt
		if !dormancy.ValidUserID(d.UserID) {
			return bad("userId %q", d.UserID)
		}
	case ev.Held != nil:
		d := ev.Held
		id, occurred = d.EventID, d.OccurredAt
		if d.RunID == "" {
			return bad("no runId")
		}
		if d.HoldReason != dormancy.HoldTooMany && d.HoldReason != dormancy.HoldTriggersNotAttached {
			return bad("holdReason %q", d.HoldReason)
		}
		if d.Due < 0 || d.ActiveUsers < 0 {
			return bad("due %d, activeUsers %d", d.Due, d.ActiveUsers)
		}
	case ev.Completed != nil:
		d := ev.Completed
		id, occurred = d.EventID, d.OccurredAt
		if d.RunID == "" {
			return bad("no runId")
		}
		if d.Deactivated < 1 || d.Deactivated < len(d.Users) || len(d.Users) > dormancy.MaxDigestUsers {
			return bad("deactivated %d with %d users listed", d.Deactivated, len(d.Users))
		}
		for _, u := range d.Users {
			if u.UserID == "" || u.Reason == "" {
				return bad("a listed user without userId or reason")
			}
		}
	}
	if id == "" || len(id) > 128 {
		return bad("eventId %q", id)
	}
	ev.ID = id
	var err error
	if ev.OccurredAt, err = parseTime(occurred); err != nil {
		return bad("occurredAt: %v", err)
	}
	for _, t := range times {
		if _, err := parseTime(t); err != nil {
			return bad("%v", err)
		}
	}
	return ev, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
