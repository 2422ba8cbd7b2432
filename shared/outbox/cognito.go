package outbox

import (
	"context"
	"errors"
	"fmt"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// GlobalSignOutAPI is the Cognito call the relay makes.
type GlobalSignOutAPI interface {
	AdminUserGlobalSignOut(context.Context, *cip.AdminUserGlobalSignOutInput, ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
}

// Cognito revokes sessions in one user pool with AdminUserGlobalSignOut.
type Cognito struct {
	Client     GlobalSignOutAPI
	UserPoolID string
}

// SignOut revokes every refresh token of the user. A user Cognito no longer
// knows has no sessions left, so that counts as done.
func (c Cognito) SignOut(ctx context.Context, username string) error {
	_, err := c.Client.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: &c.UserPoolID, Username: &username})
	var nf *ciptypes.UserNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("sign out %s: %w", username, err)
	}
	return nil
}
