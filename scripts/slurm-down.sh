#!/usr/bin/env bash
# Stop the one-node Slurm that scripts/slurm-up.sh started: slurmd, slurmctld
# and munged, each by the pid in its pid file under $HILO_SLURM_DIR
# (default /tmp/hilo-slurm). Idempotent.
set -uo pipefail
dir=${HILO_SLURM_DIR:-/tmp/hilo-slurm}
for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [[ -f $pidfile ]] || continue
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
done
exit 0
