package cognitotest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// ClockSkew is how far the clocks of the issuer and the verifier may
// disagree: a token whose nbf ("not before") or iat ("issued at") is at most
// this far in the future is accepted. A minute is the usual leeway of JWT
// libraries and far below an ID token's lifetime (an hour on Cognito).
const ClockSkew = 60 * time.Second

// Claims are what API Gateway's Cognito authorizer passes on from an ID token.
type Claims struct {
	Sub      string
	Username string
	Groups   []string
	TokenUse string
	Expires  time.Time
	Raw      map[string]any
}

// VerifyIDToken checks an ID token as API Gateway's Cognito authorizer does:
// RS256 signature by a key of the pool's JWKS, issuer, audience (the app
// client), token_use "id", expiry, and that the token is already valid (nbf)
// and was not issued in the future (iat), within ClockSkew. audience ""
// accepts any client.
func VerifyIDToken(token string, jwks []byte, issuer, audience string, now time.Time) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT")
	}
	var hdr struct {
		Alg, Kid string
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return Claims{}, fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return Claims{}, fmt.Errorf("algorithm %q is not RS256", hdr.Alg)
	}
	key, err := findKey(jwks, hdr.Kid)
	if err != nil {
		return Claims{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, errors.New("signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return Claims{}, errors.New("bad signature")
	}
	var raw map[string]any
	if err := decodeSegment(parts[1], &raw); err != nil {
		return Claims{}, fmt.Errorf("claims: %w", err)
	}
	c := Claims{Raw: raw}
	c.Sub, _ = raw["sub"].(string)
	c.Username, _ = raw["cognito:username"].(string)
	c.TokenUse, _ = raw["token_use"].(string)
	if gs, ok := raw["cognito:groups"].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				c.Groups = append(c.Groups, s)
			}
		}
	}
	if exp, ok := raw["exp"].(float64); ok {
		c.Expires = time.Unix(int64(exp), 0)
	}
	switch iss, _ := raw["iss"].(string); {
	case iss != issuer:
		return Claims{}, fmt.Errorf("issuer %q is not %q", iss, issuer)
	case c.TokenUse != "id":
		return Claims{}, fmt.Errorf("token_use %q is not id", c.TokenUse)
	case c.Expires.IsZero() || !now.Before(c.Expires):
		return Claims{}, errors.New("token expired")
	case c.Sub == "":
		return Claims{}, errors.New("no sub")
	}
	// Not yet valid, or issued in the future, beyond the clock skew.
	if nbf, ok, err := numericDate(raw, "nbf"); err != nil {
		return Claims{}, err
	} else if ok && nbf.After(now.Add(ClockSkew)) {
		return Claims{}, fmt.Errorf("token not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, ok, err := numericDate(raw, "iat"); err != nil {
		return Claims{}, err
	} else if ok && iat.After(now.Add(ClockSkew)) {
		return Claims{}, fmt.Errorf("token issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	if audience != "" {
		if aud, _ := raw["aud"].(string); aud != audience {
			return Claims{}, fmt.Errorf("audience %q is not %q", aud, audience)
		}
	}
	return c, nil
}

// numericDate reads an optional JWT NumericDate claim (seconds since the
// epoch); present but not a number is an error.
func numericDate(raw map[string]any, name string) (time.Time, bool, error) {
	v, present := raw[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false, fmt.Errorf("%s is not a NumericDate", name)
	}
	return time.Unix(int64(f), 0), true, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("not base64url")
	}
	return json.Unmarshal(b, v)
}

func findKey(jwks []byte, kid string) (*rsa.PublicKey, error) {
	var set struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	for _, k := range set.Keys {
		if k.Kid != kid || k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			return nil, errors.New("JWKS key is not base64url")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("no key %q in the JWKS", kid)
}
