package dormancy

import (
	"encoding/json"
	"time"
)

// Kinds of run (spec §14).
const (
	RunSweep = "sweep"
	RunSync  = "sync"
)

// Run is the record of one sweep or pool sync run: when, under which policy,
// what it did, and whether it was held and why.
type Run struct {
	RunID      string
	Kind       string
	StartedAt  time.Time
	EndedAt    time.Time
	DryRun     bool
	Held       bool
	HoldReason string
	Policy     RunPolicy
	// Summary is the run's own summary, as it returned it.
	Summary json.RawMessage
}

// RunPolicy is the policy in force during a run.
type RunPolicy struct {
	DefaultDays      int            `json:"defaultDays"`
	WarningDays      int            `json:"warningDays"`
	GroupDays        map[string]int `json:"groupDays"`
	ExemptGroups     []string       `json:"exemptGroups"`
	ScopeGroups      []string       `json:"scopeGroups"`
	HoldAboveCount   int            `json:"holdAboveCount"`
	HoldAbovePercent float64        `json:"holdAbovePercent"`
}

// InForce is the policy and guard as a run records them.
func InForce(p Policy, g Guard) RunPolicy {
	return RunPolicy{
		DefaultDays: p.DefaultDays, WarningDays: p.WarningDays, GroupDays: p.GroupDays, ExemptGroups: p.ExemptGroups,
		ScopeGroups: p.ScopeGroups, HoldAboveCount: g.Count, HoldAbovePercent: g.Percent,
	}
}

// Guard is the limit past which a sweep holds instead of deactivating
// (spec §5): more than Count users and more than Percent of the active
// ones. 0 in either turns it off.
type Guard struct {
	Count   int
	Percent float64
}

// Holds reports whether deactivating due users out of active ones is too
// many at once.
func (g Guard) Holds(due, active int) bool {
	if g.Count <= 0 || g.Percent <= 0 {
		return false
	}
	return due > g.Count && float64(due)*100 > g.Percent*float64(active)
}

// Covers reports whether a released hold lets a run with due users go
// ahead past the guard: the approval covers the users that were held and
// as many more as the guard lets through on any night, and no more (a
// release is not a standing exemption, even while it is not yet cleared).
func (h SweepHold) Covers(due int, g Guard) bool {
	return h.Held && h.Released && due <= h.Due+g.Count
}

// SweepHold is the sweep's state between runs: held (and why, by which run)
// until an admin releases it with a recorded approval.
type SweepHold struct {
	Held       bool
	HoldReason string
	RunID      string
	HeldAt     time.Time
	Due        int
	Active     int
	Missing    []string // triggers that do not name the login hook
	// Released: an admin approved the run going ahead; the next run does,
	// once, for the users that were due.
	Released          bool
	ReleasedAt        time.Time
	ReleasedBy        string
	ApprovalReference string
	ApprovedBy        string
	Version           int64
	// AuditHash is the head of the sweep's audit chain, kept by the store.
	AuditHash string
}

// Audit operations of the sweep's guard (spec §9); their entries sit under
// SweepsAccount, as no user's.
const (
	OpSweepHeld     Operation = "SweepHeld"
	OpSweepReleased Operation = "SweepReleased"
	// SweepsAccount is the audit trail's account for sweep entries: a user
	// id no Cognito user can have.
	SweepsAccount  = "_dormancy_sweeps"
	SourcePoolSync = "PoolSync"
)

// HoldSweep builds the audit entry and the SweepHeld event of a held run.
func HoldSweep(h SweepHold, g Guard, now time.Time) (AuditEntry, Event) {
	id := StableID(string(TypeSweepHeld), h.RunID)
	ev := SweepHeld{
		EventID: id, RunID: h.RunID, OccurredAt: FormatTime(now), HoldReason: h.HoldReason,
		Due: h.Due, ActiveUsers: h.Active, HoldAboveCount: g.Count, HoldAbovePercent: g.Percent, MissingTriggers: h.Missing,
	}
	reason := "would deactivate too many users at once"
	if h.HoldReason == HoldTriggersNotAttached {
		reason = "the pool does not call the login hook for every trigger"
	}
	return AuditEntry{
			ID: id, UserID: SweepsAccount, Operation: OpSweepHeld, OccurredAt: now.UTC(), Actor: SystemActor,
			Source: SourceAutomaticDeactivation, Reason: reason, EventID: id,
		},
		NewEvent(id, SourceSweeps, TypeSweepHeld, SweepsAccount, now, ev)
}

// ReleaseSweep builds the release of a held sweep: the same approval rules
// as an activation (spec §8). A sweep held because the triggers are not
// attached cannot be released: it goes ahead once they are.
func ReleaseSweep(h SweepHold, r ReactivationRequest, now time.Time) (SweepHold, AuditEntry, error) {
	if r.ApprovalReference == "" {
		return h, AuditEntry{}, BadInput("approvalReference is required")
	}
	if err := CheckApprover(r.ApprovedBy, Caller{UserID: r.Actor, Username: r.ActorUsername, Email: r.ActorEmail}); err != nil {
		return h, AuditEntry{}, err
	}
	switch {
	case !h.Held || h.Released:
		return h, AuditEntry{}, Conflict("no sweep is held")
	case h.HoldReason == HoldTriggersNotAttached:
		return h, AuditEntry{}, Conflict("the sweep is held because the pool does not call the login hook for every trigger; attach them and the next run goes ahead")
	}
	h.Released, h.ReleasedAt, h.ReleasedBy = true, now.UTC(), r.Actor
	h.ApprovalReference, h.ApprovedBy = r.ApprovalReference, r.ApprovedBy
	id := StableID(string(OpSweepReleased), h.RunID)
	return h, AuditEntry{
		ID: id, UserID: SweepsAccount, Operation: OpSweepReleased, OccurredAt: now.UTC(), Actor: r.Actor,
		Source: SourceAdmin, Reason: r.Comment, ApprovalReference: r.ApprovalReference, ApprovedBy: r.ApprovedBy,
	}, nil
}
