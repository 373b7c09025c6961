package delivery

// SetHeldChunk makes countHeld read n held pages at a time until the test
// ends.
func SetHeldChunk(cleanup func(func()), n int) {
	prev := heldChunk
	heldChunk = n
	cleanup(func() { heldChunk = prev })
}
