// Package loginhook is Dormancy's Cognito trigger: one handler for the
// PreAuthentication, PostAuthentication, PostConfirmation and pre token
// generation triggers, dispatching on triggerSource. It refuses deactivated
// users (and users who crossed their threshold before the sweeper ran),
// stamps successful sign-ins, creates records, and records groups.
package loginhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Store is what the hook needs from the data store.
type Store interface {
	GetUser(ctx context.Context, userID string) (dormancy.User, error)
	CreateUser(ctx context.Context, u dormancy.User, audit dormancy.AuditEntry) error
	RecordSignIn(ctx context.Context, userID string, at time.Time, email string) error
	SetProfile(ctx context.Context, userID string, p dynamo.Profile) error
	Apply(ctx context.Context, c dormancy.Change) error
}

// Hook handles Cognito trigger events.
type Hook struct {
	store  Store
	policy dormancy.Policy
	now    func() time.Time
	log    *slog.Logger
	// Budget bounds the store calls of one trigger, so that an unreachable
	// store is answered with the hook's own message well inside the 5 s
	// Cognito gives a trigger, not with Cognito's timeout.
	Budget time.Duration
}

// New returns a hook. now is the clock (time.Now in Lambda).
func New(store Store, policy dormancy.Policy, now func() time.Time, log *slog.Logger) *Hook {
	return &Hook{store: store, policy: policy, now: now, log: log, Budget: 3 * time.Second}
}

// Refusal is an error whose text Cognito shows the user, prefixed with
// "<Trigger> failed with error ".
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

var unavailable = &Refusal{Message: dormancy.MsgUnavailable}

// ErrMalformed: the event is not a Cognito trigger event the hook handles.
// Nothing is written for it.
var ErrMalformed = errors.New("malformed trigger event")

// Handle is the Lambda handler. It returns the event unchanged (Cognito
// reads its response fields; the hook sets none) or an error.
func (h *Hook) Handle(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	if h.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Budget)
		defer cancel()
	}
	var hdr events.CognitoEventUserPoolsHeader
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	src := hdr.TriggerSource
	log := h.log.With("triggerSource", src, "userName", hdr.UserName)
	var err error
	switch {
	case src == "PreAuthentication_Authentication":
		var e events.CognitoEventUserPoolsPreAuthentication
		if err = decode(raw, &e); err == nil {
			err = h.preAuthentication(ctx, log, hdr.UserName, e.Request.UserAttributes)
		}
	case src == "PostAuthentication_Authentication":
		var e events.CognitoEventUserPoolsPostAuthentication
		if err = decode(raw, &e); err == nil {
			err = h.postAuthentication(ctx, log, hdr.UserName, e.Request.UserAttributes)
		}
	case strings.HasPrefix(src, "PostConfirmation_"):
		var e events.CognitoEventUserPoolsPostConfirmation
		if err = decode(raw, &e); err == nil {
			err = h.postConfirmation(ctx, log, src, hdr.UserName, e.Request.UserAttributes, e.Request.ClientMetadata)
		}
	case strings.HasPrefix(src, "TokenGeneration_"):
		var e events.CognitoEventUserPoolsPreTokenGen
		if err = decode(raw, &e); err == nil {
			err = h.preTokenGeneration(ctx, log, src, hdr.UserName, e.Request.UserAttributes, e.Request.GroupConfiguration.GroupsToOverride)
		}
	default:
		err = fmt.Errorf("%w: trigger source %q is not one this hook handles", ErrMalformed, src)
	}
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			log.InfoContext(ctx, "refused", "reason", r.Message)
		} else {
			log.ErrorContext(ctx, "trigger failed", "err", err)
		}
		return nil, err
	}
	return raw, nil
}

func decode(raw json.RawMessage, v any) error {
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// identity takes the user's id (the sub) and name from an event. Cognito's
// subs are UUIDs and its user names at most 128 characters; anything else is
// not an event Cognito sent, and is refused before it reaches the store.
func identity(userName string, attrs map[string]string) (id, name string, err error) {
	id = attrs["sub"]
	switch {
	case strings.TrimSpace(userName) == "":
		return "", "", fmt.Errorf("%w: userName is missing", ErrMalformed)
	case !dormancy.ValidUsername(userName):
		return "", "", fmt.Errorf("%w: userName is not a Cognito user name (1–128 letters, marks, symbols, numbers or punctuation)", ErrMalformed)
	case strings.TrimSpace(id) == "":
		return "", "", fmt.Errorf("%w: request.userAttributes.sub is missing", ErrMalformed)
	case !dormancy.ValidUserID(id):
		return "", "", fmt.Errorf("%w: request.userAttributes.sub is not a Cognito sub", ErrMalformed)
	}
	return id, userName, nil
}

// preAuthentication refuses a deactivated user, and deactivates on the spot
// an active user past the threshold. If the store cannot be read, it fails
// closed.
func (h *Hook) preAuthentication(ctx context.Context, log *slog.Logger, userName string, attrs map[string]string) error {
	id, _, err := identity(userName, attrs)
	if err != nil {
		return err
	}
	u, err := h.store.GetUser(ctx, id)
	switch {
	case errors.Is(err, dormancy.ErrNotFound):
		return nil // first sign-in: PostAuthentication creates the record
	case err != nil:
		log.ErrorContext(ctx, "cannot read user; refusing sign-in", "userId", id, "err", err)
		return unavailable
	}
	if p := dynamo.ProfileChange(u, nil, email(attrs)); p != nil {
		// Rare (the e-mail changed in Cognito): one more write, not refused on.
		if err := h.store.SetProfile(ctx, id, *p); err != nil {
			log.WarnContext(ctx, "cannot record the user's e-mail", "userId", id, "err", err)
		}
	}
	return h.admit(ctx, log, u)
}

// admit lets an ACTIVE user inside the threshold through and refuses anyone
// else, deactivating a user found past the threshold exactly as the sweeper
// would.
func (h *Hook) admit(ctx context.Context, log *slog.Logger, u dormancy.User) error {
	for attempt := 0; ; attempt++ {
		switch u.Status {
		case dormancy.Active:
		case dormancy.Deactivated:
			return &Refusal{Message: h.policy.Refusal(u)}
		default:
			// A status the hook does not know: fail closed (spec §4).
			log.ErrorContext(ctx, "unknown account status; refusing", "userId", u.UserID, "status", u.Status)
			return &Refusal{Message: h.policy.NotActive()}
		}
		now := h.now()
		v := h.policy.Evaluate(u, now)
		if v.Action != dormancy.Deactivate && v.Action != dormancy.Expire {
			return nil
		}
		c := dormancy.DeactivateForInactivity(u, v, now)
		err := h.store.Apply(ctx, c)
		if err == nil {
			log.InfoContext(ctx, "deactivated at sign-in", "userId", u.UserID, "thresholdDays", v.ThresholdDays,
				"lastActivityAt", dormancy.FormatTime(v.LastActivity), "eventId", c.Events[0].ID)
			return &Refusal{Message: h.policy.Refusal(c.User)}
		}
		if !errors.Is(err, dormancy.ErrConflict) || attempt == 2 {
			log.ErrorContext(ctx, "cannot deactivate dormant user; refusing sign-in", "userId", u.UserID, "err", err)
			return unavailable
		}
		// Someone changed the user meanwhile (the sweeper, or a sign-in):
		// decide again on what is there now.
		if u, err = h.store.GetUser(ctx, u.UserID); err != nil {
			return unavailable
		}
	}
}

// postAuthentication stamps the sign-in. It never reactivates: a user
// deactivated between PreAuthentication and now is refused and stays as the
// deactivation left them.
func (h *Hook) postAuthentication(ctx context.Context, log *slog.Logger, userName string, attrs map[string]string) error {
	id, name, err := identity(userName, attrs)
	if err != nil {
		return err
	}
	now := h.now()
	for attempt := 0; ; attempt++ {
		err = h.store.RecordSignIn(ctx, id, now, email(attrs))
		switch {
		case err == nil:
			return nil
		case errors.Is(err, dormancy.ErrNotFound) && attempt == 0:
			u, audit := dormancy.NewAccount(id, name, nil, dormancy.FirstLogin, id, now, now)
			u.Email = email(attrs)
			err = h.store.CreateUser(ctx, u, audit)
			if err == nil {
				log.InfoContext(ctx, "created at first sign-in", "userId", id)
				return nil
			}
			if errors.Is(err, dormancy.ErrExists) || errors.Is(err, dormancy.ErrConflict) {
				continue // created meanwhile by another trigger: stamp it
			}
		case errors.Is(err, dormancy.ErrConflict):
			u, gerr := h.store.GetUser(ctx, id)
			if gerr != nil {
				return unavailable
			}
			log.WarnContext(ctx, "sign-in raced a deactivation; not stamped", "userId", id)
			return &Refusal{Message: h.policy.Refusal(u)}
		}
		log.ErrorContext(ctx, "cannot stamp sign-in", "userId", id, "err", err)
		return unavailable
	}
}

// postConfirmation creates the record of a newly confirmed user. A password
// reset confirmation (PostConfirmation_ConfirmForgotPassword) is not a new
// account and changes nothing.
func (h *Hook) postConfirmation(ctx context.Context, log *slog.Logger, src, userName string, attrs, meta map[string]string) error {
	id, name, err := identity(userName, attrs)
	if err != nil {
		return err
	}
	if src != "PostConfirmation_ConfirmSignUp" {
		if src == "PostConfirmation_ConfirmForgotPassword" {
			return nil
		}
		return fmt.Errorf("%w: trigger source %q is not one this hook handles", ErrMalformed, src)
	}
	source := dormancy.SelfRegistration
	if adminCreated(attrs, meta) {
		source = dormancy.AdminCreated
	}
	now := h.now()
	u, audit := dormancy.NewAccount(id, name, nil, source, id, now, now)
	u.Email = email(attrs)
	switch err := h.store.CreateUser(ctx, u, audit); {
	case err == nil:
		log.InfoContext(ctx, "created", "userId", id, "creationSource", source)
		return nil
	case errors.Is(err, dormancy.ErrExists), errors.Is(err, dormancy.ErrConflict):
		return nil // creationSource is set once; nothing to change
	default:
		log.ErrorContext(ctx, "cannot create user", "userId", id, "err", err)
		return unavailable
	}
}

// adminCreated tells an account an administrator created. Cognito sends the
// same trigger source for both kinds; an admin-created user confirms while
// still in FORCE_CHANGE_PASSWORD, and admin tools can say so explicitly in
// the client metadata.
func adminCreated(attrs, meta map[string]string) bool {
	return attrs["cognito:user_status"] == "FORCE_CHANGE_PASSWORD" ||
		meta["creationSource"] == string(dormancy.AdminCreated)
}

// preTokenGeneration records the user's groups (Cognito sends them only to
// this trigger) and refuses tokens to a deactivated user, in particular on
// a refresh, which PreAuthentication never sees.
func (h *Hook) preTokenGeneration(ctx context.Context, log *slog.Logger, src, userName string, attrs map[string]string, groups []string) error {
	id, name, err := identity(userName, attrs)
	if err != nil {
		return err
	}
	if groups == nil {
		groups = []string{}
	}
	u, err := h.store.GetUser(ctx, id)
	switch {
	case errors.Is(err, dormancy.ErrNotFound):
		now := h.now()
		nu, audit := dormancy.NewAccount(id, name, groups, dormancy.FirstLogin, id, now, now)
		nu.Email = email(attrs)
		if src == "TokenGeneration_RefreshTokens" {
			nu.LastLoginAt = time.Time{} // a refresh is not a sign-in
		}
		if err := h.store.CreateUser(ctx, nu, audit); err != nil && !errors.Is(err, dormancy.ErrExists) && !errors.Is(err, dormancy.ErrConflict) {
			log.ErrorContext(ctx, "cannot create user", "userId", id, "err", err)
			return unavailable
		}
		return nil
	case err != nil:
		log.ErrorContext(ctx, "cannot read user; refusing tokens", "userId", id, "err", err)
		return unavailable
	}
	if p := dynamo.ProfileChange(u, groups, email(attrs)); p != nil {
		if err := h.store.SetProfile(ctx, id, *p); err != nil {
			log.ErrorContext(ctx, "cannot record groups", "userId", id, "err", err)
			return unavailable
		}
		log.InfoContext(ctx, "groups recorded", "userId", id, "groups", groups)
		u.Groups = groups
	}
	return h.admit(ctx, log, u)
}

// email is the user's e-mail as Cognito sent it, if it is one.
func email(attrs map[string]string) string { return dormancy.Email(attrs["email"]) }
