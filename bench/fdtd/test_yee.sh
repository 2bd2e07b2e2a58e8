#!/usr/bin/env bash
# Checks of the C reference kernel: builds yee.c three ways, runs its physics
# self-checks (`yee -test`: exact mirror symmetries, tangential E = 0 on the
# walls, conservation of the modified energy W, stability at S = 0.5 and
# divergence above the Courant limit, cavity resonances at the Yee-discrete
# frequencies), then checks every line of reference.txt against yee.c built
# with and without FMA contraction and at -O0, against yee.c with odd padding,
# and (small N, if numpy is importable) against yee_numpy.py, an independent
# implementation. Exit status 0 only if all agree to 1e-12 relative.
#
#   bench/fdtd/test_yee.sh           # ~1 min on a quiet core
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CC=${CC:-gcc}
$CC -O3 -march=native -ffp-contract=off -Wall -Wno-unknown-pragmas -o "$out/yee" yee.c -lm
$CC -O3 -march=native -ffp-contract=fast -o "$out/yee_fma" yee.c -lm
$CC -O0 -o "$out/yee_O0" yee.c -lm
PY=python3
$PY -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || PY=

fail=0
"$out/yee" -test || fail=1

# relative difference within 1e-12?
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-12 * (a < 0 ? -a : a)) }'; }
energy() { tr ' ' '\n' | sed -n 's/^energy=//p'; }

while read -r variant n k e _; do
  case $variant in \#*|"") continue ;; esac
  flag=; [ "$variant" = skew ] && flag=-skew
  runs=("yee:$("$out/yee" "$n" "$k" $flag | energy)"
        "yee_fma:$("$out/yee_fma" "$n" "$k" $flag | energy)"
        "yee_pad13_stagger5:$("$out/yee" "$n" "$k" $flag -r 13 -a 5 | energy)")
  if [ "$n" -le 64 ]; then
    runs+=("yee_O0:$("$out/yee_O0" "$n" "$k" $flag | energy)")
    [ -n "$PY" ] && runs+=("numpy:$($PY yee_numpy.py "$n" "$k" $flag | energy)")
  fi
  for r in "${runs[@]}"; do
    got=${r#*:}
    if close "$e" "$got"; then
      echo "PASS  reference $variant N=$n K=$k: ${r%%:*} $got (reference $e)"
    else
      echo "FAIL  reference $variant N=$n K=$k: ${r%%:*} $got (reference $e)"
      fail=1
    fi
  done
done <reference.txt
[ -z "$PY" ] && echo "note: numpy not importable, yee_numpy.py cross-check skipped"
if [ $fail = 0 ]; then echo "test_yee.sh: ok"; else echo "test_yee.sh: FAILED"; exit 1; fi
