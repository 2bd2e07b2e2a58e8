package transport

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package and its
// sub-packages wraps one of these where one applies; test with errors.Is.
var (
	// ErrTimeout: a deadline or context expired before the operation finished.
	ErrTimeout = errors.New("transport: timeout")
	// ErrPeerLost: the peer process died, its node went away or its
	// connection broke.
	ErrPeerLost = errors.New("transport: peer lost")
	// ErrAuth: a peer failed to prove it holds the job key, or no key was given.
	ErrAuth = errors.New("transport: authentication failed")
	// ErrProtocol: bytes from a peer (a frame, a header, an index in shared
	// memory) broke the protocol.
	ErrProtocol = errors.New("transport: protocol violation")
	// ErrTruncated: a message is larger than the buffer posted for it.
	ErrTruncated = errors.New("transport: message larger than receive buffer")
	// ErrClosed: the Comm, link or channel was closed.
	ErrClosed = errors.New("transport: closed")
)

// OpError describes a failed operation: which rank did what with which peer.
type OpError struct {
	Op   string // "send", "recv", "barrier", "allreduce", "claim", ...
	Rank int    // this rank
	Peer int    // the peer involved, or -1
	Tag  int64  // the tag involved, or -1
	Kind string // medium of the link involved, if any: "shm", "tcp", "inproc"
	Err  error
}

func (e *OpError) Error() string {
	s := fmt.Sprintf("rank %d: %s", e.Rank, e.Op)
	if e.Peer >= 0 {
		s += fmt.Sprintf(" peer %d", e.Peer)
	}
	if e.Kind != "" {
		s += " over " + e.Kind
	}
	if e.Tag >= 0 {
		s += fmt.Sprintf(" tag %d", e.Tag)
	}
	return s + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }
