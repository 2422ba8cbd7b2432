package console

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

// Spec §10: the console ships at most 150 KB of script and style,
// compressed, counted file by file as a browser downloads them.
func TestScriptAndStyleAtMost150KBCompressed(t *testing.T) {
	const limit = 150 * 1024
	raw, compressed := 0, 0
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".js" && path.Ext(p) != ".css") {
			return err
		}
		b, err := fs.ReadFile(Files, p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		raw += len(b)
		compressed += buf.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("script and style: %d bytes, %d gzip-compressed", raw, compressed)
	if compressed > limit {
		t.Errorf("script and style are %d bytes compressed, over the %d of spec §10", compressed, limit)
	}
}

// The page keeps to its Content-Security-Policy: no inline script or style,
// no eval, no HTML parsed from strings; every module it loads is there.
func TestFilesKeepToThePolicy(t *testing.T) {
	index, err := fs.ReadFile(Files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(index)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]`), // inline script
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`), // inline handlers
	} {
		if loc := bad.FindStringIndex(html); loc != nil {
			t.Errorf("index.html: %q breaks the policy", html[loc[0]:loc[1]])
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#:]+)"`).FindAllStringSubmatch(html, -1)
	imports := regexp.MustCompile(`(?m)^import .* from '(\./[^']+)';$`)
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(['"]`)
	err = fs.WalkDir(Files, "js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files, p)
		if err != nil {
			return err
		}
		if m := sinks.Find(b); m != nil {
			t.Errorf("%s uses %s", p, m)
		}
		for _, m := range imports.FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, []string{"", path.Join(path.Dir(p), m[1])})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 5 {
		t.Fatalf("found only %v", refs)
	}
	for _, r := range refs {
		if _, err := fs.Stat(Files, r[1]); err != nil {
			t.Errorf("%s is referenced but not there", r[1])
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	csp := ContentSecurityPolicy("https://api.example.com", "https://auth.example.com")
	for _, want := range []string{
		"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self' https://api.example.com https://auth.example.com", "frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, want+";") {
			t.Errorf("policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("policy %q allows unsafe code", csp)
	}
}
