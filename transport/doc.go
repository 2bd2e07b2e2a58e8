// Package transport moves bytes between the ranks of a job: point-to-point
// messages with tags, persistent channels for halos that repeat every step,
// and the collectives a solver needs (barrier, allreduce, broadcast,
// allgather). It knows nothing of grids.
//
// # Layers
//
// A [Comm] is one rank's view of the job. Below it sits one [Link] per peer,
// each over one medium: shared memory between processes of a node
// (transport/shm), authenticated TCP between nodes (transport/tcp), or the
// memory of one process for goroutine ranks (transport/inproc). A Link only
// moves framed messages in order, never blocks and trusts nothing it reads;
// the Comm does everything else: it queues sends, matches incoming messages
// to posted receives by (peer, tag), keeps unmatched ones in an unexpected
// queue, and builds the collectives on point-to-point messages with
// reserved tags (>= 1<<31).
//
// # Progress
//
// There is no progress thread. Every blocking call, Request.Test and
// Request.Wait drive every link: they hand queued sends to the links as far
// as there is room and copy in whatever has arrived, for all peers, not only
// the one waited on. So a message larger than a link can hold streams
// through it in pieces, Isend never blocks, and two ranks that Isend large
// messages to each other and then Wait both finish. Messages between two
// ranks with the same tag are matched in the order they were sent (MPI's
// non-overtaking rule). A receive posted before its message arrives gets the
// payload copied straight into its buffer; an early message is copied into
// a buffer of the Comm (small ones are pooled) until a matching receive is
// posted. An early message larger than the pool's buffers is first left in
// its link, where the receive posted next usually takes it with no second
// copy; a sweep in which nothing else can move takes it in, so no rank
// waits on a receive that may never be posted.
//
// # Persistent channels
//
// A halo that repeats every step goes through persistent channels: rings of
// fixed slots in transport memory that the sender packs into in place
// (SendChannel.Claim, Commit) and the receiver unpacks from in place
// (RecvChannel.Acquire, Release). Opening a channel may wait for the peer to
// open its end (shm does); [Comm.OpenChannels] opens all of a rank's
// channels in an order that cannot deadlock.
//
// # Waiting
//
// A blocking call whose message the link takes (or has delivered) at once
// returns without waiting, under one acquisition of the Comm's lock. A wait
// for requests that all involve one peer first polls that peer's link alone
// for the link's spin budget, if the link is a [Poller] (shm: the ring's
// head; tcp: non-blocking reads of the socket), so a small reply is seen as
// soon as its bytes are; any ring of the doorbell ends that spin and every
// link is swept again. After that, a Comm that cannot make progress sleeps on its [Doorbell], which every
// link rings when it delivers data to this rank or frees room this rank may
// be waiting for: read the sequence, try every link, sleep until the
// sequence moves. Each sleep is capped at Options.CheckInterval (50 ms by
// default); once per interval the Comm calls Check on the links of the peers
// it waits for, so a dead peer surfaces within a few intervals. A context's
// deadline also caps the sleep, and its cancellation rings the doorbell.
// Ranks within one process use [NewLocalDoorbell]; shm puts the doorbell in
// shared memory with a futex.
//
// # Errors
//
// Every blocking call takes a context. Failures are [*OpError] values that
// name the operation, this rank, the peer, the tag (the channel id for
// channel operations) and the medium, and wrap a sentinel: [ErrTimeout]
// (with the context's error) when ctx expires, [ErrPeerLost] when a peer
// dies, [ErrTruncated] when a message is longer than its buffer,
// [ErrProtocol] when a link reads garbage, [ErrClosed] after Close and
// [ErrInvalid] for bad arguments. A lost peer or a broken link fails every
// pending and later request involving that peer; other peers are
// unaffected.
//
// The steady-state paths allocate nothing: blocking Send and Recv,
// persistent channels, and the allreduce of small vectors (Isend and Irecv
// allocate their Request).
package transport
