package api

import (
	"net/http"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// The audit trail, per user and across users.

type auditView struct {
	AuditID           string `json:"auditId"`
	Operation         string `json:"operation"`
	OccurredAt        string `json:"occurredAt"`
	IsEnabled         bool   `json:"isEnabled"`
	UserID            string `json:"userId"`
	UserAccount       string `json:"userAccount"`
	Actor             string `json:"actor"`
	Source            string `json:"source"`
	Reason            string `json:"reason,omitempty"`
	ApprovalReference string `json:"approvalReference,omitempty"`
	ApprovedBy        string `json:"approvedBy,omitempty"`
	Comment           string `json:"comment,omitempty"`
	ThresholdDays     int    `json:"thresholdDays,omitempty"`
	Version           int64  `json:"version,omitempty"`
	EventID           string `json:"eventId,omitempty"`
	RecordID          string `json:"recordId,omitempty"`
	Module            string `json:"module,omitempty"`
	Field             string `json:"field,omitempty"`
	PreviousUserID    string `json:"previousUserId,omitempty"`
	PreviousUsername  string `json:"previousUsername,omitempty"`
	Hash              string `json:"hash,omitempty"`
	PrevHash          string `json:"prevHash,omitempty"`
}

func auditViews(es []dormancy.AuditEntry) []auditView {
	out := make([]auditView, 0, len(es))
	for _, e := range es {
		out = append(out, auditView{
			e.ID, string(e.Operation), dormancy.FormatTime(e.OccurredAt), e.IsEnabled, e.UserID, e.UserAccount, e.Actor,
			e.Source, e.Reason, e.ApprovalReference, e.ApprovedBy, e.Comment, e.ThresholdDays, e.Version, e.EventID,
			e.RecordID, e.Module, e.Field, e.PreviousUserID, e.PreviousUsername, e.Hash, e.PrevHash,
		})
	}
	return out
}

func (a *API) userAudit(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	p, err := a.store.UserAudit(r.Context(), id, int32(limit), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": auditViews(p.Entries), "cursor": p.Cursor})
	return nil
}

func (a *API) audit(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	from, to, err := period(q.Get("from"), q.Get("to"), a.now())
	if err != nil {
		return err
	}
	f := dynamo.AuditFilter{From: from, To: to}
	switch op := dormancy.Operation(q.Get("operation")); op {
	case "", dormancy.OpCreateUserAccount, dormancy.OpEnableUserAccount, dormancy.OpDisableUserAccount, dormancy.OpRecordUserCleared,
		dormancy.OpUserExpirySet, dormancy.OpSweepHeld, dormancy.OpSweepReleased:
		f.Operation = op
	default:
		return invalid("operation must be CreateUserAccount, EnableUserAccount, DisableUserAccount, RecordUserCleared, UserExpirySet, SweepHeld or SweepReleased")
	}
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	p, err := a.store.Audit(r.Context(), f, int32(limit), q.Get("cursor"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": auditViews(p.Entries), "cursor": p.Cursor})
	return nil
}

type brokenView struct {
	AuditID    string `json:"auditId,omitempty"`
	OccurredAt string `json:"occurredAt,omitempty"`
	Operation  string `json:"operation,omitempty"`
	Problem    string `json:"problem"`
}

// verifyAudit recomputes the account's audit chain (spec §9) and says
// whether it is intact, and if not, where it first breaks.
func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	v, err := a.store.VerifyAccount(r.Context(), id)
	if err != nil {
		return err
	}
	var first *brokenView
	if b := v.FirstBroken; b != nil {
		first = &brokenView{b.AuditID, b.OccurredAt, b.Operation, b.Problem}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"intact": v.Intact, "entries": v.Entries, "chained": v.Chained, "unchained": v.Unchained, "firstBroken": first,
	})
	return nil
}
