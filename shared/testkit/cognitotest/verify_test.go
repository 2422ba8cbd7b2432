package cognitotest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
)

// signer is a pool of our own: an RSA key, its JWKS, and RS256 ID tokens.
type signer struct {
	key  *rsa.PrivateKey
	jwks []byte
}

const (
	testIssuer   = "http://127.0.0.1:9229/local_test"
	testAudience = "client-1"
)

func newSigner(t *testing.T) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kid": "k1", "kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	return signer{key, jwks}
}

// token signs an ID token for alice issued at now; extra claims replace or
// add to the defaults.
func (s signer) token(t *testing.T, now time.Time, extra map[string]any) string {
	t.Helper()
	claims := map[string]any{
		"sub": "sub-alice", "cognito:username": "alice", "iss": testIssuer, "aud": testAudience,
		"token_use": "id", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// A token is not good before its nbf, nor if it was issued in the future,
// beyond a clock skew of ClockSkew.
func TestNotBeforeAndIssuedAt(t *testing.T) {
	s := newSigner(t)
	now := time.Unix(1_800_000_000, 0)
	within := ClockSkew / 2
	cases := []struct {
		name   string
		claims map[string]any
		ok     bool
		reason string
	}{
		{"no nbf", nil, true, ""},
		{"nbf now", map[string]any{"nbf": now.Unix()}, true, ""},
		{"nbf in the past", map[string]any{"nbf": now.Add(-time.Hour).Unix()}, true, ""},
		{"nbf within the skew", map[string]any{"nbf": now.Add(within).Unix()}, true, ""},
		{"nbf 10 minutes ahead", map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}, false, "not valid before"},
		{"nbf just past the skew", map[string]any{"nbf": now.Add(ClockSkew + time.Second).Unix()}, false, "not valid before"},
		{"nbf not a number", map[string]any{"nbf": "soon"}, false, "nbf"},
		{"iat within the skew", map[string]any{"iat": now.Add(within).Unix()}, true, ""},
		{"iat 10 minutes ahead", map[string]any{"iat": now.Add(10 * time.Minute).Unix()}, false, "issued in the future"},
		{"iat not a number", map[string]any{"iat": "now"}, false, "iat"},
	}
	for _, c := range cases {
		_, err := VerifyIDToken(s.token(t, now, c.claims), s.jwks, testIssuer, testAudience, now)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: accepted", c.name)
		case !c.ok && !strings.Contains(err.Error(), c.reason):
			t.Errorf("%s: err = %v, want one saying %q", c.name, err, c.reason)
		}
	}
}

// Our own signer passes every other check, so the cases above test only
// nbf and iat; and a token signed by another key is refused.
func TestOwnSignerIsVerified(t *testing.T) {
	s := newSigner(t)
	now := time.Now()
	c, err := VerifyIDToken(s.token(t, now, nil), s.jwks, testIssuer, testAudience, now)
	if err != nil || c.Sub != "sub-alice" || c.Username != "alice" {
		t.Fatalf("claims %+v, err %v", c, err)
	}
	other := newSigner(t)
	if _, err := VerifyIDToken(other.token(t, now, nil), s.jwks, testIssuer, testAudience, now); err == nil {
		t.Error("a token signed by another key was accepted")
	}
}
