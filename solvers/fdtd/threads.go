package fdtd

import "github.com/hilo-hpc/hilo/decomp"

// The update phases of a step, each a list of boxes per block.
const (
	phaseEInner = iota // E on cells that read no ghost a peer fills
	phaseERest         // E on the rest, after the H exchange
	phaseHInner
	phaseHRest
	numPhases
)

// A workItem is one box of one block to update.
type workItem struct {
	block int
	box   decomp.Box
}

// A threadPool runs the phases of a step on Options.Threads goroutines of
// one rank (threads within a process, messages between processes): each
// box is cut along z (or y when it is thin) into one slab per thread, and
// thread t always updates slab t, so the cells a thread touches stay in
// its core's cache from step to step. E and H updates read only the other
// field, so the slabs are independent and the result does not depend on
// the number of threads (bitwise). The workers are started once and are
// woken by a channel send per phase, which does not allocate.
type threadPool struct {
	work [numPhases][][]workItem // [phase][thread]
	wake []chan int              // per worker (threads 1..n-1): the phase to run
	done chan struct{}
}

// startThreads splits the phases over n threads and starts n-1 workers.
func (s *Solver[T]) startThreads(n int) {
	if n <= 1 {
		return
	}
	p := &threadPool{wake: make([]chan int, n), done: make(chan struct{}, n)}
	lists := [numPhases][][]decomp.Box{s.eInner, s.eRest, s.hInner, s.hRest}
	for ph, perBlock := range lists {
		p.work[ph] = make([][]workItem, n)
		for bi, boxes := range perBlock {
			for _, box := range boxes {
				for t, piece := range splitBox(box, n) {
					if !piece.Empty() {
						p.work[ph][t] = append(p.work[ph][t], workItem{bi, piece})
					}
				}
			}
		}
	}
	for t := 1; t < n; t++ {
		p.wake[t] = make(chan int)
		go func() {
			for ph := range p.wake[t] {
				s.runItems(ph, p.work[ph][t])
				p.done <- struct{}{}
			}
		}()
	}
	s.threads = p
}

// splitBox cuts box into n slabs along z, or along y when z has fewer than
// n planes (some slabs may be empty).
func splitBox(box decomp.Box, n int) []decomp.Box {
	a := 2
	if box.Size(2) < n {
		a = 1
	}
	out := make([]decomp.Box, n)
	lo, size := box.Lo[a], box.Size(a)
	for t := range n {
		b := box
		b.Lo[a] = lo + size*t/n
		b.Hi[a] = lo + size*(t+1)/n
		out[t] = b
	}
	return out
}

// runPhase updates one phase, on every thread when there is a pool.
func (s *Solver[T]) runPhase(ph int) {
	p := s.threads
	if p == nil {
		lists := [numPhases][][]decomp.Box{s.eInner, s.eRest, s.hInner, s.hRest}
		for bi, boxes := range lists[ph] {
			for _, box := range boxes {
				s.update(ph, bi, box)
			}
		}
		return
	}
	for t := 1; t < len(p.wake); t++ {
		p.wake[t] <- ph
	}
	s.runItems(ph, p.work[ph][0])
	for t := 1; t < len(p.wake); t++ {
		<-p.done
	}
}

func (s *Solver[T]) runItems(ph int, items []workItem) {
	for _, it := range items {
		s.update(ph, it.block, it.box)
	}
}

func (s *Solver[T]) update(ph, bi int, box decomp.Box) {
	if ph <= phaseERest {
		s.updateE(bi, box)
	} else {
		s.updateH(bi, box)
	}
}

// stopThreads ends the workers.
func (s *Solver[T]) stopThreads() {
	if p := s.threads; p != nil {
		for t := 1; t < len(p.wake); t++ {
			close(p.wake[t])
		}
		s.threads = nil
	}
}
