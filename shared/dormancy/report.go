package dormancy

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// Report is the evidence an auditor asks for (spec §14): as of now, and for
// a period.
type Report struct {
	AsOf, From, To time.Time
	Policy         RunPolicy
	ActiveUsers    int
	// PastThreshold are the active, non-exempt users past their threshold
	// (or end date) now: the control's failures, none after a completed
	// sweep.
	PastThreshold []ReportUser
	// ExemptPastThreshold are the exempt users past their threshold, each
	// with the group that exempts them: the exceptions, for review.
	ExemptPastThreshold []ReportUser
	Deactivations       map[Reason]int // in the period, by reason
	Reactivations       []ReportReactivation
	Runs                []Run
	Controls            []Control
}

// ReportUser is one user of a report's lists.
type ReportUser struct {
	UserID, Username string
	LastActivityAt   time.Time
	ThresholdDays    int
	DueAt            time.Time
	ExemptBy         string // the group that exempts them
}

// ReportReactivation is one reactivation of the period.
type ReportReactivation struct {
	UserID, Username                     string
	At                                   time.Time
	ApprovalReference, ApprovedBy, Actor string
}

// Control is one control's verdict, and the figure that evidences it.
type Control struct {
	ID                string
	Name              string
	RequirementDays   int // 0: the organization defines it (NIST AC-2(3))
	ConfiguredMaxDays int // the longest threshold the policy applies
	ThresholdMeets    bool
	// PastThresholdNotDeactivated is the enforcement figure: active,
	// non-exempt users past their threshold now.
	PastThresholdNotDeactivated int
	LastCompletedSweep          time.Time
	Meets                       bool
	Evidence                    string
}

// controls are the controls the report answers for.
var controls = []struct {
	id, name string
	days     int
}{
	{"CIS-5.3", "CIS Controls v8 5.3: disable dormant accounts after 45 days of inactivity", 45},
	{"PCI-DSS-8.2.6", "PCI DSS v4.0 8.2.6: inactive user accounts removed or disabled within 90 days", 90},
	{"NIST-AC-2(3)", "NIST SP 800-53 AC-2(3): disable accounts after an organization-defined period of inactivity", 0},
}

// BuildReport puts the evidence together. candidates are the users read at
// or past the smallest threshold (and by end date); entries the period's
// DisableUserAccount and EnableUserAccount entries; runs the period's runs.
func BuildReport(p Policy, g Guard, active int, candidates []User, entries []AuditEntry, runs []Run, now, from, to time.Time) Report {
	r := Report{
		AsOf: now.UTC(), From: from.UTC(), To: to.UTC(), ActiveUsers: active, Runs: runs, Deactivations: map[Reason]int{},
		Policy: InForce(p, g),
	}
	for _, u := range candidates {
		v := p.Evaluate(u, now)
		ru := ReportUser{UserID: u.UserID, Username: u.Username, LastActivityAt: v.LastActivity, ThresholdDays: v.ThresholdDays, DueAt: v.DueAt}
		switch v.Action {
		case Deactivate, Expire:
			r.PastThreshold = append(r.PastThreshold, ru)
		case Exempted:
			if now.After(v.DueAt) {
				ru.ExemptBy = p.ExemptBy(u.Groups)
				r.ExemptPastThreshold = append(r.ExemptPastThreshold, ru)
			}
		}
	}
	for _, l := range [][]ReportUser{r.PastThreshold, r.ExemptPastThreshold} {
		sort.Slice(l, func(i, j int) bool { return l[i].DueAt.Before(l[j].DueAt) })
	}
	for _, e := range entries {
		switch e.Operation {
		case OpDisableUserAccount:
			reason := Reason(e.Reason)
			if e.Source == SourceAdmin {
				reason = ReasonAdmin // an admin's entry holds their free-text reason
			}
			r.Deactivations[reason]++
		case OpEnableUserAccount:
			r.Reactivations = append(r.Reactivations, ReportReactivation{
				UserID: e.UserID, Username: e.UserAccount, At: e.OccurredAt,
				ApprovalReference: e.ApprovalReference, ApprovedBy: e.ApprovedBy, Actor: e.Actor,
			})
		}
	}
	var lastSweep time.Time
	for _, run := range runs {
		if run.Kind == RunSweep && !run.DryRun && !run.Held && !run.EndedAt.IsZero() && run.EndedAt.After(lastSweep) && completed(run) {
			lastSweep = run.EndedAt
		}
	}
	longest := p.DefaultDays
	for _, d := range p.GroupDays {
		longest = max(longest, d)
	}
	for _, c := range controls {
		ctl := Control{ID: c.id, Name: c.name, RequirementDays: c.days, ConfiguredMaxDays: longest,
			PastThresholdNotDeactivated: len(r.PastThreshold), LastCompletedSweep: lastSweep}
		ctl.ThresholdMeets = c.days == 0 || longest <= c.days
		ctl.Meets = ctl.ThresholdMeets && len(r.PastThreshold) == 0 && !lastSweep.IsZero()
		switch {
		case !ctl.ThresholdMeets:
			ctl.Evidence = "the policy allows up to " + itoa(longest) + " days of inactivity, more than the control's " + itoa(c.days)
		case lastSweep.IsZero():
			ctl.Evidence = "no sweep completed in the period"
		case len(r.PastThreshold) > 0:
			ctl.Evidence = itoa(len(r.PastThreshold)) + " active, non-exempt accounts are past their threshold now"
		default:
			ctl.Evidence = "no active, non-exempt account is past its threshold (at most " + itoa(longest) + " days); last completed sweep " + FormatTime(lastSweep)
		}
		r.Controls = append(r.Controls, ctl)
	}
	return r
}

// completed reads a sweep run's summary for "complete": true.
func completed(run Run) bool {
	var sum struct {
		Complete bool `json:"complete"`
	}
	return json.Unmarshal(run.Summary, &sum) == nil && sum.Complete
}

func itoa(n int) string { return strconv.Itoa(n) }
