package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Users: listing, look-up, one user, activation and deactivation.

// userView is a user as the API shows it.
type userView struct {
	UserID         string            `json:"userId"`
	Username       string            `json:"username"`
	ActiveStatus   string            `json:"activeStatus"`
	Status         dormancy.Status   `json:"status"`
	Groups         []string          `json:"groups"`
	Email          string            `json:"email,omitempty"`
	CreationSource string            `json:"creationSource"`
	CreatedAt      string            `json:"createdAt,omitempty"`
	ImportedAt     string            `json:"importedAt,omitempty"`
	LastLoginAt    string            `json:"lastLoginAt,omitempty"`
	LastActivityAt string            `json:"lastActivityAt"`
	ExpiresAt      string            `json:"expiresAt,omitempty"`
	Deactivation   *deactivationView `json:"deactivation,omitempty"`
	Reactivation   *reactivationView `json:"reactivation,omitempty"`
	Actions        []string          `json:"actions"`
}

type deactivationView struct {
	DeactivatedAt         string          `json:"deactivatedAt"`
	DeactivatedBy         string          `json:"deactivatedBy"`
	DeactivationReason    dormancy.Reason `json:"deactivationReason"`
	AutomaticDeactivation bool            `json:"automaticDeactivation"`
	ThresholdDays         int             `json:"thresholdDays"`
	Reason                string          `json:"reason,omitempty"`
}

type reactivationView struct {
	ReactivatedAt     string `json:"reactivatedAt"`
	ReactivatedBy     string `json:"reactivatedBy"`
	ApprovalReference string `json:"approvalReference"`
	ApprovedBy        string `json:"approvedBy"`
	Comment           string `json:"comment,omitempty"`
}

// view renders a user for a caller; actions is the rule a UI needs to show
// or hide "Activate User" and "Deactivate User".
func view(u dormancy.User, c Caller) userView {
	v := userView{
		UserID: u.UserID, Username: u.Username, ActiveStatus: u.ActiveStatus(), Status: u.Status,
		Groups: u.Groups, Email: u.Email, CreationSource: string(u.CreationSource), CreatedAt: dormancy.FormatTime(u.CreatedAt),
		ImportedAt: dormancy.FormatTime(u.ImportedAt), LastLoginAt: dormancy.FormatTime(u.LastLoginAt),
		LastActivityAt: dormancy.FormatTime(u.LastActivity()), ExpiresAt: dormancy.FormatTime(u.ExpiresAt), Actions: []string{},
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	if d := u.Deactivation; d != nil {
		v.Deactivation = &deactivationView{dormancy.FormatTime(d.At), d.By, d.Reason, d.Automatic, d.ThresholdDays, d.Comment}
	}
	if r := u.Reactivation; r != nil {
		v.Reactivation = &reactivationView{dormancy.FormatTime(r.At), r.By, r.ApprovalReference, r.ApprovedBy, r.Comment}
	}
	switch {
	case c.Admin && u.Status == dormancy.Deactivated:
		v.Actions = []string{"activate"}
	case c.Admin && u.Status == dormancy.Active:
		v.Actions = []string{"deactivate"}
	}
	return v
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	f := dynamo.UserFilter{}
	switch strings.ToUpper(q.Get("status")) {
	case "":
	case "ACTIVE", "YES":
		f.Status = dormancy.Active
	case "DEACTIVATED", "NO":
		f.Status = dormancy.Deactivated
	default:
		return invalid("status must be ACTIVE, DEACTIVATED, Yes or No")
	}
	var err error
	if f.Query, err = searchTerm(q.Get("q"), false); err != nil {
		return err
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	page, err := a.store.ListUsers(r.Context(), f, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(page.Users))
	for _, u := range page.Users {
		out = append(out, view(u, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "cursor": page.Cursor})
	return nil
}

// maxSearch bounds a search term: longer than any Cognito user name (128
// characters, at most 512 bytes) can match nothing.
const maxSearch = 512

func searchTerm(s string, required bool) (string, error) {
	q, err := text("q", s, required)
	if err != nil {
		return "", err
	}
	if len(q) > maxSearch || utf8.RuneCountInString(q) > 128 {
		return "", invalid("q must be at most 128 characters (%d bytes)", maxSearch)
	}
	return q, nil
}

func (a *API) lookupUsers(w http.ResponseWriter, r *http.Request, c Caller) error {
	q, err := searchTerm(r.URL.Query().Get("q"), true)
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 20, 50)
	if err != nil {
		return err
	}
	users, err := a.store.LookupActiveUsers(r.Context(), q, int32(limit))
	if err != nil {
		return err
	}
	type pick struct {
		UserID       string   `json:"userId"`
		Username     string   `json:"username"`
		ActiveStatus string   `json:"activeStatus"`
		Actions      []string `json:"actions"`
	}
	out := []pick{}
	for _, u := range users {
		v := view(u, c)
		out = append(out, pick{v.UserID, v.Username, v.ActiveStatus, v.Actions})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view(u, c))
	return nil
}

// approvalBody is a recorded approval: an activation's, or a held sweep's
// release.
type approvalBody struct {
	ApprovalReference string `json:"approvalReference"`
	ApprovedBy        string `json:"approvedBy"`
	Comment           string `json:"comment"`
}

// read decodes an approval strictly and checks its text; the approval rule
// itself (approvedBy is not the caller) is the domain's.
func (b *approvalBody) read(w http.ResponseWriter, r *http.Request) error {
	if err := decode(w, r, maxBody, b); err != nil {
		return err
	}
	var err error
	if b.ApprovalReference, err = text("approvalReference", b.ApprovalReference, true); err != nil {
		return err
	}
	if b.ApprovedBy, err = text("approvedBy", b.ApprovedBy, true); err != nil {
		return err
	}
	b.Comment, err = text("comment", b.Comment, false)
	return err
}

// request is the approval as the domain takes it, from the caller.
func (b approvalBody) request(c Caller) dormancy.ReactivationRequest {
	return dormancy.ReactivationRequest{
		Actor: c.UserID, ActorUsername: c.Username, ActorEmail: c.Email,
		ApprovalReference: b.ApprovalReference, ApprovedBy: b.ApprovedBy, Comment: b.Comment,
	}
}

func (a *API) activate(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	var b approvalBody
	if err := b.read(w, r); err != nil {
		return err
	}
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	ch, err := dormancy.Reactivate(u, b.request(c), a.now())
	if err != nil {
		return err
	}
	if err := a.store.Apply(r.Context(), ch); err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "user reactivated", "userId", id, "actor", c.UserID, "approvalReference", b.ApprovalReference, "eventId", ch.Events[0].ID)
	a.sendOwed(r, dynamo.OwedIDs(ch))
	writeJSON(w, http.StatusOK, view(ch.User, c))
	return nil
}

type deactivateBody struct {
	Reason string `json:"reason"`
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	var b deactivateBody
	if err := decode(w, r, maxBody, &b); err != nil {
		return err
	}
	if b.Reason, err = text("reason", b.Reason, true); err != nil {
		return err
	}
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	ch, err := dormancy.DeactivateByAdmin(u, c.UserID, b.Reason, a.policy.ThresholdDays(u.Groups), a.now())
	if err != nil {
		return err
	}
	if err := a.store.Apply(r.Context(), ch); err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "user deactivated by admin", "userId", id, "actor", c.UserID, "eventId", ch.Events[0].ID)
	a.sendOwed(r, dynamo.OwedIDs(ch))
	writeJSON(w, http.StatusOK, view(ch.User, c))
	return nil
}

// sendOwed publishes the change's own events and revokes the sessions it
// owes at once, waiting at most 3 s; what fails or times out is released
// and stays in the outbox for the next flush. Others' work in the outbox is
// not the admin's request to wait for.
func (a *API) sendOwed(r *http.Request, ids []string) {
	if a.relay == nil || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if _, err := a.relay.Deliver(ctx, ids); err != nil {
		a.log.WarnContext(r.Context(), "owed events not all sent; the sweeper will retry", "err", err)
	}
}

type expiryBody struct {
	ExpiresAt json.RawMessage `json:"expiresAt"`
	Reason    string          `json:"reason"`
}

// setExpiry sets a temporary account's end date, or clears it with null
// (spec §8, §13); audited as UserExpirySet.
func (a *API) setExpiry(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	var b expiryBody
	if err := decode(w, r, maxBody, &b); err != nil {
		return err
	}
	var expires time.Time
	switch raw := string(b.ExpiresAt); {
	case raw == "":
		return invalid("expiresAt is required: an RFC 3339 time, or null to clear it")
	case raw == "null":
	default:
		var s string
		if json.Unmarshal(b.ExpiresAt, &s) != nil {
			return invalid("expiresAt must be an RFC 3339 time, or null")
		}
		if expires, err = time.Parse(time.RFC3339, s); err != nil {
			return invalid("expiresAt must be an RFC 3339 time, or null")
		}
	}
	if b.Reason, err = text("reason", b.Reason, true); err != nil {
		return err
	}
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	ch, err := dormancy.SetExpiry(u, dormancy.ExpiryRequest{Actor: c.UserID, ExpiresAt: expires, Reason: b.Reason}, a.now())
	if err != nil {
		return err
	}
	if err := a.store.Apply(r.Context(), ch); err != nil {
		return err
	}
	a.log.InfoContext(r.Context(), "expiry set", "userId", id, "actor", c.UserID, "expiresAt", dormancy.FormatTime(expires))
	writeJSON(w, http.StatusOK, view(ch.User, c))
	return nil
}
