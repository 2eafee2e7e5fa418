package signing

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// epochStore counts its reads of the revocation count and answers each
// with the count as it was when the read started; the first read waits
// for release.
type epochStore struct {
	Store
	count   atomic.Int64
	reads   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func (s *epochStore) RevocationEpoch(ctx context.Context) (int64, error) {
	n := s.count.Load()
	if s.reads.Add(1) == 1 {
		close(s.started)
		<-s.release
	}
	return n, nil
}

// TestEpochReadsShared: callers that arrive while a read of the
// revocation count is in flight share the next read, which starts after
// they arrived: none gets a count read before it asked (a revocation
// answered before then is seen), and a burst costs two reads.
func TestEpochReadsShared(t *testing.T) {
	st := &epochStore{started: make(chan struct{}), release: make(chan struct{})}
	st.count.Store(1)
	var e epochReads
	ctx := context.Background()
	first := make(chan int64)
	go func() { n, _ := e.read(ctx, st); first <- n }()
	<-st.started
	st.count.Store(2) // a revocation answered while the first read is in flight
	var wg sync.WaitGroup
	got := make([]int64, 20)
	for i := range got {
		wg.Go(func() { got[i], _ = e.read(ctx, st) })
	}
	// Once every caller waits for the next read, the first may finish.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		e.mu.Lock()
		waiting := e.next != nil && e.next.joined == len(got)
		e.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the callers did not all wait for the next read")
		}
	}
	close(st.release)
	if n := <-first; n != 1 {
		t.Errorf("the first caller got %d, want 1 (its read started before the revocation)", n)
	}
	wg.Wait()
	for i, n := range got {
		if n != 2 {
			t.Errorf("caller %d got %d, want 2: a count read before it arrived", i, n)
		}
	}
	if r := st.reads.Load(); r != 2 {
		t.Errorf("%d reads for 21 callers, want 2", r)
	}
	if e.running || e.next != nil {
		t.Error("a read is still marked running")
	}
}
