package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/dormancy/dormancy/shared/api"
)

// The OpenAPI document at the repository root is the API's contract: it
// must be a valid document, list exactly the routes the router serves, and
// every request and answer of this package's tests is checked against it
// (see checkTraffic). kin-openapi is a test dependency only: the Lambda's
// binary must not carry it.

// specPath is openapi.yaml, from this package's directory (tests run there).
const specPath = "../../openapi.yaml"

type spec struct {
	doc    *openapi3.T
	router routers.Router
}

// loadSpec reads, validates and routes openapi.yaml once per test binary.
var loadSpec = sync.OnceValues(func() (*spec, error) {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
	}
	// A JSON body is one JSON value (RFC 8259); kin-openapi's own decoder
	// reads the first and ignores what follows.
	openapi3filter.RegisterBodyDecoder("application/json", strictJSON)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", specPath, err)
	}
	return &spec{doc: doc, router: router}, nil
})

func strictJSON(body io.Reader, h http.Header, schema *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: "not one JSON value"}
	}
	return openapi3filter.JSONBodyDecoder(bytes.NewReader(b), h, schema, enc)
}

func mustSpec(t *testing.T) *spec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// filterOptions: the Cognito authorizer, not the API, checks the token, so
// the security scheme is documented but not checked here; every status an
// answer has must be documented for its operation.
var filterOptions = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true,
	SkipSettingDefaults:   true,
	MultiError:            true,
	// An error names the value's place and the rule it breaks, without the
	// whole schema and value.
	SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
}

// checkTraffic checks one exchange with the API against openapi.yaml: the
// answer always, and the request too when wellFormed. A request a test
// sends malformed on purpose (wellFormed false) must indeed break the
// document, so the opt-out is never used where it is not needed and the
// document cannot quietly become looser than the API.
func checkTraffic(t *testing.T, req events.APIGatewayProxyRequest, resp events.APIGatewayProxyResponse, wellFormed bool) {
	t.Helper()
	s := mustSpec(t)
	uri := requestURI(req)
	if len(uri) > 100 {
		uri = uri[:100] + "…"
	}
	for _, p := range s.trafficProblems(req, resp, wellFormed) {
		t.Errorf("%s %s -> %d: %s", req.HTTPMethod, uri, resp.StatusCode, p)
	}
}

// trafficProblems says how an exchange breaks the document.
func (s *spec) trafficProblems(req events.APIGatewayProxyRequest, resp events.APIGatewayProxyResponse, wellFormed bool) []string {
	ctx := context.Background()
	var out []string
	hr, err := httpRequest(req)
	if err != nil {
		return []string{fmt.Sprintf("the test's request cannot be built: %v", err)}
	}
	route, pathParams, routeErr := s.router.FindRoute(hr)
	if routeErr != nil {
		if wellFormed {
			out = append(out, fmt.Sprintf("the request matches no operation of openapi.yaml: %v", routeErr))
		}
		return append(out, s.unroutedResponseProblems(resp)...)
	}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: pathParams, Route: route, Options: filterOptions}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case wellFormed && reqErr != nil:
		out = append(out, fmt.Sprintf("the request does not match openapi.yaml: %v", reqErr))
	case !wellFormed && reqErr == nil:
		out = append(out, "sent as malformed, but openapi.yaml allows the request: make the document as strict as the API, or send it with call")
	}
	check := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 responseHeader(resp),
		Options:                filterOptions,
	}
	check.SetBodyBytes([]byte(resp.Body))
	if err := openapi3filter.ValidateResponse(ctx, check); err != nil {
		out = append(out, fmt.Sprintf("the response does not match openapi.yaml: %v\nbody: %s", err, resp.Body))
	}
	return out
}

// unroutedResponseProblems checks the answer to a request no operation
// describes (an unknown route): it must be the document's error response
// for its status.
func (s *spec) unroutedResponseProblems(resp events.APIGatewayProxyResponse) []string {
	name, ok := errorResponses[resp.StatusCode]
	if !ok {
		return []string{"no operation matches and the status is not one of the document's errors"}
	}
	ref := s.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		return []string{"openapi.yaml has no components/responses/" + name}
	}
	ct := responseHeader(resp).Get("Content-Type")
	mt := ref.Value.Content.Get(ct)
	if mt == nil || mt.Schema == nil {
		return []string{fmt.Sprintf("content type %q is not the one components/responses/%s has", ct, name)}
	}
	var v any
	if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
		return []string{fmt.Sprintf("the body is not JSON: %v", err)}
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return []string{fmt.Sprintf("the response does not match components/responses/%s: %v\nbody: %s", name, err, resp.Body)}
	}
	return nil
}

// errorResponses names the document's error response for each status.
var errorResponses = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
	409: "Conflict", 413: "PayloadTooLarge", 422: "Unprocessable", 503: "Unavailable",
}

// httpRequest is the request a client sent, as API Gateway's proxy event
// describes it.
func httpRequest(req events.APIGatewayProxyRequest) (*http.Request, error) {
	hr, err := http.NewRequest(req.HTTPMethod, "https://api.example.com"+requestURI(req), strings.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	hr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(req.Body)), nil }
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	for k, vs := range req.MultiValueHeaders {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return hr, nil
}

func requestURI(req events.APIGatewayProxyRequest) string {
	q := url.Values{}
	for k, vs := range req.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range req.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u := url.URL{Path: req.Path, RawQuery: q.Encode()}
	return u.RequestURI()
}

func responseHeader(resp events.APIGatewayProxyResponse) http.Header {
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	return h
}

// The document is a valid OpenAPI 3 document (every entry parsed as meant:
// a stray key in a one-line mapping is an error, not a silent extra).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	mustSpec(t)
}

// The OpenAPI document and the router list the same routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := mustSpec(t)
	documented := map[string]bool{}
	for p, item := range s.doc.Paths.Map() {
		for m := range item.Operations() {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, r := range api.Routes() {
		served[r.Method+" "+r.Pattern] = true
	}
	if d := cmp.Diff(documented, served); d != "" {
		t.Errorf("openapi.yaml and the router differ (-documented +served):\n%s", d)
	}
}

// Every operation lists its statuses one by one (no "default", so an
// undocumented status fails the traffic check), including the errors every
// route can give; and every object an answer holds is closed
// (additionalProperties: false) unless it is a map, so a field the API
// starts sending fails the traffic check until the document names it.
func TestOpenAPIDocumentIsStrict(t *testing.T) {
	s := mustSpec(t)
	everyRoute := []string{"400", "401", "403", "503"}
	for p, item := range s.doc.Paths.Map() {
		for m, op := range item.Operations() {
			where := m + " " + p
			statuses := slices.Sorted(func(yield func(string) bool) {
				for code := range op.Responses.Map() {
					if !yield(code) {
						return
					}
				}
			})
			if slices.Contains(statuses, "default") {
				t.Errorf("%s: a default response hides undocumented statuses", where)
			}
			for _, code := range everyRoute {
				if !slices.Contains(statuses, code) {
					t.Errorf("%s: no %s response, though every route can give one", where, code)
				}
			}
			if op.Security != nil {
				t.Errorf("%s: overrides the document's security (the Cognito authorizer guards every route)", where)
			}
			for code, ref := range op.Responses.Map() {
				if ref.Value == nil || len(ref.Value.Content) == 0 {
					t.Errorf("%s %s: no content", where, code)
					continue
				}
				for mime, mt := range ref.Value.Content {
					// JSON everywhere; the compliance report also as CSV.
					if mime != "application/json" && !(mime == "text/csv" && where == "GET /reports/compliance" && code == "200") {
						t.Errorf("%s %s: the API answers only application/json, not %s", where, code, mime)
					}
					if mt.Schema == nil {
						t.Errorf("%s %s: no schema", where, code)
						continue
					}
					for _, path := range openObjects(mt.Schema, "body", map[*openapi3.Schema]bool{}) {
						t.Errorf("%s %s: %s is an object without additionalProperties: false", where, code, path)
					}
				}
			}
		}
	}
}

// openObjects lists the object schemas under ref that allow properties they
// do not name.
func openObjects(ref *openapi3.SchemaRef, path string, seen map[*openapi3.Schema]bool) []string {
	sc := ref.Value
	if sc == nil || seen[sc] {
		return nil
	}
	seen[sc] = true
	var out []string
	if sc.Type.Is("object") {
		ap := sc.AdditionalProperties
		switch {
		case ap.Schema != nil: // a map: its values are checked
			out = append(out, openObjects(ap.Schema, path+"[*]", seen)...)
		case ap.Has == nil || *ap.Has:
			out = append(out, path)
		}
	}
	names := make([]string, 0, len(sc.Properties))
	for n := range sc.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, openObjects(sc.Properties[n], path+"."+n, seen)...)
	}
	if sc.Items != nil {
		out = append(out, openObjects(sc.Items, path+"[]", seen)...)
	}
	for _, group := range []openapi3.SchemaRefs{sc.AllOf, sc.AnyOf, sc.OneOf} {
		for _, r := range group {
			out = append(out, openObjects(r, path, seen)...)
		}
	}
	return out
}

// The traffic check itself notices what it is for: an answer with a field
// the document does not name or without one it requires, a status or error
// code it does not list, a request it does not allow sent as well formed,
// and a request sent as malformed that the document allows.
func TestTrafficCheckCatchesDrift(t *testing.T) {
	s := mustSpec(t)
	get := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/records/r1"}
	bad := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/records/-bad"}
	unknown := events.APIGatewayProxyRequest{HTTPMethod: "DELETE", Path: "/records/r1"}
	answer := func(code int, body string) events.APIGatewayProxyResponse {
		return events.APIGatewayProxyResponse{StatusCode: code, Body: body, Headers: map[string]string{"Content-Type": "application/json"}}
	}
	record := `{"recordId":"r1","module":"lead","status":"Open","fields":{},"needsReassignment":[],"version":1,"updatedAt":"2026-11-24T12:00:00.000Z"}`
	notFound := answer(404, `{"error":{"code":"NotFound","message":"not found"}}`)
	for name, c := range map[string]struct {
		req        events.APIGatewayProxyRequest
		resp       events.APIGatewayProxyResponse
		wellFormed bool
		fails      bool
	}{
		"a documented answer":        {get, answer(200, record), true, false},
		"a documented error":         {get, notFound, true, false},
		"a field it does not name":   {get, answer(200, strings.Replace(record, `"version"`, `"owner":"x","version"`, 1)), true, true},
		"a missing field":            {get, answer(200, `{"recordId":"r1"}`), true, true},
		"a time in another format":   {get, answer(200, strings.Replace(record, ".000Z", "+00:00", 1)), true, true},
		"an undocumented status":     {get, answer(409, `{"error":{"code":"Conflict","message":"x"}}`), true, true},
		"another status's code":      {get, answer(404, `{"error":{"code":"Gone","message":"x"}}`), true, true},
		"an error without a message": {get, answer(404, `{"error":{"code":"NotFound"}}`), true, true},
		"a text answer":              {get, events.APIGatewayProxyResponse{StatusCode: 404, Body: "not found"}, true, true},
		"a malformed request":        {bad, notFound, true, true},
		"a malformed request, raw":   {bad, notFound, false, false},
		"raw, but well formed":       {get, notFound, false, true},
		"an unknown route":           {unknown, notFound, true, true},
		"an unknown route, raw":      {unknown, notFound, false, false},
		"an unknown route's answer":  {unknown, answer(404, `{"error":"no"}`), false, true},
	} {
		problems := s.trafficProblems(c.req, c.resp, c.wellFormed)
		if (len(problems) > 0) != c.fails {
			t.Errorf("%s: problems %q, want failing %v", name, problems, c.fails)
		}
	}
}
