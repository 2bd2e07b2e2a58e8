// Package tcp is hilo's medium between nodes: authenticated, framed TCP
// connections between ranks, each exposed as a transport.Link.
//
// # Connecting
//
// Every rank calls Listen, publishes Listener.Addr, learns its peers'
// addresses (the launcher's rendezvous does that), then calls Connect with
// the job key. There is one connection per pair of ranks: the lower rank
// dials the higher one, retrying until the context expires, since the peer
// may not listen yet; the higher one accepts. After Connect returns, the
// listener keeps accepting (until closed) only to refuse and log whoever
// else connects.
//
// # Handshake
//
// Before a single byte from a peer is read as data, both sides prove they
// hold the job key (Config.Key, from HILO_JOB_KEY): the dialer sends a hello
// (magic "hilo-tcp", protocol version, its rank, the job size, the rank it
// means to reach, a 32-byte nonce from crypto/rand); the acceptor answers
// with its own nonce and HMAC-SHA256(key, role 'A', version, size, both
// ranks, both nonces); the dialer checks it (hmac.Equal) and answers with
// the same MAC for role 'D'; the acceptor checks that and sends a one-byte
// verdict. Fresh nonces on both sides defeat replay, the role byte defeats
// reflection, and binding both ranks and the size makes a proof useless for
// any other pair or job. The whole handshake has a 5 s deadline (or the
// context's, if earlier). A dialer with a wrong key gets an error wrapping
// transport.ErrAuth at once; Connect without a key refuses to start.
//
// # What a stranger sees
//
// A client that is not a rank of this job gets at most a challenge (a nonce
// and a MAC it can do nothing with) and then a closed connection: garbage,
// a wrong or missing proof, a replayed or reflected proof, a rank outside the
// job, a second connection for a rank already connected, or silence past the
// 5 s deadline. Each refusal is reported through Config.Logf with the remote
// address and the reason; the job's links are not disturbed, and at most 64
// handshakes run at once.
//
// # Frames
//
// After the handshake each direction is a stream of frames: a 24-byte
// big-endian header (type u8, flags u8, reserved u16, tag u32, sequence u32,
// payload length u32, aux u64) and the payload. Types: message start (aux =
// message size), message continuation, persistent-channel data (tag =
// channel id), channel credit, channel open, bye. A frame carries at most
// 64 MiB (MaxFramePayload); larger messages are split (the sender cuts frames
// no larger than its send buffer). The reader checks every header: unknown
// type, reserved bits, a length over the limit, a sequence gap, a
// continuation without a message, more data than announced or more channel
// slots than agreed all fail the link with an error wrapping
// transport.ErrProtocol; nothing a peer sends can make it panic or allocate
// without bound.
//
// # Links
//
// SendSome frames the message into a bounded send buffer and makes
// non-blocking write(2) attempts from the caller's goroutine; a writer
// goroutine carries the rest and rings the Doorbell when space frees up. A
// frame of 64 KiB or more (a large message's, or a persistent channel's
// committed slot) that finds the send buffer empty leaves straight from the
// caller's memory, header and payload in one writev(2); only what the
// kernel does not take at once is copied into the send buffer.
// Receiving decodes frames incrementally with non-blocking reads, done by
// the caller itself when PeekHeader, RecvSome or Acquire find nothing
// buffered (at most one such read per 10 µs per link when the socket is
// empty), and otherwise by a reader goroutine that waits in the netpoller
// and rings the Doorbell. A Comm waiting for one peer polls its socket in a
// loop for Config.Spin (50 µs by default, see transport.Poller) before it
// sleeps, so that a quick reply costs no goroutine hand-off. Messages go
// into a bounded receive buffer (when it is full, reading stops and TCP flow
// control holds back the sender).
// Persistent channels are credit-based: Commit sends the claimed slot as one
// frame, the receiver reads it straight into its own slot, and Release
// returns a credit; the message and channel paths allocate nothing per
// message.
//
// # Timeouts and a dead peer
//
// Sockets have TCP_NODELAY (and, between two loopback addresses, Reno
// congestion control instead of a pacing one such as BBR: see
// loopbackCongestion), keep-alive probes after 1 s idle every 1 s
// (3 probes) and TCP_USER_TIMEOUT of 3 s, so a node that vanishes is noticed
// in a few seconds; a peer process that dies is noticed at once (its kernel
// closes the connection). From then on Check and every send report an error
// wrapping transport.ErrPeerLost that names the peer rank; receives first
// deliver what had already arrived.
package tcp
