#!/usr/bin/env python3
"""Medians and ratios of interleaved hilo vs MPI runs (JSON rows, one per line).

ratios.py pingpong DIR ROUNDS   reads DIR/{hilo,mpi}-{shm,tcp}-R.json
ratios.py halo DIR ROUNDS       reads DIR/{hilo,mpi}-CASE-R.json with rows {"us":...}
"""
import json, os, statistics, sys
from collections import defaultdict

def rows(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]

def pingpong(d, rounds):
    print("| transport | bytes | hilo latency µs | Open MPI latency µs | ratio (≤1 better) | hilo MB/s | Open MPI MB/s | ratio (≥1 better) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t in ("shm", "tcp"):
        fig = {k: defaultdict(lambda: defaultdict(list)) for k in ("hilo", "mpi")}
        for who in fig:
            for r in range(1, rounds + 1):
                p = os.path.join(d, f"{who}-{t}-{r}.json")
                if not os.path.exists(p):
                    continue
                for row in rows(p):
                    fig[who][row["bytes"]]["lat"].append(row["latency_us"])
                    fig[who][row["bytes"]]["bw"].append(row["bandwidth_mbs"])
        for b in sorted(fig["hilo"]):
            h, m = fig["hilo"][b], fig["mpi"].get(b)
            if not m:
                continue
            hl, ml = statistics.median(h["lat"]), statistics.median(m["lat"])
            hb, mb = statistics.median(h["bw"]), statistics.median(m["bw"])
            print(f"| {t} | {b} | {hl:.2f} | {ml:.2f} | {hl/ml:.2f} | {hb:.0f} | {mb:.0f} | {hb/mb:.2f} |")

def halo(d, rounds):
    # files: WHO-CASE-ROUND.json, CASE without dashes
    fig = {k: defaultdict(list) for k in ("hilo", "mpi")}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        who, case, _ = name[:-5].split("-")
        for row in rows(os.path.join(d, name)):
            fig[who][case].append(row["us"])
    print("| case | hilo µs/exchange | Open MPI µs/exchange | ratio (≤1 better) |")
    print("|---|---:|---:|---:|")
    for c in sorted(fig["hilo"]):
        if c in fig["mpi"]:
            h, m = statistics.median(fig["hilo"][c]), statistics.median(fig["mpi"][c])
            print(f"| {c} | {h:.1f} | {m:.1f} | {h/m:.2f} |")

if __name__ == "__main__":
    kind, d, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"pingpong": pingpong, "halo": halo}[kind](d, rounds)
