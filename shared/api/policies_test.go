package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// An admin sets and clears a temporary account's end date; it is audited;
// a date in the past, a missing reason or a malformed body changes nothing.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "temp", "tina", nil, 1)
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	for name, r := range map[string]response{
		"past":         f.call(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":"2020-01-01T00:00:00Z","reason":"x"}`),
		"no reason":    f.callRaw(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":"2027-01-01T00:00:00Z"}`),
		"missing date": f.callRaw(t, admin, "POST", "/users/temp/expiry", `{"reason":"x"}`),
		"not a date":   f.callRaw(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":"soon","reason":"x"}`),
		"extra field":  f.callRaw(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":null,"reason":"x","force":1}`),
	} {
		if r.Code != 400 {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	if r := f.call(t, plain, "POST", "/users/temp/expiry", `{"expiresAt":null,"reason":"x"}`); r.Code != 403 {
		t.Errorf("a non-admin: %d", r.Code)
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("refused requests wrote (-before +after):\n%s", d)
	}
	r := f.call(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":"2027-01-01T00:00:00Z","reason":"contract ends"}`)
	if r.Code != 200 || r.Body["expiresAt"] != "2027-01-01T00:00:00.000Z" {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	if r := f.call(t, admin, "POST", "/users/temp/expiry", `{"expiresAt":null,"reason":"extended"}`); r.Code != 200 || r.Body["expiresAt"] != nil {
		t.Errorf("clearing: %d %s", r.Code, r.Raw)
	}
	p, _ := f.store.UserAudit(ctx, "temp", 10, "")
	var ops []dormancy.Operation
	for _, e := range p.Entries {
		ops = append(ops, e.Operation)
	}
	if !cmp.Equal(ops, []dormancy.Operation{dormancy.OpCreateUserAccount, dormancy.OpUserExpirySet, dormancy.OpUserExpirySet}) {
		t.Errorf("audit %v", ops)
	}
}

// A CSV import takes the spec's header; a bad line is named and nothing of
// that import is written; a good one brings users in with e-mail, groups and
// end dates.
func TestCSVImport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	header := "userId,username,email,groups,createdAt,lastLoginAt,expiresAt\n"
	for name, c := range map[string]struct{ body, want string }{
		"bad third line": {header + "c1,carol,carol@example.com,Sales;Ops,,,\nc2,two words,,,,,\n", "line 3"},
		"wrong header":   {"userId,username\nc1,carol\n", "line 1"},
		"past end date":  {header + "c1,carol,,,,,2020-01-01T00:00:00Z\n", "line 2"},
		"bad e-mail":     {header + "c1,carol,not-an-address,,,,\n", "line 2"},
	} {
		r := f.callCSV(t, admin, c.body)
		if r.Code != 400 || !strings.Contains(r.Raw, c.want) {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	// A row with too few cells is malformed CSV (the document's CSV reader
	// refuses it too).
	if r := f.sendAs(t, admin, "POST", "/users/import", header+"c1,carol\n", "text/csv", false); r.Code != 400 || !strings.Contains(r.Raw, "line 2") {
		t.Errorf("too few cells: %d %s", r.Code, r.Raw)
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("refused imports wrote (-before +after):\n%s", d)
	}
	r := f.callCSV(t, admin, header+"c1,carol,carol@example.com,Sales;Ops,2024-01-01T00:00:00Z,,2027-06-30T00:00:00Z\nc2,dave,,,,,\n\"plain-1\",paul,,,,,\n")
	if r.Code != 200 || !cmp.Equal(r.Body["imported"], []any{"c1", "c2"}) || !cmp.Equal(r.Body["alreadyKnown"], []any{"plain-1"}) {
		t.Fatalf("%d %s", r.Code, r.Raw)
	}
	c1, _ := f.store.GetUser(ctx, "c1")
	if c1.Email != "carol@example.com" || !cmp.Equal(c1.Groups, []string{"Sales", "Ops"}) || c1.ExpiresAt.IsZero() || c1.CreationSource != dormancy.Import {
		t.Errorf("c1 = %+v", c1)
	}
}
