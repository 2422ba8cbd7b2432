// Command withddb runs a command with DynamoDB Local started for it: it
// starts the emulator, sets AWS_ENDPOINT_URL_DYNAMODB for the command, and
// stops the emulator when the command ends, whatever its outcome.
//
//	withddb [-port N] -- go test ./...
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/dormancy/dormancy/shared/testkit/dynamotest"
)

func main() {
	port := flag.Int("port", 0, "port for DynamoDB Local (0: any free port)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: withddb [-port N] -- command args...")
		os.Exit(2)
	}
	dir, err := dynamotest.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "withddb:", err)
		os.Exit(2)
	}
	l, err := dynamotest.Start(dir, *port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "withddb:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "withddb: DynamoDB Local at", l.Endpoint)
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), dynamotest.EndpointVar+"="+l.Endpoint)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		if cmd.Process != nil {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Run()
	l.Stop()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "withddb:", err)
		os.Exit(1)
	}
}
