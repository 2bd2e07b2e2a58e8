package tcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hilo-hpc/hilo/transport"
)

// Handshake (before any frame): the lower rank D dials the higher rank A.
//
//	D -> A  hello:     magic "hilo-tcp", version u16, 0 u16, rank D u32, size u32, rank A u32, nonceD [32]
//	A -> D  challenge: magic, version u16, status u16, rank A u32, nonceA [32], macA [32]
//	D -> A  proof:     macD [32]
//	A -> D  verdict:   1 byte (verdictOK, verdictAuth, verdictRefused)
//
// mac(role) = HMAC-SHA256(key, "hilo-tcp handshake" || role || version || size
// || rank D || rank A || nonceD || nonceA), role 'A' for macA and 'D' for macD.
// Each side proves it holds the key over a nonce the other side has just
// drawn from crypto/rand, so a recorded handshake cannot be replayed; the
// role byte stops a reflection of macA back as macD; both ranks and the job
// size are bound, so a proof for one pair of ranks is worthless for another.
// A status other than statusOK in the challenge (wrong version, ranks that do
// not fit this job) carries no nonce or MAC and ends the handshake.
const (
	protocolVersion = 1
	nonceSize       = 32
	macSize         = sha256.Size
	helloSize       = 8 + 2 + 2 + 4 + 4 + 4 + nonceSize
	challengeSize   = 8 + 2 + 2 + 4 + nonceSize + macSize
)

var handshakeMagic = [8]byte{'h', 'i', 'l', 'o', '-', 't', 'c', 'p'}

const (
	statusOK         = 0
	statusVersion    = 1 // the acceptor speaks another protocol version
	statusWrongRanks = 2 // rank or size in the hello do not fit the acceptor's job
)

const (
	verdictOK      = 1
	verdictAuth    = 2 // the proof did not verify
	verdictRefused = 3 // authenticated, but the rank is already connected or not expected
)

// errRefused marks a refusal that retrying will not cure.
var errRefused = errors.New("refused")

type hello struct {
	version    uint16
	dialer     uint32
	size       uint32
	acceptor   uint32
	dialerNonc [nonceSize]byte
}

func (h *hello) marshal() []byte {
	b := make([]byte, helloSize)
	copy(b, handshakeMagic[:])
	binary.BigEndian.PutUint16(b[8:], h.version)
	binary.BigEndian.PutUint32(b[12:], h.dialer)
	binary.BigEndian.PutUint32(b[16:], h.size)
	binary.BigEndian.PutUint32(b[20:], h.acceptor)
	copy(b[24:], h.dialerNonc[:])
	return b
}

func parseHello(b []byte) (hello, error) {
	var h hello
	if [8]byte(b[:8]) != handshakeMagic {
		return h, fmt.Errorf("%w: not a hilo-tcp hello (first bytes %q)", transport.ErrProtocol, b[:8])
	}
	if b[10] != 0 || b[11] != 0 {
		return h, fmt.Errorf("%w: reserved bytes set in hello", transport.ErrProtocol)
	}
	h.version = binary.BigEndian.Uint16(b[8:])
	h.dialer = binary.BigEndian.Uint32(b[12:])
	h.size = binary.BigEndian.Uint32(b[16:])
	h.acceptor = binary.BigEndian.Uint32(b[20:])
	copy(h.dialerNonc[:], b[24:])
	return h, nil
}

// handshakeMAC computes the proof of the given role ('A' or 'D').
func handshakeMAC(key []byte, role byte, size, dialer, acceptor uint32, nonceD, nonceA *[nonceSize]byte) [macSize]byte {
	m := hmac.New(sha256.New, key)
	var b [2 + 2 + 12]byte
	b[0] = role
	binary.BigEndian.PutUint16(b[2:], protocolVersion)
	binary.BigEndian.PutUint32(b[4:], size)
	binary.BigEndian.PutUint32(b[8:], dialer)
	binary.BigEndian.PutUint32(b[12:], acceptor)
	m.Write([]byte("hilo-tcp handshake"))
	m.Write(b[:])
	m.Write(nonceD[:])
	m.Write(nonceA[:])
	var out [macSize]byte
	m.Sum(out[:0])
	return out
}

// dialHandshake runs the dialer's side on rw. rank < peer. An error wrapping
// transport.ErrAuth or errRefused means retrying will not help.
func dialHandshake(rw io.ReadWriter, key []byte, rank, peer, size int) error {
	h := hello{version: protocolVersion, dialer: uint32(rank), size: uint32(size), acceptor: uint32(peer)}
	if _, err := rand.Read(h.dialerNonc[:]); err != nil {
		return err
	}
	if _, err := rw.Write(h.marshal()); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	var c [challengeSize]byte
	if _, err := io.ReadFull(rw, c[:]); err != nil {
		return fmt.Errorf("reading challenge: %w", err)
	}
	if [8]byte(c[:8]) != handshakeMagic {
		return fmt.Errorf("%w: %w: the peer does not speak hilo-tcp", errRefused, transport.ErrProtocol)
	}
	version := binary.BigEndian.Uint16(c[8:])
	switch status := binary.BigEndian.Uint16(c[10:]); status {
	case statusOK:
	case statusVersion:
		return fmt.Errorf("%w: %w: peer speaks hilo-tcp version %d, this rank %d", errRefused, transport.ErrProtocol, version, protocolVersion)
	case statusWrongRanks:
		return fmt.Errorf("%w: the listener is not rank %d of a %d-rank job (or does not expect rank %d)", errRefused, peer, size, rank)
	default:
		return fmt.Errorf("%w: %w: unknown handshake status %d", errRefused, transport.ErrProtocol, status)
	}
	if got := binary.BigEndian.Uint32(c[12:]); got != uint32(peer) {
		return fmt.Errorf("%w: the listener says it is rank %d, expected %d", errRefused, got, peer)
	}
	var nonceA [nonceSize]byte
	copy(nonceA[:], c[16:])
	want := handshakeMAC(key, 'A', uint32(size), uint32(rank), uint32(peer), &h.dialerNonc, &nonceA)
	if !hmac.Equal(want[:], c[16+nonceSize:]) {
		return fmt.Errorf("%w: rank %d did not prove it holds the job key (do both ranks have the same HILO_JOB_KEY?)", transport.ErrAuth, peer)
	}
	proof := handshakeMAC(key, 'D', uint32(size), uint32(rank), uint32(peer), &h.dialerNonc, &nonceA)
	if _, err := rw.Write(proof[:]); err != nil {
		return fmt.Errorf("sending proof: %w", err)
	}
	var v [1]byte
	if _, err := io.ReadFull(rw, v[:]); err != nil {
		return fmt.Errorf("reading verdict: %w", err)
	}
	switch v[0] {
	case verdictOK:
		return nil
	case verdictAuth:
		return fmt.Errorf("%w: rank %d refused this rank's proof of the job key", transport.ErrAuth, peer)
	case verdictRefused:
		return fmt.Errorf("%w: rank %d already has a connection from rank %d or does not expect one", errRefused, peer, rank)
	}
	return fmt.Errorf("%w: %w: unknown verdict %d", errRefused, transport.ErrProtocol, v[0])
}

// acceptHandshake runs the acceptor's side on rw and returns the dialer's
// authenticated rank. expect reports whether a dialer rank belongs to this
// job's TCP peers (checked before the proof; it decides nothing). admit is
// called once the proof has verified and decides whether the connection is
// taken (false: a duplicate or one that came too late). On an error the rank
// returned is -1, or the admitted rank when only the last write failed.
func acceptHandshake(rw io.ReadWriter, key []byte, rank, size int, expect func(int) bool, admit func(int) bool) (int, error) {
	var hb [helloSize]byte
	if _, err := io.ReadFull(rw, hb[:]); err != nil {
		return -1, fmt.Errorf("reading hello: %w", err)
	}
	h, err := parseHello(hb[:])
	if err != nil {
		return -1, err
	}
	var c [challengeSize]byte
	copy(c[:], handshakeMagic[:])
	binary.BigEndian.PutUint16(c[8:], protocolVersion)
	binary.BigEndian.PutUint32(c[12:], uint32(rank))
	refuse := func(status uint16) {
		binary.BigEndian.PutUint16(c[10:], status)
		rw.Write(c[:]) // best effort: the dialer learns why
	}
	if h.version != protocolVersion {
		refuse(statusVersion)
		return -1, fmt.Errorf("%w: hello of version %d, this rank speaks %d", transport.ErrProtocol, h.version, protocolVersion)
	}
	if h.size != uint32(size) || h.acceptor != uint32(rank) || h.dialer >= uint32(rank) || !expect(int(h.dialer)) {
		refuse(statusWrongRanks)
		return -1, fmt.Errorf("%w: hello claims rank %d of %d dialing rank %d; this is rank %d of %d", transport.ErrAuth, h.dialer, h.size, h.acceptor, rank, size)
	}
	var nonceA [nonceSize]byte
	if _, err := rand.Read(nonceA[:]); err != nil {
		return -1, err
	}
	copy(c[16:], nonceA[:])
	macA := handshakeMAC(key, 'A', h.size, h.dialer, uint32(rank), &h.dialerNonc, &nonceA)
	copy(c[16+nonceSize:], macA[:])
	if _, err := rw.Write(c[:]); err != nil {
		return -1, fmt.Errorf("sending challenge: %w", err)
	}
	var proof [macSize]byte
	if _, err := io.ReadFull(rw, proof[:]); err != nil {
		return -1, fmt.Errorf("%w: no proof of the job key from claimed rank %d: %w", transport.ErrAuth, h.dialer, err)
	}
	want := handshakeMAC(key, 'D', h.size, h.dialer, uint32(rank), &h.dialerNonc, &nonceA)
	if !hmac.Equal(want[:], proof[:]) {
		rw.Write([]byte{verdictAuth})
		return -1, fmt.Errorf("%w: claimed rank %d failed to prove it holds the job key", transport.ErrAuth, h.dialer)
	}
	if !admit(int(h.dialer)) {
		rw.Write([]byte{verdictRefused})
		return -1, fmt.Errorf("%w: rank %d authenticated but is already connected or no longer expected", errRefused, h.dialer)
	}
	if _, err := rw.Write([]byte{verdictOK}); err != nil {
		// Admitted but broken: the caller must take the admission back.
		return int(h.dialer), fmt.Errorf("sending verdict: %w", err)
	}
	return int(h.dialer), nil
}
