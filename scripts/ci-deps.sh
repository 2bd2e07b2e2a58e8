#!/usr/bin/env bash
# Install what hilo's launcher tests need, quietly and idempotently:
# Open MPI and MPICH (TestOpenMPI, TestMPICH; both installed, call
# mpirun.openmpi / mpirun.mpich), a one-node Slurm with munge (TestSlurm via
# scripts/slurm-up.sh), iproute2 and util-linux (TestTwoNodes via
# scripts/twonode.sh) and hyperfine (start-up comparisons). Needs root (or
# sudo); does nothing for packages already installed. Chromium is for the
# decomposition viewer's browser test (decomp/render); python3-vtk9 lets the
# FDTD output test read its .pvti files with VTK's own reader.
set -euo pipefail
pkgs=(openmpi-bin libopenmpi-dev mpich slurm-wlm munge iproute2 util-linux procps hyperfine chromium python3-vtk9)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi
sudo=""
if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Installing MPICH after Open MPI flips the mpirun alternative; the tests call
# mpirun.openmpi and mpirun.mpich by name, so either is fine.
echo "ci-deps: installed ${missing[*]}"
