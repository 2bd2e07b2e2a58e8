package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

func testIdentity(t testing.TB, rank, size int, rdv string, where string) Identity {
	id := Identity{Launcher: LauncherHilo, Rank: rank, Size: size, Key: []byte("0123456789abcdef0123456789abcdef"), Timeout: 10 * time.Second, Transport: "auto"}
	if rdv == "dir" {
		id.Dir = where
	} else {
		id.Root = where
	}
	return id
}

func rdvWhere(t testing.TB, rdv string) string {
	if rdv == "dir" {
		return t.TempDir()
	}
	return fmt.Sprintf("127.0.0.1:%d", localPort(t))
}

// exchangeAll runs two rounds of the rendezvous among the given ranks of a
// job of size ranks in goroutines; absent ranks never show up.
func exchangeAll(t testing.TB, size int, present []int, rdv, where string, timeout time.Duration, logf func(string, ...any)) (tables [][][]byte, errs []error) {
	tables = make([][][]byte, size)
	errs = make([]error, size)
	var wg, ready sync.WaitGroup
	ready.Add(len(present))
	for _, r := range present {
		wg.Go(func() {
			id := testIdentity(t, r, size, rdv, where)
			id.Timeout = timeout
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ex, err := newExchanger(ctx, id, logf)
			if err != nil {
				errs[r] = err
				return
			}
			var failure error
			defer func() {
				if failure == nil {
					// As Init's barrier: close only once all have read all.
					ready.Done()
					ready.Wait()
				}
				ex.close(failure)
			}()
			for round := 1; round <= 2; round++ {
				tab, err := ex.exchange(ctx, round, []byte(fmt.Sprintf("card %d of rank %d", round, r)))
				if err != nil {
					errs[r], failure = err, err
					return
				}
				if round == 2 {
					tables[r] = tab
				}
			}
		})
	}
	wg.Wait()
	return tables, errs
}

func allRanks(n int) []int {
	rs := make([]int, n)
	for i := range rs {
		rs[i] = i
	}
	return rs
}

func TestRendezvous(t *testing.T) {
	for _, rdv := range []string{"root", "dir"} {
		for _, n := range []int{1, 2, 4, 64} {
			t.Run(fmt.Sprintf("%s/%d", rdv, n), func(t *testing.T) {
				where := rdvWhere(t, rdv)
				start := time.Now()
				tables, errs := exchangeAll(t, n, allRanks(n), rdv, where, 20*time.Second, t.Logf)
				took := time.Since(start)
				t.Logf("%d ranks, two rounds: %v", n, took)
				for r := range n {
					if errs[r] != nil {
						t.Fatalf("rank %d: %v", r, errs[r])
					}
					for q := range n {
						if want := fmt.Sprintf("card 2 of rank %d", q); string(tables[r][q]) != want {
							t.Fatalf("rank %d has %q for rank %d, want %q", r, tables[r][q], q, want)
						}
					}
				}
				if n == 64 && took > 3*time.Second {
					t.Errorf("64 ranks took %v", took)
				}
				if rdv == "dir" {
					if ents, _ := os.ReadDir(where); len(ents) != 0 {
						t.Errorf("directory left with %d entries", len(ents))
					}
				}
			})
		}
	}
}

func TestRendezvousMissingRank(t *testing.T) {
	for _, rdv := range []string{"root", "dir"} {
		t.Run(rdv, func(t *testing.T) {
			start := time.Now()
			_, errs := exchangeAll(t, 5, []int{0, 1, 2}, rdv, rdvWhere(t, rdv), 300*time.Millisecond, t.Logf)
			for r := range 3 {
				if !errors.Is(errs[r], ErrRendezvous) || !strings.Contains(errs[r].Error(), "ranks 3 and 4 did not show up within 300ms") {
					t.Errorf("rank %d: %v", r, errs[r])
				}
			}
			if took := time.Since(start); took > 300*time.Millisecond+replyGrace+time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
	t.Run("root rank 0", func(t *testing.T) {
		_, errs := exchangeAll(t, 3, []int{1, 2}, "root", rdvWhere(t, "root"), 300*time.Millisecond, t.Logf)
		for r := 1; r < 3; r++ {
			if !errors.Is(errs[r], ErrRendezvous) || !strings.Contains(errs[r].Error(), "rank 0 did not show up") {
				t.Errorf("rank %d: %v", r, errs[r])
			}
		}
	})
}

// A rank that gives up tells the others, who fail at once instead of
// waiting for their timeout.
func TestRendezvousRankGivesUp(t *testing.T) {
	for _, rdv := range []string{"root", "dir"} {
		t.Run(rdv, func(t *testing.T) {
			where := rdvWhere(t, rdv)
			errs := make([]error, 3)
			var wg sync.WaitGroup
			start := time.Now()
			for r := range 3 {
				wg.Go(func() {
					id := testIdentity(t, r, 3, rdv, where)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					ex, err := newExchanger(ctx, id, t.Logf)
					if err != nil {
						errs[r] = err
						return
					}
					if _, err := ex.exchange(ctx, 1, []byte("x")); err != nil {
						errs[r] = err
						return
					}
					if r == 0 {
						errs[r] = errors.New("no can do")
						ex.close(errs[r])
						return
					}
					_, errs[r] = ex.exchange(ctx, 2, []byte("y"))
					ex.close(errs[r])
				})
			}
			wg.Wait()
			for r := 1; r < 3; r++ {
				if errs[r] == nil || !strings.Contains(errs[r].Error(), "rank 0 failed: no can do") {
					t.Errorf("rank %d: %v", r, errs[r])
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// Strangers at rank 0's rendezvous port are refused and logged; the job
// goes on.
func TestRendezvousStranger(t *testing.T) {
	where := rdvWhere(t, "root")
	var mu sync.Mutex
	var logs []string
	logf := func(f string, a ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	root, err := newExchanger(ctx, testIdentity(t, 0, 3, "root", where), logf)
	if err != nil {
		t.Fatal(err)
	}
	defer root.close(nil)
	done := make(chan error, 1)
	go func() {
		_, err := root.exchange(ctx, 1, []byte("root"))
		if err == nil {
			_, err = root.exchange(ctx, 2, []byte("root"))
		}
		done <- err
	}()

	// Garbage.
	c, err := net.Dial("tcp", where)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
	if n, _ := io.ReadAll(c); len(n) != 0 {
		t.Errorf("garbage client got %q", n)
	}
	c.Close()
	// A wrong key claiming rank 1: it cannot verify rank 0's proof.
	bad := testIdentity(t, 1, 3, "root", where)
	bad.Key = []byte("not the key of this job, at all!")
	c, _ = net.Dial("tcp", where)
	if _, err := clientHandshake(ctx, c, bad); !errors.Is(err, transport.ErrAuth) {
		t.Errorf("wrong key: %v", err)
	}
	c.Close()
	// A client that answers the challenge with a made-up proof.
	c, _ = net.Dial("tcp", where)
	hello := append([]byte(rdvMagic), u32(2)...)
	hello = append(append(hello, u32(3)...), make([]byte, nonceBytes)...)
	c.Write(hello)
	io.ReadFull(c, make([]byte, nonceBytes+macBytes))
	c.Write(make([]byte, macBytes))
	if n, _ := io.ReadAll(c); len(n) != 0 {
		t.Errorf("forger got %q", n)
	}
	c.Close()
	// A job of another size.
	other := testIdentity(t, 1, 7, "root", where)
	c, _ = net.Dial("tcp", where)
	if _, err := clientHandshake(ctx, c, other); err == nil {
		t.Errorf("client of a 7-rank job admitted")
	}
	c.Close()

	// The real ranks still meet.
	_, errs := exchangeAll(t, 3, []int{1, 2}, "root", where, 10*time.Second, logf)
	for r := 1; r < 3; r++ {
		if errs[r] != nil {
			t.Errorf("rank %d: %v", r, errs[r])
		}
	}
	if err := <-done; err != nil {
		t.Errorf("rank 0: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(logs, "\n")
	for _, want := range []string{"not a hilo rendezvous client", "rank 1 sent no proof", "claimed rank 2 without the job key", "claims a job of 7 ranks"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}

func FuzzDecodeTable(f *testing.F) {
	f.Add(encodeTable([][]byte{[]byte("a"), nil, []byte("ccc")}), 3)
	f.Add([]byte{0, 0, 0, 1, 255, 255, 255, 255}, 1)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		if size < 0 || size > 1000 {
			return
		}
		cards, err := decodeTable(b, size)
		if err != nil {
			return
		}
		if len(cards) != size {
			t.Fatalf("%d cards, want %d", len(cards), size)
		}
		// What decodes encodes back to the same bytes.
		if again := encodeTable(cards); string(again) != string(b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzRootServer feeds rank 0's rendezvous server arbitrary bytes: it must
// refuse them without a panic and stay up for the real ranks.
func FuzzRootServer(f *testing.F) {
	f.Add([]byte("HILORDV1\x00\x00\x00\x01\x00\x00\x00\x02"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		id := testIdentity(t, 0, 2, "root", ln.Addr().String())
		s := newRootServer(ln, id, func(string, ...any) {})
		defer s.close(nil)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(b)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.ReadAll(c)
		c.Close()
	})
}

func localPort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// BenchmarkRendezvous64: two rounds among 64 goroutine ranks through rank
// 0's address (what Init does before it builds links).
func BenchmarkRendezvous64(b *testing.B) {
	for b.Loop() {
		where := fmt.Sprintf("127.0.0.1:%d", localPort(b))
		_, errs := exchangeAll(b, 64, allRanks(64), "root", where, 20*time.Second, b.Logf)
		for r, err := range errs {
			if err != nil {
				b.Fatalf("rank %d: %v", r, err)
			}
		}
	}
}
