// Package streamcopy copies memory that another core will read next with
// non-temporal stores, which claim a cache line without first reading it.
//
// A buffer in shared memory that a peer process read last (a message slot,
// a ring) sits in the peer core's cache; an ordinary store to it must first
// take each line back from there (a read-for-ownership), which on the
// 2-vCPU VM this was measured on held a 768 KiB copy into such a buffer to
// about 7 GB/s. Non-temporal stores write whole lines without reading them:
// the same copy ran about 5× faster, and the reader, which then loads the
// lines from memory instead of from the other core's cache, read them as
// fast as before.
//
// Non-temporal stores are weakly ordered even on x86: call Fence after the
// copies and before the store that publishes them.
package streamcopy
