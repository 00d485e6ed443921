package deepidv

import (
	"os/exec"
	"syscall"
)

// dieWithUs has the kernel kill cmd when this test process dies, however it dies.
func dieWithUs(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
