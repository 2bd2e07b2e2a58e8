package tcp

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hilo-hpc/hilo/transport"
)

// Frame format (all integers big-endian), a 24-byte header followed by
// len payload bytes:
//
//	offset size field
//	0      1    type     (frameMsg, frameMsgCont, frameChanData, frameChanCredit, frameChanOpen, frameBye)
//	1      1    flags    (flagSender on frameChanOpen; 0 elsewhere)
//	2      2    reserved (0)
//	4      4    tag      (message tag, or persistent channel id)
//	8      4    seq      (frame sequence number, from 0, +1 per frame and direction)
//	12     4    len      (payload bytes that follow, <= MaxFramePayload)
//	16     8    aux      (frameMsg: total message size; frameChanOpen: slotBytes<<32 | slots;
//	                      frameChanCredit: slots released; 0 elsewhere)
//
// A message of size n is one frameMsg carrying its first bytes followed by
// frameMsgCont frames until n bytes have been carried; the sender never
// interleaves another message's frames in between, but channel and control
// frames may appear between the frames of a message.
const (
	frameHeaderSize = 24
	// MaxFramePayload is the largest payload one frame may carry; larger
	// messages are split into several frames.
	MaxFramePayload = 64 << 20
	// MaxMessageSize is the largest message a link accepts (1 TiB).
	MaxMessageSize = 1 << 40
	// maxSlots bounds the slots of a persistent channel.
	maxSlots = 1024
)

type frameType uint8

const (
	frameMsg        frameType = 1 // first frame of a message (aux = total size)
	frameMsgCont    frameType = 2 // continuation of the message in progress
	frameChanData   frameType = 3 // one committed slot of a persistent channel (tag = id)
	frameChanCredit frameType = 4 // the receiver released aux slots of channel tag
	frameChanOpen   frameType = 5 // the sender of this frame opened channel tag (aux = slotBytes<<32 | slots)
	frameBye        frameType = 6 // orderly close: no more frames follow
)

// flagSender on frameChanOpen: the rank sending this frame writes into the
// channel (the other end reads).
const flagSender = 1

func (t frameType) String() string {
	switch t {
	case frameMsg:
		return "msg"
	case frameMsgCont:
		return "msg-cont"
	case frameChanData:
		return "chan-data"
	case frameChanCredit:
		return "chan-credit"
	case frameChanOpen:
		return "chan-open"
	case frameBye:
		return "bye"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// frameHeader is the decoded fixed header of one frame.
type frameHeader struct {
	typ   frameType
	flags uint8
	tag   uint32
	seq   uint32
	len   uint32
	aux   uint64
}

// putHeader encodes h into b, which must hold frameHeaderSize bytes.
func putHeader(b []byte, h frameHeader) {
	_ = b[frameHeaderSize-1]
	b[0] = byte(h.typ)
	b[1] = h.flags
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint32(b[4:], h.tag)
	binary.BigEndian.PutUint32(b[8:], h.seq)
	binary.BigEndian.PutUint32(b[12:], h.len)
	binary.BigEndian.PutUint64(b[16:], h.aux)
}

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{transport.ErrProtocol}, args...)...)
}

// parseHeader decodes and validates one header on its own (the checks that
// need no stream state).
func parseHeader(b []byte) (frameHeader, error) {
	if len(b) < frameHeaderSize {
		return frameHeader{}, protoErr("short frame header (%d bytes)", len(b))
	}
	h := frameHeader{
		typ:   frameType(b[0]),
		flags: b[1],
		tag:   binary.BigEndian.Uint32(b[4:]),
		seq:   binary.BigEndian.Uint32(b[8:]),
		len:   binary.BigEndian.Uint32(b[12:]),
		aux:   binary.BigEndian.Uint64(b[16:]),
	}
	if b[2] != 0 || b[3] != 0 {
		return h, protoErr("reserved header bytes set in %v frame", h.typ)
	}
	if h.len > MaxFramePayload {
		return h, protoErr("%v frame payload of %d bytes exceeds the limit of %d", h.typ, h.len, MaxFramePayload)
	}
	switch h.typ {
	case frameMsg:
		if h.flags != 0 {
			return h, protoErr("unknown flags %#x on %v frame", h.flags, h.typ)
		}
		if h.aux > MaxMessageSize {
			return h, protoErr("message of %d bytes exceeds the limit of %d", h.aux, uint64(MaxMessageSize))
		}
		if uint64(h.len) > h.aux {
			return h, protoErr("first frame carries %d bytes of a %d-byte message", h.len, h.aux)
		}
	case frameMsgCont:
		if h.flags != 0 || h.aux != 0 {
			return h, protoErr("bad flags/aux on %v frame", h.typ)
		}
		if h.len == 0 {
			return h, protoErr("empty %v frame", h.typ)
		}
	case frameChanData:
		if h.flags != 0 || h.aux != 0 {
			return h, protoErr("bad flags/aux on %v frame", h.typ)
		}
	case frameChanCredit:
		if h.flags != 0 || h.len != 0 || h.aux == 0 || h.aux > maxSlots {
			return h, protoErr("bad %v frame (len %d, count %d)", h.typ, h.len, h.aux)
		}
	case frameChanOpen:
		slotBytes, slots := h.aux>>32, h.aux&0xffffffff
		if h.flags&^flagSender != 0 || h.len != 0 || slotBytes == 0 || slotBytes > MaxFramePayload || slots == 0 || slots > maxSlots {
			return h, protoErr("bad %v frame (flags %#x, len %d, slot bytes %d, slots %d)", h.typ, h.flags, h.len, slotBytes, slots)
		}
	case frameBye:
		if h.flags != 0 || h.len != 0 || h.aux != 0 {
			return h, protoErr("bad %v frame", h.typ)
		}
	default:
		return h, protoErr("unknown frame type %d", uint8(h.typ))
	}
	return h, nil
}

// frameDecoder reads frame headers from a stream and checks what needs
// stream state: the sequence numbers and the framing of split messages. The
// caller consumes each frame's payload (exactly h.len bytes) before asking
// for the next header.
type frameDecoder struct {
	r       io.Reader
	buf     [frameHeaderSize]byte
	nextSeq uint32
	msgLeft uint64 // payload bytes of the message in progress not yet framed
	msgTag  uint32 // its tag
}

// next reads and validates the next frame header.
func (d *frameDecoder) next() (frameHeader, error) {
	if _, err := io.ReadFull(d.r, d.buf[:]); err != nil {
		return frameHeader{}, err
	}
	return d.check(d.buf[:])
}

// check validates the header in b (frameHeaderSize bytes) against the
// stream so far and advances the stream state.
func (d *frameDecoder) check(b []byte) (frameHeader, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, err
	}
	if h.seq != d.nextSeq {
		return h, protoErr("%v frame has sequence %d, expected %d", h.typ, h.seq, d.nextSeq)
	}
	switch h.typ {
	case frameMsg:
		if d.msgLeft != 0 {
			return h, protoErr("new message while %d bytes of the previous one are missing", d.msgLeft)
		}
		d.msgLeft = h.aux - uint64(h.len)
		d.msgTag = h.tag
	case frameMsgCont:
		if h.tag != d.msgTag {
			return h, protoErr("continuation with tag %d of a message with tag %d", h.tag, d.msgTag)
		}
		if uint64(h.len) > d.msgLeft {
			return h, protoErr("continuation of %d bytes where %d remain", h.len, d.msgLeft)
		}
		d.msgLeft -= uint64(h.len)
	case frameBye:
		if d.msgLeft != 0 {
			return h, protoErr("bye with %d bytes of a message missing", d.msgLeft)
		}
	}
	d.nextSeq++
	return h, nil
}
