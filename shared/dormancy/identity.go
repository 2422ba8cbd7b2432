package dormancy

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ValidUserID reports whether s can be a user's id: a Cognito sub (a UUID)
// or an imported id of the same alphabet, at most 128 characters.
func ValidUserID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

// ReservedUserID reports whether an id is one Dormancy keeps for itself
// (the sweep's audit account, the system actor): no account may have it,
// or its entries would land in Dormancy's own trail or read as Dormancy's.
func ReservedUserID(s string) bool {
	return strings.HasPrefix(strings.ToLower(s), "_dormancy") || strings.EqualFold(s, SystemActor)
}

// emailPattern is what Dormancy takes for an e-mail address: one @, no
// white space, a dot in the domain.
var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// ValidEmail reports whether s is an address Dormancy sends to or keeps
// (at most 254 characters, RFC 5321's limit).
func ValidEmail(s string) bool { return len(s) <= 254 && emailPattern.MatchString(s) }

// Email is s trimmed if it is a valid address, and "" if not: what the
// login hook and the pool sync keep of Cognito's email attribute.
func Email(s string) string {
	if s = strings.TrimSpace(s); ValidEmail(s) {
		return s
	}
	return ""
}

// ValidUsername follows Cognito's pattern for user names,
// [\p{L}\p{M}\p{S}\p{N}\p{P}]+, at most 128 characters: no spaces, no
// control characters, no invisible formatting (zero-width, bidi overrides).
func ValidUsername(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 128 {
		return false
	}
	for _, r := range s {
		if !unicode.In(r, unicode.L, unicode.M, unicode.S, unicode.N, unicode.P) {
			return false
		}
	}
	return true
}

// Caller is who asks for a change: the admin's id, user name and e-mail as
// the token carries them.
type Caller struct {
	UserID   string
	Username string
	Email    string
}

// CheckApprover is the one rule that an approval comes from someone other
// than the caller (spec §8). approvedBy is refused when it holds invisible
// formatting characters, and when, folded, it names the caller by id, user
// name, e-mail or the e-mail's local part. Folding is NFKC, case folding,
// and mapping letters of other scripts that look like Latin ones onto them,
// so "alice\u200b", "ＡＬＩＣＥ" and a Cyrillic "аlice" are all Alice.
func CheckApprover(approvedBy string, c Caller) error {
	if strings.IndexFunc(approvedBy, func(r rune) bool { return unicode.Is(unicode.Cf, r) || unicode.IsControl(r) }) >= 0 {
		return BadInput("approvedBy must not hold invisible or control characters")
	}
	a := Fold(approvedBy)
	if a == "" {
		return BadInput("approvedBy is required")
	}
	names := []string{c.UserID, c.Username, c.Email}
	if local, _, ok := strings.Cut(c.Email, "@"); ok {
		names = append(names, local)
	}
	for _, n := range names {
		if n != "" && Fold(n) == a {
			return BadInput("approvedBy must be the Business Head who approved, not the caller")
		}
	}
	return nil
}

// Fold reduces a name to the form two names that look the same share:
// NFKC, without format characters and spaces, case-folded, look-alike
// letters of Cyrillic and Greek mapped to Latin.
func Fold(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			continue
		}
		r = unicode.ToLower(r)
		if l, ok := confusables[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	return b.String()
}

// confusables maps lower-case Cyrillic and Greek letters that render like
// Latin ones (Unicode's confusables.txt, the common subset) to those.
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'м': 'm', 'н': 'h',
	'о': 'o', 'р': 'p', 'с': 'c', 'ѕ': 's', 'т': 't', 'у': 'y', 'х': 'x', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l',
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'ϲ': 'c', 'ɑ': 'a', 'ı': 'i', 'ℓ': 'l',
}
