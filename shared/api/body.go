package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Request bodies and parameters: every body is decoded strictly, every
// parameter checked, before a handler acts on it.

// Body limits: every body is small but an import's.
const (
	maxBody       = 64 << 10
	maxImportBody = 1 << 20
	maxImport     = 500
	maxText       = 1000
)

// decode reads a JSON body strictly: one value, no unknown fields (exactly
// as the field names are spelled), within limit bytes.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return invalid("cannot read the body")
	}
	if err := exactKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("the body is not the JSON this route takes: %s", jsonProblem(err))
	}
	if dec.More() {
		return invalid("the body holds more than one JSON value")
	}
	return nil
}

// exactKeys refuses keys that differ from the contract only by case, which
// encoding/json would otherwise accept.
func exactKeys(body []byte, v any) error {
	var allowed map[string]bool
	switch v.(type) {
	case *approvalBody:
		allowed = map[string]bool{"approvalReference": true, "approvedBy": true, "comment": true}
	case *deactivateBody:
		allowed = map[string]bool{"reason": true}
	case *expiryBody:
		allowed = map[string]bool{"expiresAt": true, "reason": true}
	case *recordBody:
		allowed = map[string]bool{"module": true, "status": true, "fields": true, "version": true}
	case *[]importUser:
		allowed = map[string]bool{"userId": true, "username": true, "email": true, "groups": true, "createdAt": true, "lastLoginAt": true, "expiresAt": true}
		var list []map[string]json.RawMessage
		if json.Unmarshal(body, &list) != nil {
			return nil // the strict decode reports it
		}
		for i, m := range list {
			for k := range m {
				if !allowed[k] {
					return invalid("users[%d]: unknown field %q", i, k)
				}
			}
		}
		return nil
	default:
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil // the strict decode reports it
	}
	for k := range m {
		if !allowed[k] {
			return invalid("unknown field %q", k)
		}
	}
	return nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed JSON"
}

// text checks a free-text value: valid UTF-8, no control characters, at
// most maxText characters.
func text(name, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case required && s == "":
		return "", invalid("%s is required", name)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxText:
		return "", invalid("%s must be at most %d characters of text", name, maxText)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		return "", invalid("%s must not hold control characters", name)
	}
	return s, nil
}

func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !dormancy.ValidUserID(id) {
		return "", invalid("%s %q is not a valid id", name, id)
	}
	return id, nil
}

func limitParam(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}
