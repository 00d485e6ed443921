//go:build !linux

package deepidv

import "os/exec"

// dieWithUs: only Linux has a parent-death signal; elsewhere TestMain's own Kill has to do.
func dieWithUs(*exec.Cmd) {}
