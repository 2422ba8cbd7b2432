package cognitotest

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

var local *Local

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "cognito-local")
	var err error
	local, err = Start(dir, 0)
	if err != nil {
		os.Stderr.WriteString("cognitotest: " + err.Error() + "\n")
		os.Exit(2)
	}
	code := m.Run()
	local.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestSignInTokensVerifyLikeTheAuthorizer(t *testing.T) {
	ctx := context.Background()
	c := NewClient(local.Endpoint)
	pool, client, err := CreatePool(ctx, c, "verify")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := CreateUser(ctx, c, pool, "alice", "Secret-123!", "Admin", "Ops")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignIn(ctx, c, client, "alice", "Secret-123!")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(local.JWKSURL(pool))
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	claims, err := VerifyIDToken(tok.IDToken, jwks, local.Issuer(pool), client, time.Now())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if claims.Sub != sub || claims.Username != "alice" || strings.Join(claims.Groups, ",") != "Admin,Ops" {
		t.Errorf("claims = %+v", claims)
	}
	// Tampering, the wrong issuer, the wrong client and expiry are refused.
	parts := strings.Split(tok.IDToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"alice"`, `"mallory"`, 1))) + "." + parts[2]
	if _, err := VerifyIDToken(forged, jwks, local.Issuer(pool), client, time.Now()); err == nil {
		t.Error("forged token accepted")
	}
	if _, err := VerifyIDToken(tok.IDToken, jwks, "http://elsewhere/pool", client, time.Now()); err == nil {
		t.Error("wrong issuer accepted")
	}
	if _, err := VerifyIDToken(tok.IDToken, jwks, local.Issuer(pool), "other-client", time.Now()); err == nil {
		t.Error("wrong audience accepted")
	}
	if _, err := VerifyIDToken(tok.IDToken, jwks, local.Issuer(pool), client, time.Now().Add(48*time.Hour)); err == nil {
		t.Error("expired token accepted")
	}
	if _, err := VerifyIDToken(tok.AccessToken, jwks, local.Issuer(pool), "", time.Now()); err == nil {
		t.Error("access token accepted as an ID token")
	}
	if _, err := Refresh(ctx, c, client, tok.RefreshToken); err != nil {
		t.Errorf("refresh: %v", err)
	}
}
