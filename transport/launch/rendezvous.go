package launch

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// ErrRendezvous is wrapped by every error of the rendezvous: a rank that
// does not show up in time, a rank lost during it, a refused connection.
var ErrRendezvous = errors.New("launch: rendezvous failed")

// An exchanger is one rank's end of a rendezvous: an allgather of small
// byte strings ("cards"), in numbered rounds, before any transport exists.
type exchanger interface {
	// exchange publishes mine for this round and returns every rank's card
	// of the round, indexed by rank.
	exchange(ctx context.Context, round int, mine []byte) ([][]byte, error)
	// localHost is this rank's address as the other ranks see it ("" if
	// unknown).
	localHost() string
	// close releases the rendezvous (connections, files); close(nil) only
	// once every rank has read every card (Init passes a barrier first).
	// A non-nil
	// failure is this rank giving up: the others are told why, instead of
	// waiting for it until their timeout.
	close(failure error)
}

const (
	rdvMagic       = "HILORDV1"
	nonceBytes     = 32
	macBytes       = sha256.Size
	maxCardBytes   = 64 << 10
	handshakeLimit = 5 * time.Second
	// replyGrace: how long past its own deadline a rank waits for rank 0 to
	// say which ranks are missing (rank 0's clock started no earlier).
	replyGrace = 2 * time.Second
	// maxHandshakes bounds the handshakes rank 0 runs at once.
	maxHandshakes = 256
)

// Frame types on a rendezvous connection.
const (
	frameCard  = 1 // rank -> root: this rank's card for a round
	frameTable = 2 // root -> rank: every card of the round
	frameError = 3 // root -> rank: the round failed; payload says why
)

// ranksList formats ranks as "3, 5 and 7".
func ranksList(ranks []int) string {
	s := make([]string, len(ranks))
	for i, r := range ranks {
		s[i] = strconv.Itoa(r)
	}
	if len(s) == 1 {
		return "rank " + s[0]
	}
	return "ranks " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		h.Write(p)
	}
	return h.Sum(nil)
}

func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// session is an authenticated rendezvous connection: both nonces and a
// sequence number per direction go into every frame's MAC, so a frame cannot
// be replayed, reflected or moved to another connection.
type session struct {
	conn             net.Conn
	key              []byte
	cn, sn           []byte // client's and server's nonces
	sendSeq, recvSeq uint64
	sendDir, recvDir byte // 'c' for frames the client sends, 's' for the server's
}

func (s *session) writeFrame(typ byte, round int, payload []byte) error {
	var hdr [8]byte
	hdr[0] = typ
	binary.BigEndian.PutUint16(hdr[2:], uint16(round))
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	seq := binary.BigEndian.AppendUint64(nil, s.sendSeq)
	s.sendSeq++
	m := mac(s.key, []byte{s.sendDir}, s.cn, s.sn, seq, hdr[:], payload)
	buf := make([]byte, 0, len(hdr)+len(payload)+len(m))
	buf = append(append(append(buf, hdr[:]...), payload...), m...)
	_, err := s.conn.Write(buf)
	return err
}

func (s *session) readFrame(maxLen int) (typ byte, round int, payload []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(s.conn, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if int64(n) > int64(maxLen) || hdr[1] != 0 {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes", transport.ErrProtocol, n)
	}
	buf := make([]byte, int(n)+macBytes)
	if _, err := io.ReadFull(s.conn, buf); err != nil {
		return 0, 0, nil, err
	}
	payload, got := buf[:n], buf[n:]
	seq := binary.BigEndian.AppendUint64(nil, s.recvSeq)
	s.recvSeq++
	if !hmac.Equal(got, mac(s.key, []byte{s.recvDir}, s.cn, s.sn, seq, hdr[:], payload)) {
		return 0, 0, nil, fmt.Errorf("%w: frame with a bad MAC", transport.ErrAuth)
	}
	return hdr[0], int(binary.BigEndian.Uint16(hdr[2:])), payload, nil
}

func encodeTable(cards [][]byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(cards)))
	for _, c := range cards {
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

func decodeTable(b []byte, size int) ([][]byte, error) {
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != size {
		return nil, fmt.Errorf("%w: table is not of %d cards", transport.ErrProtocol, size)
	}
	b = b[4:]
	cards := make([][]byte, size)
	for i := range cards {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: short table", transport.ErrProtocol)
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%w: short table", transport.ErrProtocol)
		}
		cards[i] = b[4 : 4+n]
		b = b[4+n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes after table", transport.ErrProtocol)
	}
	return cards, nil
}

// ---------------------------------------------------------------- rank 0

// rootServer is rank 0's end of a rendezvous through its TCP address: every
// other rank connects, proves it holds the job key and sends its card; once
// all cards of a round are in, rank 0 sends the table back on every
// connection. O(P) messages per round.
type rootServer struct {
	ln      net.Listener
	key     []byte
	size    int
	timeout time.Duration
	logf    func(string, ...any)

	mu      sync.Mutex
	closed  bool
	conns   []*session       // by rank; nil until it joined
	inbox   map[int][][]byte // round -> cards by rank
	lost    map[int]error    // ranks whose connection broke
	changed chan struct{}    // cap 1: something in mu changed
	sem     chan struct{}    // bounds concurrent handshakes
	wg      sync.WaitGroup
	all     map[net.Conn]bool // every open connection, to close them
	round   int               // the last round exchange was called for
}

func newRootServer(ln net.Listener, id Identity, logf func(string, ...any)) *rootServer {
	s := &rootServer{
		ln: ln, key: id.Key, size: id.Size, timeout: id.Timeout, logf: logf,
		conns:   make([]*session, id.Size),
		inbox:   map[int][][]byte{},
		lost:    map[int]error{},
		changed: make(chan struct{}, 1),
		sem:     make(chan struct{}, maxHandshakes),
		all:     map[net.Conn]bool{},
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *rootServer) localHost() string {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
		return a.IP.String()
	}
	return ""
}

func (s *rootServer) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *rootServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.all[c] = true
		s.mu.Unlock()
		select {
		case s.sem <- struct{}{}:
		default:
			s.logf("rendezvous: refused %s: too many handshakes at once", c.RemoteAddr())
			s.drop(c)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			rank, sess, err := s.handshake(c)
			<-s.sem
			if err != nil {
				s.logf("rendezvous: refused %s: %v", c.RemoteAddr(), err)
				s.drop(c)
				return
			}
			s.serve(rank, sess)
		}()
	}
}

func (s *rootServer) drop(c net.Conn) {
	s.mu.Lock()
	delete(s.all, c)
	s.mu.Unlock()
	c.Close()
}

// handshake checks that the client is a rank of this job holding the key.
func (s *rootServer) handshake(c net.Conn) (int, *session, error) {
	c.SetDeadline(time.Now().Add(handshakeLimit))
	var hello [len(rdvMagic) + 8 + nonceBytes]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil {
		return 0, nil, fmt.Errorf("no hello: %w", err)
	}
	if string(hello[:len(rdvMagic)]) != rdvMagic {
		return 0, nil, fmt.Errorf("not a hilo rendezvous client")
	}
	rank := int(binary.BigEndian.Uint32(hello[8:]))
	size := int(binary.BigEndian.Uint32(hello[12:]))
	if size != s.size {
		return 0, nil, fmt.Errorf("claims a job of %d ranks, this one has %d", size, s.size)
	}
	if rank <= 0 || rank >= s.size {
		return 0, nil, fmt.Errorf("claims rank %d, outside 1..%d", rank, s.size-1)
	}
	cn := slices.Clone(hello[16:])
	sn := make([]byte, nonceBytes)
	rand.Read(sn)
	proof := mac(s.key, []byte("S"), cn, sn, u32(rank), u32(size))
	if _, err := c.Write(append(sn, proof...)); err != nil {
		return 0, nil, err
	}
	got := make([]byte, macBytes)
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, nil, fmt.Errorf("rank %d sent no proof of the job key: %w", rank, err)
	}
	if !hmac.Equal(got, mac(s.key, []byte("C"), cn, sn, u32(rank), u32(size))) {
		return 0, nil, fmt.Errorf("%w: claimed rank %d without the job key", transport.ErrAuth, rank)
	}
	s.mu.Lock()
	dup := s.conns[rank] != nil
	if !dup {
		s.conns[rank] = &session{conn: c, key: s.key, cn: cn, sn: sn, sendDir: 's', recvDir: 'c'}
	}
	sess := s.conns[rank]
	s.mu.Unlock()
	if dup {
		return 0, nil, fmt.Errorf("rank %d is already connected", rank)
	}
	if _, err := c.Write([]byte{'K'}); err != nil {
		return 0, nil, err
	}
	c.SetDeadline(time.Time{})
	s.signal()
	return rank, sess, nil
}

// serve reads a joined rank's cards until its connection closes.
func (s *rootServer) serve(rank int, sess *session) {
	for {
		typ, round, payload, err := sess.readFrame(maxCardBytes)
		if err == nil && typ != frameCard {
			err = fmt.Errorf("%w: unexpected frame type %d", transport.ErrProtocol, typ)
		}
		s.mu.Lock()
		if err != nil {
			if !s.closed {
				s.lost[rank] = err
			}
			s.mu.Unlock()
			s.signal()
			return
		}
		cards := s.inbox[round]
		if cards == nil {
			cards = make([][]byte, s.size)
			s.inbox[round] = cards
		}
		cards[rank] = payload
		s.mu.Unlock()
		s.signal()
	}
}

func (s *rootServer) exchange(ctx context.Context, round int, mine []byte) ([][]byte, error) {
	s.round = round
	for {
		s.mu.Lock()
		cards := s.inbox[round]
		if cards == nil {
			cards = make([][]byte, s.size)
			s.inbox[round] = cards
		}
		cards[0] = mine
		var missing, lost []int
		for r := 1; r < s.size; r++ {
			if cards[r] == nil {
				if s.lost[r] != nil {
					lost = append(lost, r)
				} else {
					missing = append(missing, r)
				}
			}
		}
		s.mu.Unlock()
		if len(lost) > 0 {
			msg := fmt.Sprintf("%s lost during the rendezvous (round %d): %v", ranksList(lost), round, s.lost[lost[0]])
			s.fail(round, msg)
			return nil, fmt.Errorf("%w: %s", ErrRendezvous, msg)
		}
		if len(missing) == 0 {
			table := encodeTable(cards)
			s.mu.Lock()
			conns := slices.Clone(s.conns)
			s.mu.Unlock()
			for r := 1; r < s.size; r++ {
				conns[r].conn.SetWriteDeadline(time.Now().Add(handshakeLimit))
				if err := conns[r].writeFrame(frameTable, round, table); err != nil {
					return nil, fmt.Errorf("%w: sending the table to rank %d: %v", ErrRendezvous, r, err)
				}
			}
			return cards, nil
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			msg := fmt.Sprintf("%s did not show up within %v (round %d)", ranksList(missing), s.timeout, round)
			s.fail(round, msg)
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: %w while waiting for %s", ErrRendezvous, ctx.Err(), ranksList(missing))
			}
			return nil, fmt.Errorf("%w: %s", ErrRendezvous, msg)
		}
	}
}

// fail tells every joined rank why the round failed.
func (s *rootServer) fail(round int, msg string) {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.conn.SetWriteDeadline(time.Now().Add(time.Second))
			c.writeFrame(frameError, round, []byte(msg))
		}
	}
}

func (s *rootServer) close(failure error) {
	if failure != nil {
		s.fail(s.round, "rank 0 failed: "+failure.Error())
	}
	s.mu.Lock()
	s.closed = true
	for c := range s.all {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// ---------------------------------------------------------------- other ranks

type rootClient struct {
	sess    *session
	rank    int
	size    int
	root    string
	timeout time.Duration
}

// dialRoot connects to rank 0 (retrying while it is not up yet) and proves
// the job key.
func dialRoot(ctx context.Context, id Identity) (*rootClient, error) {
	delay := 5 * time.Millisecond
	var lastErr error
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", id.Root)
		if err == nil {
			sess, err := clientHandshake(ctx, c, id)
			if err == nil {
				return &rootClient{sess: sess, rank: id.Rank, size: id.Size, root: id.Root, timeout: id.Timeout}, nil
			}
			c.Close()
			if errors.Is(err, transport.ErrAuth) {
				return nil, fmt.Errorf("%w: rank %d at rank 0's address %s: %w", ErrRendezvous, id.Rank, id.Root, err)
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: rank 0 did not show up at %s within %v (rank %d: %v)", ErrRendezvous, id.Root, id.Timeout, id.Rank, lastErr)
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

func clientHandshake(ctx context.Context, c net.Conn, id Identity) (*session, error) {
	deadline := time.Now().Add(handshakeLimit)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	cn := make([]byte, nonceBytes)
	rand.Read(cn)
	hello := append([]byte(rdvMagic), u32(id.Rank)...)
	hello = append(append(hello, u32(id.Size)...), cn...)
	if _, err := c.Write(hello); err != nil {
		return nil, err
	}
	var reply [nonceBytes + macBytes]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		return nil, err
	}
	sn := slices.Clone(reply[:nonceBytes])
	if !hmac.Equal(reply[nonceBytes:], mac(id.Key, []byte("S"), cn, sn, u32(id.Rank), u32(id.Size))) {
		return nil, fmt.Errorf("%w: rank 0 could not prove it holds the job key (different HILO_JOB_KEY, or another job's port)", transport.ErrAuth)
	}
	if _, err := c.Write(mac(id.Key, []byte("C"), cn, sn, u32(id.Rank), u32(id.Size))); err != nil {
		return nil, err
	}
	var verdict [1]byte
	if _, err := io.ReadFull(c, verdict[:]); err != nil || verdict[0] != 'K' {
		return nil, fmt.Errorf("%w: rank 0 refused rank %d (rank already taken?)", transport.ErrAuth, id.Rank)
	}
	c.SetDeadline(time.Time{})
	return &session{conn: c, key: id.Key, cn: cn, sn: sn, sendDir: 'c', recvDir: 's'}, nil
}

func (c *rootClient) localHost() string {
	if a, ok := c.sess.conn.LocalAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}

func (c *rootClient) exchange(ctx context.Context, round int, mine []byte) ([][]byte, error) {
	conn := c.sess.conn
	conn.SetWriteDeadline(time.Now().Add(handshakeLimit))
	if err := c.sess.writeFrame(frameCard, round, mine); err != nil {
		return nil, fmt.Errorf("%w: rank %d sending its card to rank 0: %v", ErrRendezvous, c.rank, err)
	}
	// Wait for the table past our own deadline by a grace, so that rank 0,
	// which knows who is missing, can say so; a cancellation stops at once.
	if d, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(d.Add(replyGrace))
	}
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			conn.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	typ, r, payload, err := c.sess.readFrame(1 << 30)
	conn.SetReadDeadline(time.Time{})
	switch {
	case err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: rank %d: %w", ErrRendezvous, c.rank, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("%w: rank %d lost rank 0 during the rendezvous: %v", ErrRendezvous, c.rank, err)
	case typ == frameError:
		return nil, fmt.Errorf("%w: rank 0 says: %.300s", ErrRendezvous, payload)
	case r != round:
		return nil, fmt.Errorf("%w: rank 0 answered round %d, want %d", transport.ErrProtocol, r, round)
	case typ != frameTable:
		return nil, fmt.Errorf("%w: rank 0 sent frame type %d", transport.ErrProtocol, typ)
	}
	return decodeTable(payload, c.size)
}

func (c *rootClient) close(error) { c.sess.conn.Close() }

// ---------------------------------------------------------------- directory

// dirExchanger is a rendezvous through a directory every rank can reach: each
// rank writes its card atomically (a temporary file renamed into place) and
// reads the others' as they appear. With a job key each card carries an
// HMAC, and a card that does not verify (left over from another job) is
// not used.
type dirExchanger struct {
	dir     string
	owned   bool
	rank    int
	size    int
	key     []byte
	timeout time.Duration
	written []string
	job     string // the launcher's job id and a dash, or ""
}

func newDirExchanger(id Identity) (*dirExchanger, error) {
	if err := os.MkdirAll(id.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: rendezvous directory: %w", ErrRendezvous, err)
	}
	d := &dirExchanger{dir: id.Dir, owned: id.DirOwned, rank: id.Rank, size: id.Size, key: id.Key, timeout: id.Timeout}
	if id.JobID != "" {
		// Cards named after the job: a directory used by job after job
		// never shows one the cards (or failure notes) of another.
		d.job = sanitize(id.JobID) + "-"
	}
	return d, nil
}

func (d *dirExchanger) localHost() string { return "" }

func (d *dirExchanger) cardPath(round, rank int) string {
	return filepath.Join(d.dir, fmt.Sprintf("hilo-%sr%d-%d.card", d.job, round, rank))
}

func (d *dirExchanger) seal(round, rank int, card []byte) []byte {
	if d.key == nil {
		return card
	}
	return append(slices.Clone(card), mac(d.key, []byte("dir"), u32(round), u32(rank), u32(d.size), card)...)
}

func (d *dirExchanger) open(round, rank int, b []byte) ([]byte, bool) {
	if d.key == nil {
		return b, true
	}
	if len(b) < macBytes {
		return nil, false
	}
	card, m := b[:len(b)-macBytes], b[len(b)-macBytes:]
	return card, hmac.Equal(m, mac(d.key, []byte("dir"), u32(round), u32(rank), u32(d.size), card))
}

func (d *dirExchanger) exchange(ctx context.Context, round int, mine []byte) ([][]byte, error) {
	final := d.cardPath(round, d.rank)
	if err := d.writeCard(round, final, mine); err != nil {
		return nil, err
	}
	d.written = append(d.written, final)

	cards := make([][]byte, d.size)
	cards[d.rank] = mine
	invalid := map[int]bool{}
	delay := time.Millisecond
	for {
		var missing []int
		for r := range cards {
			if cards[r] != nil {
				continue
			}
			b, err := os.ReadFile(d.cardPath(round, r))
			if err != nil {
				if note, err := os.ReadFile(d.failPath(r)); err == nil {
					if msg, ok := d.open(0, r, note); ok {
						return nil, fmt.Errorf("%w: rank %d failed: %.300s", ErrRendezvous, r, msg)
					}
				}
				missing = append(missing, r)
				continue
			}
			card, ok := d.open(round, r, b)
			if !ok {
				invalid[r] = true
				missing = append(missing, r)
				continue
			}
			cards[r] = card
		}
		if len(missing) == 0 {
			return cards, nil
		}
		select {
		case <-ctx.Done():
			var bad []int
			for _, r := range missing {
				if invalid[r] {
					bad = append(bad, r)
				}
			}
			msg := fmt.Sprintf("%s did not show up within %v in %s (round %d)", ranksList(missing), d.timeout, d.dir, round)
			if len(bad) > 0 {
				msg += fmt.Sprintf("; the card of %s did not verify (another job's, or another key)", ranksList(bad))
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: %w; %s", ErrRendezvous, ctx.Err(), msg)
			}
			return nil, fmt.Errorf("%w: %s", ErrRendezvous, msg)
		case <-time.After(delay):
		}
		delay = min(delay*2, 20*time.Millisecond)
	}
}

func (d *dirExchanger) failPath(rank int) string {
	return filepath.Join(d.dir, fmt.Sprintf("hilo-%sfailed-%d", d.job, rank))
}

// writeCard writes a card atomically: a temporary file renamed into place.
func (d *dirExchanger) writeCard(round int, final string, card []byte) error {
	tmp, err := os.CreateTemp(d.dir, fmt.Sprintf(".tmp-%d-*", d.rank))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRendezvous, err)
	}
	_, werr := tmp.Write(d.seal(round, d.rank, card))
	cerr := tmp.Close()
	if werr == nil && cerr == nil {
		werr = os.Rename(tmp.Name(), final)
	}
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%w: writing %s: %v", ErrRendezvous, final, errors.Join(werr, cerr))
	}
	return nil
}

func (d *dirExchanger) close(failure error) {
	if failure != nil {
		// A note saying why, so that the others fail at once rather than
		// wait for this rank's next card. It stays: they may not have read
		// it yet.
		d.writeCard(0, d.failPath(d.rank), []byte(failure.Error()))
	}
	for _, p := range d.written {
		os.Remove(p)
	}
	d.written = nil
	if d.owned {
		os.Remove(d.dir) // succeeds for the last rank out
	}
}

// ---------------------------------------------------------------- setup

// newExchanger opens this rank's end of the rendezvous the identity names.
func newExchanger(ctx context.Context, id Identity, logf func(string, ...any)) (exchanger, error) {
	if id.Dir != "" {
		return newDirExchanger(id)
	}
	if id.Key == nil {
		return nil, fmt.Errorf("%w: HILO_JOB_KEY is not set; a rendezvous through rank 0's address (%s) needs one (%s)", transport.ErrAuth, id.Root, KeyHint)
	}
	if id.Rank != 0 {
		return dialRoot(ctx, id)
	}
	ln, err := rootListener(id)
	if err != nil {
		return nil, err
	}
	return newRootServer(ln, id, logf), nil
}

// rootListener is rank 0's rendezvous listener: an inherited one (hilo run),
// else one on the address of HILO_ROOT, else on its port on every interface
// (the name in HILO_ROOT may not be an address of this host's interfaces).
func rootListener(id Identity) (net.Listener, error) {
	if id.RootFD > 0 {
		f := os.NewFile(uintptr(id.RootFD), "hilo-root")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: HILO_ROOT_FD=%d: %w", ErrRendezvous, id.RootFD, err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", id.Root)
	if err == nil {
		return ln, nil
	}
	_, port, _ := net.SplitHostPort(id.Root)
	ln, err2 := net.Listen("tcp", ":"+port)
	if err2 != nil {
		return nil, fmt.Errorf("%w: rank 0 cannot listen at %s (set HILO_ROOT=host:port to choose another): %v", ErrRendezvous, id.Root, errors.Join(err, err2))
	}
	return ln, nil
}
