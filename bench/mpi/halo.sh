#!/usr/bin/env bash
# Halo exchange, hilo against Open MPI, interleaved (issue #5's targets):
# block decomposition, K = 6 float64 fields, halo 1, 6 faces; 128³ and 256³
# with 2 ranks, non-periodic and periodic, over shared memory (Open MPI's vader
# BTL) and TCP (its tcp BTL on loopback); 128³ with 4 ranks on 2 cores.
# Both codes split the grid the same way (the MPI code is given hilo's block
# dims). Prints the median µs per exchange (slowest rank) and the ratio.
#
#   bench/mpi/halo.sh                  ROUNDS=3 by default; CASES="..." to choose
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
MPIRUN=${MPIRUN:-$(command -v mpirun.openmpi || command -v mpirun)}
MPICC=${MPICC:-$(command -v mpicc.openmpi || command -v mpicc)} || { echo "halo.sh: mpicc not found (apt-get install libopenmpi-dev)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$MPICC" -O2 -o "$out/halo" bench/mpi/halo.c
go build -o "$out/hilo" ./cmd/hilo
# case: grid ranks periodic(0/1) transport
CASES=${CASES:-"128x128x128,2,0,shm 128x128x128,2,1,shm 256x256x256,2,0,shm 256x256x256,2,1,shm 128x128x128,4,0,shm 128x128x128,2,0,tcp 128x128x128,2,1,tcp"}
for r in $(seq "$ROUNDS"); do
  for c in $CASES; do
    IFS=, read -r grid p per tr <<<"$c"
    label="${grid}_P${p}_$([[ $per == 1 ]] && echo periodic || echo open)_$tr"
    popt=(); hper=()
    [[ $per == 1 ]] && popt=(-periodic) && hper=(-periodic xyz)
    dims=$("$out/hilo" decomp -grid "$grid" -ranks "$p" -method block "${hper[@]}" -format json |
      python3 -c 'import json,sys; b=[x[0] for x in json.load(sys.stdin)["boxes"]]; print(",".join(str(len({bx[a] for bx in b})) for a in range(3)))')
    case $tr in
      shm) mca=(--mca btl self,vader) ;;
      tcp) mca=(--mca btl self,tcp --mca btl_tcp_if_include lo) ;;
    esac
    echo "round $r/$ROUNDS $label (block $dims)" >&2
    "$MPIRUN" --allow-run-as-root --oversubscribe "${mca[@]}" -np "$p" "$out/halo" \
      -grid "$grid" -fields 6 -dims "$dims" "${popt[@]}" -label "$label" >"$out/mpi-$label-$r.json"
    "$out/hilo" bench halo -grid "$grid" -ranks "$p" -method block -fields 6 -halo 1 -stencil 6 \
      "${hper[@]}" -transport "$tr" -json >"$out/hilo-$label-$r.json"
  done
done
python3 bench/mpi/ratios.py halo "$out" "$ROUNDS"
