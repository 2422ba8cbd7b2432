package dynamo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Cursors are opaque to clients and to the packages above this one: base64
// of a small JSON document. Every cursor is checked against the exact shape
// of the key it resumes, key by key and value by value, before it reaches
// DynamoDB: a forged cursor is a client's error (ErrBadInput), never a
// request DynamoDB refuses with text that names indexes and keys.

var errBadCursor = dormancy.BadInput("cursor is not one this API gave out")

// keyShape says which attributes a key has and what each value must be.
type keyShape map[string]func(string) bool

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

func isTimestamp(s string) bool {
	_, err := time.Parse(dormancy.TimeLayout, s)
	return err == nil && len(s) == len(dormancy.TimeLayout)
}

// auditSK is an audit entry's sort key: its time, "#", its id.
var auditSK = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-zA-Z_.:-]{1,128}$`)

func isAuditSK(s string) bool {
	return auditSK.MatchString(s) && isTimestamp(s[:len(dormancy.TimeLayout)])
}

func encodeCursor(key map[string]types.AttributeValue) string {
	if key == nil {
		return ""
	}
	m := map[string]string{}
	for k, v := range key {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = sv.Value
		}
	}
	return encodeJSONCursor(m)
}

// decodeKeyCursor turns a cursor back into DynamoDB's key, if it has exactly
// the shape's attributes and each value passes its check. "" is no cursor.
func decodeKeyCursor(c string, shape keyShape) (map[string]types.AttributeValue, error) {
	if c == "" {
		return nil, nil
	}
	var m map[string]string
	if err := decodeJSONCursor(c, &m); err != nil {
		return nil, err
	}
	if err := checkKey(m, shape); err != nil {
		return nil, err
	}
	key := map[string]types.AttributeValue{}
	for k, v := range m {
		key[k] = str(v)
	}
	return key, nil
}

func checkKey(m map[string]string, shape keyShape) error {
	if len(m) != len(shape) {
		return errBadCursor
	}
	for k, ok := range shape {
		v, present := m[k]
		if !present || !ok(v) {
			return errBadCursor
		}
	}
	return nil
}

func encodeJSONCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeJSONCursor(c string, v any) error {
	if len(c) > 2048 {
		return errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil || dec.More() {
		return errBadCursor
	}
	return nil
}
