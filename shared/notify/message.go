package notify

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// message is one mail: a subject and blocks (paragraphs, or lists), written
// once and rendered both as plain text and as HTML (escaped: user names,
// contacts and run ids come from outside).
type message struct {
	Subject string
	Blocks  []block
}

type block struct {
	Text  string
	Items []string
}

func para(format string, args ...any) block { return block{Text: fmt.Sprintf(format, args...)} }

// Text is the plain-text body.
func (m message) Text() string {
	var parts []string
	for _, b := range m.Blocks {
		if b.Items != nil {
			parts = append(parts, "  - "+strings.Join(b.Items, "\n  - "))
			continue
		}
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n\n") + "\n"
}

var htmlBody = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
{{range .Blocks}}{{if .Items}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
{{else}}<p>{{.Text}}</p>
{{end}}{{end}}</body></html>
`))

// HTML is the HTML body.
func (m message) HTML() string {
	var b strings.Builder
	if err := htmlBody.Execute(&b, m); err != nil {
		// The template and its data are this package's own.
		panic(fmt.Sprintf("notify: render HTML: %v", err))
	}
	return b.String()
}

// day is the UTC date of a time, as the refusal messages give dates.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// moment is a time of day, UTC.
func moment(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func ts(s string) time.Time { t, _ := parseTime(s); return t } // Parse checked it

// closing tells the user whom to write to, and that nobody reads replies.
func (h *Handler) closing() block {
	return para("This message was sent automatically; replies are not read. Questions: contact %s.", h.contact())
}

// contact is whom a user is told to contact: ADMIN_CONTACT, else their
// administrator.
func (h *Handler) contact() string {
	if h.Contact != "" {
		return h.Contact
	}
	return "your administrator"
}

// warning tells a user when their account will be deactivated, why, and
// that signing in before then keeps it.
func (h *Handler) warning(u dormancy.User, d *dormancy.UserDormancyWarning) message {
	due := day(ts(d.DeactivationDue))
	if d.Reason == reasonExpired {
		// A temporary account: its end date is due, and signing in does not
		// move it.
		return message{
			Subject: "Your account ends on " + due,
			Blocks: []block{
				para("Hello %s,", u.Username),
				para("Your account %s is a temporary account: it ends on %s (UTC), when it will be deactivated.", u.Username, due),
				para("Signing in does not extend it. If you still need it after that date, ask %s to extend it before then.", h.contact()),
				h.closing(),
			},
		}
	}
	return message{
		Subject: "Your account will be deactivated on " + due,
		Blocks: []block{
			para("Hello %s,", u.Username),
			para("Your account %s has not been signed in to since %s (UTC). Accounts are deactivated after %d days without a sign-in, so yours will be deactivated on %s (UTC).",
				u.Username, day(ts(d.LastActivityAt)), d.ThresholdDays, due),
			para("To keep it, sign in before %s (UTC). One sign-in is enough: the %d days start again from it.", due, d.ThresholdDays),
			para("If you no longer need the account, you need not do anything."),
			h.closing(),
		},
	}
}

// deactivated tells a user their account was switched off, when and why,
// and whom to contact to have it switched back on.
func (h *Handler) deactivated(u dormancy.User, d *dormancy.UserDeactivated) message {
	when := day(ts(d.OccurredAt))
	var why string
	switch d.Reason {
	case dormancy.ReasonAdmin:
		why = fmt.Sprintf("Your account %s was deactivated on %s (UTC) by an administrator.", u.Username, when)
	case reasonExpired:
		why = fmt.Sprintf("Your account %s was deactivated on %s (UTC) because it reached its expiry date.", u.Username, when)
	default:
		why = fmt.Sprintf("Your account %s was deactivated on %s (UTC) because it had not been signed in to for %d days.", u.Username, when, d.ThresholdDays)
	}
	return message{
		Subject: "Your account has been deactivated",
		Blocks: []block{
			para("Hello %s,", u.Username),
			para("%s You can no longer sign in with it.", why),
			para("To have it reactivated, contact %s. An administrator can switch it back on once the reactivation is approved.", h.contact()),
			para("This message was sent automatically; replies are not read."),
		},
	}
}

// reactivated tells a user they can sign in again.
func (h *Handler) reactivated(u dormancy.User, d *dormancy.UserReactivated) message {
	return message{
		Subject: "Your account has been reactivated",
		Blocks: []block{
			para("Hello %s,", u.Username),
			para("Your account %s was reactivated on %s (UTC). You can sign in again.", u.Username, day(ts(d.OccurredAt))),
			para("Accounts nobody signs in to are deactivated again after a while, so do sign in from time to time."),
			h.closing(),
		},
	}
}

// held tells the admins that a sweep deactivated nobody, why, how many it
// would have deactivated, and how to let it go ahead.
func held(d *dormancy.SweepHeld) message {
	at := moment(ts(d.OccurredAt))
	release := para(`To let it go ahead, release the hold with a recorded approval: as an admin, POST /sweeps/release with {"approvalReference": "…", "approvedBy": "…", "comment": "…"}. The next sweep then goes ahead. Until then, each user past their threshold who tries to sign in is still deactivated at sign-in.`)
	var why []block
	switch d.HoldReason {
	case dormancy.HoldTriggersNotAttached:
		missing := strings.Join(d.MissingTriggers, ", ")
		if missing == "" {
			missing = "one or more of its triggers"
		}
		why = []block{
			para("Why: the user pool does not call the login hook for %s. Without the hook, sign-ins are not recorded, so who is dormant cannot be told. The run would have deactivated %d of %d active users.", missing, d.Due, d.ActiveUsers),
			para("First attach the login hook to the pool's PreAuthentication, PostAuthentication, PostConfirmation and PreTokenGeneration triggers (infra/README.md says how)."),
		}
	default:
		why = []block{
			para("Why: it would have deactivated %d of %d active users at once, more than the guard allows (more than %d users and more than %g%% of the active users). That many deactivations in one run usually means something else is wrong, such as sign-ins not being recorded.",
				d.Due, d.ActiveUsers, d.HoldAboveCount, d.HoldAbovePercent),
			para("Check that these users really are dormant: invoking the sweeper with {\"dryRun\": true} lists whom it would deactivate."),
		}
	}
	blocks := []block{para("The sweep of %s (run %s) was held: it deactivated nobody.", at, d.RunID)}
	blocks = append(blocks, why...)
	blocks = append(blocks, release, para("This message was sent automatically by Dormancy, once per held sweep."))
	return message{Subject: fmt.Sprintf("Dormancy: sweep held, %d users not deactivated", d.Due), Blocks: blocks}
}

// digest tells the admins whom one sweep run deactivated, and why.
func digest(d *dormancy.SweepCompleted) message {
	items := make([]string, 0, len(d.Users))
	for _, u := range d.Users {
		var why string
		switch u.Reason {
		case dormancy.ReasonInactivity:
			why = fmt.Sprintf("no sign-in for %d days", u.ThresholdDays)
		case reasonExpired:
			why = "account expired"
		case dormancy.ReasonAdmin:
			why = "by an administrator"
		default:
			why = string(u.Reason)
		}
		name := u.Username
		if name == "" {
			name = "(no user name)"
		}
		items = append(items, fmt.Sprintf("%s (%s): %s", name, u.UserID, why))
	}
	users := "users"
	if d.Deactivated == 1 {
		users = "user"
	}
	blocks := []block{
		para("The sweep of %s (run %s) deactivated %d %s:", moment(ts(d.OccurredAt)), d.RunID, d.Deactivated, users),
		{Items: items},
	}
	if more := d.Deactivated - len(d.Users); more > 0 {
		blocks = append(blocks, para("…and %d more not listed here; the audit trail (GET /audit) and the compliance report (GET /reports/compliance) have every one.", more))
	}
	blocks = append(blocks,
		para("Each can be reactivated with a recorded approval: POST /users/{userId}/activate."),
		para("This message was sent automatically by Dormancy, once per sweep that deactivated anyone."))
	return message{Subject: fmt.Sprintf("Dormancy: %d %s deactivated by the sweep of %s", d.Deactivated, users, day(ts(d.OccurredAt))), Blocks: blocks}
}
