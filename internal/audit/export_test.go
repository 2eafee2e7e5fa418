package audit

import "time"

// SetTick makes w sign its Interval checkpoints at the ticks of c
// instead of a real ticker's. Call it before the first Append.
func SetTick(w *Writer, c <-chan time.Time) { w.tick = c }
