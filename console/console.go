// Package console is Dormancy's admin console: one page of standard HTML,
// one stylesheet and JavaScript modules that call the REST API with the
// signed-in user's ID token. Nothing builds it: the files are served as they
// are. Files embeds them, so that make dev serves (infra/local) and the
// stack deploys (infra) the same bytes; config.json, which says where the
// API and the sign-in are, is written next to them by whoever serves them.
package console

import (
	"embed"
	"strings"
)

// Files are the console's files: index.html, console.css and js/.
//
//go:embed index.html console.css js
var Files embed.FS

// ContentSecurityPolicy is the policy the console is served with, locally
// and on CloudFront: scripts and styles only from the console's own origin
// (no inline code, no eval), requests only to itself and to connect (the
// API's origin and, on AWS, the pool's sign-in domain), no frames, no
// plugins, and Trusted Types, so that no string can reach an HTML sink.
func ContentSecurityPolicy(connect ...string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + strings.Join(append([]string{"'self'"}, connect...), " "),
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
		"require-trusted-types-for 'script'",
	}, "; ")
}
