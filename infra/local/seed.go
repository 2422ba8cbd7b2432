package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
)

// SeedPassword is every seeded user's password.
const SeedPassword = "Dormancy-2026!"

// SeedUser is a seeded account.
type SeedUser struct {
	Username string   `json:"username"`
	UserID   string   `json:"userId"`
	Groups   []string `json:"groups"`
	Password string   `json:"password"`
}

// SeedResult says what was seeded.
type SeedResult struct {
	Users   []SeedUser `json:"users"`
	Records []string   `json:"records"`
}

// Seed creates an admin, an ops user, two plain users and a break-glass
// admin (exempt from dormancy, so it can always reactivate others), in
// cognito-local and in Dormancy (as admin-created accounts), and records:
// an open and a closed lead assigned to alice, an open ticket owned by bob.
// Seeding twice is an error, not a duplicate.
func (s *Stack) Seed(ctx context.Context) (SeedResult, error) {
	var res SeedResult
	ids := map[string]string{}
	for _, u := range []struct {
		name   string
		groups []string
	}{{"admin", []string{"Admin"}}, {"ops", []string{"Ops"}}, {"alice", nil}, {"bob", nil}, {"breakglass", []string{"Admin", "BreakGlass"}}} {
		sub, err := cognitotest.CreateUser(ctx, s.cip, s.PoolID, u.name, SeedPassword, u.groups...)
		if err != nil {
			return res, fmt.Errorf("seed %s (already seeded?): %w", u.name, err)
		}
		now := s.Clock.Now()
		groups := u.groups
		if groups == nil {
			groups = []string{}
		}
		user, audit := dormancy.NewAccount(sub, u.name, groups, dormancy.AdminCreated, "seed", now, now)
		if err := s.store.CreateUser(ctx, user, audit); err != nil && !errors.Is(err, dormancy.ErrExists) {
			return res, err
		}
		ids[u.name] = sub
		res.Users = append(res.Users, SeedUser{u.name, sub, groups, SeedPassword})
	}
	now := s.Clock.Now()
	for _, rec := range []dormancy.Record{
		{ID: "lead-1", Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": ids["alice"], "owner": ids["ops"]}},
		{ID: "lead-2", Module: "lead", Status: dormancy.Open, Fields: map[string]string{"assignedTo": ids["alice"]}},
		{ID: "ticket-1", Module: "ticket", Status: dormancy.Open, Fields: map[string]string{"owner": ids["bob"]}},
	} {
		stored, err := s.store.PutRecord(ctx, rec, 0, now)
		if err != nil {
			return res, fmt.Errorf("seed record %s: %w", rec.ID, err)
		}
		if rec.ID == "lead-2" { // closed after the work was done
			stored.Status = dormancy.Closed
			if _, err := s.store.PutRecord(ctx, stored, stored.Version, now); err != nil {
				return res, err
			}
		}
		res.Records = append(res.Records, rec.ID)
	}
	return res, nil
}
