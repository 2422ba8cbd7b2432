package sweeper

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	cipt "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// PoolClient is the part of the Cognito client a sweep reads the pool with
// (quota categories UserPoolRead and UserPoolClientRead: a handful of calls
// per run).
type PoolClient interface {
	DescribeUserPool(ctx context.Context, in *cip.DescribeUserPoolInput, o ...func(*cip.Options)) (*cip.DescribeUserPoolOutput, error)
	ListUserPoolClients(ctx context.Context, in *cip.ListUserPoolClientsInput, o ...func(*cip.Options)) (*cip.ListUserPoolClientsOutput, error)
	DescribeUserPoolClient(ctx context.Context, in *cip.DescribeUserPoolClientInput, o ...func(*cip.Options)) (*cip.DescribeUserPoolClientOutput, error)
}

// CognitoPool is the sweep's view of the user pool.
type CognitoPool struct {
	Client PoolClient
	PoolID string
	// HookARN is the login hook's ARN, which every trigger must name.
	HookARN string
}

// Triggers are the four triggers Dormancy needs (spec §4): without the
// PostAuthentication stamp dormancy cannot be measured, without the others
// deactivated users are not refused.
var Triggers = []string{"PreAuthentication", "PostAuthentication", "PostConfirmation", "PreTokenGeneration"}

// MissingTriggers names the triggers of the pool's LambdaConfig that do not
// call the login hook.
func (p CognitoPool) MissingTriggers(ctx context.Context) ([]string, error) {
	out, err := p.Client.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: &p.PoolID})
	if err != nil {
		return nil, err
	}
	lc := out.UserPool.LambdaConfig
	if lc == nil {
		lc = &cipt.LambdaConfigType{}
	}
	preToken := aws.ToString(lc.PreTokenGeneration)
	if lc.PreTokenGenerationConfig != nil && lc.PreTokenGenerationConfig.LambdaArn != nil {
		preToken = aws.ToString(lc.PreTokenGenerationConfig.LambdaArn)
	}
	got := map[string]string{
		"PreAuthentication": aws.ToString(lc.PreAuthentication), "PostAuthentication": aws.ToString(lc.PostAuthentication),
		"PostConfirmation": aws.ToString(lc.PostConfirmation), "PreTokenGeneration": preToken,
	}
	var missing []string
	for _, t := range Triggers {
		if got[t] != p.HookARN {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// defaultRefreshValidity is Cognito's refresh-token validity when a client
// sets none.
const defaultRefreshValidity = 30 * 24 * time.Hour

// LongestSession is the longest refresh-token validity of the pool's app
// clients.
func (p CognitoPool) LongestSession(ctx context.Context) (time.Duration, error) {
	var longest time.Duration
	var token *string
	for {
		page, err := p.Client.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: &p.PoolID, MaxResults: aws.Int32(60), NextToken: token})
		if err != nil {
			return 0, err
		}
		for _, c := range page.UserPoolClients {
			out, err := p.Client.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: &p.PoolID, ClientId: c.ClientId})
			if err != nil {
				return 0, fmt.Errorf("client %s: %w", aws.ToString(c.ClientId), err)
			}
			longest = max(longest, refreshValidity(out.UserPoolClient))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if longest == 0 {
		longest = defaultRefreshValidity
	}
	return longest, nil
}

func refreshValidity(c *cipt.UserPoolClientType) time.Duration {
	if c == nil || c.RefreshTokenValidity == 0 {
		return defaultRefreshValidity
	}
	unit := 24 * time.Hour // Cognito's default unit for refresh tokens
	if c.TokenValidityUnits != nil {
		switch c.TokenValidityUnits.RefreshToken {
		case cipt.TimeUnitsTypeSeconds:
			unit = time.Second
		case cipt.TimeUnitsTypeMinutes:
			unit = time.Minute
		case cipt.TimeUnitsTypeHours:
			unit = time.Hour
		}
	}
	return time.Duration(c.RefreshTokenValidity) * unit
}
