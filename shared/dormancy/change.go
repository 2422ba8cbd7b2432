package dormancy

import (
	"strconv"
	"strings"
	"time"
)

// Operation names an audit entry's kind (spec §9).
type Operation string

const (
	OpCreateUserAccount  Operation = "CreateUserAccount"
	OpEnableUserAccount  Operation = "EnableUserAccount"
	OpDisableUserAccount Operation = "DisableUserAccount"
	OpRecordUserCleared  Operation = "RecordUserCleared"
	OpUserExpirySet      Operation = "UserExpirySet"
)

// Audit sources beyond the creation sources.
const (
	SourceAdmin                 = "Admin"
	SourceAutomaticDeactivation = "AutomaticDeactivation"
)

// AuditEntry is one append-only line of the audit trail.
type AuditEntry struct {
	ID                string
	UserID            string // the account concerned
	Operation         Operation
	OccurredAt        time.Time
	IsEnabled         bool   // the account's state after the change
	UserAccount       string // the account's user name
	Actor             string // SystemActor or the userId of the person who acted
	Source            string
	Reason            string
	ApprovalReference string
	ApprovedBy        string
	Comment           string
	ThresholdDays     int
	// Version is the account's version after the change: a state change's
	// entries, ordered by it, replay the account's history step by step.
	Version          int64
	EventID          string // the event this change emitted or was caused by
	RecordID         string
	Module           string
	Field            string
	PreviousUserID   string
	PreviousUsername string
	// Hash and PrevHash chain the entries (spec §9); the store sets them.
	Hash, PrevHash string
}

// Change is a state change of one account, ready to be written atomically:
// the new user, the audit entry and the events owed. SignOut says the user's
// sessions must be revoked.
type Change struct {
	User    User
	Audit   AuditEntry
	Events  []Event
	SignOut bool
	// Expect is the state the write is conditional on.
	Expect Expectation
}

// Expectation is the condition a change is written under: the user must
// still be in Status and, if LastActivity is set, still have that last
// activity (a sign-in in between changes it, and wins).
type Expectation struct {
	Status       Status
	LastActivity time.Time
	Version      int64
	// Unwarned: the user must not have been warned in the period that
	// LastActivity starts.
	Unwarned bool
}

// DeactivateForInactivity builds the change that switches off a user found
// past the threshold by the sweeper or the login hook. Both make the same
// record and the same event (the event id depends on the user and the last
// activity that made them dormant, so two racing deactivators agree on it).
//
// A verdict of Expire deactivates with reason EXPIRED instead: the account
// passed its end date.
func DeactivateForInactivity(u User, v Verdict, now time.Time) Change {
	if v.Action == Expire {
		d := &Deactivation{At: now.UTC(), By: SystemActor, Reason: ReasonExpired, Automatic: true, ThresholdDays: v.ThresholdDays}
		eventID := StableID(TypeUserDeactivated, u.UserID, "expired", FormatTime(u.ExpiresAt))
		c := deactivate(u, d, v.LastActivity, SourceAutomaticDeactivation, eventID)
		c.Expect.LastActivity = time.Time{} // a sign-in does not move an end date
		return c
	}
	d := &Deactivation{At: now.UTC(), By: SystemActor, Reason: ReasonInactivity, Automatic: true, ThresholdDays: v.ThresholdDays}
	eventID := StableID(TypeUserDeactivated, u.UserID, FormatTime(v.LastActivity))
	return deactivate(u, d, v.LastActivity, SourceAutomaticDeactivation, eventID)
}

// DeactivateByAdmin builds the change an admin makes by hand.
func DeactivateByAdmin(u User, actor, reason string, thresholdDays int, now time.Time) (Change, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Change{}, BadInput("reason is required")
	}
	if u.Status != Active {
		return Change{}, Conflict("user %s is not active", u.UserID)
	}
	d := &Deactivation{At: now.UTC(), By: actor, Reason: ReasonAdmin, ThresholdDays: thresholdDays, Comment: reason}
	eventID := StableID(TypeUserDeactivated, u.UserID, "admin", FormatTime(d.At), strconv.FormatInt(u.Version, 10))
	c := deactivate(u, d, u.LastActivity(), SourceAdmin, eventID)
	// An admin's decision does not depend on activity: a sign-in landing
	// meanwhile does not undo it (only the version guards it).
	c.Expect.LastActivity = time.Time{}
	return c, nil
}

func deactivate(u User, d *Deactivation, lastActivity time.Time, source, eventID string) Change {
	before := u
	u.Status = Deactivated
	u.Deactivation = d
	u.WarnedAt = time.Time{}
	u.Version++
	reason := string(d.Reason)
	if d.Comment != "" {
		reason = d.Comment
	}
	ev := UserDeactivated{
		EventID: eventID, UserID: u.UserID, Username: u.Username, OccurredAt: FormatTime(d.At),
		Reason: d.Reason, Automatic: d.Automatic, Actor: d.By,
		LastActivityAt: FormatTime(lastActivity), ThresholdDays: d.ThresholdDays, Comment: d.Comment,
	}
	if d.Reason == ReasonExpired {
		ev.ExpiresAt = FormatTime(u.ExpiresAt)
	}
	return Change{
		User: u,
		Audit: AuditEntry{
			ID: eventID, UserID: u.UserID, Operation: OpDisableUserAccount, OccurredAt: d.At,
			IsEnabled: false, UserAccount: u.Username, Actor: d.By, Source: source,
			Reason: reason, ThresholdDays: d.ThresholdDays, EventID: eventID, Version: u.Version,
		},
		Events:  []Event{NewEvent(eventID, SourceUsers, TypeUserDeactivated, u.UserID, d.At, ev)},
		SignOut: true,
		Expect:  Expectation{Status: Active, LastActivity: lastActivity, Version: before.Version},
	}
}

// ReactivationRequest is an admin's request to switch a user back on.
type ReactivationRequest struct {
	Actor             string // the admin's userId
	ActorUsername     string // and user name and e-mail, which approvedBy may not name either
	ActorEmail        string
	ApprovalReference string
	ApprovedBy        string // the Business Head who approved, not the actor
	Comment           string
}

// Reactivate builds the change that switches a deactivated user back on. The
// user gets a full dormancy period from now.
func Reactivate(u User, r ReactivationRequest, now time.Time) (Change, error) {
	r.ApprovalReference = strings.TrimSpace(r.ApprovalReference)
	r.ApprovedBy = strings.TrimSpace(r.ApprovedBy)
	if r.ApprovalReference == "" {
		return Change{}, BadInput("approvalReference is required")
	}
	if err := CheckApprover(r.ApprovedBy, Caller{UserID: r.Actor, Username: r.ActorUsername, Email: r.ActorEmail}); err != nil {
		return Change{}, err
	}
	if u.Status != Deactivated {
		return Change{}, Conflict("user %s is not deactivated", u.UserID)
	}
	at := now.UTC()
	before := u
	u.Status = Active
	u.ReactivatedAt = at
	u.WarnedAt = time.Time{}
	u.ExpiresAt = time.Time{} // reactivating clears the end date (spec §13)
	u.Reactivation = &Reactivation{At: at, By: r.Actor, ApprovalReference: r.ApprovalReference, ApprovedBy: r.ApprovedBy, Comment: r.Comment}
	u.Version++
	eventID := StableID(TypeUserReactivated, u.UserID, FormatTime(at), strconv.FormatInt(before.Version, 10))
	ev := UserReactivated{
		EventID: eventID, UserID: u.UserID, Username: u.Username, OccurredAt: FormatTime(at),
		Actor: r.Actor, ApprovalReference: r.ApprovalReference, ApprovedBy: r.ApprovedBy,
	}
	return Change{
		User: u,
		Audit: AuditEntry{
			ID: eventID, UserID: u.UserID, Operation: OpEnableUserAccount, OccurredAt: at, IsEnabled: true,
			UserAccount: u.Username, Actor: r.Actor, Source: SourceAdmin, Reason: r.Comment,
			ApprovalReference: r.ApprovalReference, ApprovedBy: r.ApprovedBy, EventID: eventID, Version: u.Version,
		},
		Events: []Event{NewEvent(eventID, SourceUsers, TypeUserReactivated, u.UserID, at, ev)},
		Expect: Expectation{Status: Deactivated, Version: before.Version},
	}, nil
}

// WarnDormant builds the change that records a dormancy warning: the user
// stays active, the warning is remembered for this period, and an event is
// owed. The event id depends on the period (the last activity), so one
// period gets one warning however often the sweeper runs.
func WarnDormant(u User, v Verdict, now time.Time) Change {
	eventID := StableID(TypeUserDormancyWarning, u.UserID, FormatTime(v.LastActivity))
	u.WarnedAt = now.UTC()
	ev := UserDormancyWarning{
		EventID: eventID, UserID: u.UserID, Username: u.Username, OccurredAt: FormatTime(now),
		LastActivityAt: FormatTime(v.LastActivity), ThresholdDays: v.ThresholdDays, DeactivationDue: FormatTime(v.DueAt),
	}
	if v.Reason == ReasonExpired {
		ev.Reason = ReasonExpired
	}
	return Change{
		User:   u,
		Events: []Event{NewEvent(eventID, SourceUsers, TypeUserDormancyWarning, u.UserID, now, ev)},
		Expect: Expectation{Status: Active, LastActivity: v.LastActivity, Unwarned: true},
	}
}

// NewAccount builds a new ACTIVE user and its CreateUserAccount audit entry.
func NewAccount(userID, username string, groups []string, source CreationSource, actor string, createdAt, now time.Time) (User, AuditEntry) {
	u := User{
		UserID: userID, Username: username, Status: Active, Groups: groups,
		CreationSource: source, CreatedAt: createdAt.UTC(), Version: 1,
	}
	if source == FirstLogin {
		u.LastLoginAt = createdAt.UTC()
	}
	id := StableID(string(OpCreateUserAccount), userID)
	return u, AuditEntry{
		ID: id, UserID: userID, Operation: OpCreateUserAccount, OccurredAt: now.UTC(), IsEnabled: true,
		UserAccount: username, Actor: actor, Source: string(source), Version: u.Version,
	}
}

// ExpiryRequest is an admin's setting (or clearing) of an account's end date.
type ExpiryRequest struct {
	Actor     string
	ExpiresAt time.Time // zero clears it
	Reason    string
}

// SetExpiry builds the change that sets or clears a user's end date, with
// its UserExpirySet audit entry (spec §8, §13). An end date must be in the
// future; the user must be ACTIVE.
func SetExpiry(u User, r ExpiryRequest, now time.Time) (Change, error) {
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.Reason == "":
		return Change{}, BadInput("reason is required")
	case !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now):
		return Change{}, BadInput("expiresAt must be in the future")
	case u.Status != Active:
		return Change{}, Conflict("user %s is not active", u.UserID)
	}
	before := u
	u.ExpiresAt = r.ExpiresAt.UTC()
	u.WarnedAt = time.Time{} // a new end date is warned of anew
	at := now.UTC()
	id := StableID(string(OpUserExpirySet), u.UserID, FormatTime(at), strconv.FormatInt(before.Version, 10), FormatTime(u.ExpiresAt), r.Reason)
	comment := "expiry cleared"
	if !u.ExpiresAt.IsZero() {
		comment = "expires " + FormatTime(u.ExpiresAt)
	}
	return Change{
		User: u,
		Audit: AuditEntry{
			ID: id, UserID: u.UserID, Operation: OpUserExpirySet, OccurredAt: at, IsEnabled: true,
			UserAccount: u.Username, Actor: r.Actor, Source: SourceAdmin, Reason: r.Reason, Comment: comment,
		},
		Expect: Expectation{Status: Active, Version: before.Version},
	}, nil
}
