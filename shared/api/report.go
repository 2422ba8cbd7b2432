package api

import (
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// The compliance report (spec §14): JSON, or CSV with Accept: text/csv.

type reportUserView struct {
	UserID         string `json:"userId"`
	Username       string `json:"username"`
	LastActivityAt string `json:"lastActivityAt"`
	ThresholdDays  int    `json:"thresholdDays"`
	DueAt          string `json:"dueAt"`
	ExemptBy       string `json:"exemptBy,omitempty"`
}

type reactivationReportView struct {
	UserID            string `json:"userId"`
	Username          string `json:"username"`
	ReactivatedAt     string `json:"reactivatedAt"`
	ApprovalReference string `json:"approvalReference"`
	ApprovedBy        string `json:"approvedBy"`
	Actor             string `json:"actor"`
}

type controlView struct {
	ID                          string `json:"id"`
	Name                        string `json:"name"`
	RequirementDays             int    `json:"requirementDays"`
	ConfiguredMaxDays           int    `json:"configuredMaxDays"`
	ThresholdMeets              bool   `json:"thresholdMeets"`
	PastThresholdNotDeactivated int    `json:"pastThresholdNotDeactivated"`
	LastCompletedSweep          string `json:"lastCompletedSweep,omitempty"`
	Meets                       bool   `json:"meets"`
	Evidence                    string `json:"evidence"`
}

type reportView struct {
	AsOf                        string                   `json:"asOf"`
	From                        string                   `json:"from"`
	To                          string                   `json:"to"`
	Policy                      dormancy.RunPolicy       `json:"policy"`
	ActiveUsers                 int                      `json:"activeUsers"`
	PastThresholdNotDeactivated int                      `json:"pastThresholdNotDeactivated"`
	PastThreshold               []reportUserView         `json:"pastThreshold"`
	ExemptPastThreshold         []reportUserView         `json:"exemptPastThreshold"`
	Deactivations               map[string]int           `json:"deactivations"`
	Reactivations               []reactivationReportView `json:"reactivations"`
	Runs                        []runView                `json:"runs"`
	Held                        int                      `json:"held"`
	Controls                    []controlView            `json:"controls"`
	ItemsRead                   int                      `json:"itemsRead"`
}

// maxListed bounds the users a report lists by name (the counts stay whole).
const maxListed = 1000

func (a *API) complianceReport(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	now := a.now()
	from, to, err := period(q.Get("from"), q.Get("to"), now)
	if err != nil {
		return err
	}
	cutoff := now.Add(-dormancy.Days(a.policy.MinThresholdDays()))
	d, err := a.store.ReportData(r.Context(), cutoff, now, from, to)
	if err != nil {
		return err
	}
	rep := dormancy.BuildReport(a.policy, a.Guard, d.Counts.Active, d.Candidates, d.Entries, d.Runs, now, from, to)
	v := reportOut(rep, d.ItemsRead)
	a.log.InfoContext(r.Context(), "compliance report", "actor", c.UserID, "itemsRead", d.ItemsRead, "pastThreshold", v.PastThresholdNotDeactivated)
	// One address, two formats: a cache must key on Accept.
	w.Header().Add("Vary", "Accept")
	if wantsCSV(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="dormancy-compliance-`+now.UTC().Format("2006-01-02")+`.csv"`)
		w.WriteHeader(http.StatusOK)
		return writeReportCSV(w, v)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// wantsCSV: text/csv is accepted, and not after JSON (an unknown Accept
// gets JSON).
func wantsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "*/*", "application/*":
			return false
		}
	}
	return false
}

func reportOut(rep dormancy.Report, read int) reportView {
	users := func(us []dormancy.ReportUser) []reportUserView {
		out := []reportUserView{}
		for _, u := range us[:min(len(us), maxListed)] {
			out = append(out, reportUserView{u.UserID, u.Username, dormancy.FormatTime(u.LastActivityAt), u.ThresholdDays, dormancy.FormatTime(u.DueAt), u.ExemptBy})
		}
		return out
	}
	v := reportView{
		AsOf: dormancy.FormatTime(rep.AsOf), From: dormancy.FormatTime(rep.From), To: dormancy.FormatTime(rep.To), Policy: policyOut(rep.Policy),
		ActiveUsers: rep.ActiveUsers, PastThresholdNotDeactivated: len(rep.PastThreshold),
		PastThreshold: users(rep.PastThreshold), ExemptPastThreshold: users(rep.ExemptPastThreshold),
		Deactivations: map[string]int{string(dormancy.ReasonInactivity): 0, string(dormancy.ReasonAdmin): 0, string(dormancy.ReasonExpired): 0},
		Reactivations: []reactivationReportView{}, Runs: []runView{}, ItemsRead: read,
	}
	for reason, n := range rep.Deactivations {
		v.Deactivations[string(reason)] += n
	}
	for _, x := range rep.Reactivations {
		v.Reactivations = append(v.Reactivations, reactivationReportView{x.UserID, x.Username, dormancy.FormatTime(x.At), x.ApprovalReference, x.ApprovedBy, x.Actor})
	}
	for _, run := range rep.Runs {
		v.Runs = append(v.Runs, runOut(run))
		if run.Held {
			v.Held++
		}
	}
	for _, ctl := range rep.Controls {
		v.Controls = append(v.Controls, controlView{ctl.ID, ctl.Name, ctl.RequirementDays, ctl.ConfiguredMaxDays, ctl.ThresholdMeets,
			ctl.PastThresholdNotDeactivated, dormancy.FormatTime(ctl.LastCompletedSweep), ctl.Meets, ctl.Evidence})
	}
	return v
}

// writeReportCSV writes the report as CSV that opens in a spreadsheet: one
// section per table, each a title row, a header row and its rows, sections
// apart by an empty row. A cell a spreadsheet would read as a formula
// (names and approvals come from users) is written as text.
func writeReportCSV(w http.ResponseWriter, v reportView) error {
	cw := csv.NewWriter(w)
	section := func(title string, header []string, rows [][]string) {
		cw.Write([]string{title})
		cw.Write(header)
		for _, row := range rows {
			for i := range row {
				row[i] = asText(row[i])
			}
		}
		cw.WriteAll(rows)
		cw.Write([]string{})
	}
	section("Summary", []string{"item", "value"}, [][]string{
		{"asOf", v.AsOf}, {"from", v.From}, {"to", v.To}, {"activeUsers", strconv.Itoa(v.ActiveUsers)},
		{"pastThresholdNotDeactivated", strconv.Itoa(v.PastThresholdNotDeactivated)}, {"heldRuns", strconv.Itoa(v.Held)},
		{"defaultDays", strconv.Itoa(v.Policy.DefaultDays)}, {"warningDays", strconv.Itoa(v.Policy.WarningDays)},
		{"groupDays", groupDays(v.Policy.GroupDays)}, {"exemptGroups", strings.Join(v.Policy.ExemptGroups, ";")},
		{"scopeGroups", strings.Join(v.Policy.ScopeGroups, ";")},
		{"holdAboveCount", strconv.Itoa(v.Policy.HoldAboveCount)}, {"holdAbovePercent", fmt.Sprint(v.Policy.HoldAbovePercent)},
	})
	var rows [][]string
	for _, c := range v.Controls {
		rows = append(rows, []string{c.ID, c.Name, strconv.Itoa(c.RequirementDays), strconv.Itoa(c.ConfiguredMaxDays), strconv.FormatBool(c.ThresholdMeets),
			strconv.Itoa(c.PastThresholdNotDeactivated), c.LastCompletedSweep, strconv.FormatBool(c.Meets), c.Evidence})
	}
	section("Controls", []string{"id", "name", "requirementDays", "configuredMaxDays", "thresholdMeets", "pastThresholdNotDeactivated", "lastCompletedSweep", "meets", "evidence"}, rows)
	userRows := func(us []reportUserView) [][]string {
		var rows [][]string
		for _, u := range us {
			rows = append(rows, []string{u.UserID, u.Username, u.LastActivityAt, strconv.Itoa(u.ThresholdDays), u.DueAt, u.ExemptBy})
		}
		return rows
	}
	userHeader := []string{"userId", "username", "lastActivityAt", "thresholdDays", "dueAt", "exemptBy"}
	section("Past threshold, not deactivated", userHeader, userRows(v.PastThreshold))
	section("Exempt, past threshold", userHeader, userRows(v.ExemptPastThreshold))
	var reasons []string
	for reason := range v.Deactivations {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	rows = nil
	for _, reason := range reasons {
		rows = append(rows, []string{reason, strconv.Itoa(v.Deactivations[reason])})
	}
	section("Deactivations in the period", []string{"reason", "count"}, rows)
	rows = nil
	for _, x := range v.Reactivations {
		rows = append(rows, []string{x.UserID, x.Username, x.ReactivatedAt, x.ApprovalReference, x.ApprovedBy, x.Actor})
	}
	section("Reactivations in the period", []string{"userId", "username", "reactivatedAt", "approvalReference", "approvedBy", "actor"}, rows)
	rows = nil
	for _, run := range v.Runs {
		rows = append(rows, []string{run.RunID, run.Kind, run.StartedAt, run.EndedAt, strconv.FormatBool(run.DryRun), strconv.FormatBool(run.Held), run.HoldReason})
	}
	section("Runs in the period", []string{"runId", "kind", "startedAt", "endedAt", "dryRun", "held", "holdReason"}, rows)
	cw.Flush()
	return cw.Error()
}

// asText keeps a spreadsheet from evaluating a cell (OWASP's CSV
// injection): one starting with =, +, -, @, a tab or a carriage return gets
// a leading apostrophe, which spreadsheets show as text and do not display.
func asText(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

func groupDays(m map[string]int) string {
	var parts []string
	for g, d := range m {
		parts = append(parts, g+"="+strconv.Itoa(d))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}
