package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/time/rate"

	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/poolsync"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
)

// benchPoolSync measures the pool sync against cognito-local with n users:
// its users per second against bare ListUsers paging of the same pool at
// the same rate limit (spec §10: at least 0.7×).
func benchPoolSync(ctx context.Context, db *dynamodb.Client, n int, rps float64) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "bench-cognito-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local, err := cognitotest.Start(dir, 0)
	if err != nil {
		return nil, err
	}
	setup := cognitotest.NewClient(local.Endpoint)
	pool, _, err := cognitotest.CreatePool(ctx, setup, "bench")
	if err != nil {
		local.Stop()
		return nil, err
	}
	local.Stop()
	// Creating n users through cognito-local's API rewrites its whole data
	// file per call; writing them into the file before it starts is the
	// same pool, in seconds.
	if err := seedPool(filepath.Join(dir, ".cognito", "db", pool+".json"), n); err != nil {
		return nil, err
	}
	if local, err = cognitotest.Start(dir, 0); err != nil {
		return nil, err
	}
	defer local.Stop()
	// cognito-local answers ListUsers with the whole pool at once; Cognito
	// pages 60 at a time. Both sides read through the same pager, so both
	// make the calls Cognito would make.
	c := &pager{Client: cognitotest.NewClient(local.Endpoint)}

	// Bare: the same pages, at the same pace, doing nothing with them.
	limiter := rate.NewLimiter(rate.Limit(rps), 1)
	start := time.Now()
	listed := 0
	var token *string
	for {
		if err := limiter.Wait(ctx); err != nil {
			return nil, err
		}
		page, err := c.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: &pool, Limit: aws.Int32(60), PaginationToken: token})
		if err != nil {
			return nil, err
		}
		listed += len(page.Users)
		if token = page.PaginationToken; token == nil {
			break
		}
	}
	bare := float64(listed) / time.Since(start).Seconds()

	tables, err := newTables(ctx, db, "sync")
	if err != nil {
		return nil, err
	}
	s := poolsync.New(dynamo.New(db, tables), c, pool, rps, time.Now, quiet)
	start = time.Now()
	sum, err := s.Run(ctx, "")
	if err != nil {
		return nil, err
	}
	if !sum.Complete || sum.Imported != n {
		return nil, fmt.Errorf("sync brought in %d of %d users: %+v", sum.Imported, n, sum)
	}
	synced := float64(sum.Listed) / time.Since(start).Seconds()
	return []Figure{
		atLeast(fmt.Sprintf("pool sync users/s (vs bare ListUsers paging, %d users, %g calls/s)", n, rps), "1/s", synced, bare, 0.7),
	}, nil
}

// seedPool writes n confirmed users into a cognito-local pool's data file.
func seedPool(path string, n int) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	users := map[string]any{}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for i := range n {
		name := fmt.Sprintf("pool-user-%05d", i)
		users[name] = map[string]any{
			"Username": name, "Password": "Secret-123!", "Enabled": true, "UserStatus": "CONFIRMED",
			"UserCreateDate": now, "UserLastModifiedDate": now, "RefreshTokens": []any{},
			"Attributes": []any{
				map[string]any{"Name": "sub", "Value": fmt.Sprintf("00000000-0000-4000-8000-%012d", i)},
				map[string]any{"Name": "email", "Value": name + "@example.com"},
			},
		}
	}
	doc["Users"] = users
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// pager serves ListUsers as Cognito does, Limit users a page with a
// pagination token, from cognito-local's one answer (read once).
type pager struct {
	*cip.Client
	all []cipt.UserType
}

func (p *pager) ListUsers(ctx context.Context, in *cip.ListUsersInput, o ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	if p.all == nil || in.PaginationToken == nil {
		out, err := p.Client.ListUsers(ctx, &cip.ListUsersInput{UserPoolId: in.UserPoolId}, o...)
		if err != nil {
			return nil, err
		}
		p.all = out.Users
	}
	from := 0
	if in.PaginationToken != nil {
		from, _ = strconv.Atoi(*in.PaginationToken)
	}
	limit := int(aws.ToInt32(in.Limit))
	if limit <= 0 || limit > 60 {
		limit = 60
	}
	to := min(from+limit, len(p.all))
	out := &cip.ListUsersOutput{Users: p.all[from:to]}
	if to < len(p.all) {
		out.PaginationToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}
