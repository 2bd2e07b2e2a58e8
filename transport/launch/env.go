package launch

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Launchers FromEnv recognises, as reported in Identity.Launcher.
const (
	LauncherNone    = "none"    // no launcher: a job of one rank
	LauncherHilo    = "hilo"    // hilo run, SpawnSelf, Main
	LauncherSlurm   = "slurm"   // srun
	LauncherOpenMPI = "openmpi" // Open MPI's mpirun
	LauncherMPICH   = "mpich"   // MPICH's mpiexec (Hydra), or another PMI launcher
)

// DefaultTimeout bounds the rendezvous when HILO_TIMEOUT is not set.
const DefaultTimeout = 60 * time.Second

// ErrEnv is wrapped by every error about a malformed or inconsistent
// launcher environment.
var ErrEnv = errors.New("launch: bad environment")

// An Identity is what the environment tells a process about its place in a
// job: its rank, the job's size, and how to find the other ranks.
type Identity struct {
	// Launcher names who started the process (LauncherHilo, ...).
	Launcher string
	// Rank is this process's rank in [0, Size).
	Rank, Size int
	// LocalRank and LocalSize place the rank among the ranks its launcher
	// started on the same machine; -1 when the launcher does not say.
	LocalRank, LocalSize int
	// Node is the launcher's name for this rank's node, if it gives one.
	Node string
	// JobID is the launcher's job id ("" if none); Slurm's includes the
	// step ("1234.0").
	JobID string

	// Root is rank 0's rendezvous address "host:port" (HILO_ROOT; under
	// Slurm derived from the step's first node and the job and step ids).
	Root string
	// Dir is a rendezvous directory every rank can reach (HILO_RENDEZVOUS).
	// Root and Dir are exclusive; with Size > 1 one of them is set.
	Dir string
	// DirOwned: Dir was chosen by FromEnv (one-node MPI job), so the
	// ranks remove it when they are done.
	DirOwned bool
	// RootFD, when positive, is an inherited descriptor of rank 0's
	// rendezvous listener (HILO_ROOT_FD, set by hilo run).
	RootFD int
	// Key is the job key (HILO_JOB_KEY, base64 or hex); nil if unset.
	Key []byte
	// Transport is "auto", "shm" or "tcp" (HILO_TRANSPORT).
	Transport string
	// Timeout bounds the rendezvous (HILO_TIMEOUT: a Go duration such as
	// "30s", or seconds).
	Timeout time.Duration
	// Addr is the host other ranks reach this one at over TCP (HILO_ADDR);
	// "" picks one.
	Addr string
}

// envMap turns a list of "KEY=value" strings into a map (the last value wins,
// as with os.Getenv).
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// FromEnv reads a process's identity from its environment (a list of
// "KEY=value", as os.Environ returns). It recognises, in this order: hilo's
// own launcher (HILO_RANK, HILO_SIZE, HILO_LOCAL_RANK, HILO_LOCAL_SIZE,
// HILO_NODE, HILO_JOB_ID), Open MPI (OMPI_COMM_WORLD_RANK, _SIZE,
// _LOCAL_RANK, _LOCAL_SIZE), MPICH's Hydra (PMI_RANK, PMI_SIZE with
// MPI_LOCALRANKID, MPI_LOCALNRANKS), Slurm (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, SLURM_NODEID, SLURM_JOB_ID, SLURM_STEP_ID,
// SLURM_STEP_NODELIST) and bare PMI (PMI_RANK, PMI_SIZE). With none of
// them the process is the only rank of its job.
//
// The rendezvous comes from HILO_ROOT or HILO_RENDEZVOUS; under Slurm
// without either, rank 0 listens on the step's first node at a port derived
// from the job and step ids (DerivedPort); under Open MPI or MPICH with every
// rank on one node, a directory in the temporary directory named after the
// job (Open MPI's PMIX_NAMESPACE; for MPICH, the parent process, Hydra's
// proxy, which started every rank of the node).
// A malformed value is an error wrapping ErrEnv.
func FromEnv(environ []string) (Identity, error) {
	env := envMap(environ)
	id := Identity{LocalRank: -1, LocalSize: -1, Transport: "auto", Timeout: DefaultTimeout}
	var err error
	switch {
	case has(env, "HILO_RANK"):
		err = fromHilo(env, &id)
	case has(env, "OMPI_COMM_WORLD_RANK"):
		err = fromOpenMPI(env, &id)
	case has(env, "PMI_RANK") && has(env, "MPI_LOCALRANKID"):
		err = fromPMI(env, &id)
	case has(env, "SLURM_PROCID") && has(env, "SLURM_STEP_ID"):
		err = fromSlurm(env, &id)
	case has(env, "PMI_RANK"):
		err = fromPMI(env, &id)
	default:
		id.Launcher, id.Rank, id.Size = LauncherNone, 0, 1
	}
	if err != nil {
		return Identity{}, err
	}
	if err := commonEnv(env, &id); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func has(env map[string]string, k string) bool { _, ok := env[k]; return ok }

func fromHilo(env map[string]string, id *Identity) (err error) {
	id.Launcher = LauncherHilo
	if id.Rank, id.Size, err = rankSize(env, "HILO_RANK", "HILO_SIZE"); err != nil {
		return err
	}
	if id.LocalRank, id.LocalSize, err = optRankSize(env, "HILO_LOCAL_RANK", "HILO_LOCAL_SIZE"); err != nil {
		return err
	}
	id.Node, id.JobID = env["HILO_NODE"], env["HILO_JOB_ID"]
	return nil
}

func fromOpenMPI(env map[string]string, id *Identity) (err error) {
	id.Launcher = LauncherOpenMPI
	if id.Rank, id.Size, err = rankSize(env, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"); err != nil {
		return err
	}
	if id.LocalRank, id.LocalSize, err = optRankSize(env, "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"); err != nil {
		return err
	}
	id.JobID = env["PMIX_NAMESPACE"]
	if id.JobID == "" {
		id.JobID = env["OMPI_MCA_ess_base_jobid"]
	}
	return nil
}

func fromPMI(env map[string]string, id *Identity) (err error) {
	id.Launcher = LauncherMPICH
	if id.Rank, id.Size, err = rankSize(env, "PMI_RANK", "PMI_SIZE"); err != nil {
		return err
	}
	if id.LocalRank, id.LocalSize, err = optRankSize(env, "MPI_LOCALRANKID", "MPI_LOCALNRANKS"); err != nil {
		return err
	}
	if id.LocalSize == id.Size {
		// Hydra names no job in the environment, but all ranks of a node
		// are children of one proxy process.
		id.JobID = fmt.Sprintf("hydra-%d", os.Getppid())
	}
	return nil
}

func fromSlurm(env map[string]string, id *Identity) (err error) {
	id.Launcher = LauncherSlurm
	sizeVar := "SLURM_STEP_NUM_TASKS"
	if !has(env, sizeVar) {
		sizeVar = "SLURM_NTASKS"
	}
	if id.Rank, id.Size, err = rankSize(env, "SLURM_PROCID", sizeVar); err != nil {
		return err
	}
	if v, ok := env["SLURM_LOCALID"]; ok {
		if id.LocalRank, err = parseCount("SLURM_LOCALID", v, 0); err != nil {
			return err
		}
	}
	if v, ok := env["SLURM_NODEID"]; ok {
		if _, err := parseCount("SLURM_NODEID", v, 0); err != nil {
			return err
		}
		id.Node = "slurm-node-" + v
	}
	job, step := env["SLURM_JOB_ID"], env["SLURM_STEP_ID"]
	jobN, err := parseCount("SLURM_JOB_ID", job, 0)
	if err != nil {
		return err
	}
	stepN, err := parseCount("SLURM_STEP_ID", step, 0)
	if err != nil {
		return err
	}
	id.JobID = job + "." + step
	if !has(env, "HILO_ROOT") && !has(env, "HILO_RENDEZVOUS") && id.Size > 1 {
		list := env["SLURM_STEP_NODELIST"]
		if list == "" {
			list = env["SLURM_JOB_NODELIST"]
		}
		host, err := FirstNode(list)
		if err != nil {
			return fmt.Errorf("%w: SLURM_STEP_NODELIST: %w", ErrEnv, err)
		}
		id.Root = fmt.Sprintf("%s:%d", host, DerivedPort(uint64(jobN), uint64(stepN)))
	}
	return nil
}

// DerivedPort is the port rank 0 of a Slurm job step listens on for the
// rendezvous when HILO_ROOT is not set: 20000 + (job*97 + step) mod 10000,
// below Linux's ephemeral range, different for the steps of one job and
// for consecutive jobs.
func DerivedPort(job, step uint64) int {
	return 20000 + int((job%10000*97+step)%10000)
}

func commonEnv(env map[string]string, id *Identity) error {
	if v, ok := env["HILO_ROOT"]; ok {
		if err := checkHostPort("HILO_ROOT", v); err != nil {
			return err
		}
		id.Root = v
	}
	if v, ok := env["HILO_RENDEZVOUS"]; ok {
		if v == "" || !filepath.IsAbs(v) {
			return fmt.Errorf("%w: HILO_RENDEZVOUS=%q: want an absolute directory path", ErrEnv, clip(v))
		}
		if id.Root != "" && has(env, "HILO_ROOT") {
			return fmt.Errorf("%w: both HILO_ROOT and HILO_RENDEZVOUS are set; choose one", ErrEnv)
		}
		id.Dir, id.Root = filepath.Clean(v), ""
	}
	if v, ok := env["HILO_ROOT_FD"]; ok {
		fd, err := parseCount("HILO_ROOT_FD", v, 3)
		if err != nil {
			return err
		}
		id.RootFD = fd
	}
	if v, ok := env["HILO_JOB_KEY"]; ok {
		key, err := ParseKey(v)
		if err != nil {
			return err
		}
		id.Key = key
	}
	if v, ok := env["HILO_TRANSPORT"]; ok {
		switch v {
		case "auto", "shm", "tcp":
			id.Transport = v
		case "":
		default:
			return fmt.Errorf("%w: HILO_TRANSPORT=%q: want auto, shm or tcp", ErrEnv, clip(v))
		}
	}
	if v, ok := env["HILO_TIMEOUT"]; ok && v != "" {
		d, err := parseTimeout(v)
		if err != nil {
			return err
		}
		id.Timeout = d
	}
	if v, ok := env["HILO_ADDR"]; ok {
		if strings.ContainsAny(v, " /[]") && !strings.HasPrefix(v, "[") {
			return fmt.Errorf("%w: HILO_ADDR=%q: want a host name or IP address", ErrEnv, clip(v))
		}
		id.Addr = v
	}
	if id.Size > 1 && id.Root == "" && id.Dir == "" {
		// One-node Open MPI job: a private directory named after the job.
		if (id.Launcher == LauncherOpenMPI || id.Launcher == LauncherMPICH) && id.LocalSize == id.Size && id.JobID != "" {
			id.Dir = filepath.Join(os.TempDir(), fmt.Sprintf("hilo-%d-%s", os.Getuid(), sanitize(id.JobID)))
			id.DirOwned = true
		} else {
			return fmt.Errorf("%w: %s job of %d ranks but no rendezvous: set HILO_ROOT=host:port (rank 0's host) or HILO_RENDEZVOUS=/shared/dir", ErrEnv, id.Launcher, id.Size)
		}
	}
	return nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func parseTimeout(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e9 {
		return time.Duration(s * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%w: HILO_TIMEOUT=%q: want a positive duration such as 30s", ErrEnv, clip(v))
}

func checkHostPort(name, v string) error {
	host, port, err := splitHostPort(v)
	if err != nil || host == "" {
		return fmt.Errorf("%w: %s=%q: want host:port", ErrEnv, name, clip(v))
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%w: %s=%q: bad port", ErrEnv, name, clip(v))
	}
	return nil
}

// rankSize parses a rank and a size variable, both required, 0 <= rank < size.
func rankSize(env map[string]string, rankVar, sizeVar string) (rank, size int, err error) {
	rv, ok := env[rankVar]
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s is not set", ErrEnv, rankVar)
	}
	sv, ok := env[sizeVar]
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s is set but %s is not", ErrEnv, rankVar, sizeVar)
	}
	if rank, err = parseCount(rankVar, rv, 0); err != nil {
		return 0, 0, err
	}
	if size, err = parseCount(sizeVar, sv, 1); err != nil {
		return 0, 0, err
	}
	if rank >= size {
		return 0, 0, fmt.Errorf("%w: %s=%d is not below %s=%d", ErrEnv, rankVar, rank, sizeVar, size)
	}
	return rank, size, nil
}

// optRankSize is rankSize for a pair that may be absent (-1, -1).
func optRankSize(env map[string]string, rankVar, sizeVar string) (rank, size int, err error) {
	if !has(env, rankVar) && !has(env, sizeVar) {
		return -1, -1, nil
	}
	return rankSize(env, rankVar, sizeVar)
}

// maxRanks bounds a job's size read from the environment.
const maxRanks = 1 << 22

// parseCount parses a decimal integer in [min, maxRanks).
func parseCount(name, v string, min int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n >= maxRanks {
		return 0, fmt.Errorf("%w: %s=%q: want an integer >= %d", ErrEnv, name, clip(v), min)
	}
	return n, nil
}

// MinKeyBytes is the shortest job key accepted.
const MinKeyBytes = 16

// KeyHint is the shell line that makes a job key for launchers other than
// hilo run.
const KeyHint = "export HILO_JOB_KEY=$(head -c32 /dev/urandom | base64)"

// ParseKey decodes a job key given in hex or base64 (standard or URL
// alphabet, padded or not). It must decode to at least MinKeyBytes bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	if b, err := hex.DecodeString(s); err == nil && len(s) >= 2*MinKeyBytes {
		key = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				key = b
				break
			}
		}
	}
	if key == nil {
		return nil, fmt.Errorf("%w: HILO_JOB_KEY is neither hex nor base64 (make one with: %s)", ErrEnv, KeyHint)
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: HILO_JOB_KEY has %d bytes, want at least %d (make one with: %s)", ErrEnv, len(key), MinKeyBytes, KeyHint)
	}
	return key, nil
}
