package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Import: bringing a pool's existing users in (spec §8).

type importUser struct {
	UserID      string   `json:"userId"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	Groups      []string `json:"groups"`
	CreatedAt   string   `json:"createdAt"`
	LastLoginAt string   `json:"lastLoginAt"`
	ExpiresAt   string   `json:"expiresAt"`
}

// csvHeader is the one header a CSV import takes (spec §8).
var csvHeader = []string{"userId", "username", "email", "groups", "createdAt", "lastLoginAt", "expiresAt"}

// importUsers takes a JSON list, or CSV with Content-Type text/csv, under
// the same limits and rules: every item is checked before anything is
// written, and a bad one is named (its index, or its CSV line).
func (a *API) importUsers(w http.ResponseWriter, r *http.Request, c Caller) error {
	var list []importUser
	where := func(i int) string { return fmt.Sprintf("users[%d]", i) }
	if isCSV(r.Header.Get("Content-Type")) {
		var lines []int
		var err error
		if list, lines, err = readCSV(w, r); err != nil {
			return err
		}
		where = func(i int) string { return fmt.Sprintf("line %d", lines[i]) }
	} else if err := decode(w, r, maxImportBody, &list); err != nil {
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
			return invalid("%s: %s", where(i), msg)
		}
		if seen[u.UserID] {
			return invalid("%s: userId %s appears twice", where(i), u.UserID)
		}
		seen[u.UserID] = true
		users = append(users, u)
	}
	imported, known := []string{}, []string{}
	for _, u := range users {
		_, audit := dormancy.NewAccount(u.UserID, u.Username, u.Groups, dormancy.Import, c.UserID, u.CreatedAt, now)
		if !u.ExpiresAt.IsZero() {
			audit.Comment = "expires " + dormancy.FormatTime(u.ExpiresAt)
		}
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
	if dormancy.ReservedUserID(in.UserID) {
		return dormancy.User{}, invalid("userId %s is reserved for Dormancy's own records", in.UserID)
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
	var expires time.Time
	if in.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, in.ExpiresAt); err != nil || !expires.After(now) {
			return dormancy.User{}, invalid("expiresAt must be an RFC 3339 time in the future")
		}
	}
	if in.Email != "" && !dormancy.ValidEmail(in.Email) {
		return dormancy.User{}, invalid("email %q is not an e-mail address", in.Email)
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
		Email: in.Email, ExpiresAt: expires.UTC(),
	}, nil
}

func isCSV(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "text/csv"
}

// readCSV reads a CSV import: the header of csvHeader, then one user a row
// (groups separated by ";"; empty cells allowed but userId and username).
// It returns each user's line number, for the errors.
func readCSV(w http.ResponseWriter, r *http.Request) ([]importUser, []int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, err
		}
		return nil, nil, invalid("cannot read the body")
	}
	if !utf8.Valid(body) {
		return nil, nil, invalid("the CSV is not UTF-8")
	}
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = len(csvHeader)
	header, err := cr.Read()
	if err != nil {
		return nil, nil, invalid("line 1: %s", csvProblem(err))
	}
	if !slices.Equal(header, csvHeader) {
		return nil, nil, invalid("line 1: the header must be %s", strings.Join(csvHeader, ","))
	}
	var list []importUser
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, nil, invalid("line %d: %s", line, csvProblem(err))
		}
		if len(list) == maxImport {
			return nil, nil, invalid("an import takes 1 to %d users", maxImport)
		}
		var groups []string
		if g := strings.TrimSpace(rec[3]); g != "" {
			for _, name := range strings.Split(g, ";") {
				groups = append(groups, strings.TrimSpace(name))
			}
		}
		list = append(list, importUser{UserID: rec[0], Username: rec[1], Email: strings.TrimSpace(rec[2]), Groups: groups,
			CreatedAt: strings.TrimSpace(rec[4]), LastLoginAt: strings.TrimSpace(rec[5]), ExpiresAt: strings.TrimSpace(rec[6])})
		lines = append(lines, line)
	}
	return list, lines, nil
}

func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "malformed CSV"
}
