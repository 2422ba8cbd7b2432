package dynamo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/dormancy/dormancy/shared/dormancy"
)

// The audit trail is tamper-evident (spec §9): every entry carries hash and
// prevHash, the hash of the entry before it in its chain. An account's
// entries form one chain (its user item keeps the last hash, auditHash); a
// record's RecordUserCleared entries form one chain (the record item keeps
// its auditHash); the sweep's SweepHeld and SweepReleased entries form one
// (the hold's state item keeps it). The previous hash is read with the item
// the change is conditional on anyway, and the new one written in the same
// transaction, so chaining costs no extra read and two racing changes
// cannot fork a chain (their version conditions serialise them).
//
// Canonical encoding, for anyone verifying a chain with their own script:
//
//  1. Take the entry's item as stored, without the attributes hash, sk and
//     auditDay (sk and auditDay are index keys derived from occurredAt and
//     auditId). prevHash is included: "" for the first entry of a chain.
//  2. Write it as one JSON object: keys in byte order; string attributes as
//     JSON strings (no HTML escaping: <, > and & as themselves; other
//     characters as encoding/json writes them, UTF-8 as is); number
//     attributes as their stored decimal digits; booleans as true/false; no
//     whitespace.
//  3. hash is the lower-case hex SHA-256 of those bytes.
//
// In Python: hashlib.sha256(json.dumps(item, sort_keys=True,
// separators=(",", ":"), ensure_ascii=False).encode()).hexdigest(), with
// numbers as ints.

// canonical encodes an audit item for hashing.
func canonical(it map[string]types.AttributeValue) []byte {
	keys := make([]string, 0, len(it))
	for k := range it {
		switch k {
		case "hash", "sk", "auditDay":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		b.Reset()
		enc.Encode(k)
		out = append(out, bytes.TrimRight(b.Bytes(), "\n")...)
		out = append(out, ':')
		switch v := it[k].(type) {
		case *types.AttributeValueMemberS:
			b.Reset()
			enc.Encode(v.Value)
			out = append(out, bytes.TrimRight(b.Bytes(), "\n")...)
		case *types.AttributeValueMemberN:
			out = append(out, v.Value...)
		case *types.AttributeValueMemberBOOL:
			if v.Value {
				out = append(out, "true"...)
			} else {
				out = append(out, "false"...)
			}
		default:
			out = append(out, "null"...)
		}
	}
	return append(out, '}')
}

// seal sets an audit item's prevHash and hash, and returns the hash.
func seal(it map[string]types.AttributeValue, prev string) string {
	it["prevHash"] = str(prev)
	sum := sha256.Sum256(canonical(it))
	h := hex.EncodeToString(sum[:])
	it["hash"] = str(h)
	return h
}

// contentHash recomputes a stored item's hash.
func contentHash(it map[string]types.AttributeValue) string {
	sum := sha256.Sum256(canonical(it))
	return hex.EncodeToString(sum[:])
}

// Verification is what checking an account's chain found.
type Verification struct {
	Intact    bool
	Entries   int // every entry of the account's trail
	Chained   int // entries with a hash
	Unchained int // entries written before the chain existed: not checked, not broken
	// FirstBroken is the first entry (in the trail's order) whose content
	// does not match its hash or whose link does not; nil when intact.
	FirstBroken *Broken
}

// Broken says where and how a chain is broken.
type Broken struct {
	AuditID    string
	OccurredAt string
	Operation  string
	Problem    string
}

// VerifyAccount recomputes the account's audit chain (spec §9): every
// entry's hash from its content, every link from the entry before it, and
// the account's head from its last entry. RecordUserCleared entries in the
// account's trail are checked for their content (their links run through
// their record's chain). It returns ErrNotFound for an unknown user.
func (s *Store) VerifyAccount(ctx context.Context, userID string) (Verification, error) {
	var head string
	if userID == dormancy.SweepsAccount {
		// the sweep's own trail (held, released): its head is on the hold
		h, err := s.SweepHold(ctx)
		if err != nil {
			return Verification{}, err
		}
		head = h.AuditHash
	} else {
		u, err := s.GetUser(ctx, userID)
		if err != nil {
			return Verification{}, err
		}
		head = u.AuditHash
	}
	var items []map[string]types.AttributeValue
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.tables.Audit, KeyConditionExpression: aws.String("userId = :u"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(userID)},
			ConsistentRead:            aws.Bool(true), ExclusiveStartKey: start,
		})
		if err != nil {
			return Verification{}, translate("verify "+userID, err)
		}
		items = append(items, out.Items...)
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	return verifyChain(items, head), nil
}

// verifyChain checks a trail's items (in sk order, as queried) against the
// chain's head.
func verifyChain(items []map[string]types.AttributeValue, head string) Verification {
	v := Verification{Entries: len(items)}
	broken := map[int]string{}
	var account []int // chained account entries, by position
	for i, it := range items {
		a := attrs(it)
		if a.str("hash") == "" {
			v.Unchained++
			continue
		}
		v.Chained++
		if contentHash(it) != a.str("hash") {
			broken[i] = "its content does not match its hash (changed after it was written)"
			continue
		}
		if a.str("operation") != string(dormancy.OpRecordUserCleared) {
			account = append(account, i)
		}
	}
	// Follow the account's links from the first entry ("" before it) to
	// the head the account item keeps.
	next := map[string][]int{}
	for _, i := range account {
		p := attrs(items[i]).str("prevHash")
		next[p] = append(next[p], i)
	}
	cur, seen := "", map[int]bool{}
	for {
		after := next[cur]
		if len(after) == 0 {
			break
		}
		if len(after) > 1 {
			for _, i := range after[1:] {
				broken[i] = "a second entry follows the same one (the chain forks)"
			}
		}
		seen[after[0]] = true
		cur = attrs(items[after[0]]).str("hash")
	}
	for _, i := range account {
		if !seen[i] && broken[i] == "" {
			broken[i] = "its previous entry is missing or was changed (its prevHash links to no entry of the chain)"
		}
	}
	first := -1
	for i := range items {
		if broken[i] != "" {
			first = i
			break
		}
	}
	switch {
	case first >= 0:
		a := attrs(items[first])
		v.FirstBroken = &Broken{AuditID: a.str("auditId"), OccurredAt: a.str("occurredAt"), Operation: a.str("operation"), Problem: broken[first]}
	case head != "" && cur != head:
		v.FirstBroken = &Broken{Problem: "the account's last entry is missing: its chain ends before the head the account keeps"}
	}
	v.Intact = v.FirstBroken == nil
	return v
}
