package tcp

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/hilo-hpc/hilo/transport"
)

// encodeFrames builds a byte stream of frames with consecutive sequence
// numbers from 0.
func encodeFrames(hs []frameHeader, payloads [][]byte) []byte {
	var buf bytes.Buffer
	for i, h := range hs {
		h.seq = uint32(i)
		var b [frameHeaderSize]byte
		putHeader(b[:], h)
		buf.Write(b[:])
		if payloads != nil {
			buf.Write(payloads[i])
		}
	}
	return buf.Bytes()
}

func TestFrameHeaderKnownBytes(t *testing.T) {
	// An independent oracle: the wire bytes written out by hand.
	var b [frameHeaderSize]byte
	putHeader(b[:], frameHeader{typ: frameMsg, tag: 0x01020304, seq: 0x0a0b0c0d, len: 0x100, aux: 0x1122334455667788})
	want := []byte{1, 0, 0, 0, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("header bytes\n got %x\nwant %x", b, want)
	}
}

func TestFrameStreamRoundTrip(t *testing.T) {
	hs := []frameHeader{
		{typ: frameMsg, tag: 7, len: 3, aux: 10},
		{typ: frameChanOpen, tag: 2, flags: flagSender, aux: 4096<<32 | 2},
		{typ: frameMsgCont, tag: 7, len: 7},
		{typ: frameChanData, tag: 2, len: 5},
		{typ: frameChanCredit, tag: 2, aux: 1},
		{typ: frameMsg, tag: 8},
		{typ: frameBye},
	}
	payloads := [][]byte{[]byte("abc"), nil, []byte("defghij"), []byte("slot!"), nil, nil, nil}
	d := frameDecoder{r: bytes.NewReader(encodeFrames(hs, payloads))}
	for i, want := range hs {
		want.seq = uint32(i)
		got, err := d.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got != want {
			t.Fatalf("frame %d: got %+v want %+v", i, got, want)
		}
		p := make([]byte, got.len)
		if _, err := io.ReadFull(d.r, p); err != nil || !bytes.Equal(p, payloads[i]) {
			t.Fatalf("frame %d payload %q %v", i, p, err)
		}
	}
	if _, err := d.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestFrameDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		hs   []frameHeader
		raw  func([]byte) // corrupts the encoded stream
	}{
		{name: "unknown type", hs: []frameHeader{{typ: 99}}},
		{name: "type zero", hs: []frameHeader{{typ: 0}}},
		{name: "length over limit", hs: []frameHeader{{typ: frameMsg, len: MaxFramePayload + 1, aux: MaxFramePayload + 1}}},
		{name: "message over limit", hs: []frameHeader{{typ: frameMsg, aux: MaxMessageSize + 1}}},
		{name: "first frame longer than message", hs: []frameHeader{{typ: frameMsg, len: 5, aux: 4}}},
		{name: "continuation without message", hs: []frameHeader{{typ: frameMsgCont, len: 1}}},
		{name: "continuation beyond message", hs: []frameHeader{{typ: frameMsg, len: 1, aux: 2}, {typ: frameMsgCont, len: 2}}},
		{name: "continuation with other tag", hs: []frameHeader{{typ: frameMsg, tag: 1, len: 1, aux: 2}, {typ: frameMsgCont, tag: 2, len: 1}}},
		{name: "empty continuation", hs: []frameHeader{{typ: frameMsg, len: 1, aux: 2}, {typ: frameMsgCont}}},
		{name: "message inside message", hs: []frameHeader{{typ: frameMsg, len: 1, aux: 2}, {typ: frameMsg, len: 1, aux: 1}}},
		{name: "bye inside message", hs: []frameHeader{{typ: frameMsg, len: 1, aux: 2}, {typ: frameBye}}},
		{name: "flags on message", hs: []frameHeader{{typ: frameMsg, flags: 1}}},
		{name: "zero credit", hs: []frameHeader{{typ: frameChanCredit}}},
		{name: "open without slots", hs: []frameHeader{{typ: frameChanOpen, aux: 4096 << 32}}},
		{name: "open with huge slots", hs: []frameHeader{{typ: frameChanOpen, aux: uint64(MaxFramePayload+1)<<32 | 2}}},
		{name: "sequence gap", hs: []frameHeader{{typ: frameBye}}, raw: func(b []byte) { b[11] = 1 }},
		{name: "reserved bytes", hs: []frameHeader{{typ: frameBye}}, raw: func(b []byte) { b[2] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := encodeFrames(tt.hs, nil)
			if tt.raw != nil {
				tt.raw(stream)
			}
			d := frameDecoder{r: bytes.NewReader(stream)}
			var err error
			for err == nil {
				var h frameHeader
				h, err = d.next()
				if err == nil {
					// The test streams carry no payload bytes; a frame
					// that announces some must fail on the next header.
					if h.len != 0 {
						_, err = d.next()
						if err == io.ErrUnexpectedEOF || err == io.EOF {
							t.Fatalf("frame %+v accepted", h)
						}
					}
				}
			}
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

func FuzzFrameDecode(f *testing.F) {
	f.Add(encodeFrames([]frameHeader{{typ: frameMsg, tag: 1, len: 2, aux: 3}, {typ: frameMsgCont, tag: 1, len: 1}}, [][]byte{{1, 2}, {3}}))
	f.Add(encodeFrames([]frameHeader{{typ: frameChanOpen, tag: 2, aux: 64<<32 | 2}, {typ: frameChanData, tag: 2, len: 1}, {typ: frameChanCredit, tag: 2, aux: 1}, {typ: frameBye}}, [][]byte{nil, {9}, nil, nil}))
	f.Add(encodeFrames([]frameHeader{{typ: frameMsg}}, nil))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, data []byte) {
		// 1. Decoding arbitrary bytes never panics, and every failure other
		// than running out of bytes is a protocol error.
		d := frameDecoder{r: bytes.NewReader(data)}
		for {
			h, err := d.next()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, transport.ErrProtocol) {
					t.Fatalf("error %v is neither EOF nor ErrProtocol", err)
				}
				break
			}
			if h.len > MaxFramePayload {
				t.Fatalf("accepted a %d-byte frame", h.len)
			}
			if _, err := io.CopyN(io.Discard, d.r, int64(h.len)); err != nil {
				break
			}
		}
		// 2. A header that parses re-encodes to the same bytes.
		if len(data) >= frameHeaderSize {
			h, err := parseHeader(data)
			if err == nil {
				var b [frameHeaderSize]byte
				putHeader(b[:], h)
				if !bytes.Equal(b[:], data[:frameHeaderSize]) {
					t.Fatalf("round trip: %x -> %+v -> %x", data[:frameHeaderSize], h, b)
				}
			}
		}
		// 3. A valid message built from the input splits and decodes back.
		if len(data) > 0 && len(data) <= 4096 {
			split := int(data[0])%max(len(data), 1) + 1
			var hs []frameHeader
			var ps [][]byte
			for off := 0; off < len(data) || off == 0; off += split {
				end := min(off+split, len(data))
				h := frameHeader{typ: frameMsgCont, tag: 42, len: uint32(end - off)}
				if off == 0 {
					h.typ, h.aux = frameMsg, uint64(len(data))
				}
				hs, ps = append(hs, h), append(ps, data[off:end])
				if end == len(data) {
					break
				}
			}
			d := frameDecoder{r: bytes.NewReader(encodeFrames(hs, ps))}
			var got []byte
			for range hs {
				h, err := d.next()
				if err != nil {
					t.Fatalf("valid frame rejected: %v", err)
				}
				p := make([]byte, h.len)
				io.ReadFull(d.r, p)
				got = append(got, p...)
			}
			if !bytes.Equal(got, data) || d.msgLeft != 0 {
				t.Fatalf("split message did not round trip")
			}
		}
	})
}
