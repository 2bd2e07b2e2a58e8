// Package decomp partitions a structured 3D grid across ranks and measures
// the result: how many cells each rank owns, how much surface its part has,
// and exactly which ghost cells each rank must receive from which other rank
// for a given halo.
//
// A Grid is NX x NY x NZ cells (x fastest), periodic or not per axis. A
// Decomposition gives each rank a list of disjoint boxes; the boxes of all
// ranks tile the grid exactly, and Owner finds the rank of a cell in
// O(log boxes). Decompose builds one with a method:
//
//   - hilbert (the default): a space-filling curve built for the rank count.
//     A fixed Hilbert curve cut into P equal runs (method sfc) leaves ragged
//     parts whose surface is 1.3-1.5x that of the best Cartesian blocks. The
//     hilbert method instead builds its curve by recursive multisection: at
//     each level it splits the remaining region into k slabs along one axis
//     (k a divisor or prime factor of the ranks left, or an uneven
//     bisection), choosing axis and k by a cost model of the cut area of the
//     whole subtree, and visits the slabs in order so consecutive ranks are
//     neighbours. Each split is exact: the region's cells are ordered plane
//     by plane in serpentine rows along the plane's shorter axis and cut
//     where the weight placed so far matches the ranks placed so far, so
//     parts balance to within one cell (one brick, on grids too big for
//     per-cell work) at the price of one short step of surface per split.
//     With RanksPerNode = K the top levels split in whole nodes, so each node
//     gets a compact region. The quality table in the README compares it with
//     block, rcb and the plain curve.
//   - sfc: the generalized Hilbert curve of package hilbert cut into equal runs.
//   - morton: the Morton (Z-order) curve cut into equal runs.
//   - block: px*py*pz Cartesian blocks, the factorization with the least cut
//     for this grid's shape (MPI_Dims_create looks only at the rank count).
//   - slab: equal runs of cells with the longest axis slowest.
//   - rcb: recursive coordinate bisection, one box per rank.
//
// Every method takes any rank count from 1 to the number of cells and
// optional Weights (per cell or per brick) that it balances instead of the
// cell count. Parts of the hilbert method are face-connected and balanced to
// within one cell for parts of 64 cells or more (below that, connectivity
// repair may hand a rank a few stray cells).
//
// Transfers lists, for a HaloSpec (widths per axis and side, stencil of 6, 18
// or 26 neighbours), every block of ghost cells with its source and
// destination rank, across periodic boundaries too, in an order both sides
// derive independently. Metrics reports cells, cut faces (total, per rank,
// within and between nodes), connected components, neighbours and halo
// bytes.
//
// The package does no I/O and starts no process: it is pure computation that
// the halo engine, the solvers and the hilo command build on.
package decomp
