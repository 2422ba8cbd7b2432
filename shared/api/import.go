package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Import: bringing a pool's existing users in (spec §8).

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
			msg, _ := dormancy.ClientMessage(err)
			return invalid("users[%d]: %s", i, msg)
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
	a.log.InfoContext(r.Context(), "users imported", "actor", c.UserID, "imported", len(imported), "alreadyKnown", len(known))
	writeJSON(w, http.StatusOK, map[string]any{"imported": imported, "alreadyKnown": known})
	return nil
}

func importedUser(in importUser, now time.Time) (dormancy.User, error) {
	if !dormancy.ValidUserID(in.UserID) {
		return dormancy.User{}, invalid("userId must be a Cognito sub")
	}
	// The login hook's rule: what Cognito would accept as a user name, and
	// nothing else (no spaces, bidi overrides, zero-width characters).
	name := in.Username
	if !dormancy.ValidUsername(name) {
		return dormancy.User{}, invalid("username must be a Cognito user name: 1–128 letters, marks, symbols, numbers or punctuation")
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
