#!/usr/bin/env python3
"""Second, independent implementation of the reference problem (README.md),
written from the storage convention with one exactly-shaped array per
component and whole-array numpy slicing instead of yee.c's common padded
layout and peeled loops. It checks yee.c's energies (test_yee.sh runs both).

    python3 bench/fdtd/yee_numpy.py N K [-skew]    # prints energy=%.15g
"""
import sys

import numpy as np


def run(n, k, s=0.5, skew=False):
    # E on the primal edges, H on the dual edges (README "Storage"):
    ex = np.zeros((n, n + 1, n + 1))  # (i+1/2, j, k)
    ey = np.zeros((n + 1, n, n + 1))  # (i, j+1/2, k)
    ez = np.zeros((n + 1, n + 1, n))  # (i, j, k+1/2)
    hx = np.zeros((n + 1, n, n))  # (i, j+1/2, k+1/2)
    hy = np.zeros((n, n + 1, n))  # (i+1/2, j, k+1/2)
    hz = np.zeros((n, n, n + 1))  # (i+1/2, j+1/2, k)
    for step in range(k):
        # E += dt curl H on non-wall E; wall values (tangential) stay 0.
        # curl H at an E edge uses the H on both sides; the H entries at a
        # wall (normal H) are 0, so they can be read as if stored there.
        ex[:, 1:-1, 1:-1] += s * ((hz[:, 1:, 1:-1] - hz[:, :-1, 1:-1])
                                  - (hy[:, 1:-1, 1:] - hy[:, 1:-1, :-1]))
        ey[1:-1, :, 1:-1] += s * ((hx[1:-1, :, 1:] - hx[1:-1, :, :-1])
                                  - (hz[1:, :, 1:-1] - hz[:-1, :, 1:-1]))
        ez[1:-1, 1:-1, :] += s * ((hy[1:, 1:-1, :] - hy[:-1, 1:-1, :])
                                  - (hx[1:-1, 1:, :] - hx[1:-1, :-1, :]))
        t = (step - 30.0) / 10.0
        a = np.exp(-(t * t))
        if skew:  # Ex(N/4+1/2, N/3, N/2-1), Ey(N/4, N/3+1/2, N/2-1), Ez(N/4, N/3, N/2-1/2)
            p = (n // 4, n // 3, n // 2 - 1)
            ex[p] += a
            ey[p] += a
            ez[p] += a
        else:  # Ez(N/2, N/2, N/2+1/2)
            ez[n // 2, n // 2, n // 2] += a
        # H -= dt curl E everywhere on the dual grid
        hx -= s * ((ez[:, 1:, :] - ez[:, :-1, :]) - (ey[:, :, 1:] - ey[:, :, :-1]))
        hy -= s * ((ex[:, :, 1:] - ex[:, :, :-1]) - (ez[1:, :, :] - ez[:-1, :, :]))
        hz -= s * ((ey[1:, :, :] - ey[:-1, :, :]) - (ex[:, 1:, :] - ex[:, :-1, :]))
    e2 = sum(float(np.sum(a * a)) for a in (ex, ey, ez))
    h2 = sum(float(np.sum(a * a)) for a in (hx, hy, hz))
    return e2 + h2, e2, h2


if __name__ == "__main__":
    n, k = int(sys.argv[1]), int(sys.argv[2])
    e, e2, h2 = run(n, k, skew="-skew" in sys.argv[3:])
    print("energy=%.15g sumE2=%.17g sumH2=%.17g" % (e, e2, h2))
