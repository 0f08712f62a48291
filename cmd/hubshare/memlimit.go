package main

import (
	"os"
	"runtime/debug"
)

// heapHeadroom is the memory allowed beyond the decoding budget for
// everything else the server holds: caches, connections, buffers.
const heapHeadroom = 64 << 20

// limitHeap sets the collector's soft memory limit to the decoding budget
// plus headroom, unless GOMEMLIMIT already chose one. Decoding frees its
// pixels in blocks of hundreds of megabytes; without a limit the collector
// lets the heap grow to twice what is live before it reuses them, so one
// image after another would take the process to about twice the budget.
func limitHeap(maxDecodeMemory int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(maxDecodeMemory + heapHeadroom)
}
