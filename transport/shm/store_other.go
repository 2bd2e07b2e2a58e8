//go:build !amd64 || race

package shm

import "sync/atomic"

// storeRelease64 stores v at *p as a release store. Outside amd64 (and
// under the race detector, which must see the synchronisation: in-process
// tests put rings on the Go heap, which it tracks) it is sync/atomic's
// sequentially consistent store, which is stronger than needed.
func storeRelease64(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// spinPause does nothing outside amd64.
func spinPause() {}
