// Command dev runs Dormancy on this machine (make dev). Ctrl-C stops all of
// it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dormancy/dormancy/infra/local"
)

func main() {
	o := local.Defaults()
	seed := flag.Bool("seed", false, "create sample users and records")
	schedule := flag.String("schedule", "", "the sweep's schedule (default: cdk.json's)")
	flag.Parse()
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	// The policy and schedule cdk deploy would use; the shell overrides.
	if err := o.FromCDKContext("cdk.json", os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
	if *schedule != "" {
		o.Schedule = *schedule
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := local.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
	defer s.Close()
	if *seed {
		res, err := s.Seed(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "make dev: seed:", err)
			os.Exit(1)
		}
		for _, u := range res.Users {
			fmt.Printf("  seeded %-11s %v password %s\n", u.Username, u.Groups, u.Password)
		}
	}
	fmt.Printf(`
Dormancy is running on this machine.

  admin console       %s        open it in a browser; sign in as a user of the pool
  REST API            %s        (Authorization: <idToken> from a sign-in)
  Lambda Invoke API   %s        functions LoginHook, Sweeper, Reassign, Api
  sign in             POST %s/local/signin {"username","password"}
  clock               GET|POST %s/local/clock {"advance":"1104h"}
  seed data           POST %s/local/seed
                      (every POST on %s: Content-Type: application/json)
  user pool           %s  pool %s, client %s
  DynamoDB Local      http://127.0.0.1:%d  tables dormancy-users, -audit, -records, -outbox
  sweep schedule      %s (on the movable clock)

Ctrl-C stops everything.
`, s.ConsoleURL, s.APIURL, s.InvokeURL, s.InvokeURL, s.InvokeURL, s.InvokeURL, s.InvokeURL, "http://127.0.0.1:9229", s.PoolID, s.ClientID, o.DynamoPort, o.Schedule)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping...")
}
