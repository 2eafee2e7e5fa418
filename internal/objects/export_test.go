package objects

// SetListBatch makes listings read n rows at a time, so that tests cross
// batch boundaries with few keys; the returned func restores it.
func SetListBatch(n int) (restore func()) {
	old := listBatch
	listBatch = n
	return func() { listBatch = old }
}
