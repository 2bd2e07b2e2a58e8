// Package hilbert maps grid cells to positions along space-filling curves
// and back, so that cells close on the curve are close in space: the 3D and
// n-D Hilbert curve on cubes of side 2^bits, the Morton (Z-order) curve for
// comparison, and a generalized Hilbert curve that walks a box of any size.
// The decomp package cuts these orders into pieces to spread a grid over
// ranks. Everything here is pure arithmetic: no I/O, and the per-key and
// per-cell functions allocate nothing.
//
// # Hilbert keys
//
// Encode and Decode implement John Skilling's transposed-axes method
// ("Programming the Hilbert curve", AIP Conf. Proc. 707, 2004) in n
// dimensions, for n*bits <= 64. The key is Skilling's transposed index read
// one bit plane at a time from the top: on each plane the bits of the first,
// second, ... coordinate, so the first coordinate is the most significant
// bit of every n-bit digit. In 3D that is x, then y, then z. The curve starts
// at the origin; on the cube of side 2 it visits, written xyz,
//
//	000, 001, 011, 010, 110, 111, 101, 100
//
// and on side 32 (bits = 5) the key of (1,2,3) is 22 and of (7,7,7) is 365.
// A 3D Hilbert curve is not unique; these vectors pin this one, and the
// tests hold the code to them.
//
// Encode3 and Decode3 give the same keys as Encode and Decode with three
// coordinates, for bits 1..21, about twenty times faster: Skilling's loop is
// a finite-state machine over the bit planes (the state is how the lower
// planes are reflected and permuted, plus the parity of the Gray code so
// far; 24 states after minimisation), so they walk a generated table three
// planes per look-up. gen_tables.go derives the table (go generate); the
// tests compare it with the loop on every cell of the cubes up to 64^3 and
// on random 21-bit points.
//
// Morton3 interleaves bits in the same order (x highest), so Morton and
// Hilbert keys share their top digits' octants and differ only in the order
// within each.
//
// # The generalized curve
//
// Walk (and Cells, WalkBox) visits every cell of an nx × ny × nz box, any
// positive sizes, in a Hilbert-like order, starting at the origin. It is
// built by recursion on boxes. Each box has a main edge, and its curve must
// run from one end of that edge to the other, so a box's curve can follow
// its predecessor's and lead into its successor's with a face step. A box is
// split in one of three ways, chosen by its shape: two halves along the main
// edge (a long box); three sub-boxes in a plane, whole along the third edge,
// like one step of the 2D Hilbert curve (a box long in a second direction);
// or the 3D Hilbert step, the eight octants with three pairs merged into
// single sub-boxes, five sub-curves in all (a cube-like box). Halves are
// even where they can be (10 splits 6+4, 7 splits 4+3). Flat boxes use the
// 2D versions of the same splits, thin ones are lines.
//
// Colour the cells by the parity of x+y+z. A path of face steps alternates
// colours, so a box can be crossed from one end of its main edge to the
// other only if that edge is even or all three sizes are odd (and a main
// edge of one cell only if the box is one cell). Walk picks an even main
// edge for the whole box when there is one, so the box itself always
// qualifies, and at every split it prefers, among the three splits and the
// two ways to assign the other edges, one whose sub-boxes all qualify (the
// shape's natural split first), or else the one with fewest that do not.
//
// Guarantees, checked by the tests: every cell is visited exactly once; on
// a cube of side 2^k the order is a Hilbert curve (face steps, every aligned
// sub-cube visited in one run, from a corner to a corner one edge away);
// and on every box tried, all-even, odd or mixed, every step is a face step.
// That is all 1728 boxes with sizes 1..12, boxes such as 5×7×9, 31×17×13,
// 100×60×40, 1×1×7, 3×3×3, 2×101×101 and 97×89×83, every box up to 24^3
// and 100 random boxes up to 200 on a side (TestWalkWideSweep, skipped with
// -short). The parity rule is necessary but this
// package does not prove the choice always exists; a box where it did not
// would get a diagonal step inside one sub-box, not a break in coverage.
// Compactness does not suffer: runs of the curve cut about as many faces as
// Skilling's curve on a cube and 1.36× the best block split on 100×60×40
// cut in 16.
//
// Walk recurses O(log(max size)) deep, allocates nothing per cell and costs
// a few nanoseconds per cell: 2^24 cells take well under a second.
package hilbert
