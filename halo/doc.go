// Package halo exchanges the ghost layers of distributed 3D fields: it joins
// a decomposition of the grid (package decomp) to the ranks' communicator
// (package transport).
//
// # Fields
//
// A [Field] holds one quantity on one rank: for each box the rank owns, a
// [Block] with a 3D array, x fastest, grown by ghost layers as wide as the
// field's decomp.HaloSpec asks (per axis and side; the stencil says whether
// edge and corner ghosts are filled). Block.Index maps global coordinates to
// a position in Block.Data and Block.Stride gives the distance of the y and
// z neighbours, so stencil loops run on plain slices. [Pad] pads rows against
// power-of-two strides.
//
// # Plans
//
// A [Plan] is built once for a list of fields, which may differ in halo spec
// and element type. From the decomposition alone, both sides of every pair
// of ranks derive the same [Layout]: per peer one message each way carrying
// every field's regions for that peer (an 8-byte header with a hash of the
// layout and a sequence number, then each region x fastest, 8-aligned), plus
// local copies for ghost cells the rank owns itself (another of its boxes, or
// itself across a periodic boundary). Each message travels on a persistent
// channel of the Comm (2 slots, sized for the message), opened for all peers
// at once with transport.Comm.OpenChannels.
//
// Every step, [Plan.Start] claims each peer's slot, packs straight into it
// and commits it, then does the local copies; the solver then updates the
// cells that read no ghost cell while messages fly; [Plan.Wait] acquires
// each peer's slot, unpacks straight out of it into the ghost cells and
// releases it. [Plan.Exchange] is both. Over shared memory a slot is memory
// the receiving process reads, so every halo byte is copied twice (pack,
// unpack) where pack, send, receive, unpack make four. Packing walks memory
// in order and copies x-runs with copy(); runs of one element (x faces) and
// short runs are copied by a loop, without a call per element. For a peer on
// shared memory, runs of 256 bytes or more are written into the slot with
// non-temporal stores (package internal/streamcopy): the slot's lines were
// last read by the peer's core, and an ordinary store would first pull each
// one back from that cache. Start and Wait allocate nothing.
//
// # Checking
//
// [Verify] fills every field with codes of global coordinates, exchanges and
// checks every ghost cell against the global array it mirrors, periodic wrap
// included; [Plan.Stats] reports bytes, messages and time in pack, wait and
// unpack per peer.
package halo
