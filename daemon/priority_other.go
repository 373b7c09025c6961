//go:build !linux

package daemon

func inBackground() {}
