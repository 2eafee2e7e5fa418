package sniff

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsL, plainL := Split(l, time.Minute)
	defer tlsL.Close()
	defer plainL.Close()

	tests := map[string]struct {
		first []byte
		want  net.Listener
	}{
		"http":          {[]byte("GET / HTTP/1.1\r\n"), plainL},
		"tls handshake": {[]byte{0x16, 0x03, 0x01, 0x00}, tlsL},
		"one byte":      {[]byte{'P'}, plainL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.first); err != nil {
				t.Fatal(err)
			}
			got, err := tc.want.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			// Every byte comes back, the sniffed one first.
			b := make([]byte, len(tc.first))
			if _, err := io.ReadFull(got, b); err != nil {
				t.Fatal(err)
			}
			if string(b) != string(tc.first) {
				t.Fatalf("read %q, want %q", b, tc.first)
			}
		})
	}
}

// A client that sends nothing is closed after the timeout and does not
// hold up the others.
func TestSplitSilentClient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsL, plainL := Split(l, 50*time.Millisecond)
	defer tlsL.Close()
	defer plainL.Close()
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	got, err := plainL.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	// The silent connection is closed by the server: its read ends
	// (whenever that is; no deadline is asserted here).
	silent.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("silent connection was not closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent connection still open after a minute")
	}
}

// Closing both listeners closes the underlying one; Accept on a closed
// listener says so.
func TestSplitClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsL, plainL := Split(l, time.Minute)
	if err := tlsL.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsL.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	// Still open: the plain side accepts.
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "G")
	got, err := plainL.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	c.Close()
	if err := plainL.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Fatal("the underlying listener still accepts after both halves closed")
	}
}

// Real TLS and HTTP clients through the halves.
func TestSplitServesBoth(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsL, plainL := Split(l, time.Minute)
	defer tlsL.Close()
	defer plainL.Close()
	go func() {
		c, err := plainL.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "plain:"+line)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hello\n")
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "plain:hello\n" {
		t.Fatalf("plain answer %q", b)
	}
	// A TLS ClientHello reaches the TLS half (the handshake itself is
	// not completed: there is no certificate here).
	go tls.Client(mustDial(t, l.Addr().String()), &tls.Config{ServerName: "x"}).Handshake()
	got, err := tlsL.Accept()
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(got, hdr); err != nil || hdr[0] != 0x16 {
		t.Fatalf("TLS half read %x, %v", hdr, err)
	}
	got.Close()
	if !strings.HasPrefix(tlsL.Addr().String(), "127.0.0.1:") {
		t.Fatalf("Addr %s", tlsL.Addr())
	}
}

func mustDial(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
