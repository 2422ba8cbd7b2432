package local

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/dormancy/dormancy/shared/access"
)

// FromCDKContext sets o's policy and schedule from cdk.json's context, as
// the deployed stack takes them, so make dev runs what cdk deploy would.
// Variables set in lookup (the shell) override the file: DORMANCY_DAYS=10
// make dev. A value the functions refuse stops Start with an error naming
// the variable.
func (o *Options) FromCDKContext(path string, lookup func(string) (string, bool)) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if o.Env == nil {
		o.Env = map[string]string{}
	}
	str := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	}
	for key, v := range doc.Context {
		if name, ok := access.ContextVars[key]; ok {
			o.Env[name] = str(v)
		}
	}
	if v, ok := doc.Context["schedule"]; ok && str(v) != "" {
		o.Schedule = str(v)
	}
	if v, ok := doc.Context["syncSchedule"]; ok && str(v) != "" {
		o.SyncSchedule = str(v)
	}
	for _, name := range access.ContextVars {
		if v, ok := lookup(name); ok {
			o.Env[name] = v
		}
	}
	return nil
}
