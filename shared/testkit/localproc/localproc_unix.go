//go:build unix && !linux

package localproc

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// procAttr puts the child in its own process group, which Stop and Kill
// signal.
//
// macOS (and the BSDs) have no Pdeathsig, so nothing in the kernel ends the
// child when this process dies without calling Stop (a failed test calling
// os.Exit, a panic, Ctrl-C, a SIGKILL). guard makes up for it as well as a
// user-space process can.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// guard starts a watchdog in the child's process group: a shell that reads
// a pipe whose only write end this process holds. When this process exits,
// by any means, the kernel closes that end; the shell reads EOF and kills
// the whole group with SIGKILL (itself included), as Pdeathsig does on
// Linux — and also the child's own children, which Pdeathsig does not.
// Stop and Kill signal the group, so they end the watchdog along with the
// child. release, called once the child has exited, closes the write end,
// so that whatever the child left in its group goes too and the watchdog
// ends.
//
// It is best effort: if the watchdog cannot be started (no /bin/sh, the
// child already gone) the child runs unguarded, and Stop still works.
func guard(pgid int) (release func()) {
	r, w, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	defer r.Close()
	// Only builtins, so the shell is the group's one extra process.
	sh := exec.Command("/bin/sh", "-c", "while read -r _; do :; done; kill -KILL -"+strconv.Itoa(pgid))
	sh.Stdin = r
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	if err := sh.Start(); err != nil {
		w.Close()
		return func() {}
	}
	go sh.Wait()
	// The goroutine waiting for the child holds release, and release holds
	// w: the write end cannot be collected (and closed by its finalizer)
	// while the child runs.
	return func() { w.Close() }
}
