// Package launch makes a process a rank of a job: it finds out who the
// process is from its launcher's environment, meets the other ranks without
// MPI, builds the links (shared memory on a node, authenticated TCP between
// nodes) and returns a transport.Comm. It also starts jobs on one machine:
// `hilo run` and programs that spawn their own ranks.
//
// # Who am I
//
// FromEnv reads hilo's own variables (HILO_RANK, HILO_SIZE, HILO_LOCAL_RANK,
// HILO_LOCAL_SIZE, HILO_NODE, HILO_JOB_ID), else Open MPI's
// (OMPI_COMM_WORLD_*), MPICH Hydra's (PMI_RANK, PMI_SIZE, MPI_LOCALRANKID,
// MPI_LOCALNRANKS), Slurm's (SLURM_PROCID, SLURM_STEP_NUM_TASKS or
// SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID, SLURM_JOB_ID, SLURM_STEP_ID,
// SLURM_STEP_NODELIST) or bare PMI's. No launcher at all means a job of
// one rank. Further variables, for every launcher:
//
//	HILO_ROOT=host:port   rank 0's rendezvous address
//	HILO_RENDEZVOUS=/dir  a directory all ranks reach, instead of HILO_ROOT
//	HILO_JOB_KEY=...      the job key, base64 or hex, >= 16 bytes
//	HILO_TRANSPORT=auto   auto (shm on a node, else TCP), shm or tcp
//	HILO_TIMEOUT=60s      bound on the rendezvous
//	HILO_ADDR=host        the address other nodes reach this rank at
//
// Under Slurm without HILO_ROOT, rank 0 listens on the step's first node
// (parsed from the compressed SLURM_STEP_NODELIST, see FirstNode) at
// DerivedPort(job, step). Under Open MPI or MPICH with every rank on one
// node, the ranks meet in a private directory named after the job. `hilo
// run` makes a fresh key per job; under srun or mpirun export one:
//
//	export HILO_JOB_KEY=$(head -c32 /dev/urandom | base64)
//
// # Rendezvous
//
// Every rank publishes a card: its pid, its TCP listen address, whether it
// can make shared memory, and its node identity (NodeID: hostname, boot id
// and the inodes of its IPC, mount and network namespaces, so containers
// with one hostname but their own namespaces are different nodes). Through
// HILO_ROOT each rank connects to rank 0, both prove they hold the job key
// (HMAC-SHA256 over fresh nonces from both sides, then an HMAC on every
// frame), the rank sends its card and rank 0 answers with the table of all
// cards: 2(P-1) messages a round, not P². A stranger without the key is
// refused and logged; the job goes on. Through HILO_RENDEZVOUS each rank
// writes its card atomically (temporary file, rename; with an HMAC when a
// key is set) and polls for the others'. A rank that has not shown up when
// HILO_TIMEOUT expires is named in every other rank's error; a rank that
// gives up tells the others why, so they fail at once.
//
// Ranks with equal NodeIDs join shared memory (transport/shm); a second
// round tells every rank whose join worked, and pairs where one failed use
// TCP. The rest connect over TCP (transport/tcp, with the job key), which
// needs a key: without one Init says so. Init ends with a barrier on the new
// Comm, after which the rendezvous files and connections are removed.
// Closing the Comm releases the shared memory and the TCP listener.
//
// # Starting jobs
//
// Spawn starts N ranks of a program on this machine with the variables
// above, prefixes each output line with "[rank] ", forwards SIGINT and
// SIGTERM, and, when a rank fails, says which and why, stops the others and
// returns a *RankError whose ExitCode is the rank's status. `hilo run` is
// Spawn behind flags; SpawnSelf re-executes the running program; Main lets a
// program started bare with "-n 4" run as four ranks with no launcher.
// Spawn counts its nesting in HILO_SPAWN_DEPTH and refuses to go three
// levels deep, which stops a program that re-spawns itself as a rank.
package launch
