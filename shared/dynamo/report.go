package dynamo

import (
	"context"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// ReportData is what the compliance report is made of, and what reading it
// cost.
type ReportData struct {
	Counts     Counts
	Candidates []dormancy.User       // users at or past the smallest threshold, or their end date
	Entries    []dormancy.AuditEntry // the period's DisableUserAccount and EnableUserAccount entries
	Runs       []dormancy.Run
	// ItemsRead is every item DynamoDB read for it: it grows with the users
	// past a threshold and the period's entries, never with all users.
	ItemsRead int
}

// maxReportRuns bounds the runs one report lists.
const maxReportRuns = 1000

// ReportData reads the report's data: the counts (one read), the users a
// sweep would read at cutoff and now (the same sparse indexes), and the
// period's deactivations, reactivations and runs.
func (s *Store) ReportData(ctx context.Context, cutoff, now, from, to time.Time) (ReportData, error) {
	var d ReportData
	var err error
	if d.Counts, err = s.CountUsers(ctx); err != nil {
		return d, err
	}
	d.ItemsRead += countShards
	seen := map[string]bool{}
	read := func(shard string, upTo time.Time) error {
		cursor := ""
		for {
			p, err := s.SweepCandidates(ctx, shard, upTo, 500, cursor)
			if err != nil {
				return err
			}
			d.ItemsRead += p.Read
			for _, u := range p.Users {
				if !seen[u.UserID] {
					seen[u.UserID] = true
					d.Candidates = append(d.Candidates, u)
				}
			}
			if cursor = p.Next; cursor == "" {
				return nil
			}
		}
	}
	for _, sh := range append(SweepShards(false), SweepShards(true)...) {
		if err := read(sh, cutoff); err != nil {
			return d, err
		}
	}
	for _, sh := range ExpiryShards() {
		if err := read(sh, now); err != nil {
			return d, err
		}
	}
	// One pass over the period's trail, keeping deactivations and
	// reactivations.
	cursor := ""
	for {
		p, err := s.Audit(ctx, AuditFilter{From: from, To: to}, 1000, cursor)
		if err != nil {
			return d, err
		}
		d.ItemsRead += p.Read
		for _, e := range p.Entries {
			if e.Operation == dormancy.OpDisableUserAccount || e.Operation == dormancy.OpEnableUserAccount {
				d.Entries = append(d.Entries, e)
			}
		}
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	cursor = ""
	for len(d.Runs) < maxReportRuns {
		p, err := s.ListRuns(ctx, "", from, to, 100, cursor)
		if err != nil {
			return d, err
		}
		d.ItemsRead += len(p.Runs)
		d.Runs = append(d.Runs, p.Runs...)
		if cursor = p.Cursor; cursor == "" {
			break
		}
	}
	return d, nil
}
