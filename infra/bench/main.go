// Command bench measures Dormancy against DynamoDB Local and prints each
// figure as a ratio to a baseline taken in the same run, so the machine's
// speed cancels out. It writes the same figures to build/bench.json.
//
//	make bench            (starts DynamoDB Local, builds the bootstraps)
//	go run ./infra/bench  (with AWS_ENDPOINT_URL_DYNAMODB set)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

// Figure is one measurement against its baseline.
type Figure struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	Target   string  `json:"target"`
	Holds    bool    `json:"holds"`
}

// atMost and atLeast build a figure whose ratio (value/baseline) must stay
// at or below, or at or above, a bound.
func atMost(name, unit string, value, baseline, bound float64) Figure {
	r := value / baseline
	return Figure{name, value, unit, baseline, round(r), fmt.Sprintf("ratio <= %g", bound), r <= bound}
}

func atLeast(name, unit string, value, baseline, bound float64) Figure {
	r := value / baseline
	return Figure{name, value, unit, baseline, round(r), fmt.Sprintf("ratio >= %g", bound), r >= bound}
}

func info(name, unit string, value float64) Figure {
	return Figure{Name: name, Value: value, Unit: unit, Target: "reported", Holds: true}
}

// reported is a ratio shown beside a target for context, not held to one.
func reported(name, unit string, value, baseline float64) Figure {
	return Figure{name, value, unit, baseline, round(value / baseline), "reported", true}
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func main() {
	users := flag.Int("users", 100000, "users in the sweep measurement")
	samples := flag.Int("samples", 2000, "login hook calls per measurement")
	out := flag.String("out", "build/bench.json", "where to write the figures")
	listUsers := flag.Int("list-users", 20000, "users in the listing measurement")
	syncUsers := flag.Int("sync-users", 5000, "pool users in the pool sync measurement")
	syncRPS := flag.Float64("sync-rps", 20, "the pool sync's (and the bare paging's) Cognito calls per second")
	only := flag.String("only", "", "comma-separated subset: loginhook,sweeper,listing,poolsync,reassign,coldstart")
	flag.Parse()
	endpoint := os.Getenv(dynamotest.EndpointVar)
	if endpoint == "" {
		fmt.Fprintln(os.Stderr, "bench: set AWS_ENDPOINT_URL_DYNAMODB (make bench starts DynamoDB Local)")
		os.Exit(2)
	}
	ctx := context.Background()
	want := func(n string) bool { return *only == "" || strings.Contains(*only, n) }
	var figs []Figure
	run := func(name string, f func() ([]Figure, error)) {
		if !want(name) {
			return
		}
		fmt.Fprintf(os.Stderr, "bench: %s...\n", name)
		start := time.Now()
		got, err := f()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", name, err)
			figs = append(figs, Figure{Name: name, Target: "runs", Holds: false})
			return
		}
		fmt.Fprintf(os.Stderr, "bench: %s done in %s\n", name, time.Since(start).Round(time.Millisecond))
		figs = append(figs, got...)
	}
	db := dynamotest.NewClient(endpoint)
	run("loginhook", func() ([]Figure, error) { return benchLoginHook(ctx, db, *samples) })
	run("sweeper", func() ([]Figure, error) { return benchSweeper(ctx, db, *users) })
	run("listing", func() ([]Figure, error) { return benchListing(ctx, db, *listUsers) })
	run("poolsync", func() ([]Figure, error) { return benchPoolSync(ctx, db, *syncUsers, *syncRPS) })
	run("reassign", func() ([]Figure, error) { return benchReassign(ctx, db) })
	run("coldstart", func() ([]Figure, error) { return benchColdStart(ctx, endpoint) })

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tvalue\tunit\tbaseline\tratio\ttarget\tholds")
	for _, f := range figs {
		fmt.Fprintf(tw, "%s\t%.4g\t%s\t%.4g\t%.3f\t%s\t%v\n", f.Name, f.Value, f.Unit, f.Baseline, f.Ratio, f.Target, f.Holds)
	}
	tw.Flush()
	status := 0
	b, _ := json.MarshalIndent(figs, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		status = 1
	} else if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		status = 1
	} else {
		fmt.Fprintln(os.Stderr, "bench: figures written to", *out)
	}
	// Every figure is printed and written first; then a target that does
	// not hold, or a measurement that could not run (Holds false, target
	// "runs"), makes the bench exit 1, so that `make bench` fails.
	var missed []string
	for _, f := range figs {
		if !f.Holds {
			missed = append(missed, f.Name)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: %d of %d targets hold\n", len(figs)-len(missed), len(figs))
	if len(missed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: missed: %s\n", strings.Join(missed, ", "))
		status = 1
	}
	os.Exit(status)
}

// percentile of durations, in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}
