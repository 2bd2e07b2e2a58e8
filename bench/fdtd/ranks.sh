#!/usr/bin/env bash
# Two cores: hilo's FDTD reference problem on one rank, on two ranks (two
# processes over shared memory) and on one rank with two threads, turn about,
# ROUNDS times; prints the median Mcells/s of each and the speed-ups over one
# rank (issue #6's target: two ranks >= 1.8x one rank).
#
#   bench/fdtd/ranks.sh                 # N = 128, 200 steps, 5 rounds
#   N=256 STEPS=50 ROUNDS=3 bench/fdtd/ranks.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-128}
STEPS=${STEPS:-200}
ROUNDS=${ROUNDS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/hilo" ./cmd/hilo
declare -A runs=([one_rank]="-ranks 1" [two_ranks]="-ranks 2" [one_rank_two_threads]="-ranks 1 -threads 2")
order=(one_rank two_ranks one_rank_two_threads)
for r in $(seq "$ROUNDS"); do
  for name in "${order[@]}"; do
    # shellcheck disable=SC2086
    line=$("$out/hilo" fdtd -ref "$N" -steps "$STEPS" ${runs[$name]} 2>/dev/null | tail -1)
    m=$(tr ' ' '\n' <<<"$line" | sed -n 's/^mcells=//p')
    echo "$m" >>"$out/$name"
  done
done
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
base=$(median "$out/one_rank")
echo "| N^3 | steps | run | median Mcells/s | vs one rank |"
echo "|---|---|---|---|---|"
for name in "${order[@]}"; do
  m=$(median "$out/$name")
  echo "| $N | $STEPS | ${name//_/ } | $m | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a/b}') |"
done
