package delivery

// SetHeldChunk makes countHeld read n held pages at a time until the test
// ends.
func SetHeldChunk(cleanup func(func()), n int) {
	prev := heldChunk
	heldChunk = n
	cleanup(func() { heldChunk = prev })
}

// SetHoldChunk makes a spent budget hold n pending pages at a time until
// the test ends.
func SetHoldChunk(cleanup func(func()), n int) {
	prev := holdChunk
	holdChunk = n
	cleanup(func() { holdChunk = prev })
}
