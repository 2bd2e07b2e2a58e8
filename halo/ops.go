package halo

// pack writes the spans of f into msg at their offsets. stream asks for
// non-temporal stores where they pay (see copyStreaming); the caller then
// calls streamcopy.Fence before publishing msg.
func (f *Field[T]) pack(msg []byte, spans []span, aligned, stream bool) {
	if aligned {
		for k := 0; k < len(spans); k++ {
			s := &spans[k]
			if s.pairNext && k+1 < len(spans) {
				s2 := &spans[k+1]
				gatherPair(sliceAs[T](msg, s.off, s.elems), sliceAs[T](msg, s2.off, s2.elems), f.blocks[s.block].Data, *s, *s2)
				k++
				continue
			}
			gather(sliceAs[T](msg, s.off, s.elems), f.blocks[s.block].Data, *s, stream)
		}
		return
	}
	size := f.base().elemSize
	for _, s := range spans {
		bs := byteSpan(s, size)
		gather(msg[s.off:s.off+bs.elems], asBytes(f.blocks[s.block].Data), bs, stream)
	}
}

// unpack reads the spans of f from msg.
func (f *Field[T]) unpack(msg []byte, spans []span, aligned bool) {
	if aligned {
		for k := 0; k < len(spans); k++ {
			s := &spans[k]
			if s.pairNext && k+1 < len(spans) {
				s2 := &spans[k+1]
				scatterPair(f.blocks[s.block].Data, sliceAs[T](msg, s.off, s.elems), sliceAs[T](msg, s2.off, s2.elems), *s, *s2)
				k++
				continue
			}
			scatter(f.blocks[s.block].Data, sliceAs[T](msg, s.off, s.elems), *s)
		}
		return
	}
	size := f.base().elemSize
	for _, s := range spans {
		bs := byteSpan(s, size)
		scatter(asBytes(f.blocks[s.block].Data), msg[s.off:s.off+bs.elems], bs)
	}
}

// copyLocal does a local copy of f: cells between two blocks (or within
// one), or two such copies of the same shape in one pass over their rows.
func (f *Field[T]) copyLocal(c *localCopy) {
	if !c.paired {
		copyBox(f.blocks[c.dst.block].Data, f.blocks[c.src.block].Data, c.dst, c.src)
		return
	}
	copyBoxPair(f.blocks[c.dst.block].Data, f.blocks[c.src.block].Data, c.dst, c.src,
		f.blocks[c.dst2.block].Data, f.blocks[c.src2.block].Data, c.dst2, c.src2)
}
