// Package shm is hilo's node-local transport: ranks that are separate
// processes on one machine exchange messages through shared memory, with
// single-producer/single-consumer rings, futex doorbells and persistent
// channels whose slots the receiver reads in place.
//
// # Joining
//
// Join creates this rank's segment as a memfd (memfd_create, ftruncate,
// fallocate so that a lack of memory fails now rather than as a SIGBUS in
// the middle of an exchange, then sealed against shrinking and growing so
// that no peer holding the fd can truncate it under our mapping). It listens
// on an abstract-namespace Unix socket (SOCK_SEQPACKET) named after the uid,
// a hash of the JobID and the rank; lower ranks dial higher ones, so there is
// one connection per pair. Each side checks the other's SO_PEERCRED (same
// uid, else ErrAuth), sends a hello carrying its segment fd (SCM_RIGHTS)
// and where in that segment the peer's outbound ring lies, and opens a pidfd
// on the peer's pid. The connection stays open as the control channel: EOF
// means the peer is gone, and persistent channels' memfds travel over it.
//
// # Segment layout
//
// Every rank owns one segment holding its heartbeat word (own cache line),
// its doorbell (sequence and sleeper count, own cache line) and, from offset
// 4096, one ring per peer carrying that peer's messages to it (see
// segment.go and ring.go for the byte layout).
//
// A ring lives in the receiver's segment: stores are buffered and drain in
// the background while loads stall, so the memory is better placed near the
// reader (first touch and fallocate place it on the receiver's NUMA node),
// and the receiver chooses how much memory it lends to incoming traffic.
//
// # Rings and happens-before
//
// A ring is a region of 256 bytes of control plus a power-of-two data area.
// head (bytes ever written) is stored only by the producer, tail (bytes ever
// consumed) only by the consumer; they sit 128 bytes apart so neither
// side's store invalidates the other's line, nor its prefetch neighbour.
// Both stay 8-aligned: records are a 24-byte header (magic, tag, length,
// sequence number) followed by the payload padded to 8, and a message
// larger than the free space streams through in pieces whose ends are
// 8-aligned.
//
// Cross-process memory is outside the Go memory model, so the argument rests
// on the hardware, as in cilium/ebpf's ringbuf reader. Under x86-TSO
// stores become visible in program order, loads are not reordered with
// older loads, nor stores with older loads: a plain MOV store is a release
// store and a plain MOV load (Go's atomic load on amd64) an acquire load.
// Publications (head, the fastbox's sequence words and tail, the Stats
// counters) therefore use storeRelease64, a plain MOV in assembly, rather
// than Go's atomic store, an XCHG that stalls the core until it owns the
// line; under the race detector and on other architectures it is
// sync/atomic's store (STLR on arm64). Words that take part in a
// Dekker-style handshake (the ring's tail and wait flag, the doorbell)
// need StoreLoad order and keep sync/atomic.
//
//   - Producer: copy the payload into the data area (plain stores), then
//     store the new head (release). Any consumer that loads that head value
//     therefore sees the payload.
//   - Consumer: atomically load head, then read the data below it (plain
//     loads that cannot pass the head load), then atomically store the new
//     tail. The producer writes a byte at stream position p only after it
//     has loaded a tail t with p < t+capacity, and the consumer's reads of
//     every byte below t preceded its store of t, so no byte is overwritten
//     while it is still being read.
//
// Each side keeps its own index in private memory and a cached copy of the
// other's, reloading it only when the cache says there is not enough data or
// space; it never trusts the shared copy of its own index. Every index read
// from shared memory is checked: the head must be 8-aligned, not go backwards
// and stay within capacity of the tail; the tail must be 8-aligned, not go
// backwards nor pass the head; a record header must carry the magic and a
// length below 2^40. A violation is an error wrapping transport.ErrProtocol
// (sticky for the link), never a panic or an access out of bounds: a peer
// writing garbage into shared memory can only make this rank read wrong
// bytes or report an error.
//
// # Fastbox
//
// Beside each ring lie 64 cache-line slots, the fastbox (fastbox.go), which
// carries messages of up to 272 bytes as Open MPI's vader BTL does: each
// slot begins with the sequence number of the message that last wrote it,
// the writer stores the first slot's sequence number last, and the reader
// polls the next slot for the number it expects, so one cache line carries
// both the publication and the data. Every message on a link has a
// sequence number, also in ring records, so the reader delivers in order
// whichever way each message went; the writer falls back to the ring when
// the message is larger or the fastbox is full, and never waits for it.
// Slots are validated like ring indices (length, continuation numbers).
//
// # Persistent channels
//
// The sending side creates a separate sealed memfd with a fixed number of
// slots and passes it over the control socket; the receiver checks its shape
// against its own arguments and acknowledges. Each slot has a header word
// (generation<<32 | length) that only the sender stores after writing the
// slot's data, and a released counter on its own cache line that only the
// receiver stores after reading. The same ordering argument as for rings
// applies; the length is checked against the slot size before the receiver
// gets a slice. Claim, Commit, Acquire and Release allocate nothing.
//
// # Waiting
//
// Every rank has a doorbell: a 32-bit sequence word and a count of sleepers
// in its own segment. After publishing data for a peer or freeing ring or
// slot space the peer may wait for, a link rings the peer's doorbell: an
// atomic add on the sequence, then a FUTEX_WAKE (without FUTEX_PRIVATE_FLAG:
// the word is shared between processes, so the kernel keys it by page) only
// if the count is not zero. Sleep spins on the sequence for a short budget
// (20 µs, with PAUSE between loads), or, when ranks outnumber CPUs and a
// spin would only steal the CPU of the rank being waited for, polls it with
// sched_yield between loads for up to 150 µs (a futex wake-up costs 50-60
// µs on the test VM; Open MPI polls the same way). Then it increments the
// count, re-reads the sequence and calls FUTEX_WAIT with the expected value
// and a timeout (again after a signal interrupts it, until the sequence
// moves or the time is up). The increment precedes the re-read and a
// ringer's add precedes its load of the count, so either the sleeper sees the new sequence or the ringer sees the
// sleeper; and a wake that comes before the wait makes FUTEX_WAIT return at
// once, as the word no longer holds the expected value. No wake-up is lost,
// and a busy exchange makes no system calls.
//
// Freed space is signalled the same way, one level down: a writer that finds
// its ring full (or a channel sender that finds no free slot) raises a wait
// flag in the ring's (channel's) header and looks at the tail once more; the
// reader stores the tail, then loads the flag, and rings the writer's
// doorbell only if it is raised. Data is always signalled. Messages larger
// than a quarter of the ring (at most 32 KiB) are copied in pieces, each
// published as soon as it is written or read, so that sender and receiver
// copy at the same time.
//
// # Single copy
//
// Messages of at least Config.SingleCopyMin bytes (off by default, see
// DefaultSingleCopyMin for the measurements) do not stream through the ring when the receiver could read the sender's
// memory in a probe at Join (process_vm_readv of a cookie; refused under
// Yama ptrace_scope or a seccomp filter, and then everything streams): the
// sender publishes a descriptor record (the address of its buffer), the
// receiver copies the payload straight into the receive buffer with
// process_vm_readv, and its move of the tail past the record is the
// acknowledgement that lets SendSome report the message done and hand the
// buffer back. A state word in the record settles a send that must give its
// buffer up first (a cancelled send goes on from a copy; Close): see cma.go.
//
// # Liveness
//
// Link.Check reports ErrPeerLost, naming the peer, when the peer's pidfd is
// readable (its process exited, however it died), its control connection
// broke, or its heartbeat word, which a goroutine of every node bumps every
// 100 ms, has stood still for longer than Config.HeartbeatTimeout (1 s).
// Messages the peer published before it died can still be received: the
// rings that carry them live in this rank's own segment.
//
// # Nothing to leak
//
// No object of this package has a name in any file system: the segments and
// channel memory are memfds, which the kernel frees when the last fd and the
// last mapping go away, and the rendezvous sockets are in the abstract
// namespace, which vanish with their last descriptor. A normal exit, a
// panic, or a kill -9 at any moment therefore leaves nothing in /dev/shm,
// /tmp or anywhere else (the multi-process tests list /dev/shm before and
// after killing a rank). Abstract sockets are per network namespace, so all
// ranks of a node must share one, as they share the node's memory anyway.
package shm
