package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// listShards is how many byList partitions an unfiltered listing merges
// (both statuses); a page may read one Query page of each.
const listShards = 2 * dynamo.UserShards

// benchListing seeds n users in imports of 500 that share their last
// activity (the case that made paging skip users), pages through the whole
// admin listing at 25 a page, and runs a search that matches one user.
// Spec §10: items read at most 1.5× the items returned, plus one page per
// shard; a search that matches little never reads the whole table in one
// request.
func benchListing(ctx context.Context, db *dynamodb.Client, n int) ([]Figure, error) {
	tables, err := newTables(ctx, db, "list")
	if err != nil {
		return nil, err
	}
	store := dynamo.New(db, tables)
	now := time.Now()
	users := make([]dormancy.User, 0, n+1)
	for i := range n {
		at := now.Add(-time.Duration(i/500) * time.Hour)
		id := fmt.Sprintf("l%07d", i)
		users = append(users, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, Groups: []string{}, CreationSource: dormancy.Import, CreatedAt: at, ImportedAt: at, Version: 1})
	}
	users = append(users, dormancy.User{UserID: "needle", Username: "the-needle", Status: dormancy.Active, Groups: []string{}, CreatedAt: now.Add(-24 * time.Hour), Version: 1})
	if err := parallelLoad(ctx, store, users); err != nil {
		return nil, err
	}
	const limit = 25
	seen := map[string]bool{}
	read, returned, pages := 0, 0, 0
	for cursor := ""; ; {
		p, err := store.ListUsers(ctx, dynamo.UserFilter{}, limit, cursor)
		if err != nil {
			return nil, err
		}
		pages++
		read += p.Read
		returned += len(p.Users)
		for _, u := range p.Users {
			if seen[u.UserID] {
				return nil, fmt.Errorf("listing repeated %s", u.UserID)
			}
			seen[u.UserID] = true
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	if len(seen) != len(users) {
		return nil, fmt.Errorf("listing showed %d of %d users", len(seen), len(users))
	}
	// The bound per page: 1.5× what it returned, plus one page per shard.
	bound := 1.5*float64(returned)/float64(pages) + float64(listShards*(limit+1))
	figs := []Figure{
		atMost("Listing items read per page vs 1.5× returned + a page per shard", "items", float64(read)/float64(pages), bound, 1),
		reported("Listing items read vs items returned (whole listing)", "items", float64(read), float64(returned)),
	}

	var found []string
	sread, requests, maxRead := 0, 0, 0
	for cursor := ""; ; {
		p, err := store.ListUsers(ctx, dynamo.UserFilter{Query: "needle"}, 1, cursor)
		if err != nil {
			return nil, err
		}
		requests++
		sread += p.Read
		maxRead = max(maxRead, p.Read)
		for _, u := range p.Users {
			found = append(found, u.UserID)
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("search found %v", found)
	}
	figs = append(figs,
		atMost("Search (matches 1) items read per request vs the table", "items", float64(maxRead), float64(len(users)), 0.5),
		reported("Search (matches 1) requests to the end", "requests", float64(requests), 1),
		reported("Search (matches 1) items read in all vs the table", "items", float64(sread), float64(len(users))),
	)
	return figs, nil
}
