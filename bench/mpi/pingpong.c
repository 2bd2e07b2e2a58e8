/* OSU-style ping-pong between ranks 0 and 1, the MPI peer of
 * `hilo bench pingpong`: one-way latency (half the round trip, median over
 * rounds after warm-up) and window bandwidth (64 messages in flight, then an
 * acknowledgement), for 8 B and 16 B..4 MiB in powers of 4. Prints one JSON
 * row per size: {"bytes":N,"latency_us":L,"bandwidth_mbs":B}.
 *
 *   mpicc -O2 -o pingpong pingpong.c && mpirun -np 2 ./pingpong
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 64
#define ROUNDS 11

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n) {
	qsort(v, n, sizeof v[0], cmp);
	return v[n / 2];
}

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size != 2) {
		if (rank == 0) fprintf(stderr, "pingpong: run with exactly 2 ranks\n");
		MPI_Finalize();
		return 2;
	}
	long max = 4L << 20;
	char *buf = aligned_alloc(4096, max * WINDOW > (256L << 20) ? (256L << 20) : max * WINDOW);
	memset(buf, 1, max);
	long sizes[16];
	int n = 0;
	sizes[n++] = 8;
	for (long s = 16; s <= max; s *= 4) sizes[n++] = s;
	int peer = 1 - rank;
	MPI_Request req[WINDOW];
	for (int i = 0; i < n; i++) {
		long s = sizes[i];
		int iters = s <= 4096 ? 1000 : s <= 65536 ? 200 : 20;
		int windows = s <= 65536 ? 20 : s <= (1L << 20) ? 4 : 2;
		double lat[ROUNDS], bw[ROUNDS];
		for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
			MPI_Barrier(MPI_COMM_WORLD);
			double t0 = MPI_Wtime();
			for (int k = 0; k < iters; k++) {
				if (rank == 0) {
					MPI_Send(buf, s, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
					MPI_Recv(buf, s, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
				} else {
					MPI_Recv(buf, s, MPI_CHAR, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
					MPI_Send(buf, s, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
				}
			}
			double t1 = MPI_Wtime();
			if (r >= 0) lat[r] = (t1 - t0) / iters / 2 * 1e6;
			/* bandwidth: a window of messages, then a 1-byte ack */
			long slots = (256L << 20) / s < WINDOW ? (256L << 20) / s : WINDOW;
			MPI_Barrier(MPI_COMM_WORLD);
			t0 = MPI_Wtime();
			for (int w = 0; w < windows; w++) {
				for (int k = 0; k < WINDOW; k++) {
					char *p = buf + (k % slots) * s;
					if (rank == 0) MPI_Isend(p, s, MPI_CHAR, peer, 2, MPI_COMM_WORLD, &req[k]);
					else MPI_Irecv(p, s, MPI_CHAR, peer, 2, MPI_COMM_WORLD, &req[k]);
				}
				MPI_Waitall(WINDOW, req, MPI_STATUSES_IGNORE);
				if (rank == 0) MPI_Recv(buf, 1, MPI_CHAR, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
				else MPI_Send(buf, 1, MPI_CHAR, peer, 3, MPI_COMM_WORLD);
			}
			t1 = MPI_Wtime();
			if (r >= 0) bw[r] = (double)s * WINDOW * windows / (t1 - t0) / 1e6;
		}
		if (rank == 0)
			printf("{\"bytes\":%ld,\"latency_us\":%.3f,\"bandwidth_mbs\":%.1f}\n", s, median(lat, ROUNDS), median(bw, ROUNDS));
		fflush(stdout);
	}
	free(buf);
	MPI_Finalize();
	return 0;
}
