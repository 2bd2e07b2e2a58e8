package fdtd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport"
)

// ckptState is the whole state of a run, gathered over its ranks.
type ckptState struct {
	dims   [3]int
	fields [6][]float64
	energy Energy
	w      float64
	steps  int
}

func newCkptState(dims [3]int) *ckptState {
	st := &ckptState{dims: dims}
	for c := range st.fields {
		st.fields[c] = make([]float64, dims[0]*dims[1]*dims[2])
	}
	return st
}

// record is collective: it adds this rank's cells to st and the energies.
func record[T Float](ctx context.Context, s *Solver[T], st *ckptState, mu *sync.Mutex) error {
	e, err := s.Energy(ctx)
	if err != nil {
		return err
	}
	w, err := s.ModifiedEnergy(ctx)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	d := st.dims
	for c := Ex; c <= Hz; c++ {
		s.Each(c, func(x, y, z int, v float64) { st.fields[c][x+d[0]*(y+d[1]*z)] = v })
	}
	st.energy, st.w, st.steps = e, w, s.Steps()
	return nil
}

// sameState compares got with the oracle want, bit for bit.
func sameState(t *testing.T, label string, got, want *ckptState) {
	t.Helper()
	if got.steps != want.steps {
		t.Errorf("%s: step %d, want %d", label, got.steps, want.steps)
	}
	for c := Ex; c <= Hz; c++ {
		for i, v := range got.fields[c] {
			if math.Float64bits(v) != math.Float64bits(want.fields[c][i]) {
				t.Fatalf("%s: %v at linear index %d is %v, the uninterrupted run has %v", label, c, i, v, want.fields[c][i])
			}
		}
	}
	if got.energy != want.energy || math.Float64bits(got.w) != math.Float64bits(want.w) {
		t.Errorf("%s: energy %+v W %.17g, the uninterrupted run %+v W %.17g", label, got.energy, got.w, want.energy, want.w)
	}
}

// dirNames lists dir, to check that no temporary file is left over.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestCheckpointRestoreBitwise: K1 steps on 3 ranks (hilbert), checkpoint,
// restore into a new solver on 5 ranks (block), on 1 rank and on 3 (slab),
// K-K1 more steps: every field value, Energy and ModifiedEnergy are bitwise
// those of an uninterrupted one-rank run, right after the restore and at
// the end. The file is byte for byte the one that one rank writes, and
// decodes by hand to the oracle's fields.
func TestCheckpointRestoreBitwise(t *testing.T) {
	t.Run("float64", testCheckpointBitwise[float64])
	t.Run("float32", testCheckpointBitwise[float32])
}

func testCheckpointBitwise[T Float](t *testing.T) {
	// S = 0.45: Δt·x rounds, so a restore that changed any bit would grow.
	opt := Options{Dims: [3]int{14, 16, 12}, Courant: 0.45}
	opt.Sources = SkewSources(opt.Dims)
	const k, k1 = 60, 23
	dir := t.TempDir()
	path, path1 := filepath.Join(dir, "run.ckpt"), filepath.Join(dir, "one.ckpt")

	// The oracle: one rank, K steps, checkpointing at K1 (which must not
	// disturb it) and recording the state there.
	atK1, atK := newCkptState(opt.Dims), newCkptState(opt.Dims)
	var mu sync.Mutex
	err := runRanks(t, 1, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[T](ctx, c, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, k1); err != nil {
			return err
		}
		if err := record(ctx, s, atK1, &mu); err != nil {
			return err
		}
		if err := s.Checkpoint(ctx, path1); err != nil {
			return err
		}
		if err := s.Run(ctx, k-k1); err != nil {
			return err
		}
		return record(ctx, s, atK, &mu)
	})
	if err != nil {
		t.Fatal(err)
	}
	for c := Ex; c <= Hz; c++ {
		if !slices.ContainsFunc(atK1.fields[c], func(v float64) bool { return v != 0 }) {
			t.Fatalf("%v is zero everywhere at step %d: the test would prove nothing", c, k1)
		}
	}

	err = runRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		o := opt
		o.Method = decomp.MethodHilbert
		s, err := New[T](ctx, c, o)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, k1); err != nil {
			return err
		}
		return s.Checkpoint(ctx, path)
	})
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"one.ckpt", "run.ckpt"}) {
		t.Errorf("directory holds %q, want the two checkpoints only", names)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file1, err := os.ReadFile(path1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, file1) {
		t.Errorf("the 3-rank checkpoint (%d bytes) differs from the 1-rank one (%d bytes)", len(file), len(file1))
	}
	decodeByHand(t, file, atK1, scalarSize[T]())

	for _, c := range []struct {
		p          int
		method     string
		stepsFirst int // steps taken before the restore, which it must undo
	}{{5, decomp.MethodBlock, 7}, {1, "", 0}, {3, decomp.MethodSlab, 2}} {
		t.Run(fmt.Sprintf("P=%d/%s", c.p, c.method), func(t *testing.T) {
			restored, final := newCkptState(opt.Dims), newCkptState(opt.Dims)
			var mu sync.Mutex
			err := runRanks(t, c.p, func(ctx context.Context, comm *transport.Comm) error {
				o := opt
				o.Method = c.method
				s, err := New[T](ctx, comm, o)
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, c.stepsFirst); err != nil {
					return err
				}
				if err := s.Restore(ctx, path); err != nil {
					return err
				}
				if err := record(ctx, s, restored, &mu); err != nil {
					return err
				}
				if err := s.Run(ctx, k-k1); err != nil {
					return err
				}
				return record(ctx, s, final, &mu)
			})
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, "right after the restore", restored, atK1)
			sameState(t, "at the end", final, atK)
		})
	}
}

// decodeByHand reads the file with offsets written out here from the format
// description (not with the package's parser) and compares it with st.
func decodeByHand(t *testing.T, file []byte, st *ckptState, size int) {
	t.Helper()
	le := binary.LittleEndian
	if string(file[:8]) != "HILOFDTD" || le.Uint32(file[8:]) != 1 || le.Uint32(file[20:]) != uint32(size) {
		t.Fatalf("prefix %q version %d size %d", file[:8], le.Uint32(file[8:]), le.Uint32(file[20:]))
	}
	hl := int(le.Uint32(file[12:]))
	d := st.dims
	if got := [3]uint64{le.Uint64(file[24:]), le.Uint64(file[32:]), le.Uint64(file[40:])}; got != [3]uint64{uint64(d[0]), uint64(d[1]), uint64(d[2])} {
		t.Fatalf("dims %v, want %v", got, d)
	}
	if le.Uint64(file[56:]) != uint64(st.steps) || le.Uint32(file[64:]) != 6 {
		t.Fatalf("steps %d sections %d, want %d and 6", le.Uint64(file[56:]), le.Uint32(file[64:]), st.steps)
	}
	cells := d[0] * d[1] * d[2]
	if want := hl + 6*cells*size + 4; len(file) != want {
		t.Fatalf("file of %d bytes, want %d", len(file), want)
	}
	if got, want := le.Uint32(file[len(file)-4:]), crc32.Checksum(file[:len(file)-4], crc32.MakeTable(crc32.Castagnoli)); got != want {
		t.Fatalf("stored CRC %08x, computed %08x", got, want)
	}
	for c := range 6 {
		for i := range cells {
			off := hl + (c*cells+i)*size
			var v float64
			if size == 8 {
				v = math.Float64frombits(le.Uint64(file[off:]))
			} else {
				v = float64(math.Float32frombits(le.Uint32(file[off:])))
			}
			if math.Float64bits(v) != math.Float64bits(st.fields[c][i]) {
				t.Fatalf("%v at linear index %d: file %v, solver %v", Component(c), i, v, st.fields[c][i])
			}
		}
	}
}

// TestCheckpointRefused: truncated, corrupt and mismatched files are refused
// on every rank with ErrCheckpoint and a message naming what is wrong, and
// the solver is left as it was.
func TestCheckpointRefused(t *testing.T) {
	dims := [3]int{8, 8, 6}
	opt := Options{Dims: dims, Sources: RefSources(dims)}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	err := runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[float64](ctx, c, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, 30); err != nil {
			return err
		}
		return s.Checkpoint(ctx, good)
	})
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint32(file[12:]))
	variant := func(name string, edit func(b []byte) []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, edit(slices.Clone(file)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
		return b
	}
	type refusal struct {
		name, path, want string
		opt              Options
		float32          bool
		extra            bool // expect one section more than the file has
	}
	o45 := opt
	o45.Courant = 0.45
	other := opt
	other.Dims = [3]int{8, 8, 8}
	other.Sources = RefSources(other.Dims)
	cases := []refusal{
		{name: "truncated by one byte", path: variant("t1", func(b []byte) []byte { return b[:len(b)-1] }), want: "truncated"},
		{name: "truncated in the data", path: variant("t2", func(b []byte) []byte { return b[:hl+100] }), want: "truncated"},
		{name: "truncated in the header", path: variant("t3", func(b []byte) []byte { return b[:40] }), want: "truncated"},
		{name: "empty", path: variant("t4", func(b []byte) []byte { return b[:0] }), want: "truncated"},
		{name: "trailing byte", path: variant("t5", func(b []byte) []byte { return append(b, 0) }), want: "trailing"},
		{name: "flipped data byte", path: variant("f1", func(b []byte) []byte { b[hl+777] ^= 0x10; return b }), want: "checksum mismatch"},
		{name: "flipped steps byte", path: variant("f2", func(b []byte) []byte { b[56] ^= 1; return b }), want: "checksum mismatch"},
		{name: "flipped checksum byte", path: variant("f3", func(b []byte) []byte { b[len(b)-2] ^= 0x80; return b }), want: "checksum mismatch"},
		{name: "flipped magic byte", path: variant("f4", func(b []byte) []byte { b[3] ^= 0x20; return b }), want: "magic"},
		{name: "version 2", path: variant("v2", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return resum(b) }), want: "format version 2"},
		{name: "scalar size 3", path: variant("s3", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 3); return resum(b) }), want: "scalar size 3"},
		{name: "missing", path: filepath.Join(dir, "nothing-here"), want: "no such file"},
		{name: "a directory", path: dir, want: "not a regular file"},
		{name: "wrong dims", path: good, opt: other, want: "grid mismatch: the file is 8x8x6 cells, the solver 8x8x8"},
		{name: "wrong type", path: good, opt: opt, float32: true, want: "scalar type mismatch: the file holds float64 values, the solver is float32"},
		{name: "wrong Δt", path: good, opt: o45, want: "Δt mismatch: the file has 0.5, the solver 0.45"},
		{name: "wrong sections", path: good, opt: opt, extra: true, want: "section mismatch: the file has 6 sections"},
	}
	for _, c := range cases {
		if c.opt.Dims == ([3]int{}) {
			c.opt = opt
		}
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.float32 {
				err = refuse[float32](t, c.opt, c.path, c.want, c.extra)
			} else {
				err = refuse[float64](t, c.opt, c.path, c.want, c.extra)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if names := dirNames(t, dir); slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, ".tmp") }) {
		t.Errorf("temporary files left: %q", names)
	}
}

// refuse restores path into a solver on 3 ranks that has taken 5 steps and
// checks that every rank refuses it with ErrCheckpoint and a message
// containing want, and that the solver is unchanged.
func refuse[T Float](t *testing.T, opt Options, path, want string, extra bool) error {
	var once sync.Once
	return runRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[T](ctx, c, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, 5); err != nil {
			return err
		}
		e0, err := s.Energy(ctx)
		if err != nil {
			return err
		}
		secs := s.checkpointSections()
		if extra {
			secs = append(secs, stateSection[T]{name: "extra", box: secs[0].box})
		}
		err = s.readCheckpoint(ctx, path, secs)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("error %v, want ErrCheckpoint saying %q", err, want)
		}
		if want == "no such file" && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		once.Do(func() { t.Logf("%v", err) })
		e1, err := s.Energy(ctx)
		if err != nil {
			return err
		}
		if s.Steps() != 5 || e1 != e0 {
			return fmt.Errorf("after the refusal: step %d energy %+v, before: 5 and %+v", s.Steps(), e1, e0)
		}
		return s.Step(ctx) // the solver still runs
	})
}

// TestCheckpointWriteFailure: a checkpoint that cannot be written fails on
// every rank (none hangs) with ErrCheckpoint, and leaves no temporary file.
func TestCheckpointWriteFailure(t *testing.T) {
	dims := [3]int{8, 8, 6}
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(taken, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path, want string }{
		{"missing directory", filepath.Join(dir, "nope", "x.ckpt"), "no such file"},
		{"path is a directory", taken, "taken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := runRanks(t, 3, func(ctx context.Context, comm *transport.Comm) error {
				s, err := New[float64](ctx, comm, Options{Dims: dims, Sources: RefSources(dims)})
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, 3); err != nil {
					return err
				}
				err = s.Checkpoint(ctx, c.path)
				if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), c.want) {
					return fmt.Errorf("error %v, want ErrCheckpoint saying %q", err, c.want)
				}
				if comm.Rank() == 1 {
					t.Logf("rank 1: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"taken"}) {
				t.Errorf("directory holds %q, want taken only", names)
			}
		})
	}
}

// TestCheckpointExtraSection: a section appended the way CPML state would
// be (dense arrays over a slab, held by the ranks whose blocks meet it)
// travels from 3 ranks to 5 with another decomposition; parts that do not
// tile their section are refused before anything is written.
func TestCheckpointExtraSection(t *testing.T) {
	dims := [3]int{12, 10, 8}
	slab := decomp.Box{Lo: [3]int{0, 7, 0}, Hi: [3]int{12, 10, 8}} // the 3 top y planes
	value := func(x, y, z int) float64 { return float64(x+100*y+10000*z) + 0.25 }
	// slabSection gives each rank the part of the slab its blocks hold, as
	// dense arrays, filled with value or zero.
	slabSection := func(s *Solver[float64], fill bool) (stateSection[float64], error) {
		sec := stateSection[float64]{name: "cpml.psi_y", box: slab}
		for _, b := range s.f[Ex].Blocks() {
			in := b.Interior().Intersect(slab)
			if in.Empty() {
				continue
			}
			data := make([]float64, in.Cells())
			if fill {
				i := 0
				eachCell(in, func(x, y, z int) { data[i] = value(x, y, z); i++ })
			}
			p, err := densePart(in, data)
			if err != nil {
				return sec, err
			}
			sec.parts = append(sec.parts, p)
		}
		return sec, nil
	}
	path := filepath.Join(t.TempDir(), "extra.ckpt")
	err := runRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[float64](ctx, c, Options{Dims: dims})
		if err != nil {
			return err
		}
		defer s.Close()
		sec, err := slabSection(s, true)
		if err != nil {
			return err
		}
		// Every rank claiming the whole slab: overlapping parts.
		whole := make([]float64, slab.Cells())
		p, err := densePart(slab, whole)
		if err != nil {
			return err
		}
		bad := stateSection[float64]{name: "cpml.psi_y", box: slab, parts: []statePart[float64]{p}}
		err = s.writeCheckpoint(ctx, path, append(s.checkpointSections(), bad))
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "overlaps") {
			return fmt.Errorf("overlapping parts: error %v, want ErrCheckpoint saying overlaps", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("refused checkpoint left a file: %v", err)
		}
		return s.writeCheckpoint(ctx, path, append(s.checkpointSections(), sec))
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen sync.Map
	err = runRanks(t, 5, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[float64](ctx, c, Options{Dims: dims, Method: decomp.MethodBlock})
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Restore(ctx, path); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "section mismatch") {
			return fmt.Errorf("restore without the extra section: %v, want a section mismatch", err)
		}
		sec, err := slabSection(s, false)
		if err != nil {
			return err
		}
		if err := s.readCheckpoint(ctx, path, append(s.checkpointSections(), sec)); err != nil {
			return err
		}
		for _, p := range sec.parts {
			for z := p.box.Lo[2]; z < p.box.Hi[2]; z++ {
				for y := p.box.Lo[1]; y < p.box.Hi[1]; y++ {
					for i, v := range p.row(y, z) {
						x := p.box.Lo[0] + i
						if want := value(x, y, z); v != want {
							return fmt.Errorf("slab cell (%d, %d, %d) = %v, want %v", x, y, z, v, want)
						}
						seen.Store([3]int{x, y, z}, true)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if n != slab.Cells() {
		t.Errorf("the ranks restored %d slab cells, want %d", n, slab.Cells())
	}
}

// BenchmarkCheckpoint writes and restores a 96³ float64 checkpoint (6 × 96³
// values, 42 MB) on 4 ranks (hilbert). Every rank loops b.N times (b.Loop
// belongs to one goroutine); rank 0 resets the timer after a barrier.
func BenchmarkCheckpoint(b *testing.B) {
	dims := [3]int{96, 96, 96}
	path := filepath.Join(b.TempDir(), "bench.ckpt")
	for _, op := range []string{"write", "restore"} {
		b.Run(op, func(b *testing.B) {
			b.SetBytes(int64(6 * 8 * dims[0] * dims[1] * dims[2]))
			err := runRanks(b, 4, func(ctx context.Context, c *transport.Comm) error {
				s, err := New[float64](ctx, c, Options{Dims: dims, Sources: RefSources(dims)})
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, 2); err != nil {
					return err
				}
				if err := s.Checkpoint(ctx, path); err != nil {
					return err
				}
				if err := c.Barrier(ctx); err != nil {
					return err
				}
				if c.Rank() == 0 {
					b.ResetTimer()
				}
				for range b.N {
					if op == "write" {
						err = s.Checkpoint(ctx, path)
					} else {
						err = s.Restore(ctx, path)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
