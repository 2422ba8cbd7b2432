package dormancy

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckApprover(t *testing.T) {
	caller := Caller{UserID: "7d5e-admin", Username: "alice", Email: "alice.smith@example.com"}
	for approver, wantRefused := range map[string]bool{
		"bh-7":                    false,
		"head.of.sales":           false,
		"alicia":                  false,
		"alice":                   true,
		"ALICE":                   true,
		"alice\u200b":             true, // zero-width space
		"\u202ealice":             true, // bidi override
		"ＡＬＩＣＥ":                   true, // full-width
		"\u0430lice":              true, // Cyrillic а
		"\u03b1lice":              true, // Greek α
		"alice.smith@example.com": true,
		"Alice.Smith@Example.com": true,
		"alice.smith":             true,
		"7D5E-ADMIN":              true,
		" alice ":                 true,
		"":                        true,
		"\u200b":                  true,
	} {
		err := CheckApprover(approver, caller)
		if refused := err != nil; refused != wantRefused {
			t.Errorf("%q: err = %v, want refused %v", approver, err, wantRefused)
		}
		if err != nil && (!errors.Is(err, ErrBadInput) || !errors.Is(err, ErrInvalid)) {
			t.Errorf("%q: err %v is not ErrBadInput", approver, err)
		}
	}
}

func TestValidUsername(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "José": true, "o'brien": true, "a.b@c.d": true,
		"": false, "two words": false, "a\u00a0b": false, "ad\u200dmin": false, "\u202eadmin": false, "tab\t": false,
	} {
		if got := ValidUsername(name); got != want {
			t.Errorf("%q: %v, want %v", name, got, want)
		}
	}
}

// One e-mail rule for what Dormancy keeps and sends to: the login hook and
// the pool sync (Cognito's email attribute), imports, and the settings.
func TestEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ann@example.com":                  "ann@example.com",
		"  ann@example.com\t":              "ann@example.com",
		"a@b":                              "", // no dot in the domain
		"@example.com":                     "",
		"ann@@example.com":                 "",
		"ann smith@example.com":            "",
		"ann@example.com\nBcc:x":           "",
		"":                                 "",
		strings.Repeat("a", 250) + "@x.io": "",
	} {
		if got := Email(in); got != want {
			t.Errorf("Email(%q) = %q, want %q", in, got, want)
		}
	}
}
