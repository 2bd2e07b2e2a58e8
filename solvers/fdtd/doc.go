// Package fdtd is a distributed 3D Yee FDTD solver for Maxwell's equations
// in normalised units (c = ε₀ = μ₀ = 1, unit cells, Δt = S, the Courant
// number; SI converts), in float64 or float32 (Solver[T]), over any
// decomposition of package decomp, with halo exchanges of package halo.
// Energies are summed in float64 either way (a float32 square is exact in
// float64).
//
// # Physics
//
// Each side of the grid is a PEC wall, periodic, or a convolutional PML
// (Options.Boundaries, PMLOptions): the CPML's auxiliary fields ψ live only
// in the layers and use the same differences as the ordinary update, so the
// layers need no extra halo and stay decomposition-independent; its
// normal-incidence reflection is about 5e-5 with the defaults (10 cells,
// cubic grading, σmax = 0.8(m+1)). Materials (Options.Material: ε, μ, σ per
// cell, staircased) turn the updates into per-entry coefficients
// (materialCoefs); with no Material the uniform vacuum kernels run.
// Sources are soft or hard, at a point, on a line or on a plane
// (Source.Region), with Gaussian, differentiated-Gaussian and Ricker
// pulses; probes (Options.Probes, ProbeSeries) record one component every
// step. CavityModes, Spectrum and Peaks compare a probe's spectrum with the
// analytic and the Yee-discrete resonances of a PEC box.
//
// # Output
//
// Slice gathers one plane of one component (collective); WriteSlicePNG
// draws it with a diverging colour map and a scale bar. WriteVTK writes
// every block as VTK XML image data (.vti, one per block of every rank)
// and rank 0 a .pvti that ParaView opens as one dataset. WriteProbesCSV
// writes probe series. Checkpoint and Restore save and restore the state
// in a decomposition-independent file.
//
// # Scheme and storage
//
// The grid is NX×NY×NZ cells. Cell (i, j, k) holds the six components at
// index (i, j, k) of the storage convention of bench/fdtd/README.md: Ex at
// (i+½, j, k), Ey at (i, j+½, k), Ez at (i, j, k+½), Hx at (i, j+½, k+½),
// Hy at (i+½, j, k+½), Hz at (i+½, j+½, k). The entries of the reference
// storage with an index equal to N along some axis all lie on a wall
// (tangential E, held 0) or are normal H on a wall (staying 0), so cells
// [0, N)³ hold every entry that can be non-zero, and a decomposition of the
// cells is a decomposition of the fields. Each step does, in this order,
// E += Δt ∇×H with backward differences on every E entry off the walls
// (tangential E at index 0 stays 0), the soft sources (Source: a waveform
// added to one entry), and H −= Δt ∇×E with forward differences on every H
// entry; reads past the upper faces of the grid land in ghost cells that no
// exchange writes and that hold the walls' zero tangential E. The operation
// order is that of bench/fdtd/yee.c, so with S = 0.5 the fields are those
// of the C kernel to the bit (RefSources and SkewSources are its two
// sources; the tests reproduce reference.txt).
//
// New refuses S at or above CourantLimit (ErrCourant): in an N³ PEC box the
// fastest mode is (N−1, N−1, N−1), so the limit is 1/(√3 cos(π/2N)),
// slightly above 1/√3.
//
// # Minimal halos, overlapped
//
// Each component is a halo.Field[T] with a one-sided, one-cell faces halo along
// the two axes it is differentiated along: the H update reads Ey, Ez at +x,
// Ex, Ez at +y and Ex, Ey at +z (width {0,1}), the E update reads Hy, Hz at
// −x, and so on (width {1,0}). Two plans carry them: E before the H update,
// H before the E update, so a cut face costs 4 scalars per step, 2 each way,
// which is the least the stencil needs (the tests check 4 × cut faces × 8 bytes
// of float64 payload exactly; 4-byte scalars for float32). Each update starts its plan, updates the cells
// whose stencil reads no ghost cell a peer fills, waits, and updates the
// one-cell slabs left (rows one cell long, beside an x cut, in place).
// Rows are contiguous in x, sliced once per row (no bounds check in the
// inner loops) and not padded (see Options.Pad). On amd64 with AVX2 the row
// kernels are assembly, 4 float64 or 8 float32 lanes, with the operations of
// the portable kernels (unrolled by 4) in the same order, so the fields are
// bitwise the same either way. Built with GOEXPERIMENT=simd
// on amd64 they use AVX-512 (else AVX2) vectors of package simd/archsimd,
// with the same operations per lane in the same order (no fused
// multiply-add), so both builds give the same bits (float32 uses the
// portable kernels); the invariance test
// runs S = 0.45 too, where Δt·x rounds, to catch a kernel whose vector part
// and scalar tail would round differently.
//
// # Decomposition invariance
//
// Every entry is updated by the same operations on the same values whatever
// the decomposition, so the fields after K steps are bitwise the same on any
// number of ranks and with any method (tested for P = 2, 3, 5, 7, 8 and every
// method against one rank). Energy and ModifiedEnergy are bitwise invariant
// too: each rank adds its squares without rounding into a fixed-point
// superaccumulator covering the float64 range, the accumulators are summed
// over ranks as integers (transport.Comm.AllreduceInt64) and the total is
// rounded once, so the result is the correctly rounded exact sum, in no
// order at all (yee.c's compensated sum agrees to ~1e-16).
//
// ModifiedEnergy is W = ½ Σ Eⁿ·Eⁿ + ½ Σ Hⁿ⁻½·Hⁿ⁺½, which the lossless box
// conserves to round-off once the sources are off, while Σ E² + Σ H² only
// oscillates.
package fdtd
