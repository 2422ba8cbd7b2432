package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.DefaultDays != 45 || c.Policy.WarningDays != 7 || c.CognitoRPS != 20 || !cmp.Equal(c.AdminGroups, []string{"Admin", "Ops"}) {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DORMANCY_DAYS": "60", "WARNING_DAYS": "0", "GROUP_POLICIES": "Contractors=90,Temporary=30",
		"EXEMPT_GROUPS": "BreakGlass, Service", "ADMIN_GROUPS": "Admin", "COGNITO_RPS": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.DefaultDays != 60 || c.Policy.WarningDays != 0 || c.Policy.GroupDays["Temporary"] != 30 ||
		!cmp.Equal(c.Policy.ExemptGroups, []string{"BreakGlass", "Service"}) || !cmp.Equal(c.AdminGroups, []string{"Admin"}) || c.CognitoRPS != 10 {
		t.Errorf("config = %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"DORMANCY_DAYS":  {"DORMANCY_DAYS": "0"},
		"WARNING_DAYS":   {"WARNING_DAYS": "-1"},
		"GROUP_POLICIES": {"GROUP_POLICIES": "Contractors"},
		"ADMIN_GROUPS":   {"ADMIN_GROUPS": " , "},
		"COGNITO_RPS":    {"COGNITO_RPS": "100"},
	}
	cases["WARNING_DAYS "] = map[string]string{"DORMANCY_DAYS": "10", "WARNING_DAYS": "10"}
	cases["DORMANCY_DAYS "] = map[string]string{"DORMANCY_DAYS": "4000"}
	cases["DORMANCY_DAYS  "] = map[string]string{"DORMANCY_DAYS": "forty"}
	for name, vars := range cases {
		_, err := Load(env(vars))
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%v: err = %v, want one naming %s", vars, err, strings.TrimSpace(name))
		}
	}
}

func TestRequire(t *testing.T) {
	c, _ := Load(env(map[string]string{"USERS_TABLE": "u"}))
	if err := c.Require("USERS_TABLE"); err != nil {
		t.Error(err)
	}
	if err := c.Require("AUDIT_TABLE"); err == nil || !strings.Contains(err.Error(), "AUDIT_TABLE") {
		t.Errorf("missing AUDIT_TABLE: %v", err)
	}
}
