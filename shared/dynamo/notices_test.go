package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// A notice is claimed once at a time, sent once, and claimable again after
// a failed send or a claim that ran out (a crashed delivery).
func TestNoticeClaims(t *testing.T) {
	s := dynamotest.NewStore(t)
	ctx := context.Background()
	const lease = 2 * time.Minute

	if _, err := s.Notice(ctx, "e1"); !errors.Is(err, dormancy.ErrNotFound) {
		t.Fatalf("notice never claimed: %v", err)
	}
	c1, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", t0, lease)
	if err != nil || c1.Attempt != 1 || !c1.Until.Equal(t0.Add(lease)) {
		t.Fatalf("first claim: %+v %v", c1, err)
	}
	n, err := s.Notice(ctx, "e1")
	if err != nil || n.Status != dynamo.NoticeSending || n.Kind != "UserDeactivated" || !n.LeaseUntil.Equal(t0.Add(lease)) ||
		!n.ExpiresAt.Equal(t0.Add(dynamo.NoticeRetention)) {
		t.Fatalf("claimed notice: %+v %v", n, err)
	}
	// Within the lease, another delivery cannot claim it.
	if _, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", t0.Add(time.Minute), lease); !errors.Is(err, dynamo.ErrNoticeBusy) {
		t.Fatalf("claim within the lease: %v", err)
	}
	// A send that failed gives the claim back: the next claim is at once.
	if err := s.ReleaseNotice(ctx, c1, "SES: throttled", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Notice(ctx, "e1"); n.Status != dynamo.NoticeFailed || n.LastError != "SES: throttled" || !n.LeaseUntil.IsZero() {
		t.Errorf("released notice: %+v", n)
	}
	c2, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", t0.Add(2*time.Second), lease)
	if err != nil || c2.Attempt != 2 || c2.Token == c1.Token {
		t.Fatalf("claim after a failure: %+v %v", c2, err)
	}
	// The old claim can no longer give it back.
	if err := s.ReleaseNotice(ctx, c1, "late", t0.Add(3*time.Second)); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("stale release: %v", err)
	}
	// The delivery holding it crashes: once the lease has run out, it is
	// claimable again.
	if _, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", t0.Add(2*time.Second+lease-time.Millisecond), lease); !errors.Is(err, dynamo.ErrNoticeBusy) {
		t.Fatalf("claim just before the lease ran out: %v", err)
	}
	later := t0.Add(2*time.Second + lease + time.Millisecond)
	c3, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", later, lease)
	if err != nil || c3.Attempt != 3 {
		t.Fatalf("claim after the lease ran out: %+v %v", c3, err)
	}
	// Sent: nobody claims it again, however late.
	if err := s.MarkNoticeSent(ctx, c3, "msg-1", later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _ = s.Notice(ctx, "e1")
	if n.Status != dynamo.NoticeSent || n.MessageID != "msg-1" || !n.SentAt.Equal(later.Add(time.Second)) || !n.LeaseUntil.IsZero() || n.Attempts != 3 {
		t.Errorf("sent notice: %+v", n)
	}
	if _, err := s.ClaimNotice(ctx, "e1", "UserDeactivated", later.Add(24*time.Hour), lease); !errors.Is(err, dynamo.ErrNoticeSent) {
		t.Errorf("claim after sending: %v", err)
	}
	// A failed release of a sent notice changes nothing.
	if err := s.ReleaseNotice(ctx, c3, "late", later.Add(2*time.Second)); !errors.Is(err, dormancy.ErrConflict) {
		t.Errorf("release of a sent notice: %v", err)
	}
	if n, _ := s.Notice(ctx, "e1"); n.Status != dynamo.NoticeSent {
		t.Errorf("after a stale release: %+v", n)
	}
	// Other events are independent.
	if _, err := s.ClaimNotice(ctx, "e2", "SweepHeld", t0, lease); err != nil {
		t.Errorf("another event: %v", err)
	}
}
