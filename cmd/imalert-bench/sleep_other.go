//go:build !linux

package main

import "time"

// sleepUntil sleeps until t with the runtime's timer, which may wake up
// to a millisecond late.
func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }
