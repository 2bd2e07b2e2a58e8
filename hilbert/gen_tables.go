//go:build ignore

// gen_tables writes tables.go: the state machine that gives Skilling's 3D
// Hilbert curve several bit planes per table look-up. Run with
// `go generate` in this directory. The tests check the tables against the
// plain Skilling loop on every cell up to 64^3, so a wrong table cannot pass.
//
// Derivation. Skilling's encoder walks the bit planes from the top. At each
// plane it looks at that plane's (already transformed) octant o' and then
// reflects or swaps the bits of all lower planes: the lower planes see a
// signed permutation g of the axes, the same on every plane. After that loop
// the Gray step works plane by plane, and the final "t" step flips every bit
// of a plane when the parity of the last axis's Gray bits on the planes above
// is odd. So the state of the walk is (g, parity): from state (g, p) and
// octant o, the digit is gray(g(o)) ^ (p ? 7 : 0) and the next state is
// (ops(g(o)) ∘ g, p ^ parity(g(o))). That machine has 48 states, of which 24
// differ in behaviour (Moore minimisation); we keep the 24.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
)

// planes is how many bit planes one table look-up handles.
const planes = 3

type state struct {
	g [8]uint8 // action of the signed axis permutation on one plane's octant
	p uint8    // parity of the last Gray bit on the planes above
}

func swapBits(o uint8, a, b uint) uint8 {
	if o>>a&1 != o>>b&1 {
		o ^= 1<<a | 1<<b
	}
	return o
}

// ops is the map the inverse-undo loop applies to lower planes after seeing
// octant o (bit 2 = X[0] = x, bit 1 = y, bit 0 = z) on this plane.
func ops(o uint8) [8]uint8 {
	var h [8]uint8
	for v := uint8(0); v < 8; v++ {
		w := v
		for i := uint(0); i < 3; i++ {
			if o>>(2-i)&1 == 1 {
				w ^= 4 // invert X[0]
			} else {
				w = swapBits(w, 2, 2-i) // exchange X[0] and X[i]
			}
		}
		h[v] = w
	}
	return h
}

func gray(o uint8) uint8 { // X[i] ^= X[i-1] for i = 1, 2
	x0, x1, x2 := o>>2&1, o>>1&1, o&1
	x1 ^= x0
	x2 ^= x1
	return x0<<2 | x1<<1 | x2
}

func step(s state, o uint8) (digit uint8, next state) {
	t := s.g[o]
	gd := gray(t)
	digit = gd
	if s.p == 1 {
		digit ^= 7
	}
	h := ops(t)
	for v := range next.g {
		next.g[v] = h[s.g[v]]
	}
	next.p = s.p ^ gd&1
	return digit, next
}

func main() {
	// Explore the raw machine.
	var id [8]uint8
	for i := range id {
		id[i] = uint8(i)
	}
	raw := []state{{g: id}}
	index := map[state]int{raw[0]: 0}
	for k := 0; k < len(raw); k++ {
		for o := uint8(0); o < 8; o++ {
			_, n := step(raw[k], o)
			if _, ok := index[n]; !ok {
				index[n] = len(raw)
				raw = append(raw, n)
			}
		}
	}
	nraw := len(raw)
	digit := make([][8]uint8, nraw)
	next := make([][8]int, nraw)
	for k, s := range raw {
		for o := uint8(0); o < 8; o++ {
			d, n := step(s, o)
			digit[k][o], next[k][o] = d, index[n]
		}
	}

	// Moore minimisation.
	class := make([]int, nraw)
	{
		seen := map[[8]uint8]int{}
		for k := range digit {
			c, ok := seen[digit[k]]
			if !ok {
				c = len(seen)
				seen[digit[k]] = c
			}
			class[k] = c
		}
		nclass := len(seen)
		for {
			type sig struct {
				c int
				n [8]int
			}
			seen := map[sig]int{}
			nc := make([]int, nraw)
			// Visit in raw order so class 0 is the start state.
			for k := range digit {
				s := sig{c: class[k]}
				for o := range s.n {
					s.n[o] = class[next[k][o]]
				}
				c, ok := seen[s]
				if !ok {
					c = len(seen)
					seen[s] = c
				}
				nc[k] = c
			}
			class = nc
			if len(seen) == nclass {
				break
			}
			nclass = len(seen)
		}
	}
	nstates := 0
	for _, c := range class {
		nstates = max(nstates, c+1)
	}
	if class[0] != 0 {
		log.Fatal("start state is not class 0")
	}
	rep := make([]int, nstates) // a raw representative of each class
	for k := nraw - 1; k >= 0; k-- {
		rep[class[k]] = k
	}
	mDigit := make([][8]uint8, nstates)
	mNext := make([][8]int, nstates)
	for c := range nstates {
		for o := range 8 {
			mDigit[c][o] = digit[rep[c]][o]
			mNext[c][o] = class[next[rep[c]][o]]
		}
	}

	// Pad states: padStart[k] is a state from which k all-zero planes give
	// all-zero digits and lead to the start state, so a key of any bit depth
	// can be computed in whole steps of `planes` planes.
	padStart := make([]int, planes)
	for k := 1; k < planes; k++ {
		found := -1
		for c := range nstates {
			if mDigit[c][0] == 0 && mNext[c][0] == padStart[k-1] {
				found = c
				break
			}
		}
		if found < 0 {
			log.Fatalf("no pad state for %d planes", k)
		}
		padStart[k] = found
	}

	// Multi-plane tables.
	width := 3 * planes
	size := 1 << width
	// The tables are padded to tableRows (a power of two) rows of states so
	// that masking the index proves it in range and the compiler drops the
	// bounds check; the padding rows are never read.
	rows := 1
	for rows < nstates {
		rows <<= 1
	}
	enc := make([]uint16, rows*size)
	dec := make([]uint16, rows*size)
	// The table index and the decoder's output hold the planes' bits axis by
	// axis, x's bits highest: x<<(2*planes) | y<<planes | z, each the
	// coordinate's bits on these planes. So the caller needs no bit
	// interleaving.
	for c := range nstates {
		for in := range size {
			xs, ys, zs := in>>(2*planes), in>>planes&(1<<planes-1), in&(1<<planes-1)
			s := c
			var out int
			for p := planes - 1; p >= 0; p-- {
				o := (xs>>p&1)<<2 | (ys>>p&1)<<1 | zs>>p&1
				out = out<<3 | int(mDigit[s][o])
				s = mNext[s][o]
			}
			enc[c*size+in] = uint16(s<<width | out)
			// The digit string out is produced by the cell in, so the decoder
			// maps out back to in with the same final state.
			dec[c*size+out] = uint16(s<<width | in)
		}
	}

	// Where a walk of each depth starts: the pad state shifted into place,
	// and the depth rounded up to whole steps.
	var startState, startPlanes [32]int
	for bits := 1; bits <= 21; bits++ {
		pad := (planes - bits%planes) % planes
		startState[bits] = padStart[pad] << width
		startPlanes[bits] = bits + pad
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by gen_tables.go; DO NOT EDIT.\n\npackage hilbert\n\n")
	fmt.Fprintf(&b, "// tablePlanes is the number of bit planes one look-up handles.\nconst tablePlanes = %d\n\n", planes)
	fmt.Fprintf(&b, "// tableStates is the number of states of the minimised machine.\nconst tableStates = %d\n\n", nstates)
	fmt.Fprintf(&b, "// tableRows is tableStates rounded up to a power of two.\nconst tableRows = %d\n\n", rows)
	fmt.Fprintf(&b, "// depthState[bits] is the state (shifted left by 3*tablePlanes) to start\n// a key of depth bits in: all-zero planes are put on top to make the depth\n// a multiple of tablePlanes, and they lead from this state to the start.\n")
	fmt.Fprintf(&b, "var depthState = [32]uint16{")
	for i, v := range startState {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", v)
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "// depthPlanes[bits] is bits rounded up to a multiple of tablePlanes.\n")
	fmt.Fprintf(&b, "var depthPlanes = [32]uint8{")
	for i, v := range startPlanes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", v)
	}
	b.WriteString("}\n\n")
	writeTable := func(name, doc string, t []uint16) {
		fmt.Fprintf(&b, "%s\nvar %s = [tableRows << (3 * tablePlanes)]uint16{", doc, name)
		for i, v := range t {
			if i%16 == 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "%d, ", v)
		}
		b.WriteString("\n}\n\n")
	}
	writeTable("encodeTable", "// encodeTable[state<<(3*tablePlanes) | cell] = next<<(3*tablePlanes) | digits,\n// cell = x<<(2*tablePlanes) | y<<tablePlanes | z on the step's planes.", enc)
	writeTable("decodeTable", "// decodeTable[state<<(3*tablePlanes) | digits] = next<<(3*tablePlanes) | cell.", dec)
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("tables.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
