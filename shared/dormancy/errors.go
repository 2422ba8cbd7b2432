package dormancy

import (
	"errors"
	"fmt"
)

// Kinds of domain error. Every error the domain or the store returns wraps
// one of them, and errors.Is decides behaviour on them; the API maps each
// kind to one HTTP status in one table (shared/api/errors.go).
var (
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input breaks a rule of the domain.
	ErrInvalid = errors.New("invalid")
	// ErrBadInput is the ErrInvalid of input that breaks a rule on its own,
	// whatever the state (a missing approval, approving one's own request),
	// as opposed to input the current state refuses (a record field naming a
	// user who is not active).
	ErrBadInput = fmt.Errorf("bad input: %w", ErrInvalid)
	// ErrConflict: the account (or record) is not in the state the change
	// requires, for example activating a user who is already active, or a
	// conditional write lost a race.
	ErrConflict = errors.New("conflict")
	// ErrExists: creating something that already exists.
	ErrExists = errors.New("already exists")
	// ErrUnavailable: the data store could not be reached or answered with
	// an error that is not the domain's.
	ErrUnavailable = errors.New("store unavailable")
)

// Error is a domain error that carries the words a client may read: its
// Message never holds internal text (store errors, ids of other systems).
// Context added around it with fmt.Errorf("...: %w") stays out of the
// client's sight.
type Error struct {
	Kind    error  // one of the kinds above
	Message string // for the client
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }

// Unwrap makes errors.Is(err, e.Kind) true.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// BadInput is an ErrBadInput with a client message.
func BadInput(format string, args ...any) error { return newError(ErrBadInput, format, args...) }

// Invalid is an ErrInvalid with a client message.
func Invalid(format string, args ...any) error { return newError(ErrInvalid, format, args...) }

// Conflict is an ErrConflict with a client message.
func Conflict(format string, args ...any) error { return newError(ErrConflict, format, args...) }

// NotFound is an ErrNotFound with a client message.
func NotFound(format string, args ...any) error { return newError(ErrNotFound, format, args...) }

// ClientMessage returns the client's words of the first domain Error in
// err's chain.
func ClientMessage(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Message, true
	}
	return "", false
}
