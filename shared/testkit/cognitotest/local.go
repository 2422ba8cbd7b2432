// Package cognitotest runs cognito-local, a Cognito user pool on this
// machine (users, groups, sign-in, JWTs and their JWKS), for tests and for
// the local stack, with helpers to make pools, users and tokens.
//
// What cognito-local 5.3.0 does not do, and what Dormancy does about it:
// it has no PreAuthentication trigger (the local stack's sign-in route calls
// the login hook itself), and it does not implement AdminUserGlobalSignOut
// (the call fails, so the relay keeps the sign-out owed and retries it — a
// test shows that; the deployed stack revokes sessions in Cognito).
package cognitotest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/dormancy/dormancy/shared/testkit/localproc"
)

// Local is a running cognito-local.
type Local struct {
	Endpoint string
	Port     int
	*localproc.Process
}

// Binary finds cognito-local among the pinned node tools.
func Binary() (string, error) { return localproc.NodeTool("cognito-local") }

// Start runs cognito-local on 127.0.0.1:port (0 picks one) with its data in
// dir (it writes dir/.cognito), and waits until it answers.
func Start(dir string, port int) (*Local, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if port, err = localproc.Port("cognito-local", port); err != nil {
		return nil, err
	}
	// Pools sign in by user name (cognito-local's default is e-mail).
	if err := os.MkdirAll(filepath.Join(dir, ".cognito"), 0o755); err != nil {
		return nil, err
	}
	cfg := `{"UserPoolDefaults":{"UsernameAttributes":[]}}`
	if err := os.WriteFile(filepath.Join(dir, ".cognito", "config.json"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := func() error {
		resp, err := http.Get(endpoint + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	p, err := localproc.Start("cognito-local", cmd, "COGNITO_LOCAL_LOG", ready, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &Local{Endpoint: endpoint, Port: port, Process: p}, nil
}

// NewClient is a Cognito client for a local endpoint.
func NewClient(endpoint string) *cip.Client {
	return cip.New(cip.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// CreatePool makes a user pool (sign-in by user name) and an app client for
// password sign-in and refresh.
func CreatePool(ctx context.Context, c *cip.Client, name string) (poolID, clientID string, err error) {
	p, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("create pool: %w", err)
	}
	poolID = aws.ToString(p.UserPool.Id)
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(poolID), ClientName: aws.String(name + "-client"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
	})
	if err != nil {
		return "", "", fmt.Errorf("create client: %w", err)
	}
	return poolID, aws.ToString(cl.UserPoolClient.ClientId), nil
}

// CreateUser makes a confirmed user with a permanent password, in the given
// groups (created as needed), and returns its sub.
func CreateUser(ctx context.Context, c *cip.Client, poolID, username, password string, groups ...string) (string, error) {
	out, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: aws.String(poolID), Username: aws.String(username), MessageAction: types.MessageActionTypeSuppress,
	})
	if err != nil {
		return "", fmt.Errorf("create user %s: %w", username, err)
	}
	if _, err := c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID), Username: aws.String(username), Password: aws.String(password), Permanent: true,
	}); err != nil {
		return "", fmt.Errorf("set password of %s: %w", username, err)
	}
	for _, g := range groups {
		if _, err := c.GetGroup(ctx, &cip.GetGroupInput{UserPoolId: aws.String(poolID), GroupName: aws.String(g)}); err != nil {
			if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(poolID), GroupName: aws.String(g)}); err != nil {
				return "", fmt.Errorf("create group %s: %w", g, err)
			}
		}
		if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(poolID), Username: aws.String(username), GroupName: aws.String(g)}); err != nil {
			return "", fmt.Errorf("add %s to %s: %w", username, g, err)
		}
	}
	for _, a := range out.User.Attributes {
		if aws.ToString(a.Name) == "sub" {
			return aws.ToString(a.Value), nil
		}
	}
	return "", fmt.Errorf("user %s has no sub", username)
}

// Tokens are a sign-in's tokens.
type Tokens struct {
	IDToken      string `json:"idToken"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// SignIn authenticates with a password.
func SignIn(ctx context.Context, c *cip.Client, clientID, username, password string) (Tokens, error) {
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow: types.AuthFlowTypeUserPasswordAuth, ClientId: aws.String(clientID),
		AuthParameters: map[string]string{"USERNAME": username, "PASSWORD": password},
	})
	if err != nil {
		return Tokens{}, err
	}
	if out.AuthenticationResult == nil {
		return Tokens{}, fmt.Errorf("sign-in of %s: challenge %s", username, out.ChallengeName)
	}
	r := out.AuthenticationResult
	return Tokens{IDToken: aws.ToString(r.IdToken), AccessToken: aws.ToString(r.AccessToken), RefreshToken: aws.ToString(r.RefreshToken)}, nil
}

// Refresh exchanges a refresh token for new tokens.
func Refresh(ctx context.Context, c *cip.Client, clientID, refreshToken string) (Tokens, error) {
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow: types.AuthFlowTypeRefreshTokenAuth, ClientId: aws.String(clientID),
		AuthParameters: map[string]string{"REFRESH_TOKEN": refreshToken},
	})
	if err != nil {
		return Tokens{}, err
	}
	r := out.AuthenticationResult
	return Tokens{IDToken: aws.ToString(r.IdToken), AccessToken: aws.ToString(r.AccessToken)}, nil
}

// JWKSURL is where a pool's signing keys are served.
func (l *Local) JWKSURL(poolID string) string {
	return l.Endpoint + "/" + poolID + "/.well-known/jwks.json"
}

// Issuer is the iss claim of a pool's tokens.
func (l *Local) Issuer(poolID string) string { return l.Endpoint + "/" + poolID }
