package dormancy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Event sources and detail types of spec §6. They are part of the contract:
// EventBridge rules, consumers and dashboards match on them.
const (
	SourceUsers   = "dormancy.users"
	SourceRecords = "dormancy.records"
	SourceSweeps  = "dormancy.sweeps"

	TypeUserDeactivated     = "UserDeactivated"
	TypeUserReactivated     = "UserReactivated"
	TypeUserDormancyWarning = "UserDormancyWarning"
	TypeRecordUserCleared   = "RecordUserCleared"
	TypeSweepHeld           = "SweepHeld"
	TypeSweepCompleted      = "SweepCompleted"
)

// Why a sweep was held (spec §5).
const (
	HoldTooMany             = "TooMany"
	HoldTriggersNotAttached = "TriggersNotAttached"
)

// SweepHeld is the detail of a SweepHeld event: a sweep deactivated nobody
// because it would have deactivated too many users at once, or because the
// pool does not call the login hook (so sign-ins are not being stamped).
type SweepHeld struct {
	EventID    string `json:"eventId"`
	RunID      string `json:"runId"`
	OccurredAt string `json:"occurredAt"`
	HoldReason string `json:"holdReason"`
	// Due is how many users the run would have deactivated; ActiveUsers the
	// active population it measured them against.
	Due              int      `json:"due"`
	ActiveUsers      int      `json:"activeUsers"`
	HoldAboveCount   int      `json:"holdAboveCount"`
	HoldAbovePercent float64  `json:"holdAbovePercent"`
	MissingTriggers  []string `json:"missingTriggers,omitempty"`
}

// SweepCompleted is the detail of a SweepCompleted event, sent once per
// sweep run that deactivated anyone: the admins' digest of who and why.
type SweepCompleted struct {
	EventID     string             `json:"eventId"`
	RunID       string             `json:"runId"`
	OccurredAt  string             `json:"occurredAt"`
	Deactivated int                `json:"deactivated"`
	Users       []DeactivatedEntry `json:"users"` // the first MaxDigestUsers
}

// DeactivatedEntry is one user of a SweepCompleted digest.
type DeactivatedEntry struct {
	UserID        string `json:"userId"`
	Username      string `json:"username"`
	Reason        Reason `json:"reason"`
	ThresholdDays int    `json:"thresholdDays"`
}

// MaxDigestUsers bounds a SweepCompleted event's list (EventBridge takes
// 256 KB an entry); Deactivated has the full count.
const MaxDigestUsers = 500

// UserDeactivated is the detail of a UserDeactivated event.
type UserDeactivated struct {
	EventID        string `json:"eventId"`
	UserID         string `json:"userId"`
	Username       string `json:"username"`
	OccurredAt     string `json:"occurredAt"`
	Reason         Reason `json:"reason"`
	Automatic      bool   `json:"automatic"`
	Actor          string `json:"actor"`
	LastActivityAt string `json:"lastActivityAt"`
	ThresholdDays  int    `json:"thresholdDays"`
	Comment        string `json:"comment,omitempty"`
	ExpiresAt      string `json:"expiresAt,omitempty"` // for EXPIRED: the end date
}

// UserReactivated is the detail of a UserReactivated event.
type UserReactivated struct {
	EventID           string `json:"eventId"`
	UserID            string `json:"userId"`
	Username          string `json:"username"`
	OccurredAt        string `json:"occurredAt"`
	Actor             string `json:"actor"`
	ApprovalReference string `json:"approvalReference"`
	ApprovedBy        string `json:"approvedBy"`
}

// UserDormancyWarning is the detail of a UserDormancyWarning event, sent once
// per dormancy period, WARNING_DAYS before the user would be deactivated.
type UserDormancyWarning struct {
	EventID         string `json:"eventId"`
	UserID          string `json:"userId"`
	Username        string `json:"username"`
	OccurredAt      string `json:"occurredAt"`
	LastActivityAt  string `json:"lastActivityAt"`
	ThresholdDays   int    `json:"thresholdDays"`
	DeactivationDue string `json:"deactivationDueAt"`
	Reason          Reason `json:"reason,omitempty"` // EXPIRED when the end date is what is due
}

// RecordUserCleared is the detail of a RecordUserCleared event: a user field of
// an open record no longer names the (deactivated) user.
type RecordUserCleared struct {
	EventID        string `json:"eventId"`
	UserID         string `json:"userId"`
	Username       string `json:"username"`
	OccurredAt     string `json:"occurredAt"`
	RecordID       string `json:"recordId"`
	Module         string `json:"module"`
	Field          string `json:"field"`
	PreviousUserID string `json:"previousUserId"`
	CauseEventID   string `json:"causeEventId,omitempty"`
}

// Event is an event ready to publish: its EventBridge envelope fields and its
// detail, already encoded.
type Event struct {
	ID         string
	Source     string
	DetailType string
	UserID     string
	OccurredAt time.Time
	Detail     json.RawMessage
}

// NewEvent encodes detail into an Event. The id must be the detail's eventId.
func NewEvent(id, source, detailType, userID string, at time.Time, detail any) Event {
	b, err := json.Marshal(detail)
	if err != nil {
		// The detail types above are plain structs of strings, bools and ints.
		panic(fmt.Sprintf("dormancy: encode %s detail: %v", detailType, err))
	}
	return Event{ID: id, Source: source, DetailType: detailType, UserID: userID, OccurredAt: at.UTC(), Detail: b}
}

// StableID derives an event (or audit entry) id from the parts that identify
// a change, so that the same change always gets the same id however often it
// is retried. It is formatted like a UUID for readability.
func StableID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	s := hex.EncodeToString(h.Sum(nil)[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// FormatTime is the one timestamp format of events, audit entries and the API:
// RFC 3339 in UTC with milliseconds.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// TimeLayout is fixed-width, so string order is time order.
const TimeLayout = "2006-01-02T15:04:05.000Z"
