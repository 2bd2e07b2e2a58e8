#!/usr/bin/env bash
# Start a one-node Slurm on localhost for hilo's srun tests: munged, slurmctld
# and slurmd as root, a minimal slurm.conf without cgroups, all state under
# $HILO_SLURM_DIR (default /tmp/hilo-slurm). Idempotent: does nothing if that
# Slurm already answers. Stop it with scripts/slurm-down.sh. Needs root and
# the slurm-wlm and munge packages (scripts/ci-deps.sh installs them).
# Prints the line to use it: export SLURM_CONF=$HILO_SLURM_DIR/slurm.conf
set -euo pipefail
dir=${HILO_SLURM_DIR:-/tmp/hilo-slurm}
if [[ $(id -u) != 0 ]]; then echo "slurm-up: needs root" >&2; exit 1; fi
for tool in munged slurmctld slurmd scontrol srun; do
  command -v "$tool" >/dev/null || { echo "slurm-up: $tool missing (run scripts/ci-deps.sh)" >&2; exit 1; }
done
export SLURM_CONF=$dir/slurm.conf
if [[ -f $SLURM_CONF ]] && timeout 5 scontrol ping 2>/dev/null | grep -q UP; then
  echo "export SLURM_CONF=$SLURM_CONF"; exit 0
fi
mkdir -p "$dir"/{state,spool,munge}
chmod 755 "$dir" "$dir/munge"

# munge: its own socket and pid under $dir, so a system munged is left alone.
if [[ ! -f /etc/munge/munge.key ]]; then
  if command -v mungekey >/dev/null; then mungekey --create --force >/dev/null 2>&1; else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
chown munge:munge "$dir/munge"
sock=$dir/munge/munge.socket.2
if [[ ! -S $sock ]] || ! MUNGE_SOCKET=$sock munge -n -S "$sock" >/dev/null 2>&1; then
  rm -f "$sock" "$sock.lock" "$dir/munge/munged.pid"
  runuser -u munge -- munged --socket="$sock" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
fi

host=$(hostname -s)
cat >"$SLURM_CONF" <<CONF
ClusterName=hilo
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

slurmctld -i
slurmd
for _ in $(seq 100); do
  if scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
    echo "export SLURM_CONF=$SLURM_CONF"; exit 0
  fi
  sleep 0.1
done
echo "slurm-up: Slurm did not come up; logs in $dir" >&2
tail -n 20 "$dir"/slurmctld.log "$dir"/slurmd.log >&2 || true
exit 1
