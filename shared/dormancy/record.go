package dormancy

import (
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	AuditHash         string // the head of the record's audit chain, kept by the store
	UpdatedAt         time.Time
}

var (
	recordIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	modulePattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	fieldPattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
)

// MaxUserFields bounds a record's user fields (one transaction writes them).
const MaxUserFields = 20

// ValidFieldName reports whether s can name a user field of a record.
func ValidFieldName(s string) bool { return fieldPattern.MatchString(s) }

// ValidRecordID reports whether s can name a record.
func ValidRecordID(s string) bool { return recordIDPattern.MatchString(s) }

// Validate checks a record's shape.
func (r Record) Validate() error {
	switch {
	case !ValidRecordID(r.ID):
		return BadInput("record id %q must be 1–128 letters, digits or _.:- and start with a letter or digit", r.ID)
	case !modulePattern.MatchString(r.Module):
		return BadInput("module %q must be lower-case letters, digits, _ or -", r.Module)
	case !slices.Contains([]RecordStatus{Open, Closed, Resolved, Cancelled}, r.Status):
		return BadInput("status %q must be Open, Closed, Resolved or Cancelled", r.Status)
	case len(r.Fields) > MaxUserFields:
		return BadInput("at most %d user fields", MaxUserFields)
	}
	for f, u := range r.Fields {
		if !fieldPattern.MatchString(f) {
			return BadInput("field name %q must be a letter followed by letters, digits or _", f)
		}
		if u != "" && !ValidUserID(u) {
			return BadInput("field %s: %q is not a user id", f, u)
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

// Reopen turns a Closed or Resolved record Open again (spec §7). users holds
// the users its fields name, as read now (an unknown user is absent). A
// field naming a user who is not ACTIVE is cleared and flagged, each with its
// Clearing (audit entry and event); the others are kept, and the write must
// check that their users are still ACTIVE when it commits.
func (r Record) Reopen(users map[string]User, actor string, now time.Time) (Record, []Clearing, []FieldRef, error) {
	if r.Status != Closed && r.Status != Resolved {
		return r, nil, nil, Conflict("record %s is %s; only Closed or Resolved records reopen", r.ID, r.Status)
	}
	before := r.Version
	out := r
	out.Fields = maps.Clone(r.Fields)
	out.Status = Open
	out.Version++
	out.UpdatedAt = now.UTC()
	cause := StableID("Reopen", r.ID, strconv.FormatInt(before, 10))
	flagged := slices.Clone(r.NeedsReassignment)
	var clearings []Clearing
	var kept []FieldRef
	for _, a := range r.Assigned() {
		a.RecordID, a.Module = r.ID, r.Module
		u, known := users[a.UserID]
		if known && u.Status == Active {
			kept = append(kept, a)
			continue
		}
		c := ClearField(a, u.Username, cause, actor, SourceAdmin, now)
		c.Audit.Reason = "record reopened; user not active"
		clearings = append(clearings, c)
		out.Fields[a.Field] = ""
		flagged = append(flagged, a.Field)
	}
	slices.Sort(flagged)
	out.NeedsReassignment = slices.Compact(flagged)
	return out, clearings, kept, nil
}

// PruneReassignment drops from NeedsReassignment the fields that name a user
// again: a field given a (new) user is no longer waiting for one.
func (r *Record) PruneReassignment() {
	var waiting []string
	for _, f := range r.NeedsReassignment {
		if r.Fields[f] == "" {
			waiting = append(waiting, f)
		}
	}
	r.NeedsReassignment = waiting
}
