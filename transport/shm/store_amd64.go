//go:build amd64 && !race

package shm

// storeRelease64 stores v at *p as a release store: every load and store
// this goroutine issued before the call is visible to another core before
// the new value is. On amd64 that is a plain MOV (x86-TSO keeps stores in
// program order and never lets a store pass an older load), which, unlike
// atomic.StoreUint64 (XCHG, a full fence), does not stall this core until
// it owns the cache line: the store drains from the store buffer in the
// background. The Go compiler cannot move memory operations across the
// call of an assembly function, so the program order is the source order.
// The reader pairs it with an atomic load (a plain MOV on amd64, which is
// an acquire load under TSO).
//
// It gives no StoreLoad ordering: a later load may complete before the
// store is visible. Code that needs that (Dekker-style flags such as the
// doorbell's sleeper count) keeps using sync/atomic.
//
//go:noescape
func storeRelease64(p *uint64, v uint64)

// spinPause is the PAUSE instruction: it tells the core that this is a
// spin-wait loop, which avoids the memory-order mis-speculation flush when
// the polled line changes and yields pipeline resources to a sibling
// hyper-thread.
func spinPause()
