#!/usr/bin/env bash
# Start-up of an empty 2-rank job: hilo run (and a program that spawns
# itself with -n 2) against Open MPI's mpirun and MPICH's mpiexec, all in
# one hyperfine run so the machine's drift hits them alike. Needs hyperfine,
# mpicc.openmpi/mpirun.openmpi and mpicc.mpich/mpirun.mpich (scripts/ci-deps.sh).
#
#   bench/launch/startup.sh          RUNS=40 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-40}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/hilo" ./cmd/hilo
go build -o "$out/empty" ./bench/launch/empty
mpicc.openmpi -O2 -o "$out/empty-ompi" bench/launch/empty.c
mpicc.mpich -O2 -o "$out/empty-mpich" bench/launch/empty.c
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$out/t.json" \
  -n "hilo run" "$out/hilo run -n 2 -- $out/empty" \
  -n "self-spawn (-n 2)" "$out/empty -n 2" \
  -n "MPICH mpiexec" "mpirun.mpich -n 2 $out/empty-mpich" \
  -n "Open MPI mpirun" "mpirun.openmpi --allow-run-as-root --oversubscribe -np 2 $out/empty-ompi" >&2
python3 - "$out/t.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["median"]
print("| job | median ms | ratio to hilo run |")
print("|---|---:|---:|")
for x in r:
    print(f"| {x['command']} | {x['median']*1e3:.1f} | {x['median']/base:.2f} |")
PY
