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
	held := 0
	if sum.Held && !sum.DryRun {
		held = 1 // the SweepHeld alarm fires on it
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	names := []string{"Deactivated", "Warned", "Exempt", "EventsPublished", "EventsPending", "SignOutsPending", "ItemsRead", "Held", "SignOutsSkipped"}
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
		"Deactivated": sum.Deactivated, "Warned": sum.Warned, "Exempt": sum.Exempt, "Held": held, "SignOutsSkipped": sum.SignOutsSkipped,
		"EventsPublished": sum.EventsPublished, "EventsPending": sum.EventsPending,
		"SignOutsPending": sum.SignOutsPending, "ItemsRead": sum.ItemsRead, "DryRun": sum.DryRun,
	}
	b, _ := json.Marshal(doc)
	fmt.Fprintln(s.Metrics, string(b))
}
