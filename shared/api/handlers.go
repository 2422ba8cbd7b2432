package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Body limits: every body is small but an import's.
const (
	maxBody       = 64 << 10
	maxImportBody = 1 << 20
	maxImport     = 500
	maxText       = 1000
)

// decode reads a JSON body strictly: one value, no unknown fields (exactly
// as the field names are spelled), within limit bytes.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return invalid("cannot read the body")
	}
	if err := exactKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("the body is not the JSON this route takes: %s", jsonProblem(err))
	}
	if dec.More() {
		return invalid("the body holds more than one JSON value")
	}
	return nil
}

// exactKeys refuses keys that differ from the contract only by case, which
// encoding/json would otherwise accept.
func exactKeys(body []byte, v any) error {
	allowed := map[string]bool{}
	switch v.(type) {
	case *activateBody:
		allowed = map[string]bool{"approvalReference": true, "approvedBy": true, "comment": true}
	case *deactivateBody:
		allowed = map[string]bool{"reason": true}
	case *recordBody:
		allowed = map[string]bool{"module": true, "status": true, "fields": true, "version": true}
	default:
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil // the strict decode reports it
	}
	for k := range m {
		if !allowed[k] {
			return invalid("unknown field %q", k)
		}
	}
	return nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed JSON"
}

// text checks a free-text value: valid UTF-8, no control characters, at
// most maxText characters.
func text(name, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", invalid("%s is required", name)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxText:
		return "", invalid("%s must be at most %d characters of text", name, maxText)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		return "", invalid("%s must not hold control characters", name)
	}
	return s, nil
}

func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !validID(id) {
		return "", invalid("%s %q is not a valid id", name, id)
	}
	return id, nil
}

func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// --- users -------------------------------------------------------------------

// userView is a user as the API shows it.
type userView struct {
	UserID         string            `json:"userId"`
	Username       string            `json:"username"`
	ActiveStatus   string            `json:"activeStatus"`
	Status         dormancy.Status   `json:"status"`
	Groups         []string          `json:"groups"`
	CreationSource string            `json:"creationSource"`
	CreatedAt      string            `json:"createdAt,omitempty"`
	ImportedAt     string            `json:"importedAt,omitempty"`
	LastLoginAt    string            `json:"lastLoginAt,omitempty"`
	LastActivityAt string            `json:"lastActivityAt"`
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
		Groups: u.Groups, CreationSource: string(u.CreationSource), CreatedAt: dormancy.FormatTime(u.CreatedAt),
		ImportedAt: dormancy.FormatTime(u.ImportedAt), LastLoginAt: dormancy.FormatTime(u.LastLoginAt),
		LastActivityAt: dormancy.FormatTime(u.LastActivity()), Actions: []string{},
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
	if f.Query, err = text("q", q.Get("q"), false); err != nil {
		return err
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	users, next, err := a.store.ListUsers(r.Context(), f, limit, q.Get("cursor"))
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, view(u, c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "cursor": next})
	return nil
}

func (a *API) lookupUsers(w http.ResponseWriter, r *http.Request, c Caller) error {
	q, err := text("q", r.URL.Query().Get("q"), true)
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

type activateBody struct {
	ApprovalReference string `json:"approvalReference"`
	ApprovedBy        string `json:"approvedBy"`
	Comment           string `json:"comment"`
}

func (a *API) activate(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	var b activateBody
	if err := decode(w, r, maxBody, &b); err != nil {
		return err
	}
	if b.ApprovalReference, err = text("approvalReference", b.ApprovalReference, true); err != nil {
		return err
	}
	if b.ApprovedBy, err = text("approvedBy", b.ApprovedBy, true); err != nil {
		return err
	}
	if b.Comment, err = text("comment", b.Comment, false); err != nil {
		return err
	}
	if strings.EqualFold(b.ApprovedBy, c.UserID) || strings.EqualFold(b.ApprovedBy, c.Username) {
		return invalid("approvedBy must be the Business Head who approved, not the caller")
	}
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	ch, err := dormancy.Reactivate(u, dormancy.ReactivationRequest{Actor: c.UserID, ApprovalReference: b.ApprovalReference, ApprovedBy: b.ApprovedBy, Comment: b.Comment}, a.now())
	if err != nil {
		return err
	}
	if err := a.store.Apply(r.Context(), ch); err != nil {
		return err
	}
	a.log.Info("user reactivated", "userId", id, "actor", c.UserID, "approvalReference", b.ApprovalReference, "eventId", ch.Events[0].ID)
	a.sendOwed(r)
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
	a.log.Info("user deactivated by admin", "userId", id, "actor", c.UserID, "eventId", ch.Events[0].ID)
	a.sendOwed(r)
	writeJSON(w, http.StatusOK, view(ch.User, c))
	return nil
}

// sendOwed publishes the change's event and revokes sessions at once; what
// fails stays in the outbox for the sweeper.
func (a *API) sendOwed(r *http.Request) {
	if a.relay == nil {
		return
	}
	// The outbox may hold others' work too (after an outage, say); the
	// admin's request does not wait for all of it.
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if _, err := a.relay.Flush(ctx); err != nil {
		a.log.Warn("owed events not all sent; the sweeper will retry", "err", err)
	}
}

type importUser struct {
	UserID      string   `json:"userId"`
	Username    string   `json:"username"`
	Groups      []string `json:"groups"`
	CreatedAt   string   `json:"createdAt"`
	LastLoginAt string   `json:"lastLoginAt"`
}

func (a *API) importUsers(w http.ResponseWriter, r *http.Request, c Caller) error {
	var list []importUser
	if err := decode(w, r, maxImportBody, &list); err != nil {
		return err
	}
	if len(list) == 0 || len(list) > maxImport {
		return invalid("an import takes 1 to %d users", maxImport)
	}
	now := a.now()
	var users []dormancy.User
	seen := map[string]bool{}
	for i, in := range list {
		u, err := importedUser(in, now)
		if err != nil {
			return invalid("users[%d]: %s", i, clientMessage(err, http.StatusBadRequest))
		}
		if seen[u.UserID] {
			return invalid("users[%d]: userId %s appears twice", i, u.UserID)
		}
		seen[u.UserID] = true
		users = append(users, u)
	}
	imported, known := []string{}, []string{}
	for _, u := range users {
		_, audit := dormancy.NewAccount(u.UserID, u.Username, u.Groups, dormancy.Import, c.UserID, u.CreatedAt, now)
		switch err := a.store.CreateUser(r.Context(), u, audit); {
		case err == nil:
			imported = append(imported, u.UserID)
		case errors.Is(err, dormancy.ErrExists):
			known = append(known, u.UserID) // left as it is
		default:
			return err
		}
	}
	a.log.Info("users imported", "actor", c.UserID, "imported", len(imported), "alreadyKnown", len(known))
	writeJSON(w, http.StatusOK, map[string]any{"imported": imported, "alreadyKnown": known})
	return nil
}

func importedUser(in importUser, now time.Time) (dormancy.User, error) {
	if !validID(in.UserID) {
		return dormancy.User{}, invalid("userId must be a Cognito sub")
	}
	name, err := text("username", in.Username, true)
	if err != nil || strings.ContainsAny(name, " \n\t") || utf8.RuneCountInString(name) > 128 {
		return dormancy.User{}, invalid("username must be a Cognito user name")
	}
	if len(in.Groups) > 100 {
		return dormancy.User{}, invalid("at most 100 groups")
	}
	for _, g := range in.Groups {
		if g == "" || len(g) > 128 || strings.ContainsAny(g, ",\n\t") {
			return dormancy.User{}, invalid("group %q is not a group name", g)
		}
	}
	parse := func(name, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil || t.After(now) {
			return time.Time{}, invalid("%s must be an RFC 3339 time, not in the future", name)
		}
		return t.UTC(), nil
	}
	created, err := parse("createdAt", in.CreatedAt)
	if err != nil {
		return dormancy.User{}, err
	}
	last, err := parse("lastLoginAt", in.LastLoginAt)
	if err != nil {
		return dormancy.User{}, err
	}
	if created.IsZero() {
		created = now
	}
	groups := in.Groups
	if groups == nil {
		groups = []string{}
	}
	return dormancy.User{
		UserID: in.UserID, Username: name, Status: dormancy.Active, Groups: groups, CreationSource: dormancy.Import,
		CreatedAt: created, LastLoginAt: last, ImportedAt: now.UTC(), Version: 1,
	}, nil
}

// --- audit -------------------------------------------------------------------

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
}

func auditViews(es []dormancy.AuditEntry) []auditView {
	out := make([]auditView, 0, len(es))
	for _, e := range es {
		out = append(out, auditView{
			e.ID, string(e.Operation), dormancy.FormatTime(e.OccurredAt), e.IsEnabled, e.UserID, e.UserAccount, e.Actor,
			e.Source, e.Reason, e.ApprovalReference, e.ApprovedBy, e.Comment, e.ThresholdDays, e.Version, e.EventID,
			e.RecordID, e.Module, e.Field, e.PreviousUserID, e.PreviousUsername,
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

// maxAuditRange bounds one cross-user audit query.
const maxAuditRange = 366 * 24 * time.Hour

func (a *API) audit(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	now := a.now()
	f := dynamo.AuditFilter{To: now, From: now.Add(-30 * 24 * time.Hour)}
	var err error
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				return invalid("%s must be an RFC 3339 time", name)
			}
		}
	}
	if f.To.Before(f.From) || f.To.Sub(f.From) > maxAuditRange {
		return invalid("from must be before to, at most 366 days apart")
	}
	switch op := dormancy.Operation(q.Get("operation")); op {
	case "", dormancy.OpCreateUserAccount, dormancy.OpEnableUserAccount, dormancy.OpDisableUserAccount, dormancy.OpRecordUserCleared:
		f.Operation = op
	default:
		return invalid("operation must be CreateUserAccount, EnableUserAccount, DisableUserAccount or RecordUserCleared")
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

// --- records -----------------------------------------------------------------

type recordView struct {
	RecordID          string            `json:"recordId"`
	Module            string            `json:"module"`
	Status            string            `json:"status"`
	Fields            map[string]string `json:"fields"`
	NeedsReassignment []string          `json:"needsReassignment"`
	Version           int64             `json:"version"`
	UpdatedAt         string            `json:"updatedAt"`
}

func recordOut(rec dormancy.Record) recordView {
	v := recordView{rec.ID, rec.Module, string(rec.Status), rec.Fields, rec.NeedsReassignment, rec.Version, dormancy.FormatTime(rec.UpdatedAt)}
	if v.NeedsReassignment == nil {
		v.NeedsReassignment = []string{}
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	return v
}

func recordID(r *http.Request) (string, error) {
	id := r.PathValue("recordId")
	if !dormancy.ValidRecordID(id) {
		return "", invalid("recordId %q is not a valid record id", id)
	}
	return id, nil
}

func (a *API) getRecord(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	rec, err := a.store.GetRecord(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recordOut(rec))
	return nil
}

type recordBody struct {
	Module  string            `json:"module"`
	Status  string            `json:"status"`
	Fields  map[string]string `json:"fields"`
	Version int64             `json:"version"` // 0 creates; else the version being replaced
}

func (a *API) putRecord(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	var b recordBody
	if err := decode(w, r, maxBody, &b); err != nil {
		return err
	}
	rec := dormancy.Record{ID: id, Module: b.Module, Status: dormancy.RecordStatus(b.Status), Fields: b.Fields}
	if rec.Fields == nil {
		rec.Fields = map[string]string{}
	}
	if err := rec.Validate(); err != nil {
		return &badRequest{http.StatusBadRequest, "BadRequest", domainMessage(err)}
	}
	if b.Version < 0 {
		return invalid("version must be 0 (create) or the version being replaced")
	}
	if b.Version > 0 {
		old, err := a.store.GetRecord(r.Context(), id)
		if err != nil {
			return err
		}
		rec.NeedsReassignment = old.NeedsReassignment
	}
	stored, err := a.store.PutRecord(r.Context(), rec, b.Version, a.now())
	if err != nil {
		return err
	}
	code := http.StatusOK
	if b.Version == 0 {
		code = http.StatusCreated
	}
	writeJSON(w, code, recordOut(stored))
	return nil
}

func (a *API) reopen(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	rec, cleared, err := a.store.Reopen(r.Context(), id, c.UserID, a.now())
	if err != nil {
		return err
	}
	if len(cleared) > 0 {
		a.sendOwed(r)
	}
	writeJSON(w, http.StatusOK, recordOut(rec))
	return nil
}

func (a *API) listRecords(w http.ResponseWriter, r *http.Request, c Caller) error {
	if r.URL.Query().Get("needsReassignment") != "true" {
		return invalid("records are listed by the reassignment queue: add needsReassignment=true")
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	p, err := a.store.ReassignmentQueue(r.Context(), int32(limit), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	out := []recordView{}
	for _, rec := range p.Records {
		out = append(out, recordOut(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "cursor": p.Cursor})
	return nil
}
