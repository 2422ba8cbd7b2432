// Package notify tells people what Dormancy did or is about to do (spec §13).
// It is the target of the EventBridge rule with eventrules.Notices, and sends
// e-mail through SES (API v2) from SENDER_EMAIL:
//
//   - to the user (their address and name from the Users table): a warning
//     (UserDormancyWarning: the date, the threshold, sign in before it), a
//     deactivation (UserDeactivated: when, why, whom to contact) and a
//     reactivation (UserReactivated: they can sign in again). A user with no
//     e-mail address is skipped and counted;
//   - to ADMIN_NOTIFY_EMAIL, when set: one message per held sweep
//     (SweepHeld: why, how many, how to release it) and one digest per
//     sweep run that deactivated anyone (SweepCompleted), never one per user.
//
// Each event mails at most once however often it is delivered: its sending
// is claimed in the Notices table (dynamo.Store.ClaimNotice) before SES is
// called and marked sent once SES accepted the mail. A send that fails gives
// the claim back and fails the invocation, so EventBridge delivers the event
// again (and, when its retries run out, to the dead-letter queue); a
// delivery that crashed between claiming and sending holds the claim only
// until its lease runs out. SES throttling and the SDK's other retryable
// errors are retried by the client first (Retries).
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/dormancy/dormancy/shared/access"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
)

// Store is what Notify reads and writes.
type Store interface {
	GetUser(ctx context.Context, userID string) (dormancy.User, error)
	ClaimNotice(ctx context.Context, eventID, kind string, now time.Time, lease time.Duration) (dynamo.NoticeClaim, error)
	MarkNoticeSent(ctx context.Context, c dynamo.NoticeClaim, messageID string, at time.Time) error
	ReleaseNotice(ctx context.Context, c dynamo.NoticeClaim, cause string, at time.Time) error
}

// Mailer is the part of the SES API v2 client Notify calls.
type Mailer interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Handler handles the events of eventrules.Notices.
type Handler struct {
	Store Store
	SES   Mailer
	// Sender is the From of every mail (SENDER_EMAIL); Admins gets the
	// admins' notices (ADMIN_NOTIFY_EMAIL; none when empty); Contact is
	// whom users are told to contact (ADMIN_CONTACT; else "your
	// administrator").
	Sender, Admins, Contact string
	Now                     func() time.Time
	Log                     *slog.Logger
	// Lease is how long a claim holds against other deliveries: longer than
	// an invocation can last, so that only a delivery that has crashed
	// loses it.
	Lease time.Duration
}

// New returns a handler with the settings of c, whose claims hold for
// twice the function's declared timeout.
func New(store Store, ses Mailer, c config.Config, now func() time.Time, log *slog.Logger) *Handler {
	return &Handler{
		Store: store, SES: ses, Sender: c.SenderEmail, Admins: c.AdminNotifyEmail, Contact: c.AdminContact,
		Now: now, Log: log, Lease: 2 * access.Get("Notify").Timeout,
	}
}

// Retries is the SES client's retry policy: attempts tries of a call in
// all, with jittered exponential backoff of at most maxBackoff, on
// throttling (TooManyRequestsException, LimitExceededException, …), 5xx
// answers and connection errors, as the SDK's standard retryer decides.
func Retries(attempts int, maxBackoff time.Duration) func(*sesv2.Options) {
	return func(o *sesv2.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = maxBackoff
		})
	}
}

// DefaultRetries keeps the backoffs of one call well inside the function's
// minute.
var DefaultRetries = Retries(6, 4*time.Second)

// ErrUnknownUser: a user's event names a user Dormancy does not know. No
// one can be mailed; nothing is written.
var ErrUnknownUser = fmt.Errorf("%w: the user is not known to Dormancy", ErrBadEvent)

// Result says what one event did.
type Result struct {
	EventID        string `json:"eventId"`
	Sent           int    `json:"sent"`
	SkippedNoEmail int    `json:"skippedNoEmail"`
	// AlreadySent: an earlier delivery of the same event sent its notice;
	// this one sent nothing.
	AlreadySent bool `json:"alreadySent"`
}

// Handle is the Lambda handler: it decodes the event, mails whom it
// concerns, and logs and returns the result.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Result, error) {
	ev, err := Parse(raw)
	if err != nil {
		h.Log.ErrorContext(ctx, "refused event", "err", err)
		return Result{}, err
	}
	res, err := h.Notify(ctx, ev)
	log := h.Log.With("eventId", ev.ID, "detailType", ev.DetailType)
	if err != nil {
		log.ErrorContext(ctx, "notice failed", "err", err, "result", res)
		return res, err
	}
	log.InfoContext(ctx, "notice", "result", res)
	return res, nil
}

// Notify sends the event's notice, unless an earlier delivery did.
func (h *Handler) Notify(ctx context.Context, ev Event) (Result, error) {
	res := Result{EventID: ev.ID}
	log := h.Log.With("eventId", ev.ID, "detailType", ev.DetailType)
	var to string
	var m message
	if id := ev.UserID(); id != "" {
		u, err := h.Store.GetUser(ctx, id)
		switch {
		case errors.Is(err, dormancy.ErrNotFound):
			return res, fmt.Errorf("%w: event %s names user %s", ErrUnknownUser, ev.ID, id)
		case err != nil:
			return res, fmt.Errorf("notice of event %s: read user %s: %w", ev.ID, id, err)
		case u.Email == "":
			res.SkippedNoEmail = 1
			log.InfoContext(ctx, "user has no e-mail address: nothing sent", "userId", id)
			return res, nil
		}
		to = u.Email
		switch {
		case ev.Warning != nil:
			m = h.warning(u, ev.Warning)
		case ev.Deactivated != nil:
			m = h.deactivated(u, ev.Deactivated)
		default:
			m = h.reactivated(u, ev.Reactivated)
		}
	} else {
		if h.Admins == "" {
			log.InfoContext(ctx, "ADMIN_NOTIFY_EMAIL is not set: the admins' notice is not sent")
			return res, nil
		}
		to = h.Admins
		if ev.Held != nil {
			m = held(ev.Held)
		} else {
			m = digest(ev.Completed)
		}
	}

	claim, err := h.Store.ClaimNotice(ctx, ev.ID, ev.DetailType, h.Now(), h.Lease)
	switch {
	case errors.Is(err, dynamo.ErrNoticeSent):
		res.AlreadySent = true
		return res, nil
	case err != nil:
		// ErrNoticeBusy too: another delivery is sending it, or crashed
		// doing so; the retry finds it sent, or claims it once the lease
		// has run out.
		return res, fmt.Errorf("notice of event %s: %w", ev.ID, err)
	}
	out, err := h.SES.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(h.Sender),
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String(m.Text()), Charset: aws.String("UTF-8")},
				Html: &types.Content{Data: aws.String(m.HTML()), Charset: aws.String("UTF-8")},
			},
		}},
	})
	if err != nil {
		err = fmt.Errorf("notice of event %s: SES SendEmail (attempt %d): %w", ev.ID, claim.Attempt, err)
		// Give the claim back, even past the invocation's deadline, so the
		// retry sends at once; if that fails too, the lease runs out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := h.Store.ReleaseNotice(rctx, claim, err.Error(), h.Now()); rerr != nil {
			log.WarnContext(ctx, "could not give the notice's claim back; it holds until its lease runs out", "until", claim.Until, "err", rerr)
		}
		return res, err
	}
	res.Sent = 1
	// SES has the mail: the event is done, whether or not it can be
	// recorded. Failing now would only make the retry wait out the lease
	// and send it again.
	if err := h.Store.MarkNoticeSent(ctx, claim, aws.ToString(out.MessageId), h.Now()); err != nil {
		log.ErrorContext(ctx, "mail sent but not recorded as sent", "messageId", aws.ToString(out.MessageId), "err", err)
	}
	return res, nil
}
