package launch

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFromEnv(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	cases := []struct {
		name string
		env  []string
		want Identity
	}{
		{"none", nil, Identity{Launcher: LauncherNone, Rank: 0, Size: 1, LocalRank: -1, LocalSize: -1, Transport: "auto", Timeout: DefaultTimeout}},
		{"hilo", []string{"HILO_RANK=3", "HILO_SIZE=4", "HILO_LOCAL_RANK=1", "HILO_LOCAL_SIZE=2", "HILO_NODE=n1", "HILO_JOB_ID=j7",
			"HILO_ROOT=10.0.0.1:4000", "HILO_JOB_KEY=" + testKey, "HILO_TRANSPORT=tcp", "HILO_TIMEOUT=2.5", "HILO_ADDR=10.0.0.9", "PATH=/bin"},
			Identity{Launcher: LauncherHilo, Rank: 3, Size: 4, LocalRank: 1, LocalSize: 2, Node: "n1", JobID: "j7", Root: "10.0.0.1:4000",
				Key: key, Transport: "tcp", Timeout: 2500 * time.Millisecond, Addr: "10.0.0.9"}},
		{"hilo dir", []string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_RENDEZVOUS=/tmp/x/", "HILO_TIMEOUT=90s"},
			Identity{Launcher: LauncherHilo, Rank: 0, Size: 2, LocalRank: -1, LocalSize: -1, Dir: "/tmp/x", Transport: "auto", Timeout: 90 * time.Second}},
		{"slurm", []string{"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_STEP_NUM_TASKS=6", "SLURM_LOCALID=1", "SLURM_NODEID=2",
			"SLURM_JOB_ID=1234", "SLURM_STEP_ID=0", "SLURM_STEP_NODELIST=node[01-04,07],gpu3", "HILO_JOB_KEY=" + testKey},
			Identity{Launcher: LauncherSlurm, Rank: 5, Size: 6, LocalRank: 1, LocalSize: -1, Node: "slurm-node-2", JobID: "1234.0",
				Root: "node01:" + itoa(DerivedPort(1234, 0)), Key: key, Transport: "auto", Timeout: DefaultTimeout}},
		{"slurm root override", []string{"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_JOB_ID=9", "SLURM_STEP_ID=3", "HILO_ROOT=h:1"},
			Identity{Launcher: LauncherSlurm, Rank: 0, Size: 2, LocalRank: -1, LocalSize: -1, JobID: "9.3", Root: "h:1", Transport: "auto", Timeout: DefaultTimeout}},
		{"slurm with pmi2", []string{"SLURM_PROCID=1", "SLURM_NTASKS=2", "SLURM_JOB_ID=9", "SLURM_STEP_ID=3", "SLURM_STEP_NODELIST=a", "PMI_RANK=1", "PMI_SIZE=2"},
			Identity{Launcher: LauncherSlurm, Rank: 1, Size: 2, LocalRank: -1, LocalSize: -1, JobID: "9.3", Root: "a:" + itoa(DerivedPort(9, 3)), Transport: "auto", Timeout: DefaultTimeout}},
		{"openmpi", []string{"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4", "OMPI_COMM_WORLD_LOCAL_RANK=0", "OMPI_COMM_WORLD_LOCAL_SIZE=2",
			"PMIX_NAMESPACE=prterun-vm-1@1", "HILO_ROOT=r:5", "SLURM_PROCID=0", "SLURM_STEP_ID=0"},
			Identity{Launcher: LauncherOpenMPI, Rank: 2, Size: 4, LocalRank: 0, LocalSize: 2, JobID: "prterun-vm-1@1", Root: "r:5", Transport: "auto", Timeout: DefaultTimeout}},
		{"mpich", []string{"PMI_RANK=1", "PMI_SIZE=3", "MPI_LOCALRANKID=1", "MPI_LOCALNRANKS=2", "PMI_FD=6", "HILO_RENDEZVOUS=/shared/r"},
			Identity{Launcher: LauncherMPICH, Rank: 1, Size: 3, LocalRank: 1, LocalSize: 2, Dir: "/shared/r", Transport: "auto", Timeout: DefaultTimeout}},
		{"bare pmi", []string{"PMI_RANK=0", "PMI_SIZE=1"},
			Identity{Launcher: LauncherMPICH, Rank: 0, Size: 1, LocalRank: -1, LocalSize: -1, Transport: "auto", Timeout: DefaultTimeout}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromEnv(c.env)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// One-node MPI jobs without a rendezvous get a private directory.
func TestFromEnvOneNodeMPI(t *testing.T) {
	id, err := FromEnv([]string{"OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_LOCAL_RANK=1",
		"OMPI_COMM_WORLD_LOCAL_SIZE=2", "PMIX_NAMESPACE=prterun-vm-77@1"})
	if err != nil {
		t.Fatal(err)
	}
	if !id.DirOwned || !strings.HasSuffix(id.Dir, "-prterun-vm-77_1") {
		t.Errorf("dir %q owned %v", id.Dir, id.DirOwned)
	}
	id, err = FromEnv([]string{"PMI_RANK=0", "PMI_SIZE=2", "MPI_LOCALRANKID=0", "MPI_LOCALNRANKS=2"})
	if err != nil {
		t.Fatal(err)
	}
	if !id.DirOwned || !strings.Contains(id.Dir, "-hydra-") {
		t.Errorf("dir %q owned %v", id.Dir, id.DirOwned)
	}
}

func TestFromEnvErrors(t *testing.T) {
	cases := []struct {
		env  []string
		want string // in the message
	}{
		{[]string{"HILO_RANK=1"}, "HILO_SIZE is not"},
		{[]string{"HILO_RANK=x", "HILO_SIZE=2", "HILO_ROOT=a:1"}, `HILO_RANK="x"`},
		{[]string{"HILO_RANK=2", "HILO_SIZE=2", "HILO_ROOT=a:1"}, "not below"},
		{[]string{"HILO_RANK=-1", "HILO_SIZE=2", "HILO_ROOT=a:1"}, "HILO_RANK"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=0"}, "HILO_SIZE"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=99999999999999999999"}, "HILO_SIZE"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2"}, "no rendezvous"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=nohost"}, "HILO_ROOT"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:99999"}, "bad port"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_RENDEZVOUS=rel/dir"}, "absolute"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:1", "HILO_RENDEZVOUS=/d"}, "choose one"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:1", "HILO_TRANSPORT=udp"}, "HILO_TRANSPORT"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:1", "HILO_TIMEOUT=-3s"}, "HILO_TIMEOUT"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:1", "HILO_JOB_KEY=c2hvcnQ="}, "at least 16"},
		{[]string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=h:1", "HILO_JOB_KEY=!!not base64!!"}, "neither hex nor base64"},
		{[]string{"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_JOB_ID=1", "SLURM_STEP_ID=0", "SLURM_STEP_NODELIST=n[1-"}, "SLURM_STEP_NODELIST"},
		{[]string{"SLURM_PROCID=0", "SLURM_NTASKS=2", "SLURM_JOB_ID=x", "SLURM_STEP_ID=0", "SLURM_STEP_NODELIST=n1"}, "SLURM_JOB_ID"},
		{[]string{"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=2"}, "no rendezvous"},
		{[]string{"PMI_RANK=0", "PMI_SIZE=2", "MPI_LOCALRANKID=0"}, "MPI_LOCALNRANKS"},
	}
	for _, c := range cases {
		_, err := FromEnv(c.env)
		if err == nil || !errors.Is(err, ErrEnv) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want ErrEnv mentioning %q", c.env, err, c.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	for _, s := range []string{
		testKey,
		strings.TrimRight(testKey, "="),
		"3031323334353637383961626364656630313233343536373839616263646566",
		" " + testKey + "\n",
	} {
		k, err := ParseKey(s)
		if err != nil || string(k) != string(raw) {
			t.Errorf("%q: %q %v", s, k, err)
		}
	}
}

func TestFirstNode(t *testing.T) {
	ok := map[string]string{
		"node01":                  "node01",
		"node[01-04,07],gpu3":     "node01",
		"gpu3,node[01-04,07]":     "gpu3",
		"node[7,01-04]":           "node7",
		"rack[2-3]-n[005-006]":    "rack2-n005",
		"a.example.org,b":         "a.example.org",
		"n[0]":                    "n0",
		"[1-2]x":                  "1x",
		"c1-[0-1],c2-[3-4]":       "c1-0",
		"node[0001-1000]":         "node0001",
		"10.0.0.1,10.0.0.2":       "10.0.0.1",
		"linux_[1-9]":             "linux_1",
		"node[01-04,07],gpu[1-2]": "node01",
	}
	for in, want := range ok {
		got, err := FirstNode(in)
		if err != nil || got != want {
			t.Errorf("FirstNode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ",", "a,", ",a", "n[", "n]", "n[]", "n[1-", "n[4-1]", "n[a-b]", "n[[1]]", "n[1]]", "n[1,,2]",
		"n[-1]", "n[1-2-3]", "a b", "n[1];rm", "n[99999999999999999999]"} {
		if got, err := FirstNode(bad); err == nil {
			t.Errorf("FirstNode(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzFirstNode: never a panic; a host when there is no error, one that is
// a prefix-compatible expansion (no brackets or commas), and the list's
// first entry when it has no brackets.
func FuzzFirstNode(f *testing.F) {
	for _, s := range []string{"node[01-04,07],gpu3", "a", "rack[2-3]-n[5-6]", "n[", "n[4-1]", "x,y", "[1]", "n[1,2]a[3-4],b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, err := FirstNode(s)
		if err != nil {
			return
		}
		if host == "" || strings.ContainsAny(host, "[],") {
			t.Fatalf("FirstNode(%q) = %q", s, host)
		}
		if first, _, _ := strings.Cut(s, ","); !strings.Contains(first, "[") && first != host {
			t.Fatalf("FirstNode(%q) = %q, want %q", s, host, first)
		}
		// The host is itself a valid one-entry list naming itself.
		if again, err := FirstNode(host); err != nil || again != host {
			t.Fatalf("FirstNode(%q) = %q, %v", host, again, err)
		}
	})
}

func TestCutRanksFlag(t *testing.T) {
	cases := []struct {
		in   []string
		n    int
		rest []string
	}{
		{[]string{"-n", "4", "-x", "1"}, 4, []string{"-x", "1"}},
		{[]string{"-x", "-n=3"}, 3, []string{"-x"}},
		{[]string{"--n", "2", "a"}, 2, []string{"a"}},
		{[]string{"a", "--", "-n", "2"}, 0, []string{"a", "--", "-n", "2"}},
		{[]string{"-nodes", "2"}, 0, []string{"-nodes", "2"}},
		{nil, 0, nil},
	}
	for _, c := range cases {
		n, rest, err := CutRanksFlag(c.in)
		if err != nil || n != c.n || !cmp.Equal(rest, c.rest) {
			t.Errorf("%v: %d %v %v", c.in, n, rest, err)
		}
	}
	for _, bad := range [][]string{{"-n"}, {"-n", "zero"}, {"-n=0"}} {
		if _, _, err := CutRanksFlag(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
