/* Halo exchange with MPI, the peer of `hilo bench halo`: a grid of
 * NX x NY x NZ cells (x fastest in memory, as hilo stores it) split into a
 * px x py x pz Cartesian block decomposition (MPI_Dims_create unless -dims
 * is given, so both codes can use the same split), K float64 fields with a
 * halo of width 1 on all six faces, optionally periodic. Each exchange packs
 * every field's faces into one buffer per neighbour, posts MPI_Irecv and
 * MPI_Isend, waits, and unpacks: the classic pack + send + unpack path.
 * Prints {"case":LABEL,"us":median slowest-rank µs per exchange}.
 *
 *   mpicc -O2 -o halo halo.c
 *   mpirun -np 2 ./halo -grid 128x128x128 -fields 6 [-periodic] [-dims 2,1,1] [-rounds 100] [-label L]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int n[3] = {128, 128, 128}, K = 6, periodic = 0, rounds = 100, dims[3] = {0, 0, 0};
	const char *label = "halo";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-grid") && i + 1 < argc) sscanf(argv[++i], "%dx%dx%d", &n[0], &n[1], &n[2]);
		else if (!strcmp(argv[i], "-fields") && i + 1 < argc) K = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-periodic")) periodic = 1;
		else if (!strcmp(argv[i], "-rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-dims") && i + 1 < argc) sscanf(argv[++i], "%d,%d,%d", &dims[0], &dims[1], &dims[2]);
		else if (!strcmp(argv[i], "-label") && i + 1 < argc) label = argv[++i];
	}
	int size, rank;
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	/* MPI's dims[0] is the slowest axis in its own convention; ours is x. */
	int mdims[3] = {dims[2], dims[1], dims[0]};
	MPI_Dims_create(size, 3, mdims);
	int pd[3] = {mdims[2], mdims[1], mdims[0]}; /* px, py, pz */
	int mper[3] = {periodic, periodic, periodic};
	MPI_Comm cart;
	MPI_Cart_create(MPI_COMM_WORLD, 3, mdims, mper, 0, &cart);
	MPI_Comm_rank(cart, &rank);
	int mc[3];
	MPI_Cart_coords(cart, rank, 3, mc);
	int c[3] = {mc[2], mc[1], mc[0]};
	int lo[3], m[3];
	for (int a = 0; a < 3; a++) {
		lo[a] = n[a] * c[a] / pd[a];
		m[a] = n[a] * (c[a] + 1) / pd[a] - lo[a];
	}
	/* local arrays with one ghost layer: (m+2) per axis, x fastest */
	long sx = 1, sy = m[0] + 2, sz = (long)(m[0] + 2) * (m[1] + 2);
	long vol = sz * (m[2] + 2);
	double **f = malloc(K * sizeof *f);
	for (int k = 0; k < K; k++) {
		f[k] = aligned_alloc(64, ((vol * 8 + 63) / 64) * 64);
		for (long i = 0; i < vol; i++) f[k][i] = rank + k;
	}
	long strides[3] = {sx, sy, sz};
	/* neighbours along each axis (MPI axis 2-a) */
	int nb[3][2];
	for (int a = 0; a < 3; a++) MPI_Cart_shift(cart, 2 - a, 1, &nb[a][0], &nb[a][1]);
	long face[3];
	for (int a = 0; a < 3; a++) face[a] = (long)m[(a + 1) % 3] * m[(a + 2) % 3] * K;
	double *sbuf[3][2], *rbuf[3][2];
	for (int a = 0; a < 3; a++)
		for (int s = 0; s < 2; s++) {
			sbuf[a][s] = malloc(face[a] * 8);
			rbuf[a][s] = malloc(face[a] * 8);
		}
	double *times = malloc((rounds + 5) * sizeof *times);
	MPI_Request req[12];
	for (int r = 0; r < rounds + 5; r++) {
		MPI_Barrier(cart);
		double t0 = MPI_Wtime();
		int nr = 0;
		for (int a = 0; a < 3; a++) {
			int u = (a + 1) % 3, v = (a + 2) % 3;
			for (int s = 0; s < 2; s++) {
				if (nb[a][s] == MPI_PROC_NULL) continue;
				MPI_Irecv(rbuf[a][s], face[a], MPI_DOUBLE, nb[a][s], 10 + a * 2 + (1 - s), cart, &req[nr++]);
			}
			for (int s = 0; s < 2; s++) {
				if (nb[a][s] == MPI_PROC_NULL) continue;
				/* pack the layer of owned cells next to side s */
				long pos = s == 0 ? 1 : m[a];
				double *b = sbuf[a][s];
				for (int k = 0; k < K; k++)
					for (int j = 1; j <= m[v]; j++)
						for (int i = 1; i <= m[u]; i++) *b++ = f[k][pos * strides[a] + j * strides[v] + i * strides[u]];
				MPI_Isend(sbuf[a][s], face[a], MPI_DOUBLE, nb[a][s], 10 + a * 2 + s, cart, &req[nr++]);
			}
		}
		MPI_Waitall(nr, req, MPI_STATUSES_IGNORE);
		for (int a = 0; a < 3; a++) {
			int u = (a + 1) % 3, v = (a + 2) % 3;
			for (int s = 0; s < 2; s++) {
				if (nb[a][s] == MPI_PROC_NULL) continue;
				long pos = s == 0 ? 0 : m[a] + 1;
				double *b = rbuf[a][s];
				for (int k = 0; k < K; k++)
					for (int j = 1; j <= m[v]; j++)
						for (int i = 1; i <= m[u]; i++) f[k][pos * strides[a] + j * strides[v] + i * strides[u]] = *b++;
			}
		}
		times[r] = MPI_Wtime() - t0;
	}
	double *slow = malloc(rounds * sizeof *slow);
	MPI_Allreduce(times + 5, slow, rounds, MPI_DOUBLE, MPI_MAX, cart);
	qsort(slow, rounds, sizeof *slow, cmp);
	if (rank == 0) printf("{\"case\":\"%s\",\"us\":%.2f,\"dims\":[%d,%d,%d]}\n", label, slow[rounds / 2] * 1e6, pd[0], pd[1], pd[2]);
	MPI_Finalize();
	return 0;
}
