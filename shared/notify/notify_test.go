package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/events"
	"github.com/dormancy/dormancy/shared/config"
	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/notify"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
	"github.com/dormancy/dormancy/shared/testkit/localproc"
	"github.com/dormancy/dormancy/shared/testkit/sestest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var t0 = time.Date(2026, 11, 24, 23, 15, 0, 0, time.UTC)

const (
	sender = "dormancy@example.com"
	admins = "admins@example.com"
)

// fixture is a handler over fresh tables and its own aws-ses-v2-local.
type fixture struct {
	t     *testing.T
	db    *dynamodb.Client
	store *dynamo.Store
	ses   *sestest.Local
	cfg   config.Config
	mu    sync.Mutex
	now   time.Time
	logs  *ctxLog
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := dynamotest.Client(t)
	ses, err := sestest.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ses.Stop)
	return &fixture{
		t: t, db: db, store: dynamo.New(db, dynamotest.NewTables(t, db)), ses: ses, now: t0,
		cfg:  config.Config{SenderEmail: sender, AdminNotifyEmail: admins},
		logs: &ctxLog{},
	}
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// handler is Notify as its main wires it, sending through client (the
// fixture's local SES when nil) with fast retries.
func (f *fixture) handler(client notify.Mailer) *notify.Handler {
	if client == nil {
		client = sestest.NewClient(f.ses.Endpoint, notify.Retries(3, 20*time.Millisecond))
	}
	return notify.New(f.store, client, f.cfg, f.clock, slog.New(f.logs))
}

func (f *fixture) user(id, name, email string) {
	f.t.Helper()
	u, audit := dormancy.NewAccount(id, name, nil, dormancy.Import, "admin", t0.Add(-dormancy.Days(40)), t0.Add(-dormancy.Days(40)))
	u.Email = email
	if err := f.store.CreateUser(context.Background(), u, audit); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) mails() []sestest.Email {
	f.t.Helper()
	all, err := f.ses.Emails(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return all
}

func (f *fixture) notice(id string) dynamo.Notice {
	f.t.Helper()
	n, err := f.store.Notice(context.Background(), id)
	if err != nil {
		f.t.Fatalf("notice %s: %v", id, err)
	}
	return n
}

// envelope is the event as EventBridge delivers it; its detail must be
// valid against the event's JSON Schema.
func envelope(t *testing.T, source, detailType string, detail any) json.RawMessage {
	t.Helper()
	d, err := json.Marshal(detail)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Validate(detailType, d); err != nil {
		t.Fatalf("%s detail is not valid against its schema: %v", detailType, err)
	}
	return raw(source, detailType, string(d))
}

func raw(source, detailType, detail string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":%q,"source":%q,"account":"123456789012","time":"2026-11-24T23:15:02Z","region":"eu-west-1","resources":[],"detail":%s}`,
		detailType, source, detail))
}

func eventID(s string) string { return dormancy.StableID("test", s) }

func warning(t *testing.T, id, userID string) json.RawMessage {
	return envelope(t, dormancy.SourceUsers, dormancy.TypeUserDormancyWarning, dormancy.UserDormancyWarning{
		EventID: eventID(id), UserID: userID, Username: "ignored", OccurredAt: dormancy.FormatTime(t0),
		LastActivityAt: dormancy.FormatTime(t0.Add(-dormancy.Days(38))), ThresholdDays: 45,
		DeactivationDue: dormancy.FormatTime(t0.Add(dormancy.Days(7))),
	})
}

func deactivated(t *testing.T, id, userID string, reason dormancy.Reason, automatic bool) json.RawMessage {
	actor := dormancy.SystemActor
	if !automatic {
		actor = "admin-1"
	}
	d := dormancy.UserDeactivated{
		EventID: eventID(id), UserID: userID, Username: "whoever", OccurredAt: dormancy.FormatTime(t0), Reason: reason,
		Automatic: automatic, Actor: actor, LastActivityAt: dormancy.FormatTime(t0.Add(-dormancy.Days(46))), ThresholdDays: 45,
	}
	if reason == dormancy.ReasonExpired {
		d.ExpiresAt = dormancy.FormatTime(t0.Add(-time.Hour))
	}
	return envelope(t, dormancy.SourceUsers, dormancy.TypeUserDeactivated, d)
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func handle(t *testing.T, h *notify.Handler, ev json.RawMessage) notify.Result {
	t.Helper()
	res, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("handle: %v", err)
	}
	return res
}

// A warning tells the user the date they will be deactivated on, why, and
// to sign in before it; names and dates are escaped in the HTML.
func TestWarningMail(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "a<b>&c", "a.b@example.com")
	res := handle(t, f.handler(nil), warning(t, "w1", "u1"))
	if d := cmp.Diff(notify.Result{EventID: eventID("w1"), Sent: 1}, res); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	mails := f.mails()
	if len(mails) != 1 {
		t.Fatalf("mails: %+v", mails)
	}
	m := mails[0]
	if m.From != sender || !cmp.Equal(m.Destination.To, []string{"a.b@example.com"}) {
		t.Errorf("from %s to %v", m.From, m.Destination.To)
	}
	contains(t, "subject", m.Subject, "2026-12-01")
	contains(t, "text", m.Body.Text, "Hello a<b>&c,", "deactivated on 2026-12-01 (UTC)", "after 45 days without a sign-in",
		"sign in before 2026-12-01 (UTC)", "since 2026-10-17 (UTC)", "contact your administrator")
	contains(t, "HTML", m.Body.HTML, "Hello a&lt;b&gt;&amp;c,", "sign in before 2026-12-01 (UTC)")
	if strings.Contains(m.Body.HTML, "<b>") {
		t.Errorf("HTML not escaped:\n%s", m.Body.HTML)
	}
	if n := f.notice(eventID("w1")); n.Status != dynamo.NoticeSent || n.MessageID != m.MessageID || n.Kind != dormancy.TypeUserDormancyWarning ||
		!n.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) {
		t.Errorf("notice %+v", n)
	}
}

// A deactivation says when and why (the threshold; or that an
// administrator did it; or the expiry) and whom to contact.
func TestDeactivationMails(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	f.user("u2", "fired", "fired@example.com")
	f.user("u3", "temp", "temp@example.com")
	h := f.handler(nil)
	handle(t, h, deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true))
	h.Contact = "the IT desk, it-help@example.com"
	handle(t, h, deactivated(t, "d2", "u2", dormancy.ReasonAdmin, false))
	handle(t, h, deactivated(t, "d3", "u3", "EXPIRED", true))
	all := f.mails()
	if len(all) != 3 {
		t.Fatalf("mails: %d", len(all))
	}
	idle := sestest.To(all, "idle@example.com")[0]
	contains(t, "inactivity", idle.Subject, "deactivated")
	contains(t, "inactivity", idle.Body.Text, "Hello idle,", "deactivated on 2026-11-24 (UTC)", "not been signed in to for 45 days",
		"To have it reactivated, contact your administrator.")
	fired := sestest.To(all, "fired@example.com")[0]
	contains(t, "admin", fired.Body.Text, "deactivated on 2026-11-24 (UTC) by an administrator",
		"To have it reactivated, contact the IT desk, it-help@example.com.")
	if strings.Contains(fired.Body.Text, "45 days") {
		t.Errorf("an admin's deactivation given a threshold:\n%s", fired.Body.Text)
	}
	temp := sestest.To(all, "temp@example.com")[0]
	contains(t, "expiry", temp.Body.Text, "reached its expiry date", "contact the IT desk")
}

func TestReactivationMail(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "back", "back@example.com")
	res := handle(t, f.handler(nil), envelope(t, dormancy.SourceUsers, dormancy.TypeUserReactivated, dormancy.UserReactivated{
		EventID: eventID("r1"), UserID: "u1", Username: "back", OccurredAt: dormancy.FormatTime(t0), Actor: "admin-1",
		ApprovalReference: "BH-1", ApprovedBy: "head",
	}))
	if res.Sent != 1 {
		t.Fatalf("result %+v", res)
	}
	m := sestest.To(f.mails(), "back@example.com")
	if len(m) != 1 {
		t.Fatalf("mails %+v", m)
	}
	contains(t, "reactivation", m[0].Subject, "reactivated")
	contains(t, "reactivation", m[0].Body.Text, "Hello back,", "reactivated on 2026-11-24 (UTC)", "You can sign in again.")
}

// The admins get one digest per sweep that deactivated anyone: who and why,
// the users beyond the event's list counted; no user is mailed.
func TestAdminDigestPerSweep(t *testing.T) {
	f := newFixture(t)
	h := f.handler(nil)
	digest := func(id string, n int, users ...dormancy.DeactivatedEntry) json.RawMessage {
		return envelope(t, dormancy.SourceSweeps, dormancy.TypeSweepCompleted, dormancy.SweepCompleted{
			EventID: eventID(id), RunID: "run-" + id, OccurredAt: dormancy.FormatTime(t0), Deactivated: n, Users: users,
		})
	}
	res := handle(t, h, digest("s1", 3,
		dormancy.DeactivatedEntry{UserID: "u1", Username: "idle", Reason: dormancy.ReasonInactivity, ThresholdDays: 45},
		dormancy.DeactivatedEntry{UserID: "u2", Username: "contractor", Reason: dormancy.ReasonInactivity, ThresholdDays: 90},
		dormancy.DeactivatedEntry{UserID: "u3", Username: "temp", Reason: "EXPIRED"},
	))
	if d := cmp.Diff(notify.Result{EventID: eventID("s1"), Sent: 1}, res); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	many := make([]dormancy.DeactivatedEntry, dormancy.MaxDigestUsers)
	for i := range many {
		many[i] = dormancy.DeactivatedEntry{UserID: fmt.Sprintf("m%d", i), Username: fmt.Sprintf("m%d", i), Reason: dormancy.ReasonInactivity, ThresholdDays: 45}
	}
	handle(t, h, digest("s2", 620, many...))
	all := f.mails()
	if len(all) != 2 || len(sestest.To(all, admins)) != 2 {
		t.Fatalf("mails: %+v", all)
	}
	first, second := all[0], all[1]
	if first.From != sender {
		t.Errorf("from %s", first.From)
	}
	contains(t, "digest subject", first.Subject, "3 users deactivated")
	contains(t, "digest", first.Body.Text, "run run-s1", "deactivated 3 users",
		"idle (u1): no sign-in for 45 days", "contractor (u2): no sign-in for 90 days", "temp (u3): account expired")
	contains(t, "digest HTML", first.Body.HTML, "<li>idle (u1): no sign-in for 45 days</li>")
	contains(t, "long digest", second.Body.Text, "deactivated 620 users", "m499 (m499)", "and 120 more not listed here")

	// Without ADMIN_NOTIFY_EMAIL the admins' notices go nowhere, and
	// nothing is claimed.
	h.Admins = ""
	if res := handle(t, h, digest("s3", 1, many[0])); res.Sent != 0 {
		t.Errorf("without ADMIN_NOTIFY_EMAIL: %+v", res)
	}
	if _, err := f.store.Notice(context.Background(), eventID("s3")); !errors.Is(err, dormancy.ErrNotFound) {
		t.Errorf("notice claimed without a recipient: %v", err)
	}
	if n := len(f.mails()); n != 2 {
		t.Errorf("mails: %d", n)
	}
}

// Each held sweep is one message to the admins: why, how many, how to
// release it.
func TestOneMailPerHeldSweep(t *testing.T) {
	f := newFixture(t)
	h := f.handler(nil)
	handle(t, h, envelope(t, dormancy.SourceSweeps, dormancy.TypeSweepHeld, dormancy.SweepHeld{
		EventID: eventID("h1"), RunID: "run-1", OccurredAt: dormancy.FormatTime(t0), HoldReason: dormancy.HoldTooMany,
		Due: 120, ActiveUsers: 900, HoldAboveCount: 50, HoldAbovePercent: 10,
	}))
	handle(t, h, envelope(t, dormancy.SourceSweeps, dormancy.TypeSweepHeld, dormancy.SweepHeld{
		EventID: eventID("h2"), RunID: "run-2", OccurredAt: dormancy.FormatTime(t0.Add(24 * time.Hour)), HoldReason: dormancy.HoldTriggersNotAttached,
		Due: 3, ActiveUsers: 900, HoldAboveCount: 50, HoldAbovePercent: 10, MissingTriggers: []string{"PreAuthentication", "PostAuthentication"},
	}))
	all := sestest.To(f.mails(), admins)
	if len(all) != 2 {
		t.Fatalf("mails to the admins: %d", len(all))
	}
	contains(t, "held subject", all[0].Subject, "held")
	contains(t, "too many", all[0].Body.Text, "run run-1", "deactivated nobody", "120 of 900 active users",
		"more than 50 users and more than 10% of the active users", "POST /sweeps/release", "approvalReference")
	contains(t, "triggers", all[1].Body.Text, "run run-2", "PreAuthentication, PostAuthentication", "login hook", "POST /sweeps/release")
}

// However often an event is delivered, at the same time or one after
// another, it mails once.
func TestRedeliveredEventMailsOnce(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	h := f.handler(nil)
	ev := deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true)
	if res := handle(t, h, ev); res.Sent != 1 || res.AlreadySent {
		t.Fatalf("first delivery: %+v", res)
	}
	for range 2 {
		if d := cmp.Diff(notify.Result{EventID: eventID("d1"), AlreadySent: true}, handle(t, h, ev)); d != "" {
			t.Errorf("redelivery (-want +got):\n%s", d)
		}
	}
	// Eight deliveries at once: one sends; each other finds it sent or
	// being sent (and fails, so EventBridge retries it).
	ev2 := deactivated(t, "d2", "u1", dormancy.ReasonInactivity, true)
	var sent, busy atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.Handle(context.Background(), ev2)
			switch {
			case err == nil:
				sent.Add(int32(res.Sent))
			case errors.Is(err, dynamo.ErrNoticeBusy):
				busy.Add(1)
			default:
				t.Errorf("concurrent delivery: %v", err)
			}
		}()
	}
	wg.Wait()
	if sent.Load() != 1 {
		t.Errorf("concurrent deliveries sent %d mails (%d found it busy)", sent.Load(), busy.Load())
	}
	if res := handle(t, h, ev2); !res.AlreadySent {
		t.Errorf("after the concurrent deliveries: %+v", res)
	}
	if n := len(f.mails()); n != 2 {
		t.Errorf("mails: %d, want one per event", n)
	}
}

// A user without an e-mail address is skipped and counted; nothing is sent
// or written.
func TestUserWithoutEmailIsCounted(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "nomail", "")
	before := dynamotest.Snapshot(t, f.db, f.store.Tables())
	res := handle(t, f.handler(nil), deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true))
	if d := cmp.Diff(notify.Result{EventID: eventID("d1"), SkippedNoEmail: 1}, res); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	if n := len(f.mails()); n != 0 {
		t.Errorf("mails: %d", n)
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, f.db, f.store.Tables())); d != "" {
		t.Errorf("tables changed:\n%s", d)
	}
}

// SES unreachable: the invocation fails (EventBridge retries it), nothing
// is sent, and the notice is left claimable: the retry sends exactly one.
func TestSESFailureLeavesTheNoticeClaimable(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	port, err := localproc.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	down := f.handler(sestest.NewClient(fmt.Sprintf("http://127.0.0.1:%d", port), notify.Retries(3, 10*time.Millisecond)))
	ev := deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true)
	res, err := down.Handle(context.Background(), ev)
	if err == nil || res.Sent != 0 || !strings.Contains(err.Error(), "SES") {
		t.Fatalf("with SES down: %+v %v", res, err)
	}
	if n := f.notice(eventID("d1")); n.Status != dynamo.NoticeFailed || n.Attempts != 1 || !strings.Contains(n.LastError, "SendEmail") {
		t.Errorf("notice after the failure: %+v", n)
	}
	// A second failed delivery changes nothing either.
	if _, err := down.Handle(context.Background(), ev); err == nil {
		t.Fatal("second delivery with SES down succeeded")
	}
	if n := len(f.mails()); n != 0 {
		t.Fatalf("mails while SES was down: %d", n)
	}
	h := f.handler(nil)
	if res := handle(t, h, ev); res.Sent != 1 {
		t.Errorf("retry: %+v", res)
	}
	if res := handle(t, h, ev); !res.AlreadySent {
		t.Errorf("after the retry: %+v", res)
	}
	if n := len(f.mails()); n != 1 {
		t.Errorf("mails: %d, want exactly one", n)
	}
	if n := f.notice(eventID("d1")); n.Status != dynamo.NoticeSent || n.Attempts != 3 {
		t.Errorf("notice: %+v", n)
	}
}

// throttler stands in front of the local SES and answers SendEmail with
// SES's throttling error while fail says so.
type throttler struct {
	calls atomic.Int32
	fail  func(call int32) bool
	*httptest.Server
}

func newThrottler(t *testing.T, ses string, fail func(call int32) bool) *throttler {
	u, _ := url.Parse(ses)
	th := &throttler{fail: fail}
	proxy := httputil.NewSingleHostReverseProxy(u)
	th.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if th.fail(th.calls.Add(1)) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"message":"Maximum sending rate exceeded."}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(th.Close)
	return th
}

// SES throttling is retried, never dropped: a passing throttle is ridden
// out by the client's retries; one that outlasts them fails the invocation
// and leaves the notice for EventBridge's retry, which sends it once.
func TestThrottlingIsRetriedNeverDropped(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	f.user("u2", "other", "other@example.com")

	th := newThrottler(t, f.ses.Endpoint, func(call int32) bool { return call <= 2 })
	h := f.handler(sestest.NewClient(th.URL, notify.Retries(4, 20*time.Millisecond)))
	if res := handle(t, h, deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true)); res.Sent != 1 {
		t.Fatalf("through a passing throttle: %+v", res)
	}
	if c := th.calls.Load(); c != 3 {
		t.Errorf("SendEmail calls: %d, want two throttled and one accepted", c)
	}

	var throttled atomic.Bool
	throttled.Store(true)
	th2 := newThrottler(t, f.ses.Endpoint, func(int32) bool { return throttled.Load() })
	h2 := f.handler(sestest.NewClient(th2.URL, notify.Retries(4, 20*time.Millisecond)))
	ev := deactivated(t, "d2", "u2", dormancy.ReasonInactivity, true)
	res, err := h2.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "TooManyRequestsException") || res.Sent != 0 {
		t.Fatalf("through a lasting throttle: %+v %v", res, err)
	}
	if c := th2.calls.Load(); c != 4 {
		t.Errorf("SendEmail calls: %d, want the client's 4 attempts", c)
	}
	if n := f.notice(eventID("d2")); n.Status != dynamo.NoticeFailed {
		t.Errorf("notice after the throttle: %+v", n)
	}
	throttled.Store(false)
	if res := handle(t, h2, ev); res.Sent != 1 {
		t.Errorf("EventBridge's retry: %+v", res)
	}
	if n := len(sestest.To(f.mails(), "other@example.com")); n != 1 {
		t.Errorf("mails to u2: %d, want exactly one", n)
	}
}

// A delivery that crashed after claiming the notice (before SES had it)
// holds it only until its lease runs out; then the retry sends it.
func TestCrashedDeliveryIsSentAfterItsLease(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	h := f.handler(nil)
	if _, err := f.store.ClaimNotice(context.Background(), eventID("d1"), dormancy.TypeUserDeactivated, t0, h.Lease); err != nil {
		t.Fatal(err) // …and the process dies here
	}
	ev := deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true)
	f.advance(time.Minute)
	if _, err := h.Handle(context.Background(), ev); !errors.Is(err, dynamo.ErrNoticeBusy) {
		t.Fatalf("within the crashed delivery's lease: %v", err)
	}
	if n := len(f.mails()); n != 0 {
		t.Fatalf("mails: %d", n)
	}
	f.advance(h.Lease)
	if res := handle(t, h, ev); res.Sent != 1 {
		t.Errorf("after the lease: %+v", res)
	}
	if n := len(f.mails()); n != 1 {
		t.Errorf("mails: %d", n)
	}
	if h.Lease <= time.Minute {
		t.Errorf("lease %s does not outlast the function's timeout", h.Lease)
	}
}

// A bad event is refused with a clear error and writes (and sends) nothing.
func TestBadEventsWriteNothing(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	h := f.handler(nil)
	good := mustJSON(dormancy.UserDeactivated{
		EventID: eventID("d1"), UserID: "u1", OccurredAt: dormancy.FormatTime(t0), Reason: dormancy.ReasonInactivity,
		Automatic: true, Actor: "system", LastActivityAt: dormancy.FormatTime(t0), ThresholdDays: 45,
	})
	edit := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	held := mustJSON(dormancy.SweepHeld{EventID: eventID("h1"), RunID: "r", OccurredAt: dormancy.FormatTime(t0), HoldReason: dormancy.HoldTooMany})
	cases := map[string]struct {
		ev   json.RawMessage
		want string
	}{
		"not JSON":                    {json.RawMessage(`{"source":`), "not a notice event"},
		"no envelope":                 {json.RawMessage(good), "source"},
		"wrong source":                {raw("aws.events", dormancy.TypeUserDeactivated, good), `source "aws.events"`},
		"another dormancy event":      {raw(dormancy.SourceRecords, dormancy.TypeRecordUserCleared, `{}`), "RecordUserCleared"},
		"type of the other source":    {raw(dormancy.SourceSweeps, dormancy.TypeUserDeactivated, good), "dormancy.sweeps"},
		"unknown field":               {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(`"userId"`, `"extra":1,"userId"`)), `unknown field "extra"`},
		"wrong field type":            {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(`"thresholdDays":45`, `"thresholdDays":"45"`)), "thresholdDays"},
		"no eventId":                  {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(eventID("d1"), "")), "eventId"},
		"bad userId":                  {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(`"u1"`, `"u 1"`)), "userId"},
		"unknown reason":              {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(`INACTIVITY`, `BORED`)), "reason"},
		"bad time":                    {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, edit(dormancy.FormatTime(t0)+`","reason`, `yesterday","reason`)), "occurredAt"},
		"null detail":                 {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, `null`), "userId"},
		"detail not an object":        {raw(dormancy.SourceUsers, dormancy.TypeUserDeactivated, `"x"`), "detail"},
		"held without a reason":       {raw(dormancy.SourceSweeps, dormancy.TypeSweepHeld, strings.Replace(held, `"TooMany"`, `""`, 1)), "holdReason"},
		"digest listing too many":     {raw(dormancy.SourceSweeps, dormancy.TypeSweepCompleted, `{"eventId":"e","runId":"r","occurredAt":"2026-11-24T23:15:00Z","deactivated":0,"users":[{"userId":"u","username":"u","reason":"ADMIN","thresholdDays":0}]}`), "deactivated 0"},
		"warning without a due date":  {raw(dormancy.SourceUsers, dormancy.TypeUserDormancyWarning, `{"eventId":"e","userId":"u1","username":"x","occurredAt":"2026-11-24T23:15:00Z","lastActivityAt":"2026-11-24T23:15:00Z","thresholdDays":45,"deactivationDueAt":""}`), `""`},
		"user Dormancy does not know": {deactivated(t, "d9", "nobody", dormancy.ReasonAdmin, false), "not known"},
	}
	before := dynamotest.Snapshot(t, f.db, f.store.Tables())
	for name, c := range cases {
		res, err := h.Handle(context.Background(), c.ev)
		if !errors.Is(err, notify.ErrBadEvent) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadEvent saying %q", name, err, c.want)
		}
		if res.Sent != 0 {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, f.db, f.store.Tables())); d != "" {
		t.Errorf("bad events wrote:\n%s", d)
	}
	if n := len(f.mails()); n != 0 {
		t.Errorf("bad events sent %d mails", n)
	}
	// The real sample of a deactivation decodes.
	sample, err := events.Sample("eventbridge-user-deactivated.json")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := notify.Parse(sample); err != nil || ev.Deactivated == nil || ev.UserID() == "" {
		t.Errorf("the sample: %+v %v", ev, err)
	}
}

// Every log line is written with the invocation's context (which carries
// the Lambda request id).
func TestEveryLogCallPassesItsContext(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "idle", "idle@example.com")
	f.user("u2", "nomail", "")
	h := f.handler(nil)
	ctx := context.WithValue(context.Background(), ctxKey{}, "invocation")
	port, _ := localproc.FreePort()
	down := f.handler(sestest.NewClient(fmt.Sprintf("http://127.0.0.1:%d", port), notify.Retries(1, time.Millisecond)))
	down.Handle(ctx, deactivated(t, "d0", "u1", dormancy.ReasonInactivity, true))
	h.Handle(ctx, deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true))
	h.Handle(ctx, deactivated(t, "d1", "u1", dormancy.ReasonInactivity, true))
	h.Handle(ctx, deactivated(t, "d2", "u2", dormancy.ReasonInactivity, true))
	h.Handle(ctx, raw("x", "y", "{}"))
	h.Admins = ""
	h.Handle(ctx, envelope(t, dormancy.SourceSweeps, dormancy.TypeSweepHeld, dormancy.SweepHeld{
		EventID: eventID("h1"), RunID: "r", OccurredAt: dormancy.FormatTime(t0), HoldReason: dormancy.HoldTooMany,
	}))
	total, without := f.logs.counts()
	if total < 6 || without > 0 {
		t.Errorf("%d log records, %d of them without the invocation's context", total, without)
	}
}

type ctxKey struct{}

// ctxLog counts records, and those logged without the test's context.
type ctxLog struct {
	mu             sync.Mutex
	total, without int
}

func (l *ctxLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *ctxLog) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if ctx.Value(ctxKey{}) == nil {
		l.without++
	}
	return nil
}
func (l *ctxLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *ctxLog) WithGroup(string) slog.Handler      { return l }
func (l *ctxLog) counts() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.without
}

var _ notify.Mailer = (*sesv2.Client)(nil)

// A temporary account is warned of its end date, not of inactivity.
func TestExpiryWarningMail(t *testing.T) {
	f := newFixture(t)
	f.user("u1", "tina", "tina@example.com")
	ev := envelope(t, dormancy.SourceUsers, dormancy.TypeUserDormancyWarning, dormancy.UserDormancyWarning{
		EventID: eventID("we1"), UserID: "u1", Username: "tina", OccurredAt: dormancy.FormatTime(t0),
		LastActivityAt: dormancy.FormatTime(t0.Add(-dormancy.Days(1))), ThresholdDays: 45,
		DeactivationDue: dormancy.FormatTime(t0.Add(dormancy.Days(3))), Reason: dormancy.ReasonExpired,
	})
	handle(t, f.handler(nil), ev)
	mails := f.mails()
	if len(mails) != 1 {
		t.Fatalf("mails: %+v", mails)
	}
	contains(t, "subject", mails[0].Subject, "ends on 2026-11-27")
	contains(t, "text", mails[0].Body.Text, "temporary account", "does not extend it")
	if strings.Contains(mails[0].Body.Text, "without a sign-in") {
		t.Errorf("an expiry warning speaks of inactivity:\n%s", mails[0].Body.Text)
	}
}
