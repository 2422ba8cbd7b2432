// Package localproc runs the local services tests and the local stack need
// (DynamoDB Local, cognito-local) as child processes in their own process
// group, so that stopping one leaves no process, and no port, behind.
//
// What happens when this process dies without stopping them is per OS:
// on Linux the kernel kills the child (Pdeathsig, localproc_linux.go); on
// other Unix systems (macOS) a watchdog does it (localproc_unix.go).
package localproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Process is a running service.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort asks the kernel for a free port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Port is the port a local service named name starts on: port, or a free
// one for 0; an error when something already answers on it.
func Port(name string, port int) (int, error) {
	if port == 0 {
		return FreePort()
	}
	if InUse(port) {
		return 0, fmt.Errorf("port %d is already in use: is another %s (or make dev) running?", port, name)
	}
	return port, nil
}

// InUse reports whether something already answers on 127.0.0.1:port.
func InUse(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// Start runs cmd and polls ready until it succeeds, the process exits, or
// timeout passes. logVar names a variable that, when set, sends the
// process's output to stderr.
func Start(name string, cmd *exec.Cmd, logVar string, ready func() error, timeout time.Duration) (*Process, error) {
	cmd.SysProcAttr = procAttr()
	if os.Getenv(logVar) != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	release := guard(cmd.Process.Pid)
	go func() { cmd.Wait(); release(); close(p.done) }()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start (set %s=1 to see why)", name, logVar)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("%s did not answer within %s: %w", name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the process group: politely, then by force after 5 s.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.Kill()
	}
}

// Kill ends the process group at once, as a crash would.
func (p *Process) Kill() {
	if p == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
