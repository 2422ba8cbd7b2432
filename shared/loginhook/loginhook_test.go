package loginhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/dormancy"
	"github.com/dormancy/dormancy/shared/dynamo"
	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

var policy = dormancy.Policy{
	DefaultDays: 45, WarningDays: 7,
	GroupDays:    map[string]int{"Contractors": 90, "Temporary": 30},
	ExemptGroups: []string{"BreakGlass"},
}

type fixture struct {
	store *dynamo.Store
	hook  *loginhook.Hook
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := dynamotest.NewStore(t)
	c := &clock{now: t0}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return &fixture{store: s, hook: loginhook.New(s, policy, c.Now, log), clock: c}
}

// seed writes an active user whose last sign-in was daysAgo days before t0
// (never, if daysAgo < 0: then created createdDaysAgo before t0).
func (f *fixture) seed(t *testing.T, id string, groups []string, createdDaysAgo, signedInDaysAgo int) dormancy.User {
	t.Helper()
	u := dormancy.User{
		UserID: id, Username: "user-" + id, Status: dormancy.Active, Groups: groups,
		CreationSource: dormancy.SelfRegistration, CreatedAt: t0.Add(-dormancy.Days(createdDaysAgo)), Version: 1,
	}
	if signedInDaysAgo >= 0 {
		u.LastLoginAt = t0.Add(-dormancy.Days(signedInDaysAgo))
	}
	_, audit := dormancy.NewAccount(id, u.Username, groups, u.CreationSource, id, u.CreatedAt, u.CreatedAt)
	if err := f.store.CreateUser(context.Background(), u, audit); err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) user(t *testing.T, id string) dormancy.User {
	t.Helper()
	u, err := f.store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return u
}

func trigger(t *testing.T, source, id string, groups ...string) json.RawMessage {
	t.Helper()
	hdr := events.CognitoEventUserPoolsHeader{
		Version: "1", TriggerSource: source, Region: "eu-west-1", UserPoolID: "eu-west-1_Test",
		UserName: "user-" + id, CallerContext: events.CognitoEventUserPoolsCallerContext{AWSSDKVersion: "aws-sdk-unknown-unknown", ClientID: "client"},
	}
	attrs := map[string]string{"sub": id, "cognito:user_status": "CONFIRMED"}
	var v any
	switch {
	case strings.HasPrefix(source, "PreAuthentication"):
		e := events.CognitoEventUserPoolsPreAuthentication{CognitoEventUserPoolsHeader: hdr}
		e.Request.UserAttributes = attrs
		v = e
	case strings.HasPrefix(source, "PostAuthentication"):
		e := events.CognitoEventUserPoolsPostAuthentication{CognitoEventUserPoolsHeader: hdr}
		e.Request.UserAttributes = attrs
		v = e
	case strings.HasPrefix(source, "PostConfirmation"):
		e := events.CognitoEventUserPoolsPostConfirmation{CognitoEventUserPoolsHeader: hdr}
		e.Request.UserAttributes = attrs
		v = e
	default:
		e := events.CognitoEventUserPoolsPreTokenGen{CognitoEventUserPoolsHeader: hdr}
		e.Request.UserAttributes = attrs
		e.Request.GroupConfiguration.GroupsToOverride = groups
		v = e
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	preAuth  = "PreAuthentication_Authentication"
	postAuth = "PostAuthentication_Authentication"
	refresh  = "TokenGeneration_RefreshTokens"
	tokenGen = "TokenGeneration_Authentication"
)

func (f *fixture) call(t *testing.T, source, id string, groups ...string) error {
	t.Helper()
	_, err := f.hook.Handle(context.Background(), trigger(t, source, id, groups...))
	return err
}

func wantRefused(t *testing.T, err error, msg string) {
	t.Helper()
	var r *loginhook.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("got %v, want refusal %q", err, msg)
	}
	if r.Error() != msg {
		t.Fatalf("refusal message:\n got %q\nwant %q", r.Error(), msg)
	}
}

func TestDeactivatedUserRefusedWithMessageForReason(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		id     string
		groups []string
		admin  bool
		want   string
	}{
		{"inactive-default", nil, false, "Account deactivated due to 45 days of inactivity. Please contact Admin."},
		{"inactive-temp", []string{"Temporary"}, false, "Account deactivated due to 30 days of inactivity. Please contact Admin."},
		{"by-admin", nil, true, "Account deactivated by an administrator. Please contact Admin."},
	}
	for _, c := range cases {
		u := f.seed(t, c.id, c.groups, 100, 99)
		var ch dormancy.Change
		if c.admin {
			var err error
			ch, err = dormancy.DeactivateByAdmin(u, "admin-1", "left the company", 45, t0)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			ch = dormancy.DeactivateForInactivity(u, policy.Evaluate(u, t0), t0)
		}
		if err := f.store.Apply(ctx, ch); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, f.call(t, preAuth, c.id), c.want)
	}
}

func TestPastThresholdDeactivatedAtPreAuthentication(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.seed(t, "u1", nil, 200, 46) // last sign-in 46 days ago; sweeper has not run
	wantRefused(t, f.call(t, preAuth, "u1"), "Account deactivated due to 45 days of inactivity. Please contact Admin.")

	u := f.user(t, "u1")
	if u.Status != dormancy.Deactivated {
		t.Fatalf("status = %s, want DEACTIVATED", u.Status)
	}
	want := &dormancy.Deactivation{At: t0, By: "system", Reason: dormancy.ReasonInactivity, Automatic: true, ThresholdDays: 45}
	if d := cmp.Diff(want, u.Deactivation); d != "" {
		t.Errorf("deactivation (-want +got):\n%s", d)
	}
	audit, err := f.store.UserAudit(ctx, "u1", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	last := audit.Entries[len(audit.Entries)-1]
	if last.Operation != dormancy.OpDisableUserAccount || last.IsEnabled || last.Source != "AutomaticDeactivation" || last.Actor != "system" || last.ThresholdDays != 45 {
		t.Errorf("audit entry = %+v", last)
	}
	owed, err := f.store.Outbox(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range owed {
		kinds[o.Kind+"/"+o.Event.DetailType]++
		if o.Kind == dynamo.KindEvent {
			var d dormancy.UserDeactivated
			if err := json.Unmarshal(o.Event.Detail, &d); err != nil {
				t.Fatal(err)
			}
			if d.EventID != last.EventID || d.Reason != dormancy.ReasonInactivity || !d.Automatic || d.ThresholdDays != 45 {
				t.Errorf("owed event detail = %+v", d)
			}
		}
	}
	if d := cmp.Diff(map[string]int{"event/UserDeactivated": 1, "signout/": 1}, kinds); d != "" {
		t.Errorf("outbox (-want +got):\n%s", d)
	}
	// The next attempt is refused the same way and writes nothing new.
	wantRefused(t, f.call(t, preAuth, "u1"), "Account deactivated due to 45 days of inactivity. Please contact Admin.")
	audit2, _ := f.store.UserAudit(ctx, "u1", 10, "")
	if len(audit2.Entries) != len(audit.Entries) {
		t.Errorf("second refusal wrote audit entries: %d -> %d", len(audit.Entries), len(audit2.Entries))
	}
}

func TestThresholdBoundary(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "edge", nil, 100, 45) // exactly 45 days: still inside
	if err := f.call(t, preAuth, "edge"); err != nil {
		t.Fatalf("at exactly the threshold: %v", err)
	}
	f.clock.Add(time.Second)
	wantRefused(t, f.call(t, preAuth, "edge"), "Account deactivated due to 45 days of inactivity. Please contact Admin.")
}

func TestSignInInsideThresholdStampsActivity(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "u2", nil, 100, 30)
	if err := f.call(t, preAuth, "u2"); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, postAuth, "u2"); err != nil {
		t.Fatal(err)
	}
	u := f.user(t, "u2")
	if !u.LastLoginAt.Equal(t0) || !u.LastActivity().Equal(t0) {
		t.Fatalf("last sign-in %v, last activity %v; want %v", u.LastLoginAt, u.LastActivity(), t0)
	}
	// 45 days on the user is still inside, measured from the new sign-in.
	f.clock.Add(dormancy.Days(45))
	if err := f.call(t, preAuth, "u2"); err != nil {
		t.Fatalf("45 days after the stamp: %v", err)
	}
}

func TestNeverSignedInMeasuredFromCreation(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "fresh", nil, 44, -1)
	f.seed(t, "stale", nil, 46, -1)
	if err := f.call(t, preAuth, "fresh"); err != nil {
		t.Fatalf("created 44 days ago: %v", err)
	}
	wantRefused(t, f.call(t, preAuth, "stale"), "Account deactivated due to 45 days of inactivity. Please contact Admin.")
}

func TestExemptGroupNeverDeactivated(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "bg", []string{"BreakGlass", "Temporary"}, 2000, 1000)
	if err := f.call(t, preAuth, "bg"); err != nil {
		t.Fatalf("exempt user refused: %v", err)
	}
	if u := f.user(t, "bg"); u.Status != dormancy.Active {
		t.Fatalf("exempt user is %s", u.Status)
	}
}

func TestGroupThresholdSmallestApplies(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "both", []string{"Contractors", "Temporary"}, 100, 31)
	f.seed(t, "contractor", []string{"Contractors"}, 100, 60)
	wantRefused(t, f.call(t, preAuth, "both"), "Account deactivated due to 30 days of inactivity. Please contact Admin.")
	if err := f.call(t, preAuth, "contractor"); err != nil {
		t.Fatalf("contractor at 60 of 90 days: %v", err)
	}
}

func TestPostAuthenticationNeverReactivates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.seed(t, "racer", nil, 100, 10)
	// PreAuthentication lets the user through...
	if err := f.call(t, preAuth, "racer"); err != nil {
		t.Fatal(err)
	}
	// ...an admin deactivates them before PostAuthentication runs...
	ch, _ := dormancy.DeactivateByAdmin(u, "admin-1", "suspicious activity", 45, t0)
	if err := f.store.Apply(ctx, ch); err != nil {
		t.Fatal(err)
	}
	before := f.user(t, "racer")
	// ...and PostAuthentication refuses and stamps nothing.
	wantRefused(t, f.call(t, postAuth, "racer"), dormancy.MsgDeactivatedByAdmin)
	after := f.user(t, "racer")
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("PostAuthentication changed a deactivated user (-before +after):\n%s", d)
	}
}

func TestConcurrentSignInsAndDeactivationStayConsistent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.seed(t, "busy", nil, 100, 10)
	ch, _ := dormancy.DeactivateByAdmin(u, "admin-1", "offboarding", 45, t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); f.call(t, postAuth, "busy") }()
	}
	applyErr := f.store.Apply(ctx, ch)
	wg.Wait()
	got := f.user(t, "busy")
	// The deactivation is conditional on the version, which sign-ins do not
	// change: it lands whatever the interleaving, and no sign-in undoes it.
	if applyErr != nil || got.Status != dormancy.Deactivated || got.Deactivation == nil || got.Deactivation.Reason != dormancy.ReasonAdmin {
		t.Fatalf("apply err %v, user %+v", applyErr, got)
	}
	if err := f.call(t, postAuth, "busy"); err == nil {
		t.Fatal("sign-in after deactivation was stamped")
	}
}

func TestRefreshOfDeactivatedUserRefused(t *testing.T) {
	f := newFixture(t)
	u := f.seed(t, "r1", nil, 100, 10)
	if err := f.call(t, refresh, "r1"); err != nil {
		t.Fatalf("refresh of active user: %v", err)
	}
	ch, _ := dormancy.DeactivateByAdmin(u, "admin-1", "offboarding", 45, t0)
	if err := f.store.Apply(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, f.call(t, refresh, "r1"), dormancy.MsgDeactivatedByAdmin)
}

func TestRefreshDoesNotCountAsActivity(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "r2", nil, 100, 40)
	if err := f.call(t, refresh, "r2"); err != nil {
		t.Fatal(err)
	}
	if u := f.user(t, "r2"); !u.LastLoginAt.Equal(t0.Add(-dormancy.Days(40))) {
		t.Fatalf("refresh moved the last sign-in to %v", u.LastLoginAt)
	}
	f.clock.Add(dormancy.Days(6))
	wantRefused(t, f.call(t, refresh, "r2"), "Account deactivated due to 45 days of inactivity. Please contact Admin.")
}

func TestGroupsFromTokenGenerationDriveThresholdsAndExemption(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "g1", nil, 100, 35)
	f.seed(t, "g2", nil, 200, 50)
	// g1 joins Temporary (30 days): 35 days is now past its threshold.
	if err := f.call(t, tokenGen, "g1", "Temporary"); err == nil {
		t.Fatal("token generation for a user now past the Temporary threshold was allowed")
	}
	if got := f.user(t, "g1").Groups; !cmp.Equal(got, []string{"Temporary"}) {
		t.Errorf("groups = %v", got)
	}
	if d := f.user(t, "g1").Deactivation; d == nil || d.ThresholdDays != 30 {
		t.Errorf("g1 deactivation = %+v, want threshold 30", d)
	}
	// g2 joins BreakGlass: exempt, so 50 days does not deactivate.
	if err := f.call(t, tokenGen, "g2", "BreakGlass"); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, preAuth, "g2"); err != nil {
		t.Fatalf("exempt by recorded group, still refused: %v", err)
	}
	// Leaving the group is recorded too.
	if err := f.call(t, tokenGen, "g2"); err == nil {
		t.Fatal("after leaving BreakGlass, a 50-day-idle user got tokens")
	}
	if got := f.user(t, "g2").Groups; len(got) != 0 {
		t.Errorf("groups after leaving = %v", got)
	}
}

func TestFirstSignInCreatesRecord(t *testing.T) {
	f := newFixture(t)
	if err := f.call(t, preAuth, "new"); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, postAuth, "new"); err != nil {
		t.Fatal(err)
	}
	u := f.user(t, "new")
	if u.CreationSource != dormancy.FirstLogin || u.Status != dormancy.Active || !u.LastLoginAt.Equal(t0) {
		t.Fatalf("user = %+v", u)
	}
}

func TestCreationSourceCannotBeOverwritten(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.call(t, "PostConfirmation_ConfirmSignUp", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := f.user(t, "c1").CreationSource; got != dormancy.SelfRegistration {
		t.Fatalf("creationSource = %s", got)
	}
	// A second confirmation, an import and a first-login path all leave it.
	if err := f.call(t, "PostConfirmation_ConfirmSignUp", "c1"); err != nil {
		t.Fatal(err)
	}
	u, audit := dormancy.NewAccount("c1", "user-c1", nil, dormancy.Import, "admin-1", t0, t0)
	if err := f.store.CreateUser(ctx, u, audit); !errors.Is(err, dormancy.ErrExists) {
		t.Fatalf("import over an existing user: %v, want ErrExists", err)
	}
	if got := f.user(t, "c1").CreationSource; got != dormancy.SelfRegistration {
		t.Fatalf("creationSource became %s", got)
	}
	entries, _ := f.store.UserAudit(ctx, "c1", 10, "")
	if len(entries.Entries) != 1 || entries.Entries[0].Operation != dormancy.OpCreateUserAccount || entries.Entries[0].Source != "SelfRegistration" {
		t.Fatalf("audit = %+v", entries.Entries)
	}
}

func TestAdminCreatedConfirmation(t *testing.T) {
	f := newFixture(t)
	raw := trigger(t, "PostConfirmation_ConfirmSignUp", "a1")
	raw = json.RawMessage(strings.Replace(string(raw), `"cognito:user_status":"CONFIRMED"`, `"cognito:user_status":"FORCE_CHANGE_PASSWORD"`, 1))
	if _, err := f.hook.Handle(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if got := f.user(t, "a1").CreationSource; got != dormancy.AdminCreated {
		t.Fatalf("creationSource = %s", got)
	}
}

func TestUnreachableStoreFailsClosed(t *testing.T) {
	db := dynamotest.NewClient("http://127.0.0.1:1") // nothing listens there
	s := dynamo.New(db, dynamo.Tables{Users: "Users", Audit: "Audit", Records: "Records", Outbox: "Outbox"})
	hook := loginhook.New(s, policy, func() time.Time { return t0 }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	for _, src := range []string{preAuth, postAuth, refresh} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := hook.Handle(ctx, trigger(t, src, "x"))
		cancel()
		wantRefused(t, err, "Sign-in is temporarily unavailable. Please try again later.")
	}
}

func TestMalformedEventsWriteNothing(t *testing.T) {
	f := newFixture(t)
	db := dynamotest.Client(t)
	before := dynamotest.Snapshot(t, db, f.store.Tables())
	cases := map[string]string{
		"not json":          `{"triggerSource":`,
		"unknown trigger":   strings.Replace(string(trigger(t, postAuth, "m1")), postAuth, "CustomMessage_SignUp", 1),
		"no user name":      strings.Replace(string(trigger(t, postAuth, "m2")), `"userName":"user-m2"`, `"userName":""`, 1),
		"no sub":            strings.Replace(string(trigger(t, "PostConfirmation_ConfirmSignUp", "m3")), `"sub":"m3"`, `"nosub":"m3"`, 1),
		"wrong field types": `{"triggerSource":"PostAuthentication_Authentication","userName":"x","request":{"userAttributes":["sub"]}}`,
		"array":             `[1,2,3]`,
	}
	for name, raw := range cases {
		_, err := f.hook.Handle(context.Background(), json.RawMessage(raw))
		if !errors.Is(err, loginhook.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if d := cmp.Diff(before, dynamotest.Snapshot(t, db, f.store.Tables())); d != "" {
		t.Errorf("malformed events wrote (-before +after):\n%s", d)
	}
}

// A stored status the hook does not know is refused at every trigger that
// admits a user: the hook fails closed (spec §4).
func TestUnknownStatusIsRefused(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "odd", nil, 10, 1)
	db := dynamotest.Client(t)
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(f.store.Tables().Users), Key: map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: "odd"}},
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "SUSPENDED"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{preAuth, tokenGen, refresh} {
		wantRefused(t, f.call(t, src, "odd"), dormancy.MsgNotActive)
	}
}

// The user's e-mail is recorded from Cognito's attributes by the triggers
// that carry it: at creation, with a sign-in stamp (same write), and when it
// changed in Cognito.
func TestEmailIsRecordedFromCognito(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	withEmail := func(source, id, email string) error {
		var ev map[string]any
		json.Unmarshal(trigger(t, source, id), &ev)
		ev["request"].(map[string]any)["userAttributes"].(map[string]any)["email"] = email
		raw, _ := json.Marshal(ev)
		_, err := f.hook.Handle(ctx, raw)
		return err
	}
	if err := withEmail(postAuth, "e1", "first@example.com"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.GetUser(ctx, "e1"); u.Email != "first@example.com" {
		t.Errorf("created at first sign-in with e-mail %q", u.Email)
	}
	if err := withEmail(preAuth, "e1", "moved@example.com"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.GetUser(ctx, "e1"); u.Email != "moved@example.com" {
		t.Errorf("after a changed e-mail at PreAuthentication: %q", u.Email)
	}
	if err := withEmail(postAuth, "e1", "third@example.com"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.GetUser(ctx, "e1"); u.Email != "third@example.com" || u.LastLoginAt.IsZero() {
		t.Errorf("after a sign-in: %+v", u)
	}
	if err := withEmail(tokenGen, "e1", "not an address"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.GetUser(ctx, "e1"); u.Email != "third@example.com" {
		t.Errorf("a malformed e-mail replaced the recorded one: %q", u.Email)
	}
}

// An account past its end date is deactivated and refused at sign-in and at
// refresh with the expired message (the UTC date); ADMIN_CONTACT changes the
// contact line of every refusal, and nothing else.
func TestExpiredAccountRefusedAndContactLine(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.seed(t, "temp", nil, 10, 1)
	c, err := dormancy.SetExpiry(u, dormancy.ExpiryRequest{Actor: "admin-1", ExpiresAt: time.Date(2027, 1, 1, 18, 0, 0, 0, time.UTC), Reason: "contract"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, preAuth, "temp"); err != nil {
		t.Fatalf("before the end date: %v", err)
	}
	f.clock.Set(time.Date(2027, 1, 1, 18, 0, 1, 0, time.UTC))
	wantRefused(t, f.call(t, refresh, "temp"), "Account expired on 2027-01-01. Please contact Admin.")
	got, _ := f.store.GetUser(ctx, "temp")
	if got.Status != dormancy.Deactivated || got.Deactivation.Reason != dormancy.ReasonExpired {
		t.Errorf("temp %+v", got)
	}
	wantRefused(t, f.call(t, preAuth, "temp"), "Account expired on 2027-01-01. Please contact Admin.")

	p := policy
	p.AdminContact = "it-help@example.com"
	f.hook = loginhook.New(f.store, p, f.clock.Now, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	wantRefused(t, f.call(t, preAuth, "temp"), "Account expired on 2027-01-01. Please contact Admin at it-help@example.com.")
	f.seed(t, "idle", nil, 100, 99)
	wantRefused(t, f.call(t, preAuth, "idle"), "Account deactivated due to 45 days of inactivity. Please contact Admin at it-help@example.com.")
}
