#!/usr/bin/env python3
"""MEEP 1.25 on the FDTD reference problem (README.md), for speed only.

The same physics as closely as MEEP allows: an N^3 cell at resolution 1
(unit cells), Courant 0.5 (dt = 0.5), vacuum, MEEP's default boundary (perfect
metal: tangential E = 0 on all six walls, no PML), and an Ez point source at
the centre with the reference envelope exp(-((n-30)/10)^2), n = t/dt. MEEP
injects a current rather than adding to Ez, centres its cell at the origin
and staggers its own way, so its fields and energy do not match yee.c's;
only Mcells/s is compared (N^3 cell-updates per step, all six components).

    python3 bench/fdtd/meep_ref.py N K     # one run: prints mcells=... seconds=... cpu_mcells=...
    python3 bench/fdtd/meep_ref.py         # N = 128 (200 steps), 256 (50 steps)

Needs `apt-get install -y meep python3-meep python3-matplotlib` (Debian's
serial build: one core). The timed part is K calls of fields.step() after
init_sim() and WARMUP untimed steps (MEEP allocates field components lazily
when the source first turns on).
"""
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import meep as mp  # noqa: E402

WARMUP = 5
DT = 0.5


def envelope(t):
    n = t / DT
    u = (n - 30.0) / 10.0
    return math.exp(-u * u)


def run(n, k):
    mp.verbosity(0)
    src = mp.CustomSource(src_func=envelope, start_time=0, end_time=60 * DT)
    sim = mp.Simulation(
        cell_size=mp.Vector3(n, n, n),
        resolution=1,
        Courant=DT,
        boundary_layers=[],  # no PML: MEEP's walls are then perfect metal
        sources=[mp.Source(src, component=mp.Ez, center=mp.Vector3(0, 0, 0.5))],
    )
    sim.init_sim()
    assert abs(sim.fields.dt - DT) < 1e-15, sim.fields.dt
    for _ in range(WARMUP):
        sim.fields.step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(k):
        sim.fields.step()
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    energy = sim.fields.field_energy()
    chunks = sim.structure.num_chunks
    sim.reset_meep()
    return n ** 3 * k / sec / 1e6, sec, n ** 3 * k / cpu / 1e6, cpu, energy, chunks


def main():
    if len(sys.argv) == 3:
        jobs = [(int(sys.argv[1]), int(sys.argv[2]))]
    elif len(sys.argv) == 1:
        jobs = [(128, 200), (256, 50)]
    else:
        sys.exit("usage: meep_ref.py [N K]")
    for n, k in jobs:
        mc, sec, cmc, cpu, energy, chunks = run(n, k)
        print("mcells=%.1f seconds=%.3f cpu_mcells=%.1f cpu_seconds=%.3f N=%d K=%d "
              "meep_field_energy=%.6g chunks=%d" % (mc, sec, cmc, cpu, n, k, energy, chunks),
              flush=True)


if __name__ == "__main__":
    main()
