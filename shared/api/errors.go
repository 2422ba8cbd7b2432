package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// statuses is the one table from an error's kind to its HTTP status and
// code, checked in order (ErrBadInput is a kind of ErrInvalid, so it comes
// first). Whichever layer finds a broken rule, the same rule gets the same
// status.
var statuses = []struct {
	kind   error
	status int
	code   string
}{
	{dormancy.ErrNotFound, http.StatusNotFound, "NotFound"},
	{dormancy.ErrBadInput, http.StatusBadRequest, "BadRequest"},
	{dormancy.ErrConflict, http.StatusConflict, "Conflict"},
	{dormancy.ErrExists, http.StatusConflict, "Conflict"},
	{dormancy.ErrInvalid, http.StatusUnprocessableEntity, "Unprocessable"},
}

// status maps an error to its HTTP status and code; anything that is not a
// domain error (the store unreachable, say) is 503.
func status(err error) (int, string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, "PayloadTooLarge"
	}
	for _, s := range statuses {
		if errors.Is(err, s.kind) {
			return s.status, s.code
		}
	}
	return http.StatusServiceUnavailable, "Unavailable"
}

// invalid is the API's own input error (a malformed query parameter or
// body): a domain BadInput, 400.
func invalid(format string, args ...any) error { return dormancy.BadInput(format, args...) }

// clientMessage is what a client may read: the words a domain error
// carries, else a fixed sentence per status. Nothing is parsed out of an
// error's text, so no internal text can reach a client.
func clientMessage(err error, code int) string {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)
	}
	if msg, ok := dormancy.ClientMessage(err); ok {
		return msg
	}
	switch code {
	case http.StatusNotFound:
		return "not found"
	case http.StatusConflict:
		return "the resource is not in a state that allows this"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "the request breaks a rule"
	}
	return "the service is unavailable; try again later"
}

func (a *API) fail(w http.ResponseWriter, ctx context.Context, log *slog.Logger, err error) {
	code, name := status(err)
	msg := clientMessage(err, code)
	if code >= 500 {
		log.ErrorContext(ctx, "request failed", "err", err)
	} else {
		log.InfoContext(ctx, "request refused", "status", code, "err", err)
	}
	writeError(w, code, name, msg)
}
