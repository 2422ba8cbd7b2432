package infra

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dormancy/dormancy/console"
)

// Console is the admin console as deployed: its files (console.Files, the
// bytes make dev serves) in a private bucket behind CloudFront, the pool's
// managed login for it (a domain and an app client: authorization code
// grant with PKCE, no secret), and its config.json, written at deploy time
// with the API's URL and the client's id.
//
// The console and the API each need the other's address: the API's CORS
// origin is the console's URL (the stack passes Origin to newAPI), and the
// console's Content-Security-Policy allows requests to the API's origin,
// which connect gives it once the API exists.
type Console struct {
	constructs.Construct
	// Origin is the console's URL without the trailing slash, as a browser
	// sends it in Origin: https://<distribution>.cloudfront.net.
	Origin       *string
	Bucket       awss3.Bucket
	Distribution awscloudfront.Distribution
	Client       awscognito.UserPoolClient
	// SignIn is the managed login's base URL (the pool's domain).
	SignIn *string

	url    *string    // Origin + "/": the redirect and sign-out URL
	policy lazyString // the Content-Security-Policy, set by connect
}

// Context keys: consoleDomainPrefix names the pool's Cognito domain
// (<prefix>.auth.<region>.amazoncognito.com; default dormancy-<account>-<a
// hash of the stack>); consoleDomain instead names a domain the pool has
// already (a pool has at most one Cognito prefix domain), as its base URL.
const (
	consoleDomainPrefixKey = "consoleDomainPrefix"
	consoleDomainKey       = "consoleDomain"
)

var (
	domainPrefixPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	domainURLPattern    = regexp.MustCompile(`^https://[a-z0-9.-]+$`)
)

// newConsole hosts the console and adds its sign-in to the pool: a new
// pool's, or an existing one's (userPoolId), where CloudFormation only adds
// the domain and the app client and changes nothing else of the pool.
func newConsole(scope constructs.Construct, pool awscognito.IUserPool) *Console {
	// (Constructs are made in the jsii construct, not in the Go struct
	// around it.)
	in := constructs.NewConstruct(scope, jsii.String("Console"))
	c := &Console{Construct: in}

	// One bucket for the access logs of both: S3 server access logs of the
	// files' bucket and CloudFront's standard logs (which need ACLs), kept a
	// year.
	logs := awss3.NewBucket(in, jsii.String("AccessLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_OBJECT_WRITER,
		LifecycleRules:    &[]*awss3.LifecycleRule{{Expiration: awscdk.Duration_Days(jsii.Number(365))}},
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})

	c.Bucket = awss3.NewBucket(in, jsii.String("Files"), &awss3.BucketProps{
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("s3/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	})

	// The Content-Security-Policy names the API's origin, which exists only
	// once the API does (connect): it is rendered at synth.
	headers := awscloudfront.NewResponseHeadersPolicy(in, jsii.String("Headers"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("Dormancy console: security headers"),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{
				ContentSecurityPolicy: awscdk.Lazy_String(&c.policy, nil), Override: jsii.Bool(true),
			},
			ContentTypeOptions: &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:       &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy:     &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_NO_REFERRER, Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(730)), IncludeSubdomains: jsii.Bool(true), Override: jsii.Bool(true),
			},
		},
	})
	c.Distribution = awscloudfront.NewDistribution(in, jsii.String("Distribution"), &awscloudfront.DistributionProps{
		Comment:           jsii.String("Dormancy admin console"),
		DefaultRootObject: jsii.String("index.html"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(c.Bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_HTTPS_ONLY,
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
		},
		HttpVersion:   awscloudfront.HttpVersion_HTTP2_AND_3,
		EnableLogging: jsii.Bool(true),
		LogBucket:     logs,
		LogFilePrefix: jsii.String("cloudfront/"),
	})
	suppress(c.Distribution, false,
		nag{id: "AwsSolutions-CFR1", reason: "The console is for the organisation's admins wherever they work; who may use it is decided by the pool's sign-in and the API's authorizer (admin groups), not by the viewer's country. An organisation that restricts countries adds a geo restriction or its WAF."},
		nag{id: "AwsSolutions-CFR2", reason: "The distribution serves a few static files (no origin logic, no forms posted to it, GET and HEAD only); what the console does goes to the API, which has its authorizer and throttling. An organisation that mandates WAF attaches its Firewall Manager policy to the distribution."},
		nag{id: "AwsSolutions-CFR4", reason: "The console is served on CloudFront's own *.cloudfront.net name and certificate, whose TLS policy CloudFront sets (TLSv1 minimum) and a distribution cannot raise without a custom domain and certificate; viewers are held to HTTPS only. A deployment with its own domain sets MinimumProtocolVersion TLSv1.2_2021 with its certificate."},
	)
	c.Origin = jsii.String("https://" + *c.Distribution.DistributionDomainName())
	c.url = jsii.String(*c.Origin + "/")

	// The managed login: the pool's domain (new, or the one it has), and an
	// app client for the console only.
	if existing := contextString(in, consoleDomainKey); existing != "" {
		if !domainURLPattern.MatchString(existing) {
			awscdk.Annotations_Of(in).AddError(jsii.String(fmt.Sprintf("context %s: %q must be the pool's domain as https://<host>", consoleDomainKey, existing)))
		}
		c.SignIn = jsii.String(existing)
	} else {
		domain := pool.AddDomain(jsii.String("ConsoleDomain"), &awscognito.UserPoolDomainOptions{
			CognitoDomain:       &awscognito.CognitoDomainOptions{DomainPrefix: domainPrefix(in)},
			ManagedLoginVersion: awscognito.ManagedLoginVersion_NEWER_MANAGED_LOGIN,
		})
		c.SignIn = domain.BaseUrl(nil)
	}
	c.Client = pool.AddClient(jsii.String("ConsoleClient"), &awscognito.UserPoolClientOptions{
		GenerateSecret:             jsii.Bool(false),
		AuthFlows:                  &awscognito.AuthFlow{},
		SupportedIdentityProviders: &[]awscognito.UserPoolClientIdentityProvider{awscognito.UserPoolClientIdentityProvider_COGNITO()},
		OAuth: &awscognito.OAuthSettings{
			Flows:        &awscognito.OAuthFlows{AuthorizationCodeGrant: jsii.Bool(true)},
			Scopes:       &[]awscognito.OAuthScope{awscognito.OAuthScope_OPENID(), awscognito.OAuthScope_EMAIL()},
			CallbackUrls: jsii.Strings(*c.url),
			LogoutUrls:   jsii.Strings(*c.url),
		},
		PreventUserExistenceErrors: jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		// The console keeps no refresh token (an expired session signs in
		// again); a short validity also keeps the sweeper's longest-refresh
		// window (spec §5) from growing on the console's account.
		RefreshTokenValidity: awscdk.Duration_Hours(jsii.Number(1)),
	})
	// Managed login (version 2) shows a client's pages only with a style
	// for it: Cognito's own.
	awscognito.NewCfnManagedLoginBranding(in, jsii.String("ConsoleLoginStyle"), &awscognito.CfnManagedLoginBrandingProps{
		UserPoolId: pool.UserPoolId(), ClientId: c.Client.UserPoolClientId(), UseCognitoProvidedValues: jsii.Bool(true),
	})

	awscdk.NewCfnOutput(scope, jsii.String("ConsoleUrl"), &awscdk.CfnOutputProps{Value: c.url, Description: jsii.String("The admin console")})
	return c
}

// connect finishes the console once the API exists: the policy's
// connect-src (the API's origin and the managed login's, for the token
// exchange) and the deployment of the files with config.json.
func (c *Console) connect(api awsapigateway.RestApi) {
	st := awscdk.Stack_Of(api)
	apiOrigin := "https://" + *api.RestApiId() + ".execute-api." + *st.Region() + "." + *st.UrlSuffix()
	c.policy.value = console.ContentSecurityPolicy(apiOrigin, *c.SignIn)

	var sources []awss3deployment.ISource
	err := fs.WalkDir(console.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console.Files, p)
		sources = append(sources, awss3deployment.Source_Data(jsii.String(p), jsii.String(string(b)), nil))
		return err
	})
	if err != nil { // the files are embedded: only a broken build gets here
		panic(fmt.Sprintf("read the console's files: %v", err))
	}
	sources = append(sources, awss3deployment.Source_JsonData(jsii.String("config.json"), map[string]any{
		"mode": "cognito", "apiUrl": api.Url(), "domain": c.SignIn, "clientId": c.Client.UserPoolClientId(), "redirectUri": c.url,
	}, nil))
	// Everything is revalidated on each load (no-cache; CloudFront keeps a
	// copy a second at most), so a deploy needs no invalidation: the
	// modules, the page and config.json always change together.
	awss3deployment.NewBucketDeployment(c.Construct, jsii.String("Deploy"), &awss3deployment.BucketDeploymentProps{
		DestinationBucket: c.Bucket,
		Sources:           &sources,
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_NoCache()},
		MemoryLimit:       jsii.Number(256),
	})
	// BucketDeployment's handler is one function per stack (a singleton),
	// with its role, at the stack's top level.
	for _, child := range *awscdk.Stack_Of(c.Construct).Node().Children() {
		if id := *child.Node().Id(); strings.HasPrefix(id, "Custom::CDKBucketDeployment") {
			suppress(child, true,
				nag{id: "AwsSolutions-IAM4", reason: "CDK's BucketDeployment handler (copies the console's files into its bucket at deploy time) uses AWSLambdaBasicExecutionRole for its own log group; it runs only during deploys.", appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}},
				nag{id: "AwsSolutions-IAM5", reason: "CDK's BucketDeployment handler reads the deployment's asset objects (s3:GetObject*, s3:List* on the CDK assets bucket) and replaces the console's objects (s3:DeleteObject*, s3:Abort* on <console bucket>/*): object-level wildcards inside the two buckets it works on, generated by CDK."},
				nag{id: "AwsSolutions-L1", reason: "CDK's BucketDeployment handler pins its own Python runtime, which CDK moves forward with its releases; it runs only during deploys."},
			)
		}
	}
}

// domainPrefix is the consoleDomainPrefix context value, or one unique to
// the account and the stack.
func domainPrefix(c constructs.Construct) *string {
	if p := contextString(c, consoleDomainPrefixKey); p != "" {
		if domainPrefixPattern.MatchString(p) && !strings.Contains(p, "aws") && !strings.Contains(p, "amazon") && !strings.Contains(p, "cognito") {
			return jsii.String(p)
		}
		// Synth fails with this error (and not with CDK's, which does not
		// name the key).
		awscdk.Annotations_Of(c).AddError(jsii.String(fmt.Sprintf("context %s: %q must be lower-case letters, digits and hyphens (at most 63), without aws, amazon or cognito", consoleDomainPrefixKey, p)))
	}
	st := awscdk.Stack_Of(c)
	return jsii.String("dormancy-" + *st.Account() + "-" + (*st.Node().Addr())[2:10])
}

func contextString(c constructs.Construct, key string) string {
	v, _ := c.Node().TryGetContext(jsii.String(key)).(string)
	return strings.TrimSpace(v)
}

// lazyString is a value rendered at synth, once something later in the
// app's construction has set it.
type lazyString struct{ value string }

func (l *lazyString) Produce() *string { return jsii.String(l.value) }
