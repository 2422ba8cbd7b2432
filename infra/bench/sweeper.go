package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/sweeper"
)

const sweepWriters = 16

// benchSweeper seeds n users of which 1% are dormant, sweeps once, and
// compares the items the sweep read with a full Scan of the same table, and
// its deactivation rate with bare conditional writes at the same concurrency.
func benchSweeper(ctx context.Context, db *dynamodb.Client, n int) ([]Figure, error) {
	tables, err := newTables(ctx, db, "sweep")
	if err != nil {
		return nil, err
	}
	store := dynamo.New(db, tables)
	now := time.Now()
	dormant := n / 100
	users := make([]dormancy.User, 0, n+dormant)
	for i := range n {
		idle := dormancy.Days(1 + i%30)
		if i%100 == 0 {
			idle = dormancy.Days(46 + i%300)
		}
		id := fmt.Sprintf("u%07d", i)
		users = append(users, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreationSource: dormancy.Import, CreatedAt: now.Add(-idle), Version: 1})
	}
	// Users for the baselines: as many as the sweep acts on, in tables of
	// their own so that no measurement sees another's writes.
	baseTables, err := newTables(ctx, db, "sweepbase")
	if err != nil {
		return nil, err
	}
	txTables, err := newTables(ctx, db, "sweeptx")
	if err != nil {
		return nil, err
	}
	var base []dormancy.User
	for i := range dormant {
		id := fmt.Sprintf("b%07d", i)
		base = append(base, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreatedAt: now.Add(-dormancy.Days(60)), Version: 1})
	}
	if err := dynamo.New(db, txTables).BulkLoad(ctx, base); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := parallelLoad(ctx, store, users); err != nil {
		return nil, err
	}
	if err := dynamo.New(db, baseTables).BulkLoad(ctx, base); err != nil {
		return nil, err
	}
	seeded := time.Since(start)

	// Bare conditional writes: the single conditional update a deactivation
	// could be at its barest, at the sweeper's write concurrency.
	bare := func(table string, base []dormancy.User) error {
		return forEach(base, sweepWriters, func(u dormancy.User) error {
			_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                &table,
				Key:                      map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: u.UserID}},
				UpdateExpression:         aws.String("SET #s = :d REMOVE sweepShard"),
				ConditionExpression:      aws.String("#s = :a AND lastActivityAt = :la"),
				ExpressionAttributeNames: map[string]string{"#s": "status"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":d": &types.AttributeValueMemberS{Value: "DEACTIVATED"}, ":a": &types.AttributeValueMemberS{Value: "ACTIVE"},
					":la": &types.AttributeValueMemberS{Value: dormancy.FormatTime(u.LastActivity())},
				},
			})
			return err
		})
	}
	// DynamoDB Local is a JVM: both paths are warmed up first, on users of
	// their own, so neither figure includes compilation.
	if err := warmUp(ctx, db, now, bare); err != nil {
		return nil, err
	}
	start = time.Now()
	if err := bare(baseTables.Users, base); err != nil {
		return nil, err
	}
	bareRate := float64(len(base)) / time.Since(start).Seconds()

	// The same atomic write the sweeper makes (user, audit entry, owed event
	// and sign-out in one conditional transaction), issued directly: what
	// is left between this and the sweep is the sweeper's own overhead.
	txStore := dynamo.New(db, txTables)
	policy := dormancy.Policy{DefaultDays: 45, WarningDays: 7}
	// The same deactivations without the audit chain (spec §10: with it at
	// least 0.9× without), on users of their own. The two run in turns, a
	// tenth of the users at a time, so drift in DynamoDB Local (JIT, GC,
	// compaction) and other load on the machine fall on both alike.
	ncTables, err := newTables(ctx, db, "sweepnc")
	if err != nil {
		return nil, err
	}
	ncStore := dynamo.New(db, ncTables)
	if err := ncStore.BulkLoad(ctx, base); err != nil {
		return nil, err
	}
	unchained := ncStore.Unchained()
	deactivate := func(s *dynamo.Store, users []dormancy.User) (time.Duration, error) {
		start := time.Now()
		err := forEach(users, sweepWriters, func(u dormancy.User) error {
			return s.Apply(ctx, dormancy.DeactivateForInactivity(u, policy.Evaluate(u, now), now))
		})
		return time.Since(start), err
	}
	var txDur, ncDur time.Duration
	for i, step := 0, max(1, len(base)/10); i < len(base); i += step {
		turn := base[i:min(i+step, len(base))]
		d, err := deactivate(txStore, turn)
		if err != nil {
			return nil, err
		}
		txDur += d
		if d, err = deactivate(unchained, turn); err != nil {
			return nil, err
		}
		ncDur += d
	}
	txRate := float64(len(base)) / txDur.Seconds()
	ncRate := float64(len(base)) / ncDur.Seconds()

	sw := &sweeper.Sweeper{Store: store, Policy: dormancy.Policy{DefaultDays: 45, WarningDays: 7}, Now: func() time.Time { return now }, Log: quiet, Readers: 4, Writers: sweepWriters}
	start = time.Now()
	sum, err := sw.Run(ctx, false)
	if err != nil {
		return nil, err
	}
	sweepDur := time.Since(start)
	if sum.Deactivated != dormant {
		return nil, fmt.Errorf("sweep deactivated %d of %d dormant users", sum.Deactivated, dormant)
	}
	var scanned int32
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &tables.Users, Select: types.SelectCount})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		scanned += out.ScannedCount
	}
	// The compliance report on the same table, after the sweep: what it
	// read against what it returned or counted.
	cutoff := now.Add(-dormancy.Days(45))
	rep, err := store.ReportData(ctx, cutoff, now, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	counted := 32 + len(rep.Candidates) + len(rep.Entries) + len(rep.Runs) // the counts count users
	return []Figure{
		info(fmt.Sprintf("sweeper seed %d users", n), "s", seeded.Seconds()),
		atLeast(fmt.Sprintf("deactivations/s with the audit chain (vs without it, %d writers)", sweepWriters), "1/s", txRate, ncRate, 0.9),
		atMost(fmt.Sprintf("compliance report items read vs returned or counted (%d users)", n), "items", float64(rep.ItemsRead), 1.5*float64(counted)+float64(2*16+16), 1),
		atMost(fmt.Sprintf("sweeper items read per user acted on (%d users, %d dormant)", n, dormant), "items", float64(sum.ItemsRead), float64(sum.Deactivated+sum.Warned), 1.2),
		atLeast("sweeper full Scan items / sweep items read", "items", float64(scanned), float64(sum.ItemsRead), 50),
		// The target: the sweep against its own conditional writes (user,
		// audit entry, owed event and sign-out, one transaction) issued bare.
		atLeast(fmt.Sprintf("sweeper deactivations/s (vs its conditional transactions issued bare, %d writers)", sweepWriters), "1/s", float64(sum.Deactivated)/sweepDur.Seconds(), txRate, 0.8),
		// For context: what the atomic audit entry and outbox cost against a
		// single-item conditional update, which could not record either.
		reported(fmt.Sprintf("sweeper deactivations/s (vs single-item conditional UpdateItem, %d writers)", sweepWriters), "1/s", float64(sum.Deactivated)/sweepDur.Seconds(), bareRate),
	}, nil
}

func parallelLoad(ctx context.Context, store *dynamo.Store, users []dormancy.User) error {
	const chunk = 500
	var chunks [][]dormancy.User
	for i := 0; i < len(users); i += chunk {
		chunks = append(chunks, users[i:min(i+chunk, len(users))])
	}
	return forEach(chunks, 8, func(c []dormancy.User) error { return store.BulkLoad(ctx, c) })
}

// forEach runs f over items with the given concurrency; the first error wins.
func forEach[T any](items []T, workers int, f func(T) error) error {
	ch := make(chan T)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				if err := f(it); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
	return first
}

// warmUp runs a small sweep and a round of bare writes on throwaway tables.
func warmUp(ctx context.Context, db *dynamodb.Client, now time.Time, bare func(string, []dormancy.User) error) error {
	t, err := newTables(ctx, db, "warm")
	if err != nil {
		return err
	}
	store := dynamo.New(db, t)
	var us []dormancy.User
	for i := range 600 {
		id := fmt.Sprintf("w%05d", i)
		us = append(us, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreatedAt: now.Add(-dormancy.Days(60)), Version: 1})
	}
	if err := store.BulkLoad(ctx, us); err != nil {
		return err
	}
	sw := &sweeper.Sweeper{Store: store, Policy: dormancy.Policy{DefaultDays: 45}, Now: func() time.Time { return now }, Log: quiet, Readers: 4, Writers: sweepWriters}
	if _, err := sw.Run(ctx, false); err != nil {
		return err
	}
	var bus []dormancy.User
	for i := range 600 {
		id := fmt.Sprintf("x%05d", i)
		bus = append(bus, dormancy.User{UserID: id, Username: id, Status: dormancy.Active, CreatedAt: now.Add(-dormancy.Days(60)), Version: 1})
	}
	if err := store.BulkLoad(ctx, bus); err != nil {
		return err
	}
	return bare(t.Users, bus)
}
