package fdtd

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// fuzzCheckpointFile is a whole small checkpoint (2x3x2 grid, Ex and a
// one-plane slab section), made without a solver.
func fuzzCheckpointFile(size int) []byte {
	dims := [3]int{2, 3, 2}
	secs := []stateSection[float64]{
		{name: "Ex", box: decomp.Box{Hi: dims}},
		{name: "cpml.psi", box: decomp.Box{Lo: [3]int{0, 2, 0}, Hi: dims}},
	}
	var h checkpointHeader
	if size == 4 {
		s32 := []stateSection[float32]{{name: secs[0].name, box: secs[0].box}, {name: secs[1].name, box: secs[1].box}}
		h = newCheckpointHeader(dims, float32(0.5), 7, s32)
	} else {
		h = newCheckpointHeader(dims, 0.5, 7, secs)
	}
	b := h.encode()
	for i := range h.dataLen {
		b = append(b, byte(i*37))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// FuzzCheckpointHeader: no header or file content makes the parser or the
// verifier panic (or allocate what a header announces); what they accept
// re-encodes to the same bytes, fits the size it announces, and is checked
// against a solver without a panic either.
func FuzzCheckpointHeader(f *testing.F) {
	for _, size := range []int{8, 4} {
		file := fuzzCheckpointFile(size)
		hl := int(binary.LittleEndian.Uint32(file[12:]))
		f.Add(file)
		f.Add(file[:hl])
		f.Add(file[:prefixLen])
		f.Add(file[:len(file)-1])
		v2 := bytes.Clone(file)
		v2[8] = 2
		f.Add(v2)
		big := bytes.Clone(file[:hl])
		binary.LittleEndian.PutUint64(big[68+4+2+24:], math.MaxUint64) // the first section's Hi.x
		f.Add(big)
	}
	f.Add([]byte("HILOFDTD"))
	f.Add([]byte{})
	s64 := &Solver[float64]{dims: [3]int{2, 3, 2}, dt: 0.5}
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := parseCheckpointHeader(data); err == nil {
			if enc := h.encode(); !bytes.Equal(enc, data[:h.headerLen]) {
				t.Fatalf("header re-encodes to %x, read from %x", enc, data[:h.headerLen])
			}
			offs := h.dataOffsets()
			for i := range offs {
				if offs[i] < h.headerLen || offs[i] > h.headerLen+h.dataLen {
					t.Fatalf("section %d at offset %d, header %d data %d", i, offs[i], h.headerLen, h.dataLen)
				}
			}
			_ = s64.matchCheckpoint(&h, nil) // a Solver without fields: no sections
		}
		h, err := verifyCheckpoint(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if int64(len(data)) != h.headerLen+h.dataLen+trailerLen {
			t.Fatalf("accepted %d bytes, header %d + data %d + %d", len(data), h.headerLen, h.dataLen, trailerLen)
		}
		if crc32.Checksum(data[:len(data)-4], castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
			t.Fatal("accepted a file whose checksum does not match")
		}
	})
}

// TestCheckpointHeaderRoundTrip: the fuzz seeds parse, and the whole seed
// file verifies, for both scalar sizes.
func TestCheckpointHeaderRoundTrip(t *testing.T) {
	for _, size := range []int{8, 4} {
		file := fuzzCheckpointFile(size)
		h, err := verifyCheckpoint(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if h.scalarSize != size || h.steps != 7 || len(h.sections) != 2 || h.sections[1].name != "cpml.psi" || h.dataLen != int64(12+4)*int64(size) {
			t.Errorf("size %d: parsed %+v", size, h)
		}
	}
}
