package halo

// pack writes the spans of f into msg at their offsets.
func (f *Field[T]) pack(msg []byte, spans []span, aligned bool) {
	if aligned {
		for _, s := range spans {
			gather(sliceAs[T](msg, s.off, s.elems), f.blocks[s.block].Data, s)
		}
		return
	}
	size := f.base().elemSize
	for _, s := range spans {
		bs := byteSpan(s, size)
		gather(msg[s.off:s.off+bs.elems], asBytes(f.blocks[s.block].Data), bs)
	}
}

// unpack reads the spans of f from msg.
func (f *Field[T]) unpack(msg []byte, spans []span, aligned bool) {
	if aligned {
		for _, s := range spans {
			scatter(f.blocks[s.block].Data, sliceAs[T](msg, s.off, s.elems), s)
		}
		return
	}
	size := f.base().elemSize
	for _, s := range spans {
		bs := byteSpan(s, size)
		scatter(asBytes(f.blocks[s.block].Data), msg[s.off:s.off+bs.elems], bs)
	}
}

// copyLocal copies cells between two blocks of f (or within one).
func (f *Field[T]) copyLocal(dst, src span) {
	copyBox(f.blocks[dst.block].Data, f.blocks[src.block].Data, dst, src)
}
