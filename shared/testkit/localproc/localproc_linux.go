package localproc

import "syscall"

// procAttr puts the child in its own process group (Stop and Kill signal
// the group) and has the kernel kill it when this process dies, however it
// dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// guard has nothing to add on Linux: Pdeathsig covers this process's death.
func guard(pgid int) (release func()) { return func() {} }
