package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/dormancy/dormancy/shared/loginhook"
	"github.com/dormancy/dormancy/shared/testkit/cognitotest"
)

// gateway is the REST API as API Gateway serves it: the ID token is checked
// as the Cognito user pool authorizer checks it, and the request becomes a
// proxy event whose requestContext.authorizer.claims carry the token's claims.
func (s *Stack) gateway(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	claims, err := cognitotest.VerifyIDToken(token, s.jwks, s.cognito.Issuer(s.PoolID), s.ClientID, time.Now())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"message":"Unauthorized"}`)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		http.Error(w, `{"message":"cannot read body"}`, http.StatusBadRequest)
		return
	}
	req := events.APIGatewayProxyRequest{
		Resource: "/{proxy+}", Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		QueryStringParameters: map[string]string{}, MultiValueQueryStringParameters: map[string][]string{},
		PathParameters: map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, "/")},
	}
	for k, vs := range r.Header {
		req.Headers[k] = vs[len(vs)-1]
		req.MultiValueHeaders[k] = vs
	}
	for k, vs := range r.URL.Query() {
		req.QueryStringParameters[k] = vs[len(vs)-1]
		req.MultiValueQueryStringParameters[k] = vs
	}
	if utf8.Valid(body) {
		req.Body = string(body)
	} else {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	// API Gateway passes every claim as a string; groups comma-separated.
	rendered := map[string]any{}
	for k, v := range claims.Raw {
		switch x := v.(type) {
		case string:
			rendered[k] = x
		case []any:
			var parts []string
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			rendered[k] = strings.Join(parts, ",")
		default:
			rendered[k] = fmt.Sprint(x)
		}
	}
	req.RequestContext = events.APIGatewayProxyRequestContext{
		Stage: "local", HTTPMethod: r.Method, ResourcePath: "/{proxy+}", Path: r.URL.Path,
		RequestID: fmt.Sprintf("local-%d", time.Now().UnixNano()), Authorizer: map[string]any{"claims": rendered},
	}
	payload, _ := json.Marshal(req)
	out, err := s.functions["Api"](r.Context(), payload)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"message":"Internal server error"}`)
		return
	}
	var resp events.APIGatewayProxyResponse
	json.Unmarshal(out, &resp)
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	if resp.IsBase64Encoded {
		b, _ := base64.StdEncoding.DecodeString(resp.Body)
		w.Write(b)
		return
	}
	io.WriteString(w, resp.Body)
}

// invokeMux serves the Lambda Invoke API (as sam local start-lambda does)
// and the local stack's own routes.
//
// A web page open in the same browser can send these routes a cross-origin
// POST without a CORS preflight when it is a "simple" request (no
// Content-Type, text/plain, a form's or a multipart one): it could invoke Api
// with forged admin claims, move the clock or seed. Every POST must therefore
// say it is JSON, which a page can say cross-origin only after a preflight,
// and no preflight is ever granted here (no route answers OPTIONS, no
// response carries Access-Control-Allow-Origin).
func (s *Stack) invokeMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", lambdaPayload(s.invoke))
	mux.HandleFunc("GET /local/clock", s.clockRoute)
	mux.HandleFunc("POST /local/clock", jsonBody(s.clockRoute))
	mux.HandleFunc("POST /local/signin", jsonBody(s.signIn))
	mux.HandleFunc("POST /local/seed", jsonBody(s.seedRoute))
	return mux
}

// mediaType is the request's media type, lowercased and without parameters
// (charset, …); "" if it has none or an unparsable one.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// jsonBody refuses, with 415, a request that does not say it is JSON.
func jsonBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mediaType(r) != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{
				"error": "send the body as JSON, with the header Content-Type: application/json"})
			return
		}
		h(w, r)
	}
}

// lambdaPayload refuses, with 415 as Lambda reports an error, an invocation
// whose payload is not declared as JSON or as application/octet-stream (what
// the AWS SDK for Go sends for Invoke's blob payload). The AWS CLI (botocore)
// sends that payload with no Content-Type at all, but signed: a request with
// a SigV4 Authorization header is no simple request (a page cannot add the
// header without a preflight), so it may omit the Content-Type.
func lambdaPayload(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch mt := mediaType(r); {
		case mt == "application/json", mt == "application/octet-stream":
		case r.Header.Get("Content-Type") == "" && strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		default:
			w.Header().Set("X-Amzn-ErrorType", "UnsupportedMediaTypeException")
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"Type": "User",
				"Message": "send the payload with the header Content-Type: application/json (or application/octet-stream, as the AWS SDKs do)"})
			return
		}
		h(w, r)
	}
}

func (s *Stack) invoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	fn, ok := s.functions[name]
	if !ok {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		writeJSON(w, http.StatusNotFound, map[string]string{"Type": "User", "Message": "Function not found: " + name + " (" + strings.Join(slices.Sorted(maps.Keys(s.functions)), ", ") + ")"})
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Type": "User", "Message": "cannot read the payload"})
		return
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "Event":
		go fn(context.WithoutCancel(r.Context()), payload)
		w.WriteHeader(http.StatusAccepted)
		return
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out, err := fn(r.Context(), payload)
	if err != nil {
		// As Lambda reports a function error: 200, with the error named.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		writeJSON(w, http.StatusOK, map[string]string{"errorMessage": err.Error(), "errorType": errorType(err)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// errorType names an error as the Go runtime for Lambda does.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func (s *Stack) clockRoute(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var in struct {
			Advance string `json:"advance"`
			Set     string `json:"set"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || (in.Advance == "") == (in.Set == "") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"advance":"1104h"} or {"set":"2027-01-01T00:00:00Z"}`})
			return
		}
		if in.Advance != "" {
			d, err := time.ParseDuration(in.Advance)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "advance: " + err.Error()})
				return
			}
			s.Clock.Advance(d)
		} else {
			t, err := time.Parse(time.RFC3339, in.Set)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "set: not an RFC 3339 time"})
				return
			}
			s.Clock.Set(t)
		}
		s.log.Info("clock moved", "now", s.Clock.Now().Format(time.RFC3339))
	}
	writeJSON(w, http.StatusOK, map[string]string{"now": s.Clock.Now().Format(time.RFC3339)})
}

// signIn signs in as Cognito would, with the triggers cognito-local lacks:
// PreAuthentication, authentication, pre token generation, PostAuthentication.
func (s *Stack) signIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Username == "" || in.Password == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"username":"…","password":"…"}`})
		return
	}
	ctx := r.Context()
	user, err := s.cip.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &s.PoolID, Username: &in.Username})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Incorrect username or password."})
		return
	}
	attrs := map[string]string{}
	for _, a := range user.UserAttributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	attrs["cognito:user_status"] = string(user.UserStatus)
	trigger := func(source string, request map[string]any) error {
		ev := map[string]any{
			"version": "1", "triggerSource": source, "region": "us-east-1", "userPoolId": s.PoolID, "userName": in.Username,
			"callerContext": map[string]string{"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": s.ClientID},
			"request":       request, "response": map[string]any{},
		}
		raw, _ := json.Marshal(ev)
		_, err := s.hook.Handle(ctx, raw)
		return err
	}
	fail := func(stage string, err error) {
		var ref *loginhook.Refusal
		msg := "internal error"
		if errors.As(err, &ref) {
			msg = ref.Message
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": stage + " failed with error " + msg})
	}
	if err := trigger("PreAuthentication_Authentication", map[string]any{"userAttributes": attrs, "validationData": map[string]string{}}); err != nil {
		fail("PreAuthentication", err)
		return
	}
	tokens, err := cognitotest.SignIn(ctx, s.cip, s.ClientID, in.Username, in.Password)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Incorrect username or password."})
		return
	}
	groups := []string{}
	if g, err := s.cip.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: &s.PoolID, Username: &in.Username}); err == nil {
		for _, x := range g.Groups {
			groups = append(groups, aws.ToString(x.GroupName))
		}
	}
	if err := trigger("TokenGeneration_Authentication", map[string]any{"userAttributes": attrs, "groupConfiguration": map[string]any{"groupsToOverride": groups}}); err != nil {
		fail("PreTokenGeneration", err)
		return
	}
	if err := trigger("PostAuthentication_Authentication", map[string]any{"userAttributes": attrs, "newDeviceUsed": false}); err != nil {
		fail("PostAuthentication", err)
		return
	}
	writeJSON(w, http.StatusOK, tokens)
}

func (s *Stack) seedRoute(w http.ResponseWriter, r *http.Request) {
	out, err := s.Seed(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
