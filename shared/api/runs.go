package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Runs: the sweep and sync runs (spec §14), the sweep's release (§5), and
// starting a pool sync (§12).

type runView struct {
	RunID      string             `json:"runId"`
	Kind       string             `json:"kind"`
	StartedAt  string             `json:"startedAt"`
	EndedAt    string             `json:"endedAt,omitempty"`
	DryRun     bool               `json:"dryRun"`
	Held       bool               `json:"held"`
	HoldReason string             `json:"holdReason,omitempty"`
	Policy     dormancy.RunPolicy `json:"policy"`
	Summary    json.RawMessage    `json:"summary,omitempty"`
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	kind := q.Get("kind")
	if kind != "" && kind != dormancy.RunSweep && kind != dormancy.RunSync {
		return invalid("kind must be sweep or sync")
	}
	from, to, err := period(q.Get("from"), q.Get("to"), a.now())
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	p, err := a.store.ListRuns(r.Context(), kind, from, to, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := []runView{}
	for _, run := range p.Runs {
		out = append(out, runOut(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "cursor": p.Cursor})
	return nil
}

// maxPeriod bounds one query over time.
const maxPeriod = 366 * 24 * time.Hour

// period reads from and to (RFC 3339; the last 30 days by default): from
// before to, at most 366 days apart.
func period(fromS, toS string, now time.Time) (time.Time, time.Time, error) {
	from, to := now.Add(-30*24*time.Hour), now
	for name, p := range map[string]struct {
		v   string
		dst *time.Time
	}{"from": {fromS, &from}, "to": {toS, &to}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, p.v)
		if err != nil {
			return from, to, invalid("%s must be an RFC 3339 time", name)
		}
		*p.dst = t
	}
	if to.Before(from) || to.Sub(from) > maxPeriod {
		return from, to, invalid("from must be before to, at most 366 days apart")
	}
	return from, to, nil
}

type holdView struct {
	Held              bool     `json:"held"`
	HoldReason        string   `json:"holdReason,omitempty"`
	RunID             string   `json:"runId,omitempty"`
	HeldAt            string   `json:"heldAt,omitempty"`
	Due               int      `json:"due"`
	ActiveUsers       int      `json:"activeUsers"`
	MissingTriggers   []string `json:"missingTriggers,omitempty"`
	Released          bool     `json:"released"`
	ReleasedAt        string   `json:"releasedAt,omitempty"`
	ReleasedBy        string   `json:"releasedBy,omitempty"`
	ApprovalReference string   `json:"approvalReference,omitempty"`
	ApprovedBy        string   `json:"approvedBy,omitempty"`
}

func holdOut(h dormancy.SweepHold) holdView {
	return holdView{
		Held: h.Held, HoldReason: h.HoldReason, RunID: h.RunID, HeldAt: dormancy.FormatTime(h.HeldAt), Due: h.Due,
		ActiveUsers: h.Active, MissingTriggers: h.Missing, Released: h.Released, ReleasedAt: dormancy.FormatTime(h.ReleasedAt),
		ReleasedBy: h.ReleasedBy, ApprovalReference: h.ApprovalReference, ApprovedBy: h.ApprovedBy,
	}
}

// releaseSweep lets a held sweep go ahead with a recorded approval, under
// the same rules as an activation; 409 unless a sweep is held.
func (a *API) releaseSweep(w http.ResponseWriter, r *http.Request, c Caller) error {
	var b approvalBody
	if err := b.read(w, r); err != nil {
		return err
	}
	h, err := a.store.SweepHold(r.Context())
	if err != nil {
		return err
	}
	released, audit, err := dormancy.ReleaseSweep(h, b.request(c), a.now())
	if err != nil {
		return err
	}
	if err := a.store.ReleaseSweep(r.Context(), released, audit); err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "sweep released", "runId", h.RunID, "actor", c.UserID, "approvalReference", b.ApprovalReference)
	writeJSON(w, http.StatusOK, holdOut(released))
	return nil
}

// startSync starts a pool sync in the background and answers 202 with its
// run id; a sync already in progress is the one answered for.
func (a *API) startSync(w http.ResponseWriter, r *http.Request, c Caller) error {
	if r.ContentLength > 0 {
		var empty struct{}
		if err := decode(w, r, maxBody, &empty); err != nil {
			return err
		}
	}
	if a.Sync == nil {
		return dormancy.Conflict("this deployment has no user pool to sync")
	}
	st, err := a.store.SyncState(r.Context())
	if err != nil {
		return err
	}
	runID := st.RunID
	if runID == "" || st.Complete {
		now := a.now()
		runID = dormancy.StableID("PoolSync", c.UserID, dormancy.FormatTime(now), fmt.Sprint(time.Now().UnixNano()))
	}
	if err := a.Sync.StartSync(r.Context(), runID); err != nil {
		return fmt.Errorf("start pool sync: %w: %v", dormancy.ErrUnavailable, err)
	}
	a.log.InfoContext(r.Context(), "pool sync started", "runId", runID, "actor", c.UserID)
	writeJSON(w, http.StatusAccepted, map[string]string{"runId": runID})
	return nil
}

func runOut(run dormancy.Run) runView {
	return runView{
		RunID: run.RunID, Kind: run.Kind, StartedAt: dormancy.FormatTime(run.StartedAt), EndedAt: dormancy.FormatTime(run.EndedAt),
		DryRun: run.DryRun, Held: run.Held, HoldReason: run.HoldReason, Policy: policyOut(run.Policy), Summary: run.Summary,
	}
}

// policyOut is a policy as the API shows it: empty lists and maps, not null.
func policyOut(p dormancy.RunPolicy) dormancy.RunPolicy {
	if p.GroupDays == nil {
		p.GroupDays = map[string]int{}
	}
	for _, l := range []*[]string{&p.ExemptGroups, &p.ScopeGroups} {
		if *l == nil {
			*l = []string{}
		}
	}
	return p
}
