package local

import (
	"context"
	"encoding/json"

	"github.com/dormancy/dormancy/shared/boot"
	"github.com/dormancy/dormancy/shared/eventrules"
	"github.com/dormancy/dormancy/shared/notify"
	"github.com/dormancy/dormancy/shared/testkit/sestest"
)

// The local stack's senders and recipients of notices (spec §13):
// SENDER_EMAIL and ADMIN_NOTIFY_EMAIL, unless Options.Env (or cdk.json's
// senderEmail and adminNotifyEmail) say otherwise.
const (
	LocalSender = "dormancy@example.com"
	LocalAdmins = "admins@example.com"
)

// startSES starts aws-ses-v2-local on Options.SESPort: the SES the notify
// function sends through (AWS_ENDPOINT_URL_SESV2), which keeps every mail
// for a person to read in a browser or at GET /store.
func (s *Stack) startSES() error {
	l, err := sestest.Start(s.opts.SESPort)
	if err != nil {
		return err
	}
	s.ses, s.SESURL = l, l.Endpoint
	s.log.Info("local SES: sent mail at " + l.Endpoint + " (and as JSON at GET /store)")
	return nil
}

func (s *Stack) stopSES() {
	if s.ses != nil {
		s.ses.Stop()
	}
}

// wireNotify builds the notify function as its main does.
func (s *Stack) wireNotify(load func(string) (boot.Env, error)) error {
	e, err := load("Notify")
	if err != nil {
		return err
	}
	n := notify.New(boot.Store(e), boot.SES(e), e.Config, s.Clock.Now, e.Log)
	s.function("Notify", func(ctx context.Context, p []byte) ([]byte, error) {
		res, err := n.Handle(ctx, p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	})
	return nil
}

// routeNotices sends what eventrules.Notices matches to the notify
// function, as the stack's NoticesRule does.
func (s *Stack) routeNotices() error {
	return s.bus.Route("NoticesRule", eventrules.Notices.JSON(), func(ctx context.Context, env []byte) error {
		_, err := s.functions["Notify"](ctx, env)
		return err
	})
}
