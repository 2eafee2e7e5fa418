package server

import (
	"crypto/tls"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCertSourceRenews: a self-issued certificate past two thirds of its
// life is issued again in the background, once however many handshakes
// ask, and handshakes are answered with the current one meanwhile; a
// failing issuer is retried at most once a minute.
func TestCertSourceRenews(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	var issued atomic.Int32
	release := make(chan struct{})
	fail := atomic.Bool{}
	src := &certSource{now: func() time.Time { return *now.Load() }}
	src.issue = func() (*tls.Certificate, error) {
		n := issued.Add(1)
		if n > 1 {
			<-release
		}
		if fail.Load() {
			return nil, errTest
		}
		nb := *now.Load()
		return &tls.Certificate{Leaf: &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(90 * time.Hour), SerialNumber: nil}, Certificate: [][]byte{{byte(n)}}}, nil
	}
	if err := src.load(); err != nil {
		t.Fatal(err)
	}
	first, _ := src.get(nil)
	later := start.Add(61 * time.Hour)
	now.Store(&later)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, _ := src.get(nil); c != first {
				t.Error("a handshake got another certificate before the renewal finished")
			}
		}()
	}
	wg.Wait()
	close(release)
	src.renewals.Wait()
	if c, _ := src.get(nil); c == first {
		t.Fatal("not renewed")
	}
	if n := issued.Load(); n != 2 {
		t.Fatalf("issued %d times, want 2 (start and one renewal)", n)
	}
	// A failing issuer: one attempt, then none until a minute has passed.
	fail.Store(true)
	even := later.Add(61 * time.Hour)
	now.Store(&even)
	src.get(nil)
	src.renewals.Wait()
	for range 10 {
		src.get(nil)
	}
	src.renewals.Wait()
	if n := issued.Load(); n != 3 {
		t.Fatalf("a failing renewal was tried %d times within a minute, want once", n-2)
	}
	minute := even.Add(time.Minute)
	now.Store(&minute)
	src.get(nil)
	src.renewals.Wait()
	if n := issued.Load(); n != 4 {
		t.Fatalf("a minute later the renewal was not tried again (%d)", n)
	}
}

var errTest = errTestT("issuer down")

type errTestT string

func (e errTestT) Error() string { return string(e) }
