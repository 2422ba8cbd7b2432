package dormancy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"
)

// RecordStatus is a record's workflow state.
type RecordStatus string

const (
	Open      RecordStatus = "Open"
	Closed    RecordStatus = "Closed"
	Resolved  RecordStatus = "Resolved"
	Cancelled RecordStatus = "Cancelled"
)

// Record is a piece of work (a lead, a ticket, …) whose named user fields
// each hold a userId. When a user is deactivated, every Open record naming
// them has those fields cleared and flagged for reassignment; Closed,
// Resolved and Cancelled records keep their history as it is.
type Record struct {
	ID                string
	Module            string
	Status            RecordStatus
	Fields            map[string]string // field name -> userId; "" when unassigned
	NeedsReassignment []string          // fields cleared because their user was deactivated
	Version           int64
	UpdatedAt         time.Time
}

var (
	recordIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	modulePattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	fieldPattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	userIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// MaxUserFields bounds a record's user fields (one transaction writes them).
const MaxUserFields = 20

// ValidRecordID reports whether s can name a record.
func ValidRecordID(s string) bool { return recordIDPattern.MatchString(s) }

// Validate checks a record's shape.
func (r Record) Validate() error {
	switch {
	case !ValidRecordID(r.ID):
		return fmt.Errorf("%w: record id %q must be 1–128 letters, digits or _.:- and start with a letter or digit", ErrInvalid, r.ID)
	case !modulePattern.MatchString(r.Module):
		return fmt.Errorf("%w: module %q must be lower-case letters, digits, _ or -", ErrInvalid, r.Module)
	case !slices.Contains([]RecordStatus{Open, Closed, Resolved, Cancelled}, r.Status):
		return fmt.Errorf("%w: status %q must be Open, Closed, Resolved or Cancelled", ErrInvalid, r.Status)
	case len(r.Fields) > MaxUserFields:
		return fmt.Errorf("%w: at most %d user fields", ErrInvalid, MaxUserFields)
	}
	for f, u := range r.Fields {
		if !fieldPattern.MatchString(f) {
			return fmt.Errorf("%w: field name %q must be a letter followed by letters, digits or _", ErrInvalid, f)
		}
		if u != "" && !userIDPattern.MatchString(u) {
			return fmt.Errorf("%w: field %s: %q is not a user id", ErrInvalid, f, u)
		}
	}
	return nil
}

// Assigned lists the (field, userId) pairs that name a user, in field order.
func (r Record) Assigned() []FieldRef {
	var out []FieldRef
	for f, u := range r.Fields {
		if u != "" {
			out = append(out, FieldRef{Field: f, UserID: u})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// FieldRef is one user field naming one user.
type FieldRef struct {
	RecordID string
	Module   string
	Field    string
	UserID   string
}

// Clearing is one user field cleared from a record: the audit entry and the
// event it makes. Its id depends on the record, the field and the cause, so
// a redelivered cause clears (and records) nothing twice.
type Clearing struct {
	Ref   FieldRef
	Audit AuditEntry
	Event Event
}

// ClearField builds the clearing of ref, whose user (named username) is
// deactivated. cause is the event id that caused it (a UserDeactivated, or
// the reopening); actor and source say who did it.
func ClearField(ref FieldRef, username, cause, actor, source string, now time.Time) Clearing {
	id := StableID(TypeRecordUserCleared, ref.RecordID, ref.Field, ref.UserID, cause)
	at := now.UTC()
	ev := RecordUserCleared{
		EventID: id, UserID: ref.UserID, Username: username, OccurredAt: FormatTime(at),
		RecordID: ref.RecordID, Module: ref.Module, Field: ref.Field, PreviousUserID: ref.UserID,
	}
	if isStableID(cause) {
		ev.CauseEventID = cause
	}
	return Clearing{
		Ref: ref,
		Audit: AuditEntry{
			ID: id, UserID: ref.UserID, Operation: OpRecordUserCleared, OccurredAt: at, IsEnabled: false,
			UserAccount: username, Actor: actor, Source: source, Reason: "user deactivated",
			EventID: cause, RecordID: ref.RecordID, Module: ref.Module, Field: ref.Field,
			PreviousUserID: ref.UserID, PreviousUsername: username,
		},
		Event: NewEvent(id, SourceRecords, TypeRecordUserCleared, ref.UserID, at, ev),
	}
}

var stableIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func isStableID(s string) bool { return stableIDPattern.MatchString(s) }
