package infra

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dormancy/dormancy/shared/access"
)

var update = flag.Bool("update", false, "rewrite the permissions table of infra/README.md from shared/access")

const (
	permissionsBegin = "<!-- permissions:begin (generated from shared/access by `go test ./infra -run TestREADMEPermissions -update`) -->\n"
	permissionsEnd   = "<!-- permissions:end -->"
)

// permissionsTable renders, from the declaration, what each function is
// given: its DynamoDB actions per table and index, the rest, and the
// variables it reads beyond the policy.
func permissionsTable() string {
	var b strings.Builder
	b.WriteString("| function | DynamoDB | other | environment (besides the policy) |\n|---|---|---|---|\n")
	code := func(s []string, prefix string) string {
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = "`" + prefix + v + "`"
		}
		return strings.Join(out, ", ")
	}
	for _, f := range access.Functions {
		var dynamo []string
		seen := map[[2]string]bool{}
		for _, g := range f.Grants {
			if seen[[2]string{g.Table, g.Index}] {
				continue
			}
			seen[[2]string{g.Table, g.Index}] = true
			where := g.Table
			if g.Index != "" {
				where += "/index/" + g.Index
			}
			dynamo = append(dynamo, where+": "+code(f.Actions(g.Table, g.Index), ""))
		}
		var other []string
		if f.PutEvents {
			other = append(other, "`events:PutEvents` on the bus")
		}
		for _, target := range f.Invokes {
			other = append(other, "`lambda:InvokeFunction` on "+target)
		}
		if f.SendEmail {
			other = append(other, "`ses:SendEmail` from the sender identity only")
		}
		if len(f.PoolActions) > 0 {
			other = append(other, code(f.PoolActions, "cognito-idp:")+" on the pool")
		}
		if len(other) == 0 {
			other = []string{"—"}
		}
		var env []string
		for _, v := range f.Env() {
			if !slices.Contains(access.PolicyVars, v) {
				env = append(env, v)
			}
		}
		b.WriteString("| " + f.Name + " (`" + f.Dir + "`) | " + strings.Join(dynamo, "<br>") + " | " +
			strings.Join(other, "<br>") + " | " + code(env, "") + " |\n")
	}
	return b.String()
}

// infra/README.md's permissions table is the declaration's; -update
// rewrites it.
func TestREADMEPermissions(t *testing.T) {
	const path = "README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i := strings.Index(readme, permissionsBegin)
	j := strings.Index(readme, permissionsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q markers", path, strings.TrimSpace(permissionsBegin), permissionsEnd)
	}
	got, want := readme[i+len(permissionsBegin):j], permissionsTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(permissionsBegin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's permissions table is not shared/access's; run go test ./infra -run TestREADMEPermissions -update\ngot:\n%s\nwant:\n%s", path, got, want)
}
