package fdtd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport"
)

// ErrCheckpoint is wrapped by every error of Checkpoint and Restore about
// the checkpoint itself: a file that is truncated, corrupt, of another
// format version or made by a solver of another type, grid, Δt or state
// layout, or that cannot be written. Transport failures keep their own
// sentinels (transport.ErrTimeout, ...).
var ErrCheckpoint = errors.New("fdtd: checkpoint")

// Checkpoint file format, version 1. All integers are little-endian.
//
//	offset  size  field
//	0       8     magic "HILOFDTD"
//	8       4     format version (1)
//	12      4     header length H in bytes (a multiple of 8; data starts at H)
//	16      4     scalar kind: 1 = IEEE 754 binary floating point, little-endian
//	20      4     scalar size in bytes: 4 (float32) or 8 (float64)
//	24      24    grid dims NX, NY, NZ (3 × uint64)
//	48      8     Δt as the bits of a float64
//	56      8     steps taken
//	64      4     number of sections S
//	68      ...   S sections: name length (uint32), name, box Lo x, y, z then
//	              Hi x, y, z (6 × uint64, global cells, Hi exclusive)
//	...           zero padding up to H
//	H       ...   each section's values over its box, x fastest then y then z,
//	              in section order, little-endian scalars
//	end-4   4     CRC-32C (Castagnoli) of every byte before it
//
// The values are those of the global grid, so the file does not depend on
// the decomposition or the number of ranks that wrote it.
const (
	checkpointMagic   = "HILOFDTD"
	checkpointVersion = 1
	scalarIEEE        = 1
	prefixLen         = 16 // magic, version, header length: the same in every version
	fixedHeaderLen    = 68
	maxHeaderLen      = 1 << 20
	maxSectionName    = 64
	maxCoord          = 1 << 31
	trailerLen        = 4
)

// checkpointTag is the point-to-point tag of the gather to rank 0 ("fdtc").
const checkpointTag = 0x66647463

// checkpointChunk is the largest message of the gather and the unit of
// buffering on every rank (a multiple of 8, so no value straddles two).
const checkpointChunk = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpointHeader is a parsed header.
type checkpointHeader struct {
	version    uint32
	scalarSize int
	dims       [3]int
	dtBits     uint64
	steps      int
	sections   []sectionHeader
	headerLen  int64
	dataLen    int64
	crc        uint32 // the stored checksum, once verified
}

type sectionHeader struct {
	name string
	box  decomp.Box
}

// dataOffsets returns the file offset of each section's first value.
func (h *checkpointHeader) dataOffsets() []int64 {
	offs := make([]int64, len(h.sections))
	off := h.headerLen
	for i, sec := range h.sections {
		offs[i] = off
		off += int64(sec.box.Cells()) * int64(h.scalarSize)
	}
	return offs
}

// encode returns the header's bytes (headerLen of them).
func (h *checkpointHeader) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, h.headerLen)
	b = append(b, checkpointMagic...)
	b = le.AppendUint32(b, h.version)
	b = le.AppendUint32(b, uint32(h.headerLen))
	b = le.AppendUint32(b, scalarIEEE)
	b = le.AppendUint32(b, uint32(h.scalarSize))
	for _, n := range h.dims {
		b = le.AppendUint64(b, uint64(n))
	}
	b = le.AppendUint64(b, h.dtBits)
	b = le.AppendUint64(b, uint64(h.steps))
	b = le.AppendUint32(b, uint32(len(h.sections)))
	for _, sec := range h.sections {
		b = le.AppendUint32(b, uint32(len(sec.name)))
		b = append(b, sec.name...)
		for _, v := range sec.box.Lo {
			b = le.AppendUint64(b, uint64(v))
		}
		for _, v := range sec.box.Hi {
			b = le.AppendUint64(b, uint64(v))
		}
	}
	for int64(len(b)) < h.headerLen {
		b = append(b, 0)
	}
	return b
}

// newCheckpointHeader is the header of a checkpoint of secs, with headerLen
// and dataLen filled in.
func newCheckpointHeader[T Float](dims [3]int, dt T, steps int, secs []stateSection[T]) checkpointHeader {
	h := checkpointHeader{version: checkpointVersion, scalarSize: scalarSize[T](), dims: dims,
		dtBits: math.Float64bits(float64(dt)), steps: steps}
	n := int64(fixedHeaderLen)
	for _, sec := range secs {
		h.sections = append(h.sections, sectionHeader{sec.name, sec.box})
		n += 4 + int64(len(sec.name)) + 48
		h.dataLen += int64(sec.box.Cells()) * int64(h.scalarSize)
	}
	h.headerLen = (n + 7) &^ 7
	return h
}

// parseCheckpointHeader parses a header from b, which must hold at least
// the header length the header announces. It checks the structure only
// (not what a solver expects); it never panics, whatever b holds.
func parseCheckpointHeader(b []byte) (checkpointHeader, error) {
	var h checkpointHeader
	le := binary.LittleEndian
	if len(b) < prefixLen {
		return h, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header prefix", len(b), prefixLen)
	}
	if string(b[:8]) != checkpointMagic {
		return h, fmt.Errorf("bad magic %q, want %q: not a hilo FDTD checkpoint", b[:8], checkpointMagic)
	}
	h.version = le.Uint32(b[8:])
	if h.version != checkpointVersion {
		return h, fmt.Errorf("format version %d, this build reads version %d", h.version, checkpointVersion)
	}
	hl := le.Uint32(b[12:])
	if hl < fixedHeaderLen || hl > maxHeaderLen || hl%8 != 0 {
		return h, fmt.Errorf("header length %d, want a multiple of 8 in %d..%d", hl, fixedHeaderLen, maxHeaderLen)
	}
	h.headerLen = int64(hl)
	if int64(len(b)) < h.headerLen {
		return h, fmt.Errorf("truncated: %d bytes, the header alone is %d", len(b), h.headerLen)
	}
	b = b[:h.headerLen]
	if kind := le.Uint32(b[16:]); kind != scalarIEEE {
		return h, fmt.Errorf("scalar kind %d, want %d (IEEE 754 binary floating point)", kind, scalarIEEE)
	}
	switch size := le.Uint32(b[20:]); size {
	case 4, 8:
		h.scalarSize = int(size)
	default:
		return h, fmt.Errorf("scalar size %d bytes, want 4 or 8", size)
	}
	for a := range 3 {
		n := le.Uint64(b[24+8*a:])
		if n < 1 || n > maxCoord {
			return h, fmt.Errorf("grid dimension %d along axis %d, want 1..%d", n, a, uint64(maxCoord))
		}
		h.dims[a] = int(n)
	}
	h.dtBits = le.Uint64(b[48:])
	steps := le.Uint64(b[56:])
	if steps > math.MaxInt64 {
		return h, fmt.Errorf("step count %d out of range", steps)
	}
	h.steps = int(steps)
	nsec := le.Uint32(b[64:])
	off := int64(fixedHeaderLen)
	grid := decomp.Grid{Dims: h.dims}.Box()
	for i := range nsec {
		if off+4 > h.headerLen {
			return h, fmt.Errorf("section %d of %d does not fit in the %d-byte header", i, nsec, h.headerLen)
		}
		nl := int64(le.Uint32(b[off:]))
		off += 4
		if nl < 1 || nl > maxSectionName || off+nl+48 > h.headerLen {
			return h, fmt.Errorf("section %d: name of %d bytes (want 1..%d) in a %d-byte header", i, nl, maxSectionName, h.headerLen)
		}
		name := string(b[off : off+nl])
		if err := checkSectionName(name); err != nil {
			return h, fmt.Errorf("section %d: %w", i, err)
		}
		off += nl
		var box decomp.Box
		for a := range 3 {
			lo, hi := le.Uint64(b[off+8*int64(a):]), le.Uint64(b[off+24+8*int64(a):])
			if lo >= hi || hi > maxCoord {
				return h, fmt.Errorf("section %q: extent %d..%d along axis %d, want lo < hi <= %d", name, lo, hi, a, uint64(maxCoord))
			}
			box.Lo[a], box.Hi[a] = int(lo), int(hi)
		}
		off += 48
		if box.Intersect(grid) != box {
			return h, fmt.Errorf("section %q: box %v outside the grid %v", name, box, grid)
		}
		// The box lies inside a grid of at most 2^31 cells per side: its
		// cell count fits in 93 bits, so check the products for overflow.
		hiC, cells := bits.Mul64(uint64(box.Size(0))*uint64(box.Size(1)), uint64(box.Size(2)))
		hiB, nbytes := bits.Mul64(cells, uint64(h.scalarSize))
		if hiC != 0 || hiB != 0 || nbytes > math.MaxInt64-uint64(h.headerLen+trailerLen+h.dataLen) {
			return h, fmt.Errorf("section %q: box %v is too large", name, box)
		}
		h.dataLen += int64(nbytes)
		h.sections = append(h.sections, sectionHeader{name, box})
	}
	if (off+7)&^7 != h.headerLen {
		return h, fmt.Errorf("header length %d, the fields end at byte %d", h.headerLen, off)
	}
	for _, c := range b[off:] {
		if c != 0 {
			return h, fmt.Errorf("non-zero byte in the header's padding")
		}
	}
	return h, nil
}

func checkSectionName(name string) error {
	if len(name) < 1 || len(name) > maxSectionName {
		return fmt.Errorf("section name %q: want 1..%d bytes", name, maxSectionName)
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("section name %q: want printable ASCII without spaces", name)
		}
	}
	return nil
}

// verifyCheckpoint reads the header of a checkpoint of size bytes from r and
// checks the size the header implies and the checksum. The errors name what
// is wrong, without the sentinel.
func verifyCheckpoint(r io.ReaderAt, size int64) (checkpointHeader, error) {
	var h checkpointHeader
	prefix := make([]byte, prefixLen)
	if size < prefixLen {
		return h, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header prefix", size, prefixLen)
	}
	if _, err := r.ReadAt(prefix, 0); err != nil {
		return h, err
	}
	// The prefix alone says how long the header is; parse checks it.
	n := int64(binary.LittleEndian.Uint32(prefix[12:]))
	if n > maxHeaderLen || n < prefixLen {
		n = prefixLen
	}
	n = min(n, size)
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, 0); err != nil {
		return h, err
	}
	h, err := parseCheckpointHeader(hb)
	if err != nil {
		return h, err
	}
	want := h.headerLen + h.dataLen + trailerLen
	if size < want {
		return h, fmt.Errorf("truncated: %d bytes, the header announces %d (header %d + data %d + checksum %d)", size, want, h.headerLen, h.dataLen, trailerLen)
	}
	if size > want {
		return h, fmt.Errorf("%d bytes, the header announces %d: trailing bytes", size, want)
	}
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(r, 0, want-trailerLen)); err != nil {
		return h, err
	}
	var tr [trailerLen]byte
	if _, err := r.ReadAt(tr[:], want-trailerLen); err != nil {
		return h, err
	}
	if got, stored := crc.Sum32(), binary.LittleEndian.Uint32(tr[:]); got != stored {
		return h, fmt.Errorf("checksum mismatch: stored CRC-32C %08x, the contents give %08x: the file is corrupt", stored, got)
	}
	h.crc = binary.LittleEndian.Uint32(tr[:])
	return h, nil
}

// matchCheckpoint checks that header h fits this solver and its sections.
func (s *Solver[T]) matchCheckpoint(h *checkpointHeader, secs []stateSection[T]) error {
	if size := scalarSize[T](); h.scalarSize != size {
		return fmt.Errorf("scalar type mismatch: the file holds float%d values, the solver is float%d", 8*h.scalarSize, 8*size)
	}
	if h.dims != s.dims {
		return fmt.Errorf("grid mismatch: the file is %dx%dx%d cells, the solver %dx%dx%d",
			h.dims[0], h.dims[1], h.dims[2], s.dims[0], s.dims[1], s.dims[2])
	}
	if want := math.Float64bits(float64(s.dt)); h.dtBits != want {
		return fmt.Errorf("Δt mismatch: the file has %v, the solver %v", math.Float64frombits(h.dtBits), float64(s.dt))
	}
	if len(h.sections) != len(secs) {
		return fmt.Errorf("section mismatch: the file has %d sections %v, the solver expects %d %v",
			len(h.sections), sectionNames(h.sections), len(secs), sectionNames(expectedSections(secs)))
	}
	for i, sec := range secs {
		if got := h.sections[i]; got.name != sec.name || got.box != sec.box {
			return fmt.Errorf("section mismatch: section %d is %q over %v in the file, the solver expects %q over %v",
				i, got.name, got.box, sec.name, sec.box)
		}
	}
	return nil
}

func expectedSections[T Float](secs []stateSection[T]) []sectionHeader {
	out := make([]sectionHeader, len(secs))
	for i, sec := range secs {
		out[i] = sectionHeader{sec.name, sec.box}
	}
	return out
}

func sectionNames(secs []sectionHeader) []string {
	names := make([]string, len(secs))
	for i, s := range secs {
		names[i] = s.name
	}
	return names
}

// Checkpoint writes the solver's state (the six field components and the
// step count, with the grid, Δt and scalar type they belong to) to path. It
// is collective: every rank calls it with the same path; rank 0 gathers the
// cells of the others and writes the file, which does not depend on the
// decomposition (see the format above), so Restore can read it on any
// number of ranks with any method.
//
// The file appears atomically: rank 0 writes a temporary file in the same
// directory, syncs it, renames it to path and syncs the directory, so path
// holds either the previous checkpoint or the new one, whole. On failure the
// temporary file is removed and every rank returns an error (wrapping
// ErrCheckpoint, or a transport sentinel if a peer or ctx failed).
func (s *Solver[T]) Checkpoint(ctx context.Context, path string) error {
	return s.writeCheckpoint(ctx, path, s.checkpointSections())
}

// Restore reads a checkpoint written by Checkpoint (by any number of ranks,
// with any decomposition) into the solver: its fields and its step count,
// then refreshes the ghost cells so that Energy, ModifiedEnergy and the next
// Step are those of the run that wrote it, to the bit. It is collective:
// every rank reads and checks the file itself (so path must be on a file
// system every rank sees): the magic, format version, scalar type, grid,
// Δt, section list, size and checksum. A file that fails a check is refused
// on every rank with an error wrapping ErrCheckpoint that says what is
// wrong, and the solver is left as it was. (Only a read error after every
// check passed, on the second pass that fills the cells, can leave the
// fields part-restored; the error says so.)
func (s *Solver[T]) Restore(ctx context.Context, path string) error {
	return s.readCheckpoint(ctx, path, s.checkpointSections())
}

// writeCheckpoint is Checkpoint of the given sections.
func (s *Solver[T]) writeCheckpoint(ctx context.Context, path string, secs []stateSection[T]) error {
	comm := s.comm
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%w: writing %s: %w", ErrCheckpoint, path, err)
	}
	// Phase 1: each rank checks its parts and says which it holds.
	if err := agree(ctx, comm, wrap(checkLocalParts(secs))); err != nil {
		return err
	}
	all, err := comm.Allgather(ctx, encodeParts(secs))
	if err != nil {
		return fmt.Errorf("checkpoint: gathering the parts: %w", err)
	}
	h := newCheckpointHeader(s.dims, s.dt, s.steps, secs)
	// Rank 0 checks that the parts tile each section and opens the file.
	var (
		w       *checkpointWriter
		holders [][]partDesc
	)
	if comm.Rank() == 0 {
		holders, err = decodeAllParts(all, secs)
		if err == nil {
			w, err = createCheckpointFile(path, &h)
		}
		defer w.abort()
	}
	if err := agree(ctx, comm, wrap(err)); err != nil {
		return err
	}
	// Phase 2: the data, window by window (a run of rows of one section),
	// each rank's share of a window in chunks of at most checkpointChunk
	// bytes. Rank 0 assembles each window in memory and appends it to the
	// file, so the file is written (and checksummed) front to back.
	wins := checkpointWindows(h.sections, h.scalarSize)
	if comm.Rank() != 0 {
		pk := packer[T]{buf: make([]byte, 0, checkpointChunk), emit: func(p []byte) error { return comm.Send(ctx, 0, checkpointTag, p) }}
		for _, win := range wins {
			sec := secs[win.sec]
			for _, p := range sec.parts {
				eachRow(sec.box, p.box, win.r0, win.r1, func(y, z, _ int) {
					pk.add(p.row(y, z))
				})
			}
			pk.flush()
			if pk.err != nil {
				return fmt.Errorf("checkpoint: sending to rank 0: %w", pk.err)
			}
		}
	} else {
		// Rank 0 keeps receiving after a write error (kept in w) so that no
		// rank is left blocked in a send; the error reaches all at the end.
		if err := gatherWindows(ctx, comm, w, wins, holders, secs); err != nil {
			return err
		}
		err = w.finish(path)
	}
	return agree(ctx, comm, wrap(err))
}

// readCheckpoint is Restore of the given sections.
func (s *Solver[T]) readCheckpoint(ctx context.Context, path string, secs []stateSection[T]) error {
	f, h, err := openCheckpoint(path)
	if f != nil {
		defer f.Close()
	}
	if err == nil {
		err = s.matchCheckpoint(&h, secs)
	}
	if err == nil {
		err = checkLocalParts(secs)
	}
	if err != nil {
		err = fmt.Errorf("%w: restoring %s: %w", ErrCheckpoint, path, err)
	}
	if err := agree(ctx, s.comm, err); err != nil {
		return err
	}
	// On a shared file system a rank may still see an older file under the
	// same name: every rank must have checked the same bytes.
	if err := sameFile(ctx, s.comm, path, h.crc); err != nil {
		return err
	}
	if err := fillParts(f, &h, secs); err != nil {
		err = fmt.Errorf("%w: restoring %s: the fields are part-restored: %w", ErrCheckpoint, path, err)
		return agree(ctx, s.comm, err)
	}
	if err := agree(ctx, s.comm, nil); err != nil {
		return err
	}
	// ModifiedEnergy reads the E ghosts the last H update read (E has not
	// changed since), the E update the H ghosts: make both current.
	if err := s.ePlan.Exchange(ctx); err != nil {
		return err
	}
	if err := s.hPlan.Exchange(ctx); err != nil {
		return err
	}
	s.steps = h.steps
	return nil
}

// sameFile checks that every rank verified a file with rank 0's checksum.
func sameFile(ctx context.Context, comm *transport.Comm, path string, crc uint32) error {
	all, err := comm.Allgather(ctx, binary.LittleEndian.AppendUint32(nil, crc))
	if err != nil {
		return fmt.Errorf("checkpoint: comparing checksums: %w", err)
	}
	for r, b := range all {
		if len(b) != 4 || !bytes.Equal(b, all[0]) {
			return fmt.Errorf("%w: restoring %s: rank %d read a file with checksum %x, rank 0 one with %x", ErrCheckpoint, path, r, b, all[0])
		}
	}
	return nil
}

// openCheckpoint opens and verifies a checkpoint file.
func openCheckpoint(path string) (*os.File, checkpointHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, checkpointHeader{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return f, checkpointHeader{}, err
	}
	if !st.Mode().IsRegular() {
		return f, checkpointHeader{}, fmt.Errorf("not a regular file (%v)", st.Mode())
	}
	h, err := verifyCheckpoint(f, st.Size())
	return f, h, err
}

// fillParts reads this rank's parts of every section from r.
func fillParts[T Float](r io.ReaderAt, h *checkpointHeader, secs []stateSection[T]) error {
	offs := h.dataOffsets()
	size := int64(h.scalarSize)
	wr := &windowReader{r: r, buf: make([]byte, 0, checkpointChunk)}
	var rowBuf []byte
	for i, sec := range secs {
		nx, ny := int64(sec.box.Size(0)), int64(sec.box.Size(1))
		for _, p := range sec.parts {
			n := p.box.Size(0)
			rowBuf = slicesGrow(rowBuf, n*int(size))
			for z := p.box.Lo[2]; z < p.box.Hi[2]; z++ {
				for y := p.box.Lo[1]; y < p.box.Hi[1]; y++ {
					cell := (int64(z-sec.box.Lo[2])*ny+int64(y-sec.box.Lo[1]))*nx + int64(p.box.Lo[0]-sec.box.Lo[0])
					if err := wr.readAt(rowBuf, offs[i]+cell*size); err != nil {
						return err
					}
					row := p.row(y, z)
					if len(row) != n {
						return fmt.Errorf("section %q: row of %d values, want %d", sec.name, len(row), n)
					}
					getValues(row, rowBuf)
				}
			}
		}
	}
	return nil
}

func slicesGrow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// windowReader reads through a window of the file, so that the rows of a
// part (at increasing offsets, often close together) cost few system calls.
type windowReader struct {
	r   io.ReaderAt
	off int64
	buf []byte
}

func (w *windowReader) readAt(p []byte, off int64) error {
	if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.buf)) {
		copy(p, w.buf[off-w.off:])
		return nil
	}
	if len(p) > cap(w.buf) {
		_, err := w.r.ReadAt(p, off)
		return err
	}
	w.off, w.buf = off, w.buf[:cap(w.buf)]
	n, err := w.r.ReadAt(w.buf, off)
	w.buf = w.buf[:n]
	if n < len(p) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	copy(p, w.buf)
	return nil
}

// agree tells every rank whether every rank succeeded: each passes its own
// error (nil for success) and gets it back, or else the error of the first
// rank that failed. It is collective.
func agree(ctx context.Context, comm *transport.Comm, err error) error {
	msg := []byte{0}
	if err != nil {
		const maxMsg = 1024
		text := err.Error()
		if len(text) > maxMsg {
			text = text[:maxMsg] + "..."
		}
		msg = append([]byte{1}, text...)
	}
	all, gerr := comm.Allgather(ctx, msg)
	if err != nil {
		return err
	}
	if gerr != nil {
		return fmt.Errorf("checkpoint: agreeing on the outcome: %w", gerr)
	}
	for r, m := range all {
		if len(m) == 0 || m[0] != 0 {
			text := "no status"
			if len(m) > 0 {
				text = strings.TrimPrefix(string(m[1:]), ErrCheckpoint.Error()+": ")
			}
			return fmt.Errorf("%w: failed on rank %d: %s", ErrCheckpoint, r, text)
		}
	}
	return nil
}

// A partDesc is one part of one section, as rank 0 sees it.
type partDesc struct {
	sec int
	box decomp.Box
}

// encodeParts lists this rank's parts: per section, a count then the boxes.
func encodeParts[T Float](secs []stateSection[T]) []byte {
	le := binary.LittleEndian
	var b []byte
	for _, sec := range secs {
		b = le.AppendUint32(b, uint32(len(sec.parts)))
		for _, p := range sec.parts {
			for _, v := range p.box.Lo {
				b = le.AppendUint64(b, uint64(v))
			}
			for _, v := range p.box.Hi {
				b = le.AppendUint64(b, uint64(v))
			}
		}
	}
	return b
}

// decodeAllParts decodes every rank's parts and checks that, section by
// section, they tile the section's box: inside it, disjoint, covering it.
func decodeAllParts[T Float](all [][]byte, secs []stateSection[T]) ([][]partDesc, error) {
	le := binary.LittleEndian
	out := make([][]partDesc, len(all))
	bySec := make([][]partDesc, len(secs))
	for r, b := range all {
		for i := range secs {
			if len(b) < 4 {
				return nil, fmt.Errorf("rank %d: short list of parts", r)
			}
			n := int(le.Uint32(b))
			b = b[4:]
			if n < 0 || len(b) < 48*n {
				return nil, fmt.Errorf("rank %d: short list of parts", r)
			}
			for range n {
				var box decomp.Box
				for a := range 3 {
					box.Lo[a] = int(int64(le.Uint64(b[8*a:])))
					box.Hi[a] = int(int64(le.Uint64(b[24+8*a:])))
				}
				b = b[48:]
				out[r] = append(out[r], partDesc{i, box})
				bySec[i] = append(bySec[i], partDesc{r, box}) // sec holds the rank here
			}
		}
		if len(b) != 0 {
			return nil, fmt.Errorf("rank %d: %d bytes left over in its list of parts", r, len(b))
		}
	}
	for i, sec := range secs {
		cells := 0
		ps := bySec[i]
		for j, p := range ps {
			if p.box.Empty() || p.box.Intersect(sec.box) != p.box {
				return nil, fmt.Errorf("section %q: rank %d's part %v lies outside %v", sec.name, p.sec, p.box, sec.box)
			}
			for _, q := range ps[:j] {
				if !p.box.Intersect(q.box).Empty() {
					return nil, fmt.Errorf("section %q: rank %d's part %v overlaps rank %d's %v", sec.name, p.sec, p.box, q.sec, q.box)
				}
			}
			cells += p.box.Cells()
		}
		if cells != sec.box.Cells() {
			return nil, fmt.Errorf("section %q: the ranks hold %d cells of %v's %d", sec.name, cells, sec.box, sec.box.Cells())
		}
	}
	return out, nil
}

// A checkpointWindow is rows [r0, r1) of section sec, row (y, z) of the
// section's box being number (z-Lo.z)·NY + (y-Lo.y): a contiguous run of the
// file that rank 0 assembles in memory.
type checkpointWindow struct {
	sec, r0, r1 int
}

// checkpointWindowBytes bounds a window (unless one row is longer).
const checkpointWindowBytes = 8 << 20

func checkpointWindows(secs []sectionHeader, size int) []checkpointWindow {
	var wins []checkpointWindow
	for i, sec := range secs {
		rowBytes := sec.box.Size(0) * size
		rows := sec.box.Size(1) * sec.box.Size(2)
		per := max(1, checkpointWindowBytes/rowBytes)
		for r0 := 0; r0 < rows; r0 += per {
			wins = append(wins, checkpointWindow{i, r0, min(r0+per, rows)})
		}
	}
	return wins
}

// eachRow calls fn, in file order, for each row of part (inside section box
// sb) whose row number lies in [r0, r1), with that number.
func eachRow(sb, part decomp.Box, r0, r1 int, fn func(y, z, row int)) {
	ny := sb.Size(1)
	zlo := max(part.Lo[2], sb.Lo[2]+r0/ny)
	zhi := min(part.Hi[2], sb.Lo[2]+(r1-1)/ny+1)
	for z := zlo; z < zhi; z++ {
		base := (z-sb.Lo[2])*ny - sb.Lo[1] // row number of (y, z) is base + y
		for y := max(part.Lo[1], r0-base); y < min(part.Hi[1], r1-base); y++ {
			fn(y, z, base+y)
		}
	}
}

// packer encodes rows into chunks of cap(buf) bytes and hands each full
// chunk to emit; flush hands over the rest. The first error stops it.
type packer[T Float] struct {
	buf  []byte
	emit func([]byte) error
	err  error
}

func (pk *packer[T]) add(row []T) {
	size := scalarSize[T]()
	for len(row) > 0 && pk.err == nil {
		k := min(len(row), (cap(pk.buf)-len(pk.buf))/size)
		m := len(pk.buf)
		pk.buf = pk.buf[:m+k*size]
		putValues(pk.buf[m:], row[:k])
		row = row[k:]
		if len(pk.buf) == cap(pk.buf) {
			pk.flush()
		}
	}
}

func (pk *packer[T]) flush() {
	if len(pk.buf) > 0 && pk.err == nil {
		pk.err = pk.emit(pk.buf)
	}
	pk.buf = pk.buf[:0]
}

// checkpointWriter is rank 0's temporary file, written front to back with
// its checksum.
type checkpointWriter struct {
	f    *os.File
	h    *checkpointHeader
	dir  string
	crc  hash.Hash32
	n    int64 // bytes written
	err  error // the first write error
	done bool  // renamed into place, or removed
}

// A rowDest is where a row of a rank's share goes in the window buffer.
type rowDest struct{ off, n int }

func createCheckpointFile(path string, h *checkpointHeader) (*checkpointWriter, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w := &checkpointWriter{f: f, h: h, dir: dir, crc: crc32.New(castagnoli)}
	if w.write(h.encode()); w.err != nil {
		w.abort()
		return nil, w.err
	}
	return w, nil
}

func (w *checkpointWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
		return
	}
	w.crc.Write(p)
}

// gatherWindows assembles each window from rank 0's own parts and the
// chunks of the others (holders[r] lists rank r's parts) and appends it to
// the file. It returns only transport errors; a write error stays in w (and
// later windows are still received, but not written).
func gatherWindows[T Float](ctx context.Context, comm *transport.Comm, w *checkpointWriter, wins []checkpointWindow, holders [][]partDesc, secs []stateSection[T]) error {
	size := scalarSize[T]()
	chunk := make([]byte, checkpointChunk)
	var (
		win []byte
		dst []rowDest
	)
	for _, wn := range wins {
		sec := secs[wn.sec]
		rowBytes := sec.box.Size(0) * size
		win = slicesGrow(win, (wn.r1-wn.r0)*rowBytes)
		at := func(row, x int) int { return (row-wn.r0)*rowBytes + (x-sec.box.Lo[0])*size }
		filled := 0
		for _, p := range sec.parts {
			eachRow(sec.box, p.box, wn.r0, wn.r1, func(y, z, row int) {
				v := p.row(y, z)
				putValues(win[at(row, p.box.Lo[0]):], v)
				filled += len(v) * size
			})
		}
		for r := 1; r < comm.Size(); r++ {
			dst = dst[:0]
			total := 0
			for _, d := range holders[r] {
				if d.sec != wn.sec {
					continue
				}
				n := d.box.Size(0) * size
				eachRow(sec.box, d.box, wn.r0, wn.r1, func(_, _, row int) {
					dst = append(dst, rowDest{at(row, d.box.Lo[0]), n})
					total += n
				})
			}
			di, in := 0, 0 // the row being filled, bytes in it so far
			for left := total; left > 0; {
				want := min(left, checkpointChunk)
				n, err := comm.Recv(ctx, r, checkpointTag, chunk[:want])
				if err == nil && n != want {
					err = fmt.Errorf("%w: %d bytes, want %d", transport.ErrProtocol, n, want)
				}
				if err != nil {
					return fmt.Errorf("checkpoint: receiving from rank %d: %w", r, err)
				}
				for b := chunk[:n]; len(b) > 0; {
					d := dst[di]
					k := copy(win[d.off+in:d.off+d.n], b)
					b, in = b[k:], in+k
					if in == d.n {
						di, in = di+1, 0
					}
				}
				left -= n
			}
			filled += total
		}
		if filled != len(win) && w.err == nil {
			w.err = fmt.Errorf("section %q rows %d..%d: %d bytes gathered, want %d", sec.name, wn.r0, wn.r1, filled, len(win))
		}
		w.write(win)
	}
	return nil
}

// finish appends the checksum, syncs, renames the file to path and syncs
// the directory.
func (w *checkpointWriter) finish(path string) error {
	w.write(binary.LittleEndian.AppendUint32(nil, w.crc.Sum32()))
	if w.err != nil {
		return w.err
	}
	if want := w.h.headerLen + w.h.dataLen + trailerLen; w.n != want {
		return fmt.Errorf("wrote %d bytes, want %d", w.n, want)
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), path); err != nil {
		return err
	}
	w.done = true
	d, err := os.Open(w.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// abort removes the temporary file unless it was renamed into place.
func (w *checkpointWriter) abort() {
	if w == nil || w.done {
		return
	}
	w.f.Close()
	os.Remove(w.f.Name())
	w.done = true
}

func scalarSize[T Float]() int {
	var zero T
	return int(unsafe.Sizeof(zero))
}

// putValues encodes v little-endian into dst.
func putValues[T Float](dst []byte, v []T) {
	le := binary.LittleEndian
	switch v := any(v).(type) {
	case []float64:
		for i, x := range v {
			le.PutUint64(dst[8*i:], math.Float64bits(x))
		}
	case []float32:
		for i, x := range v {
			le.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	}
}

// getValues decodes len(v) little-endian values from src into v.
func getValues[T Float](v []T, src []byte) {
	le := binary.LittleEndian
	switch v := any(v).(type) {
	case []float64:
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(src[8*i:]))
		}
	case []float32:
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	}
}
