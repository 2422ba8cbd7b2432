// Package poolsync brings an existing pool's users into Dormancy (spec
// §12): it pages through the pool, brings in every user Dormancy does not
// know (creationSource blank, audit source PoolSync, activity measured from
// the sync, groups and e-mail from the pool), updates the groups and e-mail
// of the users it knows, and counts those it knows that the pool no longer
// has. A pool too big for one invocation is finished by the next ones: the
// sync saves its place after every page, under a lease, so a second sync
// started meanwhile does not go over the same pages.
package poolsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/smithy-go"
)

// memberships reads every group and its members: user name -> groups.
func (s *Syncer) memberships(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	var next *string
	for {
		var page *cip.ListGroupsOutput
		if err := s.call(ctx, func() error {
			var e error
			page, e = s.Cognito.ListGroups(ctx, &cip.ListGroupsInput{UserPoolId: &s.PoolID, Limit: aws.Int32(60), NextToken: next})
			return e
		}); err != nil {
			return nil, err
		}
		for _, g := range page.Groups {
			if err := s.members(ctx, aws.ToString(g.GroupName), out); err != nil {
				return nil, err
			}
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	for name := range out {
		sort.Strings(out[name])
	}
	return out, nil
}

func (s *Syncer) members(ctx context.Context, group string, out map[string][]string) error {
	var next *string
	for {
		var page *cip.ListUsersInGroupOutput
		if err := s.call(ctx, func() error {
			var e error
			page, e = s.Cognito.ListUsersInGroup(ctx, &cip.ListUsersInGroupInput{UserPoolId: &s.PoolID, GroupName: &group, Limit: aws.Int32(60), NextToken: next})
			return e
		}); err != nil {
			return fmt.Errorf("members of %s: %w", group, err)
		}
		for _, u := range page.Users {
			name := aws.ToString(u.Username)
			out[name] = append(out[name], group)
		}
		if next = page.NextToken; next == nil {
			return nil
		}
	}
}

// throttleTries bounds the tries of one Cognito call that keeps being
// throttled.
const throttleTries = 8

// call makes one Cognito call at the limiter's pace. Throttling halves the
// pace and tries again after a pause: it slows the sync down, it does not
// lose its place.
func (s *Syncer) call(ctx context.Context, f func() error) error {
	for try := 1; ; try++ {
		if s.Limiter != nil {
			if err := s.Limiter.Wait(ctx); err != nil {
				return err
			}
		}
		err := f()
		if err == nil || !throttled(err) || try == throttleTries {
			return err
		}
		if s.Limiter != nil {
			s.Limiter.SetLimit(max(s.Limiter.Limit()/2, 0.5))
		}
		s.Log.WarnContext(ctx, "Cognito throttled the sync; slowing down", "try", try)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try*try) * 100 * time.Millisecond):
		}
	}
}

func throttled(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "TooManyRequestsException" || ae.ErrorCode() == "ThrottlingException")
}
