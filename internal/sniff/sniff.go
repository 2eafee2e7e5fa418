// Package sniff serves TLS and plain TCP connections on one port: it
// splits a listener in two by the first byte a client sends, which is
// 0x16 (a TLS handshake record) for TLS and a letter for HTTP.
//
// Signet's API port uses it so that turning TLS on keeps the http://
// URLs already written into certificates (CRL distribution points, OCSP
// responders) working at the same address, as certificate verifiers
// fetch those only over plain HTTP.
package sniff

import (
	"errors"
	"net"
	"sync"
	"time"
)

// recordTypeHandshake is the content type of the TLS record that opens
// every TLS connection (RFC 8446 section 5.1).
const recordTypeHandshake = 0x16

// Split returns two listeners over l: one accepting the connections
// whose first byte opens a TLS handshake, the other the rest. A
// connection that sends nothing within timeout is closed. Closing both
// returned listeners closes l.
func Split(l net.Listener, timeout time.Duration) (tlsL, plainL net.Listener) {
	s := &splitter{l: l, timeout: timeout, conns: make(map[net.Conn]struct{})}
	s.tls = &sub{s: s, c: make(chan net.Conn), closed: make(chan struct{})}
	s.plain = &sub{s: s, c: make(chan net.Conn), closed: make(chan struct{})}
	go s.run()
	return s.tls, s.plain
}

type splitter struct {
	l          net.Listener
	timeout    time.Duration
	tls, plain *sub

	mu      sync.Mutex
	open    int // sub-listeners not closed
	conns   map[net.Conn]struct{}
	stopped bool
}

func (s *splitter) run() {
	var delay time.Duration
	for {
		c, err := s.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// As net/http does for a temporary failure (out of file
			// descriptors): wait a little, up to a second, and go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return
		}
		go s.route(c)
	}
}

// track records c as being sniffed, so that closing the listeners
// closes it; false when they are closed.
func (s *splitter) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *splitter) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// route reads c's first byte and hands c to the listener it belongs to.
func (s *splitter) route(c net.Conn) {
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(s.timeout))
	n, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	s.untrack(c)
	if err != nil || n == 0 {
		c.Close()
		return
	}
	to := s.plain
	if b[0] == recordTypeHandshake {
		to = s.tls
	}
	select {
	case to.c <- &conn{Conn: c, first: b[0], unread: true}:
	case <-to.closed:
		c.Close()
	}
}

// closeSub is called when one sub-listener closes: when both are, the
// underlying listener and the connections still being sniffed close.
func (s *splitter) closeSub() error {
	s.mu.Lock()
	s.open++
	last := s.open == 2
	var pending []net.Conn
	if last {
		s.stopped = true
		for c := range s.conns {
			pending = append(pending, c)
		}
	}
	s.mu.Unlock()
	if !last {
		return nil
	}
	for _, c := range pending {
		c.Close()
	}
	return s.l.Close()
}

type sub struct {
	s      *splitter
	c      chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *sub) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *sub) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.closed)
		err = l.s.closeSub()
	})
	return err
}

func (l *sub) Addr() net.Addr { return l.s.l.Addr() }

// conn gives back the byte read to route it before the rest.
type conn struct {
	net.Conn
	first  byte
	unread bool
}

func (c *conn) Read(p []byte) (int, error) {
	if c.unread && len(p) > 0 {
		p[0] = c.first
		c.unread = false
		return 1, nil
	}
	return c.Conn.Read(p)
}
