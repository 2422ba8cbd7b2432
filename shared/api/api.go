// Package api is Dormancy's REST API: admins and Ops look users up,
// reactivate them after a recorded approval, deactivate them by hand and read
// the audit trail; any active user reads and edits records and picks users.
// It is a net/http handler (standard library routing) behind an adapter for
// API Gateway's proxy integration; the caller comes from the Cognito
// authorizer's claims.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/outbox"
)

// Store is what the API needs from the data store.
type Store interface {
	GetUser(ctx context.Context, userID string) (dormancy.User, error)
	CreateUser(ctx context.Context, u dormancy.User, audit dormancy.AuditEntry) error
	Apply(ctx context.Context, c dormancy.Change) error
	ListUsers(ctx context.Context, f dynamo.UserFilter, limit int, cursor string) (dynamo.UserPage, error)
	LookupActiveUsers(ctx context.Context, prefix string, limit int32) ([]dormancy.User, error)
	UserAudit(ctx context.Context, userID string, limit int32, cursor string) (dynamo.AuditPage, error)
	Audit(ctx context.Context, f dynamo.AuditFilter, limit int32, cursor string) (dynamo.AuditPage, error)
	GetRecord(ctx context.Context, id string) (dormancy.Record, error)
	PutRecord(ctx context.Context, r dormancy.Record, expectVersion int64, now time.Time) (dormancy.Record, error)
	Reopen(ctx context.Context, id, actor string, now time.Time) (dormancy.Record, []dormancy.Clearing, error)
	ReassignmentQueue(ctx context.Context, limit int32, cursor string) (dynamo.RecordPage, error)
	ListRuns(ctx context.Context, kind string, from, to time.Time, limit int, cursor string) (dynamo.RunPage, error)
	SweepHold(ctx context.Context) (dormancy.SweepHold, error)
	ReleaseSweep(ctx context.Context, h dormancy.SweepHold, audit dormancy.AuditEntry) error
	SyncState(ctx context.Context) (dynamo.SyncState, error)
	VerifyAccount(ctx context.Context, userID string) (dynamo.Verification, error)
	ReportData(ctx context.Context, cutoff, now, from, to time.Time) (dynamo.ReportData, error)
}

// SyncStarter starts a pool sync run in the background (the PoolSync
// function, invoked asynchronously).
type SyncStarter interface {
	StartSync(ctx context.Context, runID string) error
}

// Relay sends a change's events and sign-out at once, after it committed.
type Relay interface {
	Deliver(ctx context.Context, ids []string) (outbox.Result, error)
}

// API serves the routes.
type API struct {
	store       Store
	policy      dormancy.Policy
	adminGroups []string
	now         func() time.Time
	log         *slog.Logger
	relay       Relay // may be nil: the sweeper sends what is owed
	// Sync starts pool syncs (POST /sync); nil where there is no pool.
	Sync SyncStarter
	// Origins are the browser origins whose requests are answered with
	// Access-Control-Allow-Origin: with API Gateway's proxy integration,
	// only the function can put it on its responses (API Gateway answers
	// the preflights and its own errors).
	Origins []string
	// Guard is the sweep's guard, shown in the compliance report's policy.
	Guard dormancy.Guard
	mux   *http.ServeMux
}

// New returns the API.
func New(store Store, policy dormancy.Policy, adminGroups []string, relay Relay, now func() time.Time, log *slog.Logger) *API {
	a := &API{store: store, policy: policy, adminGroups: adminGroups, now: now, log: log, relay: relay, mux: http.NewServeMux()}
	for _, r := range a.routes() {
		a.mux.HandleFunc(r.Method+" "+r.Pattern, func(w http.ResponseWriter, req *http.Request) { a.serve(w, req, r) })
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "no such route")
	})
	return a
}

// Who may call a route.
const (
	anyActive = iota
	adminOnly
	adminOrSelf
)

// Route is one route of the API; Routes is the one table that both registers
// the handlers and is compared with openapi.yaml.
type Route struct {
	Method, Pattern string
	who             int
	handle          func(a *API, w http.ResponseWriter, r *http.Request, c Caller) error
}

// Routes lists the API's routes (method and pattern).
func Routes() []Route { return (&API{}).routes() }

func (a *API) routes() []Route {
	return []Route{
		{"GET", "/users", adminOnly, (*API).listUsers},
		{"GET", "/users/lookup", anyActive, (*API).lookupUsers},
		{"POST", "/users/import", adminOnly, (*API).importUsers},
		{"GET", "/users/{userId}", adminOrSelf, (*API).getUser},
		{"POST", "/users/{userId}/activate", adminOnly, (*API).activate},
		{"POST", "/users/{userId}/deactivate", adminOnly, (*API).deactivate},
		{"POST", "/users/{userId}/expiry", adminOnly, (*API).setExpiry},
		{"GET", "/users/{userId}/audit", adminOnly, (*API).userAudit},
		{"GET", "/users/{userId}/audit/verify", adminOnly, (*API).verifyAudit},
		{"GET", "/audit", adminOnly, (*API).audit},
		{"GET", "/records", anyActive, (*API).listRecords},
		{"GET", "/records/{recordId}", anyActive, (*API).getRecord},
		{"PUT", "/records/{recordId}", anyActive, (*API).putRecord},
		{"POST", "/records/{recordId}/reopen", anyActive, (*API).reopen},
		{"GET", "/runs", adminOnly, (*API).listRuns},
		{"GET", "/reports/compliance", adminOnly, (*API).complianceReport},
		{"POST", "/sweeps/release", adminOnly, (*API).releaseSweep},
		{"POST", "/sync", adminOnly, (*API).startSync},
	}
}

// Caller is who is calling, from the authorizer's claims.
type Caller struct {
	UserID   string
	Username string
	Email    string
	Groups   []string
	Admin    bool
}

type callerKey struct{}

// WithClaims puts the authorizer's claims on a request's context.
func WithClaims(ctx context.Context, claims map[string]any) context.Context {
	return context.WithValue(ctx, callerKey{}, claims)
}

// ServeHTTP serves one request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt Route) {
	claims, _ := r.Context().Value(callerKey{}).(map[string]any)
	c, err := a.caller(claims)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "Unauthorized", err.Error())
		return
	}
	log := a.log.With("route", rt.Method+" "+rt.Pattern, "caller", c.UserID)
	// A token outlives a deactivation: the caller must be ACTIVE now.
	me, err := a.store.GetUser(r.Context(), c.UserID)
	switch {
	case errors.Is(err, dormancy.ErrNotFound):
		writeError(w, http.StatusForbidden, "Forbidden", "your account is not known to Dormancy")
		return
	case err != nil:
		a.fail(w, r.Context(), log, err)
		return
	case me.Status != dormancy.Active:
		writeError(w, http.StatusForbidden, "Forbidden", "your account is deactivated")
		return
	}
	switch {
	case rt.who == adminOnly && !c.Admin,
		rt.who == adminOrSelf && !c.Admin && r.PathValue("userId") != c.UserID:
		writeError(w, http.StatusForbidden, "Forbidden", "this needs one of the groups "+strings.Join(a.adminGroups, ", "))
		return
	}
	if err := rt.handle(a, w, r, c); err != nil {
		a.fail(w, r.Context(), log, err)
	}
}

// caller reads the claims the Cognito authorizer passed.
func (a *API) caller(claims map[string]any) (Caller, error) {
	if claims == nil {
		return Caller{}, errors.New("no authorizer claims")
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	c := Caller{UserID: str("sub"), Username: str("cognito:username"), Email: str("email")}
	if c.UserID == "" || c.Username == "" || !dormancy.ValidUserID(c.UserID) {
		return Caller{}, errors.New("the token's claims lack a valid sub or cognito:username")
	}
	c.Groups = parseGroups(claims["cognito:groups"])
	for _, g := range c.Groups {
		if slices.Contains(a.adminGroups, g) {
			c.Admin = true
		}
	}
	return c, nil
}

// parseGroups accepts the forms API Gateway renders cognito:groups in: a
// comma-separated string, "[Admin Ops]", or a JSON array.
func parseGroups(v any) []string {
	var out []string
	switch g := v.(type) {
	case string:
		g = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(g), "["), "]")
		out = append(out, strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' })...)
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, name, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": name, "message": msg}})
}
