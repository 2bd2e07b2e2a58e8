package launch

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A NodeID tells whether two ranks can share memory: ranks with equal
// NodeIDs run under one kernel (same hostname and boot id) in the same IPC,
// mount and network namespaces, so they can pass memfds over abstract Unix
// sockets. Two containers with the same hostname but their own namespaces
// are different nodes.
type NodeID struct {
	Host string `json:"host"`
	Boot string `json:"boot"`
	IPC  uint64 `json:"ipc"`
	Mnt  uint64 `json:"mnt"`
	Net  uint64 `json:"net"`
}

func (n NodeID) String() string {
	return fmt.Sprintf("%s/%.8s/ipc:%d/mnt:%d/net:%d", n.Host, n.Boot, n.IPC, n.Mnt, n.Net)
}

// LocalNode returns the NodeID of the calling process.
func LocalNode() (NodeID, error) {
	var id NodeID
	var err error
	if id.Host, err = os.Hostname(); err != nil {
		return NodeID{}, fmt.Errorf("launch: hostname: %w", err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return NodeID{}, fmt.Errorf("launch: boot id: %w", err)
	}
	id.Boot = strings.TrimSpace(string(boot))
	for _, ns := range []struct {
		name string
		dst  *uint64
	}{{"ipc", &id.IPC}, {"mnt", &id.Mnt}, {"net", &id.Net}} {
		fi, err := os.Stat("/proc/self/ns/" + ns.name)
		if err != nil {
			return NodeID{}, fmt.Errorf("launch: namespace: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return NodeID{}, fmt.Errorf("launch: namespace %s: no inode", ns.name)
		}
		*ns.dst = st.Ino
	}
	return id, nil
}

func splitHostPort(v string) (host, port string, err error) { return net.SplitHostPort(v) }

// publicHost picks the address other nodes can reach this one at when
// nothing better is known: the first non-loopback IPv4 address the hostname
// resolves to, else the first global unicast address of an interface,
// else the loopback address.
func publicHost() string {
	if h, err := os.Hostname(); err == nil {
		if ips, err := net.LookupIP(h); err == nil {
			for _, ip := range ips {
				if ip.To4() != nil && !ip.IsLoopback() {
					return ip.String()
				}
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// probeShm checks that this process can make and map the kind of segment
// transport/shm uses (a memfd mapped shared). A sandbox that forbids
// memfd_create or shared mappings fails here, before any peer waits on
// this rank's shared-memory join.
func probeShm() error {
	fd, err := unix.MemfdCreate("hilo-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, 4096); err != nil {
		return fmt.Errorf("ftruncate: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	mem[0] = 1
	return unix.Munmap(mem)
}
