package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/shared/access"
)

// synthApp is synth with the context on the app too, where the console
// reads consoleDomainPrefix and consoleDomain (cdk -c key=value puts them
// there).
func synthApp(t *testing.T, ctx map[string]string) synthesized {
	t.Helper()
	key, _ := json.Marshal(ctx)
	mu.Lock()
	defer mu.Unlock()
	if s, ok := synths["app:"+string(key)]; ok {
		return s
	}
	assets := t.TempDir()
	for _, fn := range access.Functions {
		os.MkdirAll(filepath.Join(assets, fn.Dir), 0o755)
		os.WriteFile(filepath.Join(assets, fn.Dir, "bootstrap"), []byte("stand-in"), 0o755)
	}
	s, err := ParseSettings(func(k string) string {
		if k == "assetsDir" {
			return assets
		}
		return ctx[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	appCtx := map[string]any{}
	for k, v := range ctx {
		appCtx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &appCtx})
	st := NewStack(app, "Test", &StackProps{Settings: s})
	AddNagChecks(app)
	var out synthesized
	ann := assertions.Annotations_FromStack(st.Stack)
	//lint:ignore SA1019 the Go binding's Annotations.FindError returns this type; there is no other
	for _, level := range []*[]*cxapi.SynthesisMessage{ann.FindError(jsii.String("*"), assertions.Match_AnyValue()), ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))} {
		for _, m := range *level {
			//lint:ignore SA1019 see above
			out.nag = append(out.nag, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
		}
	}
	sort.Strings(out.nag)
	b, _ := json.Marshal(assertions.Template_FromStack(st.Stack, nil).ToJSON())
	json.Unmarshal(b, &out.tpl)
	synths["app:"+string(key)] = out
	return out
}

// one is the one resource of a type, with its logical id.
func one(t *testing.T, tpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// The console's files are in a private bucket (public access blocked, TLS
// only, access logged) that only the distribution reads, through origin
// access control; viewers get HTTPS only, with the security headers.
func TestConsoleHosting(t *testing.T) {
	tpl := template(t, nil)
	distID, dist := one(t, tpl, "AWS::CloudFront::Distribution")
	cfg := props(dist)["DistributionConfig"].(map[string]any)
	behavior := cfg["DefaultCacheBehavior"].(map[string]any)
	if behavior["ViewerProtocolPolicy"] != "https-only" || cfg["DefaultRootObject"] != "index.html" || behavior["Compress"] != true {
		t.Errorf("distribution: %v", toJSON(cfg))
	}
	origin := cfg["Origins"].([]any)[0].(map[string]any)
	oacID, oac := one(t, tpl, "AWS::CloudFront::OriginAccessControl")
	if !strings.Contains(toJSON(origin["OriginAccessControlId"]), oacID) || origin["S3OriginConfig"].(map[string]any)["OriginAccessIdentity"] != "" {
		t.Errorf("origin: %v", toJSON(origin))
	}
	if c := props(oac)["OriginAccessControlConfig"].(map[string]any); c["SigningBehavior"] != "always" || c["OriginAccessControlOriginType"] != "s3" {
		t.Errorf("origin access control: %v", c)
	}
	var files, logs string
	for id := range resources(tpl, "AWS::S3::Bucket") {
		switch {
		case strings.HasPrefix(id, "ConsoleFiles"):
			files = id
		case strings.HasPrefix(id, "ConsoleAccessLogs"):
			logs = id
		}
	}
	if files == "" || logs == "" {
		t.Fatalf("buckets: %v", resources(tpl, "AWS::S3::Bucket"))
	}
	if !strings.Contains(toJSON(origin["DomainName"]), files) || !strings.Contains(toJSON(cfg["Logging"]), logs) {
		t.Errorf("the distribution serves %v and logs to %v", origin["DomainName"], cfg["Logging"])
	}
	for _, id := range []string{files, logs} {
		p := props(resources(tpl, "AWS::S3::Bucket")[id])
		block := p["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if block[k] != true {
				t.Errorf("%s: %s %v", id, k, block[k])
			}
		}
	}
	if l := props(resources(tpl, "AWS::S3::Bucket")[files])["LoggingConfiguration"]; !strings.Contains(toJSON(l), logs) {
		t.Errorf("the files' bucket logs to %v", l)
	}
	policies := map[string]string{}
	for _, p := range resources(tpl, "AWS::S3::BucketPolicy") {
		policies[props(p)["Bucket"].(map[string]any)["Ref"].(string)] = toJSON(props(p)["PolicyDocument"])
	}
	for _, id := range []string{files, logs} {
		if !strings.Contains(policies[id], `"aws:SecureTransport":"false"`) {
			t.Errorf("%s does not refuse plain HTTP: %s", id, policies[id])
		}
	}
	// Only CloudFront reads the files, and only for this distribution.
	var doc struct{ Statement []map[string]any }
	json.Unmarshal([]byte(policies[files]), &doc)
	for _, s := range doc.Statement {
		if s["Effect"] != "Allow" {
			continue
		}
		if toJSON(s["Principal"]) != `{"Service":"cloudfront.amazonaws.com"}` || s["Action"] != "s3:GetObject" || !strings.Contains(toJSON(s["Condition"]), distID) {
			t.Errorf("the files' bucket allows %s", toJSON(s))
		}
	}

	_, headers := one(t, tpl, "AWS::CloudFront::ResponseHeadersPolicy")
	sec := props(headers)["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)
	if !strings.Contains(toJSON(behavior["ResponseHeadersPolicyId"]), "ConsoleHeaders") {
		t.Errorf("the distribution's headers policy: %v", behavior["ResponseHeadersPolicyId"])
	}
	if sec["FrameOptions"].(map[string]any)["FrameOption"] != "DENY" || sec["ContentTypeOptions"].(map[string]any)["Override"] != true ||
		sec["StrictTransportSecurity"].(map[string]any)["AccessControlMaxAgeSec"].(float64) < 31536000 {
		t.Errorf("security headers: %s", toJSON(sec))
	}
}

// The Content-Security-Policy lets scripts and styles come from the console
// only, and requests go to the API's origin and the pool's sign-in domain
// only.
func TestConsoleContentSecurityPolicy(t *testing.T) {
	tpl := template(t, nil)
	_, headers := one(t, tpl, "AWS::CloudFront::ResponseHeadersPolicy")
	csp := props(headers)["ResponseHeadersPolicyConfig"].(map[string]any)["SecurityHeadersConfig"].(map[string]any)["ContentSecurityPolicy"].(map[string]any)
	if csp["Override"] != true {
		t.Error("the policy does not override the origin's")
	}
	rendered := render(csp["ContentSecurityPolicy"])
	apiID, _ := one(t, tpl, "AWS::ApiGateway::RestApi")
	domainID, _ := one(t, tpl, "AWS::Cognito::UserPoolDomain")
	directives := map[string]string{}
	for _, d := range strings.Split(rendered, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src": "'none'", "script-src": "'self'", "style-src": "'self'",
		"connect-src":     "'self' https://{" + apiID + "}.execute-api.{AWS::Region}.{AWS::URLSuffix} https://{" + domainID + "}.auth.{AWS::Region}.amazoncognito.com",
		"frame-ancestors": "'none'", "base-uri": "'none'",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("%s %q, want %q (policy %q)", k, directives[k], v, rendered)
		}
	}
}

// render writes a CloudFormation string (a literal, or an Fn::Join of
// literals and Refs) with each Ref as {logical id}.
func render(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			return "{" + ref + "}"
		}
		if att, ok := x["Fn::GetAtt"].([]any); ok {
			return fmt.Sprintf("{%s.%s}", att[0], att[1])
		}
		if join, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range join[1].([]any) {
				parts = append(parts, render(p))
			}
			return strings.Join(parts, join[0].(string))
		}
	}
	return toJSON(v)
}

// The managed login: a domain on the pool and an app client for the
// console, authorization code grant only (PKCE: no secret), returning to
// the console's URL; and the API's CORS origin is that URL.
func TestConsoleSignInAndCORS(t *testing.T) {
	tpl := template(t, nil)
	distID, _ := one(t, tpl, "AWS::CloudFront::Distribution")
	consoleURL := "https://{" + distID + ".DomainName}/"
	_, domain := one(t, tpl, "AWS::Cognito::UserPoolDomain")
	if d := render(props(domain)["Domain"]); !regexp.MustCompile(`^dormancy-\{AWS::AccountId\}-[0-9a-f]{8}$`).MatchString(d) || props(domain)["ManagedLoginVersion"] != float64(2) {
		t.Errorf("domain %q, version %v", d, props(domain)["ManagedLoginVersion"])
	}
	var console map[string]any
	clientID := ""
	for id, c := range resources(tpl, "AWS::Cognito::UserPoolClient") {
		p := props(c)
		if strings.HasPrefix(id, "PoolConsoleClient") {
			console, clientID = p, id
			continue
		}
		// The pool's other client offers no OAuth on the console's domain.
		if p["AllowedOAuthFlows"] != nil || p["CallbackURLs"] != nil {
			t.Errorf("%s: OAuth %v, callbacks %v", id, p["AllowedOAuthFlows"], p["CallbackURLs"])
		}
	}
	if console == nil {
		t.Fatal("no console client")
	}
	if toJSON(console["AllowedOAuthFlows"]) != `["code"]` || console["AllowedOAuthFlowsUserPoolClient"] != true || console["GenerateSecret"] != false ||
		toJSON(console["AllowedOAuthScopes"]) != `["openid","email"]` || toJSON(console["SupportedIdentityProviders"]) != `["COGNITO"]` {
		t.Errorf("console client: %s", toJSON(console))
	}
	for _, k := range []string{"CallbackURLs", "LogoutURLs"} {
		if urls := console[k].([]any); len(urls) != 1 || render(urls[0]) != consoleURL {
			t.Errorf("%s %v, want %s", k, urls, consoleURL)
		}
	}
	_, branding := one(t, tpl, "AWS::Cognito::ManagedLoginBranding")
	if !strings.Contains(toJSON(props(branding)["ClientId"]), clientID) || props(branding)["UseCognitoProvidedValues"] != true {
		t.Errorf("managed login style: %v", props(branding))
	}

	origin := "'" + strings.TrimSuffix(consoleURL, "/") + "'"
	for id, m := range resources(tpl, "AWS::ApiGateway::Method") {
		if props(m)["HttpMethod"] != "OPTIONS" {
			continue
		}
		r := props(m)["Integration"].(map[string]any)["IntegrationResponses"].([]any)[0].(map[string]any)["ResponseParameters"].(map[string]any)
		if got := render(r["method.response.header.Access-Control-Allow-Origin"]); got != origin ||
			r["method.response.header.Access-Control-Allow-Headers"] != "'Authorization,Content-Type'" || r["method.response.header.Access-Control-Allow-Methods"] != "'GET,POST,PUT'" {
			t.Errorf("%s: preflight answers %s", id, toJSON(r))
		}
	}
	for id, g := range resources(tpl, "AWS::ApiGateway::GatewayResponse") {
		if got := render(props(g)["ResponseParameters"].(map[string]any)["gatewayresponse.header.Access-Control-Allow-Origin"]); got != origin {
			t.Errorf("%s: API Gateway's own answer names origin %s, want %s", id, got, origin)
		}
	}
	if o := tpl["Outputs"].(map[string]any)["ConsoleUrl"]; o == nil || render(o.(map[string]any)["Value"]) != consoleURL {
		t.Errorf("ConsoleUrl output: %v", o)
	}
}

// config.json is written at deploy time with the API's URL, the pool's
// domain and the console's client id, next to every file of the console.
func TestConsoleDeployment(t *testing.T) {
	tpl := template(t, nil)
	var deploy map[string]any
	for _, r := range tpl["Resources"].(map[string]any) {
		if m := r.(map[string]any); m["Type"] == "Custom::CDKBucketDeployment" {
			deploy = props(m)
		}
	}
	if deploy == nil {
		t.Fatal("no bucket deployment")
	}
	if !strings.HasPrefix(deploy["DestinationBucketName"].(map[string]any)["Ref"].(string), "ConsoleFiles") {
		t.Errorf("deploys to %v", deploy["DestinationBucketName"])
	}
	markers := toJSON(deploy["SourceMarkers"])
	apiID, _ := one(t, tpl, "AWS::ApiGateway::RestApi")
	for _, want := range []string{apiID, "PoolConsoleClient", "PoolConsoleDomain", "ConsoleDistribution"} {
		if !strings.Contains(markers, want) {
			t.Errorf("config.json's deploy-time values lack %s: %s", want, markers)
		}
	}
	// A source per embedded file, and config.json.
	if n := len(deploy["SourceObjectKeys"].([]any)); n < 10 {
		t.Errorf("%d sources", n)
	}
	if cc := toJSON(deploy["SystemMetadata"]); !strings.Contains(cc, "no-cache") {
		t.Errorf("objects' metadata %s, want Cache-Control no-cache", cc)
	}
}

// With an existing pool, the stack adds the console's domain and client to
// it (and changes nothing else of the pool); consoleDomainPrefix names the
// domain; consoleDomain uses a domain the pool has already. Each stays
// clean under cdk-nag.
func TestConsoleOnAnExistingPool(t *testing.T) {
	s := synthApp(t, map[string]string{"userPoolId": "eu-west-1_AbCdEf123", "consoleDomainPrefix": "crm-admin"})
	if len(s.nag) > 0 {
		t.Errorf("findings:\n%s", strings.Join(s.nag, "\n"))
	}
	_, domain := one(t, s.tpl, "AWS::Cognito::UserPoolDomain")
	_, client := one(t, s.tpl, "AWS::Cognito::UserPoolClient")
	if props(domain)["Domain"] != "crm-admin" || props(domain)["UserPoolId"] != "eu-west-1_AbCdEf123" || props(client)["UserPoolId"] != "eu-west-1_AbCdEf123" {
		t.Errorf("domain %v, client %v", props(domain), props(client)["UserPoolId"])
	}

	s = synthApp(t, map[string]string{"userPoolId": "eu-west-1_AbCdEf123", "consoleDomain": "https://login.example.com"})
	if len(s.nag) > 0 {
		t.Errorf("findings:\n%s", strings.Join(s.nag, "\n"))
	}
	if n := len(resources(s.tpl, "AWS::Cognito::UserPoolDomain")); n != 0 {
		t.Errorf("%d domains added to a pool that has one", n)
	}
	_, headers := one(t, s.tpl, "AWS::CloudFront::ResponseHeadersPolicy")
	if csp := toJSON(headers); !strings.Contains(csp, "https://login.example.com;") {
		t.Errorf("the policy does not allow the pool's domain: %s", csp)
	}

	s = synthApp(t, map[string]string{"consoleDomainPrefix": "Not_A-Prefix"})
	if !strings.Contains(strings.Join(s.nag, "\n"), "consoleDomainPrefix") {
		t.Errorf("a bad prefix is not reported: %v", s.nag)
	}
}
