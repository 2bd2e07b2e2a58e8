#!/usr/bin/env bash
# Ping-pong, hilo against Open MPI on this machine, interleaved: for each
# transport (shared memory: Open MPI's vader BTL; TCP over loopback: its tcp
# BTL) the two programs run turn about ROUNDS times, and the table reports the
# median of each figure over the rounds and the ratios hilo / Open MPI.
#
#   bench/mpi/pingpong.sh            # needs mpicc and mpirun (apt-get install openmpi-bin libopenmpi-dev)
#   ROUNDS=5 bench/mpi/pingpong.sh
#   TRANSPORTS=tcp bench/mpi/pingpong.sh   # one transport only
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
MPIRUN=${MPIRUN:-$(command -v mpirun.openmpi || command -v mpirun)}
MPICC=${MPICC:-$(command -v mpicc.openmpi || command -v mpicc)} || { echo "pingpong.sh: mpicc not found (apt-get install libopenmpi-dev)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$MPICC" -O2 -o "$out/pingpong" bench/mpi/pingpong.c
go build -o "$out/hilo" ./cmd/hilo
for t in ${TRANSPORTS:-shm tcp}; do
  case $t in
    shm) mca=(--mca btl self,vader) ;;
    tcp) mca=(--mca btl self,tcp --mca btl_tcp_if_include lo) ;;
  esac
  for r in $(seq "$ROUNDS"); do
    echo "round $r/$ROUNDS $t" >&2
    "$MPIRUN" --allow-run-as-root --oversubscribe "${mca[@]}" -np 2 "$out/pingpong" >"$out/mpi-$t-$r.json"
    "$out/hilo" bench pingpong -transport "$t" -json >"$out/hilo-$t-$r.json"
  done
done
python3 bench/mpi/ratios.py pingpong "$out" "$ROUNDS"
