/*
 * yee.c: the hilo FDTD reference problem in plain C (float64, one core by
 * default). It is the independent oracle and the speed bar for solvers/fdtd.
 * The problem and the storage convention are defined in README.md beside
 * this file; the comments below only say how this code maps onto it.
 *
 *   cc -O3 -march=native -ffp-contract=off -o yee yee.c -lm
 *   ./yee N K [-S courant] [-r rowpad] [-a stagger] [-skew] [-v]   run the reference problem
 *                                  (-skew: the skew-source variant, see step())
 *                                  (-v: also sum E^2, sum H^2 and two field values, %.17g)
 *   ./yee -test                                       physics self-checks
 *
 * Layout: every component lives in an array of (N+1)^3 logical entries,
 * index p = i*sx + j*sy + k (k contiguous). Entries outside a component's
 * stored range (e.g. Ex at i = N) are never written and stay 0, so summing
 * whole arrays sums exactly the stored components. -r adds rowpad doubles to
 * each row (sy = N+1+rowpad, default: round N+1 up to a multiple of 8, i.e.
 * 64-byte rows); -a offsets the start of array number a by a*stagger cache
 * lines so the six streams do not alias modulo 4 KiB (default 3 lines).
 * Build with -fopenmp to parallelise the outer loop (off by default).
 */
#define _POSIX_C_SOURCE 200809L
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	int n;           /* cells per side */
	long sx, sy;     /* strides of i and j (k stride is 1) */
	size_t len;      /* entries per array incl. padding */
	double dt;       /* c*dt with dx = 1, i.e. the Courant number S */
	int skew;        /* variant "skew": source on Ex, Ey, Ez at (N/4, N/3, N/2-1) */
	double *f[6];    /* ex, ey, ez, hx, hy, hz */
	void *mem;
} grid;

enum { EX, EY, EZ, HX, HY, HZ };

static double clock_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int grid_init(grid *g, int n, double s, long rowpad, long stagger)
{
	memset(g, 0, sizeof *g);
	g->n = n;
	g->dt = s;
	if (rowpad < 0)
		rowpad = ((n + 1 + 7) / 8) * 8 - (n + 1);
	if (stagger < 0)
		stagger = 3;
	g->sy = n + 1 + rowpad;
	g->sx = (long)(n + 1) * g->sy;
	g->len = (size_t)(n + 1) * g->sx;
	/* array a starts at a*per + a*stagger*64 bytes of one 4 KiB-aligned
	 * allocation; per is a multiple of 4 KiB with a spare page for the shift,
	 * so array a sits a*stagger cache lines past a page boundary */
	if (stagger > 12)
		return -1;
	size_t per = ((g->len * 8 + 4095) / 4096) * 4096 + 4096;
	size_t total = per * 6;
	if (posix_memalign(&g->mem, 4096, total) != 0)
		return -1;
	memset(g->mem, 0, total); /* first touch on this thread */
	for (int a = 0; a < 6; a++)
		g->f[a] = (double *)((char *)g->mem + a * per + (size_t)a * stagger * 64);
	return 0;
}

static void grid_free(grid *g) { free(g->mem); }

static long idx(const grid *g, int i, int j, int k) { return i * g->sx + j * g->sy + k; }

/* One row (fixed i, j) of the fused E update, k in [1,N-1]. Row pointers
 * with restrict give the compiler plain unit-stride streams to vectorise
 * (with flat indices p, p - sx, ... GCC 12 gave up: "complicated access
 * pattern"). _jm / _im: the row at j-1 / i-1. */
static inline void e_row(int n, double dt, double *restrict ex, double *restrict ey,
                         double *restrict ez, const double *restrict hx, const double *restrict hy,
                         const double *restrict hz, const double *restrict hx_jm,
                         const double *restrict hy_im, const double *restrict hz_jm,
                         const double *restrict hz_im)
{
	for (int k = 1; k < n; k++) {
		ex[k] += dt * ((hz[k] - hz_jm[k]) - (hy[k] - hy[k - 1]));
		ey[k] += dt * ((hx[k] - hx[k - 1]) - (hz[k] - hz_im[k]));
		ez[k] += dt * ((hy[k] - hy_im[k]) - (hx[k] - hx_jm[k]));
	}
}

/* One row of the H update, k in [0,N-1]. _jp / _ip: the row at j+1 / i+1. */
static inline void h_row(int n, double dt, double *restrict hx, double *restrict hy,
                         double *restrict hz, const double *restrict ex, const double *restrict ey,
                         const double *restrict ez, const double *restrict ex_jp,
                         const double *restrict ey_ip, const double *restrict ez_jp,
                         const double *restrict ez_ip)
{
	for (int k = 0; k < n; k++) {
		hx[k] -= dt * ((ez_jp[k] - ez[k]) - (ey[k + 1] - ey[k]));
		hy[k] -= dt * ((ex[k + 1] - ex[k]) - (ez_ip[k] - ez[k]));
		hz[k] -= dt * ((ey_ip[k] - ey[k]) - (ex_jp[k] - ex[k]));
	}
}

/* E += dt * curl H on the E components that are not tangential to a wall:
 *   Ex: i in [0,N-1], j,k in [1,N-1]
 *   Ey: i,k in [1,N-1], j in [0,N-1]
 *   Ez: i,j in [1,N-1], k in [0,N-1]
 * The i = 0 plane (Ex only), the j = 0 row (Ey only) and the k = 0 entry (Ez
 * only) are peeled so the inner loop updates all three with no branch. */
static void update_e(grid *g)
{
	const int n = g->n;
	const long sx = g->sx, sy = g->sy;
	const double dt = g->dt;
	double *restrict ex = g->f[EX], *restrict ey = g->f[EY], *restrict ez = g->f[EZ];
	const double *restrict hx = g->f[HX], *restrict hy = g->f[HY], *restrict hz = g->f[HZ];

	for (int j = 1; j < n; j++) {
		const long b = j * sy;
		for (int k = 1; k < n; k++) {
			const long p = b + k;
			ex[p] += dt * ((hz[p] - hz[p - sy]) - (hy[p] - hy[p - 1]));
		}
	}
#pragma omp parallel for schedule(static)
	for (int i = 1; i < n; i++) {
		const long bi = i * sx;
		for (int k = 1; k < n; k++) {
			const long p = bi + k;
			ey[p] += dt * ((hx[p] - hx[p - 1]) - (hz[p] - hz[p - sx]));
		}
		for (int j = 1; j < n; j++) {
			const long b = bi + j * sy;
			ez[b] += dt * ((hy[b] - hy[b - sx]) - (hx[b] - hx[b - sy]));
			e_row(n, dt, ex + b, ey + b, ez + b, hx + b, hy + b, hz + b, hx + b - sy, hy + b - sx,
			      hz + b - sy, hz + b - sx);
		}
	}
}

/* H -= dt * curl E for i,j,k in [0,N-1]. That covers every stored H entry
 * that can be non-zero: Hx at i = N, Hy at j = N and Hz at k = N (normal to a
 * wall, curl of zero tangential E) stay 0; Hx at i = 0 etc. are computed from
 * zero E and stay exactly 0 too. */
static void update_h(grid *g)
{
	const int n = g->n;
	const long sx = g->sx, sy = g->sy;
	const double dt = g->dt;
	const double *restrict ex = g->f[EX], *restrict ey = g->f[EY], *restrict ez = g->f[EZ];
	double *restrict hx = g->f[HX], *restrict hy = g->f[HY], *restrict hz = g->f[HZ];

#pragma omp parallel for schedule(static)
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			const long b = i * sx + j * sy;
			h_row(n, dt, hx + b, hy + b, hz + b, ex + b, ey + b, ez + b, ex + b + sy, ey + b + sx,
			      ez + b + sy, ez + b + sx);
		}
	}
}

static double source(int n)
{
	const double t = ((double)n - 30.0) / 10.0;
	return exp(-(t * t));
}

/* One step n: E update, soft source, H update. The reference source is on
 * Ez(N/2, N/2, N/2+1/2) only. It excites TM_z fields alone (Hz stays 0 to
 * round-off) and they are mirror-symmetric in x, y and x<->y, so the skew
 * variant adds the same pulse to Ex, Ey and Ez at the grid indices
 * (N/4, N/3, N/2-1), i.e. Ex(N/4+1/2, N/3, N/2-1), Ey(N/4, N/3+1/2, N/2-1),
 * Ez(N/4, N/3, N/2-1/2), which excites all six components, no symmetry. */
static void add_source(grid *g, int n)
{
	const double a = source(n);
	if (g->skew) {
		const long p = idx(g, g->n / 4, g->n / 3, g->n / 2 - 1);
		g->f[EX][p] += a;
		g->f[EY][p] += a;
		g->f[EZ][p] += a;
	} else {
		g->f[EZ][idx(g, g->n / 2, g->n / 2, g->n / 2)] += a;
	}
}

static void step(grid *g, int n)
{
	update_e(g);
	add_source(g, n);
	update_h(g);
}

/* sum over arrays [a0, a1) of the squares, with Neumaier's compensated
 * summation so that the printed value is the exact sum of the (rounded)
 * squares to ~1e-16 relative, whatever order another code sums in: a plain
 * running sum over 2 million entries drifts by ~1e-13 (a 128^3 run differed
 * from numpy's pairwise sum by 3.5e-13). */
static double sumsq(const grid *g, int a0, int a1)
{
	double s = 0, c = 0;
	for (int a = a0; a < a1; a++) {
		const double *f = g->f[a];
		for (size_t p = 0; p < g->len; p++) {
			const double x = f[p] * f[p], t = s + x;
			c += fabs(s) >= fabs(x) ? (s - t) + x : (x - t) + s;
			s = t;
		}
	}
	return s + c;
}

static double energy(const grid *g) { return sumsq(g, EX, HZ + 1); }

/* ---------------------------------------------------------------- tests */

static int failures;

static void check(int ok, const char *what)
{
	printf("%s  %s\n", ok ? "PASS" : "FAIL", what);
	if (!ok)
		failures++;
}

/* (a) W_n = 1/2 sum E_n^2 + 1/2 sum H_{n-1/2}.H_{n+1/2}, where E_n is E after
 * the E update and source of step n and H_{n+1/2} is H after its H update. */
static void test_conservation(int skew)
{
	const int n = 32, steps = 800;
	grid g;
	if (grid_init(&g, n, 0.5, -1, -1))
		abort();
	g.skew = skew;
	double *old = malloc(3 * g.len * sizeof(double));
	double w80 = 0, w100 = 0, d80 = 0, d100 = 0, plainmin = 1e300, plainmax = 0;
	for (int s = 0; s < steps; s++) {
		for (int a = 0; a < 3; a++)
			memcpy(old + a * g.len, g.f[HX + a], g.len * sizeof(double));
		update_e(&g);
		add_source(&g, s);
		double e2 = sumsq(&g, EX, EZ + 1);
		update_h(&g);
		double hh = 0;
		for (int a = 0; a < 3; a++) {
			double t = 0;
			for (size_t p = 0; p < g.len; p++)
				t += old[a * g.len + p] * g.f[HX + a][p];
			hh += t;
		}
		double w = 0.5 * e2 + 0.5 * hh;
		if (s == 80)
			w80 = w;
		if (s == 100)
			w100 = w;
		if (s > 80 && fabs(w - w80) / w80 > d80)
			d80 = fabs(w - w80) / w80;
		if (s > 100 && fabs(w - w100) / w100 > d100)
			d100 = fabs(w - w100) / w100;
		if (s > 100) {
			double e = energy(&g);
			if (e < plainmin)
				plainmin = e;
			if (e > plainmax)
				plainmax = e;
		}
	}
	char msg[256];
	snprintf(msg, sizeof msg,
	         "conservation%s N=32 S=0.5 %d steps: max|W_n-W_100|/W_100 = %.2e over n in (100,%d), "
	         "from n=80: %.2e (source still 1.4e-11 at n=80); W = %.15g",
	         skew ? " (skew)" : "", steps, d100, steps, d80, w100);
	check(d100 < 1e-12, msg);
	snprintf(msg, sizeof msg,
	         "plain sum(E^2+H^2) is not conserved, it oscillates: min %.6g max %.6g (ratio-1 = %.2e)",
	         plainmin, plainmax, plainmax / plainmin - 1);
	check(plainmax / plainmin - 1 > 10 * d100, msg);
	free(old);
	grid_free(&g);
}

/* (b) growth of sum(E^2+H^2) after the source is off, for several S */
static double growth(int n, double s, int steps)
{
	grid g;
	if (grid_init(&g, n, s, -1, -1))
		abort();
	double e100 = 0, emax = 0;
	for (int t = 0; t < steps; t++) {
		step(&g, t);
		if (t >= 100) {
			double e = energy(&g);
			if (t == 100)
				e100 = e;
			if (!(e <= emax)) /* catches NaN and inf too */
				emax = e;
			if (!isfinite(e) || e > 1e30 * e100)
				break;
		}
	}
	grid_free(&g);
	return emax / e100;
}

static void test_stability(void)
{
	const int n = 32;
	const double s3 = 1 / sqrt(3.0);
	/* exact limit in an N^3 PEC box: the fastest mode is (N-1, N-1, N-1) */
	const double sbox = 1 / sqrt(3 * pow(cos(M_PI / (2 * n)), 2));
	char msg[256];
	double r;

	r = growth(n, 0.5, 5000);
	snprintf(msg, sizeof msg, "stable at S=0.5, N=32, 5000 steps: max E/E_100 = %.4g", r);
	check(r < 3, msg);

	r = growth(n, 0.6, 1000);
	snprintf(msg, sizeof msg, "diverges at S=0.6 > 1/sqrt3=%.6f: E/E_100 reached %.3g", s3, r);
	check(!(r < 1e20), msg);

	double sin_ = 0.5 * (s3 + sbox); /* between 1/sqrt3 and the box limit */
	r = growth(n, sin_, 5000);
	snprintf(msg, sizeof msg,
	         "stable at S=%.6f (above 1/sqrt3, below the N=32 box limit %.6f), 5000 steps: max E/E_100 = %.4g",
	         sin_, sbox, r);
	check(r < 3, msg);

	double sout = sbox + 0.0004;
	r = growth(n, sout, 5000);
	snprintf(msg, sizeof msg, "diverges at S=%.6f (box limit + 4e-4): E/E_100 reached %.3g", sout, r);
	check(!(r < 1e20), msg);
}

/* Yee-discrete frequency of PEC cavity mode (m, n, p) in an N^3 box, unit cells */
static double f_yee(int N, double s, int m, int n, int p)
{
	double q = pow(sin(m * M_PI / (2 * N)), 2) + pow(sin(n * M_PI / (2 * N)), 2) +
	           pow(sin(p * M_PI / (2 * N)), 2);
	return asin(s * sqrt(q)) / (M_PI * s); /* omega = (2/dt) asin(...), f = omega/2pi */
}

static double f_cont(int N, int m, int n, int p)
{
	return 0.5 * sqrt((double)(m * m + n * n + p * p)) / N;
}

/* Hann-windowed DFT magnitude of x[0..M) (sample spacing dt) at frequency f */
static double dft_mag(const double *x, int M, double dt, double f)
{
	double re = 0, im = 0;
	for (int t = 0; t < M; t++) {
		double w = 0.5 - 0.5 * cos(2 * M_PI * t / (M - 1));
		double ph = 2 * M_PI * f * t * dt;
		re += w * x[t] * cos(ph);
		im -= w * x[t] * sin(ph);
	}
	return hypot(re, im);
}

/* (c) cavity resonances from a probe of Ez after the pulse */
static void test_resonance(void)
{
	const int n = 16, skip = 128, M = 16384;
	const double s = 0.5;
	grid g;
	if (grid_init(&g, n, s, -1, -1))
		abort();
	double *x = malloc(M * sizeof(double));
	const long probe = idx(&g, n / 4, n / 4, n / 2);
	for (int t = 0; t < skip + M; t++) {
		step(&g, t);
		if (t >= skip)
			x[t - skip] = g.f[EZ][probe];
	}
	grid_free(&g);
	const double df = 1.0 / (M * s); /* bin width */
	const int modes[3][3] = {{1, 1, 0}, {1, 1, 2}, {3, 1, 0}};
	for (int q = 0; q < 3; q++) {
		const int *mo = modes[q];
		double fy = f_yee(n, s, mo[0], mo[1], mo[2]), fc = f_cont(n, mo[0], mo[1], mo[2]);
		/* coarse: largest DFT bin within +-20 bins of the prediction */
		int b0 = (int)floor(fy / df) - 20, best = b0;
		double bm = -1;
		for (int b = b0; b <= b0 + 41; b++) {
			double m = dft_mag(x, M, s, b * df);
			if (m > bm) {
				bm = m;
				best = b;
			}
		}
		double fbin = best * df;
		/* fine: golden-section maximum of the windowed DFT within +-1 bin */
		double lo = fbin - df, hi = fbin + df, gr = (sqrt(5.0) - 1) / 2;
		double c = hi - gr * (hi - lo), d = lo + gr * (hi - lo);
		double mc = dft_mag(x, M, s, c), md = dft_mag(x, M, s, d);
		while (hi - lo > 1e-10) {
			if (mc > md) {
				hi = d;
				d = c;
				md = mc;
				c = hi - gr * (hi - lo);
				mc = dft_mag(x, M, s, c);
			} else {
				lo = c;
				c = d;
				mc = md;
				d = lo + gr * (hi - lo);
				md = dft_mag(x, M, s, d);
			}
		}
		double fpk = 0.5 * (lo + hi);
		char msg[320];
		snprintf(msg, sizeof msg,
		         "mode %d%d%d N=16: peak bin %.6f vs Yee f %.6f (bin %.2e, |diff| = %.2f bins)", mo[0],
		         mo[1], mo[2], fbin, fy, df, fabs(fbin - fy) / df);
		check(fabs(fbin - fy) <= df, msg);
		snprintf(msg, sizeof msg,
		         "mode %d%d%d refined peak %.8f: |f-f_yee| = %.1e, |f-f_continuum %.8f| = %.1e",
		         mo[0], mo[1], mo[2], fpk, fabs(fpk - fy), fc, fabs(fpk - fc));
		check(fabs(fpk - fy) < 0.02 * fabs(fc - fy), msg);
	}
	free(x);
}

/* mirror symmetries of the problem, exact to the bit: x <-> y swap and
 * x -> N - x reflection (H is axial: it changes sign where E does not) */
static void test_symmetry(void)
{
	const int n = 24;
	grid g;
	if (grid_init(&g, n, 0.5, 5, 2))
		abort();
	for (int t = 0; t < 90; t++)
		step(&g, t);
	long bad_swap = 0, bad_refl = 0, bad_wall = 0;
	double *ex = g.f[EX], *ey = g.f[EY], *ez = g.f[EZ], *hx = g.f[HX], *hy = g.f[HY], *hz = g.f[HZ];
	for (int i = 0; i <= n; i++)
		for (int j = 0; j <= n; j++)
			for (int k = 0; k <= n; k++) {
				long p = idx(&g, i, j, k), q = idx(&g, j, i, k);
				/* swap: Ex(i+1/2,j,k) = Ey(j,i+1/2,k), Ez symmetric, H antisymmetric */
				bad_swap += ex[p] != ey[q];
				bad_swap += ez[p] != ez[q];
				bad_swap += hx[p] != -hy[q];
				bad_swap += hz[p] != -hz[q];
				/* reflection i -> N - i: integer positions map i -> N-i,
				 * half-integer i+1/2 -> N-1-i */
				if (i < n) {
					bad_refl += ex[p] != -ex[idx(&g, n - 1 - i, j, k)];
					bad_refl += hy[p] != -hy[idx(&g, n - 1 - i, j, k)];
					bad_refl += hz[p] != -hz[idx(&g, n - 1 - i, j, k)];
				}
				long r = idx(&g, n - i, j, k);
				bad_refl += ey[p] != ey[r];
				bad_refl += ez[p] != ez[r];
				bad_refl += hx[p] != hx[r];
				/* tangential E on the walls */
				if (j == 0 || j == n || k == 0 || k == n)
					bad_wall += ex[p] != 0;
				if (i == 0 || i == n || k == 0 || k == n)
					bad_wall += ey[p] != 0;
				if (i == 0 || i == n || j == 0 || j == n)
					bad_wall += ez[p] != 0;
			}
	char msg[200];
	snprintf(msg, sizeof msg, "x<->y swap symmetry exact (N=24, 90 steps, padded strides): %ld mismatches",
	         bad_swap);
	check(bad_swap == 0, msg);
	snprintf(msg, sizeof msg, "x -> N-x reflection symmetry exact: %ld mismatches", bad_refl);
	check(bad_refl == 0, msg);
	snprintf(msg, sizeof msg, "tangential E = 0 on all walls: %ld non-zero", bad_wall);
	check(bad_wall == 0, msg);
	grid_free(&g);
}

/* which components the two sources excite */
static void test_components(void)
{
	for (int skew = 0; skew < 2; skew++) {
		grid g;
		if (grid_init(&g, 32, 0.5, -1, -1))
			abort();
		g.skew = skew;
		for (int t = 0; t < 100; t++)
			step(&g, t);
		double tot = energy(&g), c[6], lo = 1e300;
		for (int a = 0; a < 6; a++) {
			c[a] = sumsq(&g, a, a + 1);
			if (c[a] < lo)
				lo = c[a];
		}
		char msg[300];
		snprintf(msg, sizeof msg,
		         "%s N=32 K=100: sum of squares Ex %.3g Ey %.3g Ez %.3g Hx %.3g Hy %.3g Hz %.3g%s",
		         skew ? "skew source" : "reference source", c[0], c[1], c[2], c[3], c[4], c[5],
		         skew ? " (all excited)" : " (Hz is 0 to round-off: TM_z only)");
		check(skew ? lo > 1e-6 * tot : c[HZ] < 1e-25 * tot && c[HX] > 1e-6 * tot, msg);
		grid_free(&g);
	}
}

/* the padding and stagger options must not change the result */
static void test_layout(void)
{
	double e[3];
	long pads[3][2] = {{0, 0}, {-1, -1}, {13, 5}};
	for (int v = 0; v < 3; v++) {
		grid g;
		if (grid_init(&g, 32, 0.5, pads[v][0], pads[v][1]))
			abort();
		for (int t = 0; t < 100; t++)
			step(&g, t);
		e[v] = energy(&g);
		grid_free(&g);
	}
	char msg[200];
	snprintf(msg, sizeof msg, "energy independent of padding: %.15g %.15g %.15g", e[0], e[1], e[2]);
	check(e[0] == e[1] && e[1] == e[2], msg);
}

static int usage(void)
{
	fprintf(stderr, "usage: yee N K [-S courant] [-r rowpad] [-a stagger_lines 0..12] [-skew] [-v]\n"
	                "       yee -test\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "-test") == 0) {
		test_symmetry();
		test_layout();
		test_conservation(0);
		test_conservation(1);
		test_components();
		test_stability();
		test_resonance();
		printf("%s\n", failures ? "FAILED" : "ok");
		return failures ? 1 : 0;
	}
	if (argc < 3)
		return usage();
	int n = atoi(argv[1]), k = atoi(argv[2]);
	double s = 0.5;
	long rowpad = -1, stagger = -1;
	int verbose = 0, skew = 0;
	for (int a = 3; a < argc; a++) {
		if (strcmp(argv[a], "-v") == 0) {
			verbose = 1;
			continue;
		}
		if (strcmp(argv[a], "-skew") == 0) {
			skew = 1;
			continue;
		}
		if (a + 1 >= argc)
			return usage();
		if (strcmp(argv[a], "-S") == 0)
			s = atof(argv[++a]);
		else if (strcmp(argv[a], "-r") == 0)
			rowpad = atol(argv[++a]);
		else if (strcmp(argv[a], "-a") == 0)
			stagger = atol(argv[++a]);
		else
			return usage();
	}
	if (n < 6 || n % 2 || k < 0 || n > 2000)
		return usage();
	grid g;
	if (stagger > 12 || rowpad > 4096)
		return usage();
	if (grid_init(&g, n, s, rowpad, stagger)) {
		fprintf(stderr, "yee: out of memory\n");
		return 1;
	}
	g.skew = skew;
	/* wall time, and the process's CPU time: on a shared machine the
	 * latter leaves out the time other work had the core */
	double t0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
	for (int t = 0; t < k; t++)
		step(&g, t);
	double sec = clock_seconds(CLOCK_MONOTONIC) - t0;
	double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
	const double cells = (double)n * n * n * k;
	printf("energy=%.15g mcells=%.1f seconds=%.3f cpu_mcells=%.1f cpu_seconds=%.3f\n", energy(&g),
	       cells / sec / 1e6, sec, cells / cpu / 1e6, cpu);
	if (verbose)
		printf("sumE2=%.17g sumH2=%.17g Ez(N/2,N/2,N/2)=%.17g Hx(N/2,N/2-1,N/2)=%.17g\n",
		       sumsq(&g, EX, EZ + 1), sumsq(&g, HX, HZ + 1), g.f[EZ][idx(&g, n / 2, n / 2, n / 2)],
		       g.f[HX][idx(&g, n / 2, n / 2 - 1, n / 2)]);
	grid_free(&g);
	return 0;
}
