package ldap

// handoffConn lets go-ldap own a connection for dialing, StartTLS and the
// bind, and then hands the transport to the in-place search reader
// (search.go) without a second connection or bind.
//
// go-ldap's Conn starts a reader goroutine that blocks in Read on the
// net.Conn it was given for as long as the connection lives, and keeps its
// net.Conn private. handoffConn is that net.Conn: it forwards go-ldap's
// reads and writes to the transport (TCP, or TLS over TCP) and can take the
// read side away. hold parks go-ldap's reader: if the reader is inside the
// transport's Read, an expired read deadline brings it out (a timeout is
// not sticky, neither on a TCP conn nor on a *tls.Conn, whose partial
// records stay buffered), and handoffConn.Read then waits instead of
// returning. Only then does anyone else read the transport, so no byte of
// a response can end up in go-ldap's buffer. hold is only called when
// go-ldap has no request outstanding (after a bind or extended operation
// returned), so anything the reader already took belonged to go-ldap.
//
// StartTLS uses the same hand-off (see Source.connect): go-ldap sends the
// extended request and reads its answer, the reader is held, the TLS
// handshake runs on the transport, the *tls.Conn becomes the transport, and
// go-ldap's reader is released onto it. go-ldap's own StartTLS would hide
// the *tls.Conn inside go-ldap, where the search reader could not reach it.

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

type handoffConn struct {
	mu     sync.Mutex
	cond   *sync.Cond
	t      net.Conn // the transport
	held   bool     // go-ldap's reads wait
	inRead bool     // go-ldap's reader is inside t.Read
	closed bool
}

var _ net.Conn = (*handoffConn)(nil)

func newHandoffConn(t net.Conn) *handoffConn {
	h := &handoffConn{t: t}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// Read is go-ldap's reader's read: it waits while the transport is held.
func (h *handoffConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		for h.held && !h.closed {
			h.cond.Wait()
		}
		if h.closed {
			return 0, net.ErrClosed
		}
		t := h.t
		h.inRead = true
		h.mu.Unlock()
		n, err := t.Read(p)
		h.mu.Lock()
		h.inRead = false
		h.cond.Broadcast()
		if h.held && errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				return n, nil
			}
			continue // brought out by hold: wait
		}
		return n, err
	}
}

// hold parks go-ldap's reader and returns the transport, which the caller
// may then read and write on its own until release (or Close).
func (h *handoffConn) hold() net.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = true
	if h.inRead {
		_ = h.t.SetReadDeadline(time.Unix(1, 0))
		for h.inRead {
			h.cond.Wait()
		}
		_ = h.t.SetReadDeadline(time.Time{})
	}
	return h.t
}

// release makes t the transport (the same one, or a *tls.Conn over it) and
// lets go-ldap's reader read it again.
func (h *handoffConn) release(t net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t, h.held = t, false
	h.cond.Broadcast()
}

func (h *handoffConn) transport() net.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.t
}

// Write writes to the transport.
func (h *handoffConn) Write(p []byte) (int, error) { return h.transport().Write(p) }

// Close closes the transport and wakes a parked reader.
func (h *handoffConn) Close() error {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	t := h.t
	h.mu.Unlock()
	return t.Close()
}

// LocalAddr returns the transport's local address.
func (h *handoffConn) LocalAddr() net.Addr { return h.transport().LocalAddr() }

// RemoteAddr returns the transport's remote address.
func (h *handoffConn) RemoteAddr() net.Addr { return h.transport().RemoteAddr() }

// SetDeadline sets the transport's deadlines.
func (h *handoffConn) SetDeadline(t time.Time) error { return h.transport().SetDeadline(t) }

// SetReadDeadline sets the transport's read deadline.
func (h *handoffConn) SetReadDeadline(t time.Time) error { return h.transport().SetReadDeadline(t) }

// SetWriteDeadline sets the transport's write deadline.
func (h *handoffConn) SetWriteDeadline(t time.Time) error { return h.transport().SetWriteDeadline(t) }
