package sweeper

import (
	"encoding/json"
	"fmt"
	"time"
)

// emitMetrics writes the sweep's figures in CloudWatch Embedded Metric
// Format: Lambda sends stdout to CloudWatch Logs, which extracts them.
func (s *Sweeper) emitMetrics(sum Summary) {
	if s.Metrics == nil {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	names := []string{"Deactivated", "Warned", "Exempt", "EventsPublished", "EventsPending", "SignOutsPending", "ItemsRead"}
	var ms []metric
	for _, n := range names {
		ms = append(ms, metric{n, "Count"})
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": "Dormancy", "Dimensions": [][]string{{}}, "Metrics": ms,
			}},
		},
		"Deactivated": sum.Deactivated, "Warned": sum.Warned, "Exempt": sum.Exempt,
		"EventsPublished": sum.EventsPublished, "EventsPending": sum.EventsPending,
		"SignOutsPending": sum.SignOutsPending, "ItemsRead": sum.ItemsRead, "DryRun": sum.DryRun,
	}
	b, _ := json.Marshal(doc)
	fmt.Fprintln(s.Metrics, string(b))
}
