package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// Multi-process tests re-exec this test binary as rank 0 (the dialer); the
// parent is rank 1 (the listener).
const (
	childModeEnv = "HILO_TCP_TEST_CHILD" // "echo" or "hang"
	childAddrEnv = "HILO_TCP_TEST_ADDR"
	stopTag      = 999_999
)

// TestChildRank is the child process's body; it does nothing in a normal run.
func TestChildRank(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("helper process of the multi-process tests")
	}
	if mode == "rawecho" {
		rawEcho(t)
		return
	}
	// The parent kills this process when it is done with it; the deadline
	// only ends a child left behind. It must outlast the longest benchmark
	// run against it: 20000 iterations of the 4 MiB ping-pong take about
	// 60 s here, which is what BenchmarkPingPongProcess/4MiB with
	// -benchtime 20000x used to fail on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	bell := newBell()
	links, err := Connect(ctx, Config{Rank: 0, Size: 2, Peers: map[int]string{1: os.Getenv(childAddrEnv)},
		Key: []byte(os.Getenv("HILO_JOB_KEY")), Bell: bell})
	if err != nil {
		t.Fatal(err)
	}
	l := links[1]
	defer l.Close()
	switch mode {
	case "echo":
		for {
			got, err := pump(ctx, l, bell, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].tag == stopTag {
				return
			}
			if _, err := pump(ctx, l, bell, got, 0); err != nil {
				t.Fatal(err)
			}
		}
	case "hang":
		if _, err := pump(ctx, l, bell, []msg{{1, []byte("ready")}}, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // until killed
	}
}

// rawEcho is the child of BenchmarkPingPongProcessRawTCP: plain blocking
// reads and writes of fixed-size messages on a socket, no hilo at all.
func rawEcho(t *testing.T) {
	c, err := net.Dial("tcp", os.Getenv(childAddrEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	size, _ := strconv.Atoi(os.Getenv("HILO_TCP_TEST_SIZE"))
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// startChild starts rank 0 in a child process and connects to it as rank 1.
func startChild(t testing.TB, mode string) (*exec.Cmd, transport.Link, transport.Doorbell, *bytes.Buffer) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	key := fmt.Sprintf("proc-test-key-%d", time.Now().UnixNano())
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildRank$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childAddrEnv+"="+ln.Addr(), "HILO_JOB_KEY="+key)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bell := newBell()
	links, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln, Peers: map[int]string{0: ""}, Key: []byte(key), Bell: bell})
	if err != nil {
		t.Fatalf("Connect to the child: %v\nchild output:\n%s", err, out.String())
	}
	t.Cleanup(func() { links[0].Close() })
	return cmd, links[0], bell, &out
}

func TestMultiProcessEcho(t *testing.T) {
	cmd, l, bell, out := startChild(t, "echo")
	ctx := ctxFor(t, 40*time.Second)
	sizes := []int{0, 1, 8, 64 << 10, 4 << 20, 9<<20 + 1}
	for i, n := range sizes {
		want := msg{uint32(i), pattern(uint64(1000+i), n)}
		got, err := pump(ctx, l, bell, []msg{want}, 1)
		if err == nil {
			err = sameMessages(got, []msg{want})
		}
		if err != nil {
			t.Fatalf("size %d: %v\nchild output:\n%s", n, err, out)
		}
	}
	// Many small messages in flight at once, echoed in order.
	many := randomMessages(77, 500, 3000)
	for i := range many {
		many[i].tag %= stopTag
	}
	var got []msg
	done := make(chan error, 1)
	go func() {
		var err error
		got, err = pump(ctx, l, bell, many, len(many))
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sameMessages(got, many); err != nil {
		t.Fatal(err)
	}
	if _, err := pump(ctx, l, bell, []msg{{stopTag, nil}}, 0); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// The child closed its end: this side sees the peer lost.
	waitLost(t, l, 2*time.Second)
}

// TestPeerKilled: a peer process killed with SIGKILL is noticed as
// ErrPeerLost, naming the peer, well within 2 s.
func TestPeerKilled(t *testing.T) {
	cmd, l, bell, out := startChild(t, "hang")
	ctx := ctxFor(t, 20*time.Second)
	got, err := pump(ctx, l, bell, nil, 1)
	if err != nil || string(got[0].p) != "ready" {
		t.Fatalf("child not ready: %v %v\n%s", got, err, out)
	}
	// A receive is waiting when the peer dies.
	errc := make(chan error, 1)
	go func() {
		_, err := pump(ctx, l, bell, nil, 1)
		errc <- err
	}()
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrPeerLost) {
			t.Fatalf("waiting receive: %v, want ErrPeerLost", err)
		}
		t.Logf("waiting receive failed %v after SIGKILL: %v", time.Since(killed), err)
	case <-time.After(2 * time.Second):
		t.Fatal("receive still waiting 2 s after the peer was killed")
	}
	waitLost(t, l, 2*time.Second)
	if _, _, err := l.SendSome(1, []byte("x"), 0); !errors.Is(err, transport.ErrPeerLost) {
		t.Errorf("SendSome to a dead peer: %v", err)
	}
}

// TestSilentPeerNoticed: a peer whose packets stop arriving (a node that
// vanished, a cable pulled) is noticed within seconds: through
// TCP_USER_TIMEOUT when data is unacknowledged, through keep-alive probes
// when the connection is idle. It needs root and runs in a private network
// namespace: the child rank gets a namespace of its own behind a veth pair,
// and then a token bucket that passes nothing on its side of the pair.
//
//	unshare --net sh -c 'HILO_TCP_BLACKHOLE=1 go test -run TestSilentPeerNoticed -v ./transport/tcp/'
func TestSilentPeerNoticed(t *testing.T) {
	if os.Getenv("HILO_TCP_BLACKHOLE") != "1" {
		t.Skip("set HILO_TCP_BLACKHOLE=1 and run in a private network namespace (see the comment)")
	}
	for _, idle := range []bool{false, true} {
		t.Run(map[bool]string{false: "busy", true: "idle"}[idle], func(t *testing.T) { silentPeer(t, idle) })
	}
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if b, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, b)
	}
}

func silentPeer(t *testing.T, idle bool) {
	sh(t, "ip", "link", "set", "lo", "up")
	sh(t, "ip", "link", "add", "hilo0", "type", "veth", "peer", "name", "hilo1")
	defer exec.Command("ip", "link", "del", "hilo0").Run()
	sh(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "hilo0")
	sh(t, "ip", "link", "set", "hilo0", "up")
	ln, err := Listen("10.77.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	key := "silent-peer-test-key"
	cmd := exec.Command("unshare", "--net", os.Args[0], "-test.run=^TestChildRank$", "-test.count=1")
	cmd.Env = append(os.Environ(), childModeEnv+"=hang", childAddrEnv+"="+ln.Addr(), "HILO_JOB_KEY="+key)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	self, _ := os.Readlink("/proc/self/ns/net")
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if ns, err := os.Readlink("/proc/" + pid + "/ns/net"); err == nil && ns != self {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("child never entered its own network namespace")
		}
	}
	sh(t, "ip", "link", "set", "hilo1", "netns", pid)
	in := func(args ...string) { sh(t, append([]string{"nsenter", "-t", pid, "-n"}, args...)...) }
	in("ip", "link", "set", "lo", "up")
	in("ip", "addr", "add", "10.77.0.2/24", "dev", "hilo1")
	in("ip", "link", "set", "hilo1", "up")

	ctx := ctxFor(t, 20*time.Second)
	bell := newBell()
	links, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln, Peers: map[int]string{0: ""}, Key: []byte(key), Bell: bell})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	l := links[0]
	defer l.Close()
	got, err := pump(ctx, l, bell, nil, 1)
	if err != nil || string(got[0].p) != "ready" {
		t.Fatalf("child not ready: %v %v\n%s", got, err, out.String())
	}
	// The child's side now passes no packet: its answers never arrive.
	in("tc", "qdisc", "add", "dev", "hilo1", "root", "tbf", "rate", "8bit", "burst", "1", "limit", "1")
	if !idle {
		if _, err := pump(ctx, l, bell, []msg{{1, []byte("anyone there?")}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	took := waitLost(t, l, 10*time.Second)
	t.Logf("silent peer noticed after %v: %v", took, l.Check())
	if took < 2*time.Second || took > 6*time.Second {
		t.Errorf("noticed after %v, want about 3 s (busy) or 4 s (idle)", took)
	}
}
