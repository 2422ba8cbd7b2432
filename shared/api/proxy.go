package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// HandleProxy is the Lambda handler for API Gateway's proxy integration: it
// turns the event into an http.Request (with the authorizer's claims on its
// context) and the handler's answer into the proxy response.
func (a *API) HandleProxy(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return jsonResponse(http.StatusBadRequest, `{"error":{"code":"BadRequest","message":"the body is not valid base64"}}`), nil
		}
		body = b
	}
	q := url.Values{}
	for k, vs := range req.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range req.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	u := &url.URL{Path: req.Path, RawQuery: q.Encode()}
	hr, err := http.NewRequestWithContext(ctx, req.HTTPMethod, u.String(), bytes.NewReader(body))
	if err != nil {
		return jsonResponse(http.StatusBadRequest, `{"error":{"code":"BadRequest","message":"malformed request"}}`), nil
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	if claims, ok := req.RequestContext.Authorizer["claims"].(map[string]any); ok {
		hr = hr.WithContext(WithClaims(ctx, claims))
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	if o := hr.Header.Get("Origin"); o != "" && slices.Contains(a.Origins, o) {
		rec.header.Set("Access-Control-Allow-Origin", o)
		rec.header.Set("Vary", "Origin")
		// the report's CSV names its file
		rec.header.Set("Access-Control-Expose-Headers", "Content-Disposition")
	}
	a.ServeHTTP(rec, hr)
	resp := events.APIGatewayProxyResponse{StatusCode: rec.code, Body: rec.body.String(), Headers: map[string]string{}}
	for k, vs := range rec.header {
		resp.Headers[k] = strings.Join(vs, ",")
	}
	return resp, nil
}

func jsonResponse(code int, body string) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: code, Body: body, Headers: map[string]string{"Content-Type": "application/json"}}
}

// recorder is the http.ResponseWriter the adapter collects an answer in.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
