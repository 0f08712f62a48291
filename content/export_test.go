package content

// SetSweepBatch changes the sweep's batch size for a test and returns a
// function that restores it.
func SetSweepBatch(n int) (restore func()) {
	old := sweepBatch
	sweepBatch = n
	return func() { sweepBatch = old }
}
