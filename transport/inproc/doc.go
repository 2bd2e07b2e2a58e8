// Package inproc runs the ranks of a job as goroutines of one process, with
// the same [transport.Comm] API as ranks that are processes. It is for
// tests (of transport itself, of halo exchanges, of solvers: a distributed
// run in one go test) and for threads-as-ranks.
//
// Each ordered pair of ranks shares a bounded single-producer
// single-consumer byte ring in heap memory (64 KiB by default, see
// [RingBytes]), so messages larger than the ring stream through it exactly
// as they do through shared memory. Indices are published with sync/atomic
// (data first, then the index), which makes the package clean under the
// race detector. Persistent channels are rings of slots in heap memory.
// Each rank sleeps on its own [transport.NewLocalDoorbell], which its peers
// ring. Closing a rank's Comm makes its peers' links report ErrPeerLost.
package inproc
