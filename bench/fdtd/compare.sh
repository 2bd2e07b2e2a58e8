#!/usr/bin/env bash
# FDTD speed, side by side on one core: the plain C Yee kernel (yee.c), MEEP
# (meep_ref.py) and, once it exists, hilo's solver (`hilo fdtd -ref N -steps K`),
# on the reference problem of README.md. For each N the programs run turn
# about ROUNDS times (the machine is shared: only interleaved medians and
# ratios mean anything), and a markdown table reports the median Mcells/s of
# each and the ratios. hilo's energy is checked against yee's at each N.
#
#   bench/fdtd/compare.sh                    # N = 128 256, 3 rounds
#   ROUNDS=5 SIZES="128" bench/fdtd/compare.sh
#   NO_MEEP=1 bench/fdtd/compare.sh          # skip MEEP
#
# Needs gcc; MEEP needs `apt-get install -y meep python3-meep python3-matplotlib`;
# hilo needs Go (or HILO_BIN=/path/to/hilo, prebuilt); it runs with GOMAXPROCS=1 and
# HILO_ARGS appended, and must print a line with energy=<%.15g> and mcells=<...>. Steps per run: STEPS_128 (default 200), STEPS_256 (default 50),
# or STEPS_<N> for any other N.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"128 256"}
export OMP_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

CC=${CC:-gcc}
$CC -O3 -march=native -ffp-contract=off -o "$out/yee" bench/fdtd/yee.c -lm

have_meep=0
# Debian's python3-meep is in the system python, which a pyenv/venv python3 on PATH may hide
MEEP_PY=${MEEP_PY:-python3}
$MEEP_PY -c 'import meep' >/dev/null 2>&1 || MEEP_PY=/usr/bin/python3
if [ -z "${NO_MEEP:-}" ]; then
  if $MEEP_PY -c 'import meep' >/dev/null 2>&1; then
    have_meep=1
  else
    echo "compare.sh: note: python3 meep not importable, MEEP skipped (apt-get install -y meep python3-meep python3-matplotlib)" >&2
  fi
fi

have_hilo=0
if [ -n "${HILO_BIN:-}" ]; then # a prebuilt binary instead of building ./cmd/hilo
  cp "$HILO_BIN" "$out/hilo"
elif command -v go >/dev/null; then
  go build -o "$out/hilo" ./cmd/hilo 2>"$out/hilo-build.log" || true
fi
if [ -x "$out/hilo" ] && "$out/hilo" fdtd -h >"$out/hilo-help.txt" 2>&1 &&
   grep -q -- '-ref' "$out/hilo-help.txt"; then
  have_hilo=1
else
  echo "compare.sh: note: 'hilo fdtd -h' does not work yet (no solvers/fdtd?), hilo skipped" >&2
fi

# field value of key=value in a line
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

for n in $SIZES; do
  var=STEPS_$n
  k=${!var:-}
  if [ -z "$k" ]; then k=$(( n <= 128 ? 200 : 50 )); fi
  echo "$n $k" >>"$out/sizes"
  for r in $(seq "$ROUNDS"); do
    echo "round $r/$ROUNDS N=$n K=$k" >&2
    line=$("$out/yee" "$n" "$k")
    echo "$line" >&2
    echo "$line" | field mcells >>"$out/c-$n"
    echo "$line" | field cpu_mcells >>"$out/c-cpu-$n"
    echo "$line" | field energy >"$out/c-energy-$n"
    if [ $have_meep = 1 ]; then
      line=$($MEEP_PY bench/fdtd/meep_ref.py "$n" "$k" 2>"$out/meep-log-$n" | grep '^mcells=' || true)
      if [ -z "$line" ]; then
        echo "compare.sh: meep_ref.py failed:" >&2
        tail -5 "$out/meep-log-$n" >&2
      else
        echo "meep: $line" >&2
        echo "$line" | field mcells >>"$out/meep-$n"
        echo "$line" | field cpu_mcells >>"$out/meep-cpu-$n"
      fi
    fi
    if [ $have_hilo = 1 ]; then
      line=$(GOMAXPROCS=1 "$out/hilo" fdtd -ref "$n" -steps "$k" ${HILO_ARGS:-} | grep 'mcells=' | tail -1 || true)
      echo "hilo: $line" >&2
      echo "$line" | field mcells >>"$out/hilo-$n"
      echo "$line" | field cpu_mcells >>"$out/hilo-cpu-$n"
      echo "$line" | field energy >"$out/hilo-energy-$n"
    fi
  done
done

python3 - "$out" "$ROUNDS" "$have_meep" "$have_hilo" <<'EOF'
import os, statistics, sys
out, rounds, have_meep, have_hilo = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"

def med(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return None
    v = [float(x) for x in open(p).read().split() if x]
    return statistics.median(v) if v else None

def energy(name):
    p = os.path.join(out, name)
    return float(open(p).read().strip()) if os.path.exists(p) and open(p).read().strip() else None

def f(x, fmt="%.1f"):
    return fmt % x if x is not None else "-"

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"

print("median of %s interleaved rounds, one core, Mcells/s (cell-update = 6 components of one cell)" % rounds)
mismatch = False
for title, suffix in (("wall-clock time", ""), ("process CPU time (leaves out time other work had the core)", "cpu-")):
    print("\nby %s:\n" % title)
    print("| N^3 | steps | C -O3 | MEEP 1.25 | hilo | hilo/C | hilo/MEEP | MEEP/C | hilo energy vs C |")
    print("|---|---|---|---|---|---|---|---|---|")
    for line in open(os.path.join(out, "sizes")):
        n, k = line.split()
        c, m, h = med("c-" + suffix + n), med("meep-" + suffix + n), med("hilo-" + suffix + n)
        ec, eh = energy("c-energy-" + n), energy("hilo-energy-" + n)
        check = "-"
        if ec is not None and eh is not None:
            rel = abs(eh - ec) / abs(ec)
            check = ("ok (%.1e)" if rel <= 1e-12 else "MISMATCH (%.1e)") % rel
            mismatch = mismatch or rel > 1e-12
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, k, f(c), f(m), f(h), ratio(h, c), ratio(h, m), ratio(m, c), check))
if not have_meep:
    print("\nMEEP skipped (NO_MEEP set, or meep not importable).")
if not have_hilo:
    print("\nhilo skipped: `hilo fdtd -h` does not work yet.")
if mismatch:
    print("\nhilo's energy differs from yee.c's by more than 1e-12 relative.")
    sys.exit(1)
EOF
