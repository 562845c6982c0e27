#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "nn.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cblas.h>

#include "convdirect.h"
#include "rng.h"
#include "util.h"

/* OpenBLAS's own functions (exported by every build of it, declared in no
 * header of Debian's serial build). */
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
void *blas_memory_alloc(int procpos);
void blas_memory_free(void *buffer);

/* Debian's serial OpenBLAS (0.3.21, built without USE_LOCKING) keeps its
 * work buffers in one table that blas_memory_alloc searches and marks
 * without a lock: two threads calling sgemm at once may take the same
 * buffer, and one result in some dozens of runs differed. Its sgemm calls
 * blas_memory_alloc and blas_memory_free through its PLT, so the two
 * definitions below, in the program, are the ones it calls: they call
 * OpenBLAS's own under one mutex (what USE_LOCKING would do). */
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long blas_wrapped_calls; /* under blas_mu */

void *
blas_memory_alloc(int procpos)
{
	static void *(*real)(int);
	void *p;

	pthread_mutex_lock(&blas_mu);
	blas_wrapped_calls++;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "blas_memory_alloc");
	p = real ? real(procpos) : NULL;
	pthread_mutex_unlock(&blas_mu);
	if (!p)
		die("OpenBLAS gave no work buffer");
	return p;
}

void
blas_memory_free(void *buffer)
{
	static void (*real)(void *);

	pthread_mutex_lock(&blas_mu);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "blas_memory_free");
	if (real)
		real(buffer);
	pthread_mutex_unlock(&blas_mu);
}

/* OpenBLAS's sgemm packs its operands into a work buffer that it maps
 * (mmap, then malloc) the first time a thread needs one, and keeps for
 * reuse: one per thread calling it at once. Up to 0.3.29, when that fails
 * it retries for ever at 100 % CPU (and unet-train, which stops between
 * batches when a signal asks, never stops), as under
 * a `ulimit -v` too small for it. So each thread of ours takes its buffer
 * once, before any sgemm, right after checking that BLAS_BUFFER bytes can
 * be mapped: out of memory then is our message. 0.3.21's buffer is 128 MiB
 * and its header (BUFFER_SIZE, a constant of its build); the margin covers
 * the header and page rounding. */
#define BLAS_BUFFER (((size_t)128 << 20) + ((size_t)64 << 10))

#define MAX_THREADS 64
/* A tile of im2col rows aims at this many floats, with at least MIN_ROWS
 * and at most MAX_ROWS rows: large tiles suit OpenBLAS best (measured),
 * even beyond L2, and enough rows amortise the packing of big kernels. */
#define TILE_FLOATS 262144
#define MIN_ROWS 256
#define MAX_ROWS 4096

/* Per-thread scratch: an im2col tile, and private weight and bias
 * gradients when several threads accumulate them. */
struct scratch {
	float *col;
	float *dk;
	float *db;
	void *blas;     /* OpenBLAS's work buffer, held while taking them */
};

static struct {
	int n;                  /* threads, the caller being thread 0 */
	pthread_t th[MAX_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	void (*fn)(void *arg, int t, int nt);
	void *arg;
	unsigned gen;
	unsigned start_gen;     /* gen when the workers were started */
	int pending;
	int quit;
	int max_channels;       /* reserved for */
	size_t col_floats, dk_floats;
	struct scratch s[MAX_THREADS];
	float *kflip;           /* a rearranged kernel, shared */
	int blas_ready;         /* every thread has its OpenBLAS buffer */
	int blas_main_ready;    /* thread 0 (the caller, never restarted) has */
	int blas_taken;         /* buffers held while taking them */
	int blas_failed;        /* a thread found no room for one */
} pool = {
	.n = 1,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.go = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void
scratch_alloc(struct scratch *s, int t)
{
	char what[64];

	snprintf(what, sizeof what, "the scratch memory of thread %d", t + 1);
	free(s->col);
	free(s->dk);
	s->col = xmalloc_for(pool.col_floats, sizeof(float), what);
	s->dk = xmalloc_for(pool.dk_floats, sizeof(float), what);
	s->db = s->dk + pool.dk_floats - pool.max_channels;
}

static void run(void (*fn)(void *, int, int), void *arg);

/* On thread t, one thread at a time: unless a thread before failed, check
 * that BLAS_BUFFER bytes can be mapped, then take OpenBLAS's buffer and
 * hold it, so that the next thread gets a buffer of its own. */
static void
blas_take(void *arg, int t, int nt)
{
	static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
	void *room;

	(void)arg;
	(void)nt;
	if (t == 0 && pool.blas_main_ready)
		return;
	pthread_mutex_lock(&one_at_a_time);
	if (!pool.blas_failed) {
		room = mmap(NULL, BLAS_BUFFER, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (room == MAP_FAILED) {
			pool.blas_failed = 1;
		} else {
			munmap(room, BLAS_BUFFER);
			pool.s[t].blas = blas_memory_alloc(0);
			pool.blas_taken++;
		}
	}
	pthread_mutex_unlock(&one_at_a_time);
}

/* On thread t: give back the buffer blas_take took (OpenBLAS keeps it). */
static void
blas_give_back(void *arg, int t, int nt)
{
	(void)arg;
	(void)nt;
	if (pool.s[t].blas)
		blas_memory_free(pool.s[t].blas);
	pool.s[t].blas = NULL;
}

/* Make sure that no sgemm of any thread will have to map a buffer. */
/* Once: a serial OpenBLAS whose sgemm took its buffer without passing
 * through the wrapper above (another build than the one this program was
 * made for) would race between our threads: refuse it rather than give
 * results that differ from run to run. */
static void
blas_check_wrapped(void)
{
	static int checked;
	enum { N = 128 };
	float *a;
	unsigned long before;

	if (checked || openblas_get_parallel() != 0)
		return;
	checked = 1;
	a = xcalloc(3 * N * N, sizeof *a);
	pthread_mutex_lock(&blas_mu);
	before = blas_wrapped_calls;
	pthread_mutex_unlock(&blas_mu);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f,
		    a, N, a + N * N, N, 0.0f, a + 2 * N * N, N);
	pthread_mutex_lock(&blas_mu);
	before = blas_wrapped_calls - before;
	pthread_mutex_unlock(&blas_mu);
	if (before == 0)
		die("this OpenBLAS takes its work buffers without the lock "
		    "the program adds: it is not safe with several threads");
	free(a);
}

static void
blas_prepare(void)
{
	if (pool.blas_ready)
		return;
	pool.blas_taken = pool.blas_main_ready;
	run(blas_take, NULL);
	if (pool.blas_failed) {
		char what[80];

		snprintf(what, sizeof what, "OpenBLAS's work buffer %d of %d, "
			 "one per thread", pool.blas_taken + 1, pool.n);
		die_out_of_memory(1, BLAS_BUFFER, what);
	}
	run(blas_give_back, NULL);
	blas_check_wrapped();
	pool.blas_ready = 1;
	pool.blas_main_ready = 1;
}

void
nn_reserve(int max_channels)
{
	size_t mc = max_channels;

	openblas_set_num_threads(1);
	if (max_channels > pool.max_channels) {
		pool.max_channels = max_channels;
		pool.col_floats = 9 * mc * MIN_ROWS > TILE_FLOATS
				  ? 9 * mc * MIN_ROWS : TILE_FLOATS;
		pool.dk_floats = 9 * mc * mc + mc;
		for (int t = 0; t < pool.n; t++)
			scratch_alloc(&pool.s[t], t);
		free(pool.kflip);
		pool.kflip = xmalloc_for(9 * mc * mc, sizeof(float),
					 "a rearranged kernel");
	}
	blas_prepare();
}

static void *
worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned seen;

	pthread_mutex_lock(&pool.mu);
	seen = pool.start_gen;
	for (;;) {
		while (pool.gen == seen && !pool.quit)
			pthread_cond_wait(&pool.go, &pool.mu);
		if (pool.quit)
			break;
		seen = pool.gen;
		void (*fn)(void *, int, int) = pool.fn;
		void *a = pool.arg;
		int nt = pool.n;
		pthread_mutex_unlock(&pool.mu);
		fn(a, t, nt);
		pthread_mutex_lock(&pool.mu);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

void
nn_set_threads(int threads)
{
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	openblas_set_num_threads(1);
	if (threads == pool.n)
		return;
	if (pool.n > 1) {
		pthread_mutex_lock(&pool.mu);
		pool.quit = 1;
		pthread_cond_broadcast(&pool.go);
		pthread_mutex_unlock(&pool.mu);
		for (int t = 1; t < pool.n; t++)
			pthread_join(pool.th[t], NULL);
		pool.quit = 0;
	}
	for (int t = threads; t < pool.n; t++) {
		free(pool.s[t].col);
		free(pool.s[t].dk);
		memset(&pool.s[t], 0, sizeof pool.s[t]);
	}
	for (int t = pool.n; t < threads; t++)
		if (pool.max_channels > 0)
			scratch_alloc(&pool.s[t], t);
	pool.n = threads;
	pool.start_gen = pool.gen;
	for (int t = 1; t < threads; t++) {
		int err = pthread_create(&pool.th[t], NULL, worker,
					 (void *)(intptr_t)t);

		if (err) {
			errno = err;
			die("cannot start thread %d of %d:", t + 1, threads);
		}
	}
	/* New threads have no OpenBLAS buffer yet (in its builds that keep
	 * one per thread): take them before the next layer, if reserved. */
	pool.blas_ready = 0;
	if (pool.max_channels > 0)
		blas_prepare();
}

int
nn_threads(void)
{
	return pool.n;
}

/* Run fn(arg, t, n) on every thread t of n and wait for all of them. */
static void
run(void (*fn)(void *, int, int), void *arg)
{
	if (pool.n == 1) {
		fn(arg, 0, 1);
		return;
	}
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn;
	pool.arg = arg;
	pool.pending = pool.n - 1;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	fn(arg, 0, pool.n);
	pthread_mutex_lock(&pool.mu);
	while (pool.pending > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}

/* Using a layer wider than nn_reserve allowed is a programming error. */
static void
check_reserved(int cin, int cout)
{
	if (cin > pool.max_channels || cout > pool.max_channels)
		die("nn: layer of %d -> %d channels, scratch reserved for %d",
		    cin, cout, pool.max_channels);
}

/* Rows per tile for an im2col of k columns over npix rows shared by nt
 * threads: at most the tile size, and tiles in a multiple of nt so that
 * the threads get equal work. */
static int
tile_rows(size_t k, size_t npix, int nt)
{
	size_t r = TILE_FLOATS / k, ntiles;

	if (r < MIN_ROWS)
		r = MIN_ROWS;
	if (r > MAX_ROWS)
		r = MAX_ROWS;
	if (npix == 0)
		return 1;
	ntiles = (npix + r - 1) / r;
	ntiles = (ntiles + nt - 1) / nt * nt;
	r = (npix + ntiles - 1) / ntiles;
	return (int)r;
}

/* The static share [*lo, *hi) of thread t of nt in 0 .. total. */
static void
share(size_t total, int t, int nt, size_t *lo, size_t *hi)
{
	*lo = total * t / nt;
	*hi = total * (t + 1) / nt;
}

/* Where thread t accumulates weight and bias gradients: straight into the
 * result with one thread, else into zeroed private buffers that
 * reduce_grads adds up in thread order. */
static void
grad_target(int t, int nt, float *dk, float *db, size_t kcount, int cout,
	    float **tdk, float **tdb)
{
	if (nt == 1) {
		*tdk = dk;
		*tdb = db;
		return;
	}
	*tdk = pool.s[t].dk;
	*tdb = pool.s[t].db;
	memset(*tdk, 0, kcount * sizeof(float));
	memset(*tdb, 0, cout * sizeof(float));
}

struct reduce_args {
	float *dk, *db;
	size_t kcount;
	int cout;
};

static void
reduce_part(void *arg, int t, int nt)
{
	const struct reduce_args *a = arg;
	size_t lo, hi;

	share(a->kcount, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		float s = 0;

		for (int u = 0; u < nt; u++)
			s += pool.s[u].dk[i];
		a->dk[i] += s;
	}
}

/* Add the threads' private gradients to dk and db, in thread order. */
static void
reduce_grads(float *dk, float *db, size_t kcount, int cout)
{
	struct reduce_args a = { dk, db, kcount, cout };

	if (pool.n == 1)
		return;
	run(reduce_part, &a);
	for (int i = 0; i < cout; i++) {
		float s = 0;

		for (int u = 0; u < pool.n; u++)
			s += pool.s[u].db[i];
		db[i] += s;
	}
}

static void
fill_bias(float *y, int ldy, size_t rows, const float *b, int c)
{
	for (size_t r = 0; r < rows; r++)
		memcpy(y + r * ldy, b, c * sizeof(float));
}

static void
relu_rows(float *y, int ldy, size_t rows, int c)
{
	for (size_t r = 0; r < rows; r++) {
		float *p = y + r * ldy;

		for (int i = 0; i < c; i++)
			p[i] = p[i] > 0 ? p[i] : 0;
	}
}

static void
sum_rows(const float *dy, int lddy, size_t rows, int c, float *db)
{
	for (size_t r = 0; r < rows; r++) {
		const float *p = dy + r * lddy;

		for (int i = 0; i < c; i++)
			db[i] += p[i];
	}
}

/* im2col of a 3x3 window, padding 1: row r of col holds, for pixel p0 + r
 * of an n x h x w map, its 9 neighbours (ky, kx) of c channels, zeros
 * outside the image. With stride 2 the map is 2h x 2w and the window of
 * pixel (y, x) is centred on (2y, 2x), as in a transposed convolution. */
static void
im2col(const float *x, int ldx, int h, int w, int c, int stride, size_t p0,
       int rows, float *col)
{
	size_t hw = (size_t)h * w;
	int mh = h * stride, mw = w * stride;
	size_t rowbytes = c * sizeof(float);

	for (int r = 0; r < rows; r++) {
		size_t p = p0 + r;
		size_t img = p / hw;
		int rem = (int)(p % hw);
		int cy = rem / w * stride;
		int cx = rem % w * stride;
		const float *base = x + img * mh * mw * ldx;
		float *d = col + (size_t)r * 9 * c;

		int inside = cx >= 1 && cx + 1 < mw && ldx == c;

		for (int ky = 0; ky < 3; ky++) {
			int yy = cy + ky - 1;
			const float *row;

			if (yy < 0 || yy >= mh) {
				memset(d, 0, 3 * rowbytes);
				d += 3 * c;
				continue;
			}
			row = base + (size_t)yy * mw * ldx;
			if (inside) {
				/* the three pixels are contiguous */
				memcpy(d, row + (size_t)(cx - 1) * c,
				       3 * rowbytes);
				d += 3 * c;
				continue;
			}
			for (int kx = 0; kx < 3; kx++, d += c) {
				int xx = cx + kx - 1;

				if (xx < 0 || xx >= mw)
					memset(d, 0, rowbytes);
				else
					memcpy(d, row + (size_t)xx * ldx,
					       rowbytes);
			}
		}
	}
}

/* Row im2col ("hcol") for large maps: the 3x3 window of a pixel is the
 * hcol rows of the pixels above, at and below it, each [left, centre,
 * right] (3c floats), so a convolution is three GEMMs over shifted hcol
 * rows, one per kernel row, and the gather is a third of im2col's. A tile
 * keeps to one image and carries one image row of margin above and below.
 */
struct hcol_plan {
	int use;        /* hcol for this layer */
	int per_image;  /* tiles per image */
	int rows;       /* pixels per tile (the last may have fewer) */
};

#define HCOL_MIN_PIXELS 512

static struct hcol_plan
hcol_plan(int n, int h, int w, int c, int nt)
{
	struct hcol_plan p = { 0, 0, 0 };
	size_t hw = (size_t)h * w, r = TILE_FLOATS / (9 * (size_t)c);

	if (hw < HCOL_MIN_PIXELS || h < 4)
		return p;
	if (r < MIN_ROWS)
		r = MIN_ROWS;
	if (r > MAX_ROWS)
		r = MAX_ROWS;
	/* tiles in a multiple of nt, so that the threads get equal work */
	p.per_image = (int)((hw + r - 1) / r);
	while ((size_t)p.per_image * n % nt != 0)
		p.per_image++;
	p.rows = (int)((hw + p.per_image - 1) / p.per_image);
	p.use = ((size_t)p.rows + 2 * w) * 3 * c <= pool.col_floats;
	return p;
}

/* hcol rows for the pixels q0 .. q1-1 of image img (q may fall outside
 * the image: zero rows). */
static void
hcol(const float *x, int ldx, int h, int w, int c, size_t img, long q0,
     long q1, float *hc)
{
	long hw = (long)h * w;
	const float *base = x + img * hw * ldx;
	size_t rowbytes = c * sizeof(float);

	for (long q = q0; q < q1; q++, hc += 3 * c) {
		int xx;

		if (q < 0 || q >= hw) {
			memset(hc, 0, 3 * rowbytes);
			continue;
		}
		xx = (int)(q % w);
		if (xx >= 1 && xx + 1 < w && ldx == c) {
			memcpy(hc, base + (q - 1) * c, 3 * rowbytes);
			continue;
		}
		for (int kx = 0; kx < 3; kx++) {
			int xs = xx + kx - 1;

			if (xs < 0 || xs >= w)
				memset(hc + kx * c, 0, rowbytes);
			else
				memcpy(hc + kx * c, base + (q + kx - 1) * ldx,
				       rowbytes);
		}
	}
}

/* Zero the gradient rows dx where the ReLU output x is not positive. */
static void
mask_rows(const float *x, int ldx, float *dx, int lddx, size_t rows, int c)
{
	for (size_t r = 0; r < rows; r++) {
		const float *v = x + r * ldx;
		float *g = dx + r * lddx;

		for (int i = 0; i < c; i++)
			g[i] = v[i] > 0 ? g[i] : 0;
	}
}

/* ------------------------------------------------------------ conv 3x3 */

struct conv_args {
	const float *x, *k, *b, *dy;
	float *y, *dx, *dk, *db;
	int ldx, ldy, lddy, lddx;
	int n, h, w, cin, cout, relu, mask;
};

static void
conv3x3_forward_hcol(const struct conv_args *a, const struct hcol_plan *hp,
		     int t, int nt)
{
	size_t hw = (size_t)a->h * a->w, lo, hi;
	int c3 = 3 * a->cin, w = a->w;
	float *hc = pool.s[t].col;

	share((size_t)a->n * hp->per_image, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t img = i / hp->per_image;
		long q0 = (long)(i % hp->per_image) * hp->rows;
		long q1 = q0 + hp->rows < (long)hw ? q0 + hp->rows : (long)hw;
		int m = (int)(q1 - q0);
		float *y;

		if (m <= 0)
			continue;
		y = a->y + (img * hw + q0) * a->ldy;
		hcol(a->x, a->ldx, a->h, w, a->cin, img, q0 - w, q1 + w, hc);
		fill_bias(y, a->ldy, m, a->b, a->cout);
		for (int ky = 0; ky < 3; ky++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
				    a->cout, c3, 1.0f,
				    hc + (size_t)ky * w * c3, c3,
				    a->k + ky * c3, 3 * c3, 1.0f, y, a->ldy);
		if (a->relu)
			relu_rows(y, a->ldy, m, a->cout);
	}
}

static void
conv3x3_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kk = 9 * a->cin;
	int rows = tile_rows(kk, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool.s[t].col;

	struct hcol_plan hp = hcol_plan(a->n, a->h, a->w, a->cin, nt);

	if (hp.use) {
		conv3x3_forward_hcol(a, &hp, t, nt);
		return;
	}
	share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		float *y = a->y + p0 * a->ldy;

		im2col(a->x, a->ldx, a->h, a->w, a->cin, 1, p0, m, col);
		fill_bias(y, a->ldy, m, a->b, a->cout);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cout, kk, 1.0f, col, kk, a->k, kk, 1.0f, y,
			    a->ldy);
		if (a->relu)
			relu_rows(y, a->ldy, m, a->cout);
	}
}

/* A convolution computed by convdirect over rows of the output, with the
 * output then zeroed where mx (a ReLU output, pixel stride ldmx) is not
 * positive when mx is set. */
struct direct_args {
	const float *x, *wt, *b, *mx, *dy;
	float *y;
	int ldx, ldy, ldmx, lddy, n, h, w, cin, cout, relu;
};

static void
direct_part(void *arg, int t, int nt)
{
	const struct direct_args *a = arg;
	size_t lo, hi, w = a->w;

	share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_rows(a->x, a->ldx, a->h, a->w, a->cin, a->wt, a->b,
			a->cout, a->y, a->ldy, a->relu, lo, hi, pool.s[t].col);
	if (a->mx)
		mask_rows(a->mx + lo * w * a->ldmx, a->ldmx,
			  a->y + lo * w * a->ldy, a->ldy, (hi - lo) * w,
			  a->cout);
}

/* Each thread's kernel gradient ([s][ci][co]) and bias gradient of its
 * share of the rows, in its private buffers; reduce_direct adds them up. */
static void
direct_wgrad_part(void *arg, int t, int nt)
{
	const struct direct_args *a = arg;
	size_t lo, hi, w = a->w;
	float *dk = pool.s[t].dk, *db = pool.s[t].db;

	memset(dk, 0, (size_t)9 * a->cin * a->cout * sizeof(float));
	memset(db, 0, a->cout * sizeof(float));
	share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_wgrad_rows(a->x, a->ldx, a->h, a->w, a->cin, a->dy,
			      a->lddy, a->cout, dk, lo, hi, pool.s[t].col);
	sum_rows(a->dy + lo * w * a->lddy, a->lddy, (hi - lo) * w, a->cout,
		 db);
}

/* dk[co][s][ci] += the threads' [s][ci][co] gradients, in thread order;
 * db likewise. */
static void
reduce_direct(float *dk, float *db, int cin, int cout)
{
	for (int co = 0; co < cout; co++) {
		float g = 0;

		for (int u = 0; u < pool.n; u++)
			g += pool.s[u].db[co];
		db[co] += g;
		for (int s9 = 0; s9 < 9; s9++)
			for (int ci = 0; ci < cin; ci++) {
				size_t f = ((size_t)s9 * cin + ci) * cout + co;

				g = 0;
				for (int u = 0; u < pool.n; u++)
					g += pool.s[u].dk[f];
				dk[((size_t)co * 9 + s9) * cin + ci] += g;
			}
	}
}

static int direct_allowed = 1;

void
nn_set_direct(int on)
{
	direct_allowed = on;
}

/* The direct path pays where sgemm's products are thinnest, for narrow
 * outputs, and with AVX-512 up to kernels of 512 x 512 channels (see
 * convdirect_available). */
int
nn_conv_direct(int w, int cin, int cout)
{
	return direct_allowed &&
	       convdirect_available(cout, w, cin, pool.col_floats);
}

void
nn_conv3x3_forward(const float *x, int ldx, int n, int h, int w, int cin,
		   const float *k, const float *b, int cout, float *y,
		   int ldy, int relu)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.relu = relu,
	};

	check_reserved(cin, cout);
	if (nn_conv_direct(w, cin, cout)) {
		struct direct_args d = {
			.x = x, .wt = pool.kflip, .b = b, .y = y, .ldx = ldx,
			.ldy = ldy, .n = n, .h = h, .w = w, .cin = cin,
			.cout = cout, .relu = relu,
		};

		/* wt[s][ci][co] = k[co][s][ci] */
		for (int co = 0; co < cout; co++)
			for (int s9 = 0; s9 < 9; s9++)
				for (int ci = 0; ci < cin; ci++)
					pool.kflip[((size_t)s9 * cin + ci) * cout + co] =
						k[((size_t)co * 9 + s9) * cin + ci];
		run(direct_part, &d);
		return;
	}
	run(conv3x3_forward_part, &a);
}

/* The backward with dx over hcol tiles of dy: per kernel row ky, the
 * columns ky of d(kflip) and the ky share of dx. */
static void
conv3x3_backward_hcol(const struct conv_args *a, const struct hcol_plan *hp,
		      int t, int nt, float *dk, float *db)
{
	size_t hw = (size_t)a->h * a->w, lo, hi;
	int c3 = 3 * a->cout, w = a->w;
	float *hc = pool.s[t].col;

	share((size_t)a->n * hp->per_image, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t img = i / hp->per_image;
		long q0 = (long)(i % hp->per_image) * hp->rows;
		long q1 = q0 + hp->rows < (long)hw ? q0 + hp->rows : (long)hw;
		int m = (int)(q1 - q0);
		size_t p0 = img * hw + q0;
		float *dx;

		if (m <= 0)
			continue;
		dx = a->dx + p0 * a->lddx;
		if (a->dk)
			sum_rows(a->dy + p0 * a->lddy, a->lddy, m, a->cout, db);
		hcol(a->dy, a->lddy, a->h, w, a->cout, img, q0 - w, q1 + w, hc);
		for (int ky = 0; ky < 3; ky++) {
			const float *rows = hc + (size_t)ky * w * c3;

			if (a->dk)
				cblas_sgemm(CblasRowMajor, CblasTrans,
					    CblasNoTrans, a->cin, c3, m, 1.0f,
					    a->x + p0 * a->ldx, a->ldx, rows,
					    c3, 1.0f, dk + ky * c3, 3 * c3);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
				    a->cin, c3, 1.0f, rows, c3,
				    pool.kflip + ky * c3, 3 * c3,
				    ky ? 1.0f : 0.0f, dx, a->lddx);
		}
		if (a->mask)
			mask_rows(a->x + p0 * a->ldx, a->ldx, dx, a->lddx, m,
				  a->cin);
	}
}

/* Without dx: dk += col(x)^T dy, tile by tile. With dx: one im2col of dy
 * serves both products, dx = col(dy) kflip^T and d(kflip) = x^T col(dy)
 * (x read in place), so x is never gathered; each thread sums d(kflip)
 * privately and reduce_flipped adds it to dk. */
static void
conv3x3_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kx = 9 * a->cin, ky = 9 * a->cout;
	int rows = tile_rows(a->dx ? ky : kx, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool.s[t].col, *dk, *db;

	if (a->dx) {
		dk = pool.s[t].dk;
		db = pool.s[t].db;
		memset(dk, 0, (size_t)kx * a->cout * sizeof(float));
		memset(db, 0, a->cout * sizeof(float));
	} else {
		grad_target(t, nt, a->dk, a->db, (size_t)kx * a->cout,
			    a->cout, &dk, &db);
	}
	if (a->dx) {
		struct hcol_plan hp = hcol_plan(a->n, a->h, a->w, a->cout, nt);

		if (hp.use) {
			conv3x3_backward_hcol(a, &hp, t, nt, dk, db);
			return;
		}
	}
	share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		const float *dy = a->dy + p0 * a->lddy;

		if (a->dk)
			sum_rows(dy, a->lddy, m, a->cout, db);
		if (!a->dx) {
			im2col(a->x, a->ldx, a->h, a->w, a->cin, 1, p0, m, col);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    a->cout, kx, m, 1.0f, dy, a->lddy, col, kx,
				    1.0f, dk, kx);
			continue;
		}
		im2col(a->dy, a->lddy, a->h, a->w, a->cout, 1, p0, m, col);
		if (a->dk)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    a->cin, ky, m, 1.0f, a->x + p0 * a->ldx,
				    a->ldx, col, ky, 1.0f, dk, ky);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cin, ky, 1.0f, col, ky, pool.kflip, ky, 0.0f,
			    a->dx + p0 * a->lddx, a->lddx);
		if (a->mask)
			mask_rows(a->x + p0 * a->ldx, a->ldx,
				  a->dx + p0 * a->lddx, a->lddx, m, a->cin);
	}
}

/* dk[co][s][ci] += f[ci][8-s][co] where f is the threads' d(kflip)
 * summed in thread order; by blocks of ci. */
static void
unflip_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int cin = a->cin, cout = a->cout, np = pool.n;
	size_t lo, hi;

	share((cin + 15) / 16, t, nt, &lo, &hi);
	for (int c0 = lo * 16; c0 < (int)hi * 16 && c0 < cin; c0 += 16)
		for (int o0 = 0; o0 < cout; o0 += 16)
			for (int s = 0; s < 9; s++)
				for (int ci = c0; ci < c0 + 16 && ci < cin; ci++) {
					size_t f = ((size_t)ci * 9 + 8 - s) * cout;

					for (int co = o0; co < o0 + 16 && co < cout;
					     co++) {
						float g = 0;

						for (int u = 0; u < np; u++)
							g += pool.s[u].dk[f + co];
						a->dk[((size_t)co * 9 + s) * cin
						      + ci] += g;
					}
				}
}

static void
reduce_flipped(struct conv_args *a)
{
	for (int i = 0; i < a->cout; i++) {
		float s = 0;

		for (int u = 0; u < pool.n; u++)
			s += pool.s[u].db[i];
		a->db[i] += s;
	}
	run(unflip_part, a);
}

/* dx is the forward convolution of dy with the kernel flipped in space
 * and transposed: kflip[ci][ky][kx][co] = k[co][2-ky][2-kx][ci]. */
static void
kflip_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int cin = a->cin, cout = a->cout;
	size_t lo, hi;

	/* in 16 x 16 blocks of (ci, co): a transposition */
	share((cin + 15) / 16, t, nt, &lo, &hi);
	for (int c0 = lo * 16; c0 < (int)hi * 16 && c0 < cin; c0 += 16)
		for (int o0 = 0; o0 < cout; o0 += 16)
			for (int s = 0; s < 9; s++)
				for (int ci = c0; ci < c0 + 16 && ci < cin; ci++) {
					float *d = pool.kflip
						+ ((size_t)ci * 9 + 8 - s) * cout;

					for (int co = o0; co < o0 + 16 && co < cout;
					     co++)
						d[co] = a->k[((size_t)co * 9 + s)
							     * cin + ci];
				}
}

void
nn_conv3x3_backward(const float *x, int ldx, int n, int h, int w, int cin,
		    const float *k, int cout, const float *dy, int lddy,
		    float *dx, int lddx, int mask, float *dk, float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.mask = mask,
	};

	check_reserved(cin, cout);
	if (nn_conv_direct(w, cin, cout)) {
		struct direct_args g = {
			.x = x, .dy = dy, .ldx = ldx, .lddy = lddy, .n = n,
			.h = h, .w = w, .cin = cin, .cout = cout,
		};
		struct direct_args d = {
			.x = dy, .wt = pool.kflip, .mx = mask ? x : NULL,
			.y = dx, .ldx = lddy, .ldy = lddx, .ldmx = ldx, .n = n,
			.h = h, .w = w, .cin = cout, .cout = cin,
		};

		run(direct_wgrad_part, &g);
		reduce_direct(dk, db, cin, cout);
		if (!dx)
			return;
		if (!nn_conv_direct(w, cout, cin)) {
			/* dx alone by the GEMMs (a.dk NULL) */
			a.dk = NULL;
			run(kflip_part, &a);
			run(conv3x3_backward_part, &a);
			return;
		}
		/* dx is the convolution of dy with wt[s][co][ci] =
		 * k[co][8-s][ci] */
		for (int co = 0; co < cout; co++)
			for (int s9 = 0; s9 < 9; s9++)
				memcpy(pool.kflip + ((size_t)s9 * cout + co) * cin,
				       k + ((size_t)co * 9 + 8 - s9) * cin,
				       cin * sizeof(float));
		run(direct_part, &d);
		return;
	}
	if (dx)
		run(kflip_part, &a);
	run(conv3x3_backward_part, &a);
	if (dx)
		reduce_flipped(&a);
	else
		reduce_grads(dk, db, (size_t)9 * cin * cout, cout);
}

/* ------------------------------------------------------ transposed conv */

/* Add the rows of tt (m input pixels from p0, ldt floats apart, each the
 * kernel taps ky = 0 .. nky-1 of one pixel, (ky, kx) by cout floats) into
 * the output pixels they reach, in input pixel order, leaving out the
 * ky = 0 taps of input row skip (global row numbering). */
static void
upconv_scatter(const struct conv_args *a, const float *tt, int ldt,
	       size_t p0, int m, int nky, size_t skip)
{
	int h = a->h, w = a->w, oh = 2 * h, ow = 2 * w, cout = a->cout;

	for (int r = 0; r < m; r++) {
		size_t p = p0 + r, row = p / w, img = row / h;
		int iy = (int)(row % h), ix = (int)(p % w);
		const float *tr = tt + (size_t)r * ldt;

		for (int ky = 0; ky < nky; ky++) {
			int oy = 2 * iy - 1 + ky;
			float *base;

			if (oy < 0 || oy >= oh || (ky == 0 && row == skip))
				continue;
			base = a->y + (img * oh + oy) * ow * a->ldy;
			for (int kx = 0; kx < 3; kx++) {
				int ox = 2 * ix - 1 + kx;
				const float *s = tr + (ky * 3 + kx) * cout;
				float *d = base + (size_t)ox * a->ldy;

				if (ox < 0 || ox >= ow)
					continue;
				for (int c = 0; c < cout; c++)
					d[c] += s[c];
			}
		}
	}
}

/* Thread t owns input rows [r0, r1) of all n * h and the output rows 2 r0
 * .. 2 r1 - 1 they give (ky = 1, 2); the ky = 0 taps of row r0 fall on
 * the previous thread's last row and wait for upconv_fixup_part. The sum
 * for each output pixel is thus made in input pixel order whatever the
 * split. */
static void
upconv_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int kk = 9 * a->cout;
	size_t r0, r1, p0, p1;
	float *tt = pool.s[t].col;
	int rows;

	share((size_t)a->n * a->h, t, nt, &r0, &r1);
	p0 = r0 * a->w;
	p1 = r1 * a->w;
	rows = tile_rows(kk, p1 - p0, 1);
	fill_bias(a->y + 4 * p0 * a->ldy, a->ldy, 4 * (p1 - p0), a->b,
		  a->cout);
	for (size_t q = p0; q < p1; q += rows) {
		int m = p1 - q < (size_t)rows ? (int)(p1 - q) : rows;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kk,
			    a->cin, 1.0f, a->x + q * a->ldx, a->ldx, a->k, kk,
			    0.0f, tt, kk);
		upconv_scatter(a, tt, kk, q, m, 3, r0);
	}
}

static void
upconv_fixup_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int k3 = 3 * a->cout;
	size_t r0, r1;
	float *tt = pool.s[t].col;
	int rows = (int)(pool.col_floats / k3);

	share((size_t)a->n * a->h, t, nt, &r0, &r1);
	if (r0 == r1 || r0 % a->h == 0)
		return;
	for (size_t q = r0 * a->w; q < (r0 + 1) * a->w; q += rows) {
		size_t end = (r0 + 1) * a->w;
		int m = end - q < (size_t)rows ? (int)(end - q) : rows;

		/* the ky = 0 columns of the kernel only */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k3,
			    a->cin, 1.0f, a->x + q * a->ldx, a->ldx, a->k,
			    9 * a->cout, 0.0f, tt, k3);
		upconv_scatter(a, tt, k3, q, m, 1, (size_t)-1);
	}
}

/* The direct path over shares of the n x 2h output rows. */
static void
direct_up_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t lo, hi;

	share((size_t)a->n * 2 * a->h, t, nt, &lo, &hi);
	convdirect_up_rows(a->x, a->ldx, a->h, a->w, a->cin, a->k, a->b,
			   a->cout, a->y, a->ldy, lo, hi, pool.s[t].col);
}

void
nn_upconv_forward(const float *x, int ldx, int n, int h, int w, int cin,
		  const float *k, const float *b, int cout, float *y, int ldy)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
	};

	check_reserved(cin, cout);
	if (nn_conv_direct(w, cin, cout)) {
		run(direct_up_part, &a);
		return;
	}
	run(upconv_forward_part, &a);
	if (pool.n > 1)
		run(upconv_fixup_part, &a);
}

static void
upconv_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kk = 9 * a->cout;
	int rows = tile_rows(kk, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool.s[t].col, *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)kk * a->cin, a->cout, &dk,
		    &db);
	share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		const float *x = a->x + p0 * a->ldx;

		im2col(a->dy, a->lddy, a->h, a->w, a->cout, 2, p0, m, col);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->cin,
			    kk, m, 1.0f, x, a->ldx, col, kk, 1.0f, dk, kk);
		if (!a->dx)
			continue;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cin, kk, 1.0f, col, kk, a->k, kk, 0.0f,
			    a->dx + p0 * a->lddx, a->lddx);
		if (a->mask)
			mask_rows(x, a->ldx, a->dx + p0 * a->lddx, a->lddx, m,
				  a->cin);
	}
	share(4 * npix, t, nt, &lo, &hi);
	sum_rows(a->dy + lo * a->lddy, a->lddy, hi - lo, a->cout, db);
}

/* The direct path over shares of the n x h input rows, with the kernel
 * rearranged [ky][kx][co][ci] in pool.kflip; the bias gradient from the
 * output rows of the share. */
static void
direct_upback_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t lo, hi, w = a->w;
	float *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)9 * a->cin * a->cout,
		    a->cout, &dk, &db);
	share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_upback_rows(a->x, a->ldx, a->dy, a->lddy, a->h, a->w,
			       a->cin, a->cout, pool.kflip, a->dx, a->lddx, dk,
			       lo, hi, pool.s[t].col);
	if (a->dx && a->mask)
		mask_rows(a->x + lo * w * a->ldx, a->ldx,
			  a->dx + lo * w * a->lddx, a->lddx, (hi - lo) * w,
			  a->cin);
	sum_rows(a->dy + 4 * lo * w * a->lddy, a->lddy, 4 * (hi - lo) * w,
		 a->cout, db);
}

int
nn_upconv_backward_direct(int w, int cin, int cout)
{
	return direct_allowed &&
	       convdirect_upback_available(cin, cout, w, pool.col_floats);
}

void
nn_upconv_backward(const float *x, int ldx, int n, int h, int w, int cin,
		   const float *k, int cout, const float *dy, int lddy,
		   float *dx, int lddx, int mask, float *dk, float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.mask = mask,
	};

	check_reserved(cin, cout);
	if (nn_upconv_backward_direct(w, cin, cout)) {
		for (int s9 = 0; s9 < 9; s9++)
			for (int co = 0; co < cout; co++)
				for (int ci = 0; ci < cin; ci++)
					pool.kflip[((size_t)s9 * cout + co) * cin + ci] =
						k[((size_t)ci * 9 + s9) * cout + co];
		run(direct_upback_part, &a);
	} else {
		run(upconv_backward_part, &a);
	}
	reduce_grads(dk, db, (size_t)9 * cin * cout, cout);
}

/* ------------------------------------------------------------ conv 1x1 */

static void
conv1x1_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n, lo, hi;

	share(npix, t, nt, &lo, &hi);
	if (hi == lo)
		return;
	fill_bias(a->y + lo * a->ldy, a->ldy, hi - lo, a->b, a->cout);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo),
		    a->cout, a->cin, 1.0f, a->x + lo * a->ldx, a->ldx, a->k,
		    a->cin, 1.0f, a->y + lo * a->ldy, a->ldy);
}

void
nn_conv1x1_forward(const float *x, int ldx, size_t npix, int cin,
		   const float *k, const float *b, int cout, float *y,
		   int ldy)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = (int)npix, .cin = cin, .cout = cout,
	};

	run(conv1x1_forward_part, &a);
}

/* The backward of a 1x1 convolution to one channel (the output layer) for
 * pixels lo .. hi-1, as plain loops: GEMMs of width 1 are slow. */
static void
conv1x1_backward_one(const struct conv_args *a, size_t lo, size_t hi,
		     float *restrict dk, float *restrict db)
{
	int cin = a->cin;
	float sb = 0;

	for (size_t p = lo; p < hi; p++) {
		float g = a->dy[p * a->lddy];
		const float *restrict x = a->x + p * a->ldx;

		sb += g;
		for (int c = 0; c < cin; c++)
			dk[c] += g * x[c];
		if (!a->dx)
			continue;
		float *restrict d = a->dx + p * a->lddx;

		for (int c = 0; c < cin; c++)
			d[c] = g * a->k[c];
		if (a->mask)
			for (int c = 0; c < cin; c++)
				d[c] = x[c] > 0 ? d[c] : 0;
	}
	db[0] += sb;
}

static void
conv1x1_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n, lo, hi;
	float *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)a->cin * a->cout, a->cout,
		    &dk, &db);
	share(npix, t, nt, &lo, &hi);
	if (hi == lo)
		return;
	if (a->cout == 1) {
		conv1x1_backward_one(a, lo, hi, dk, db);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->cout, a->cin,
		    (int)(hi - lo), 1.0f, a->dy + lo * a->lddy, a->lddy,
		    a->x + lo * a->ldx, a->ldx, 1.0f, dk, a->cin);
	sum_rows(a->dy + lo * a->lddy, a->lddy, hi - lo, a->cout, db);
	if (!a->dx)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo),
		    a->cin, a->cout, 1.0f, a->dy + lo * a->lddy, a->lddy, a->k,
		    a->cin, 0.0f, a->dx + lo * a->lddx, a->lddx);
	if (a->mask)
		mask_rows(a->x + lo * a->ldx, a->ldx, a->dx + lo * a->lddx,
			  a->lddx, hi - lo, a->cin);
}

void
nn_conv1x1_backward(const float *x, int ldx, size_t npix, int cin,
		    const float *k, int cout, const float *dy, int lddy,
		    float *dx, int lddx, int mask, float *dk, float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = (int)npix, .cin = cin, .cout = cout, .mask = mask,
	};

	run(conv1x1_backward_part, &a);
	reduce_grads(dk, db, (size_t)cin * cout, cout);
}

/* ------------------------------------------------ ReLU, pooling, loss */

void
nn_relu_forward(float *y, int ldy, size_t npix, int c)
{
	relu_rows(y, ldy, npix, c);
}

struct pw_args {
	const float *x, *t, *dy;
	float *y, *dx;
	int ldx, ldy, lddy, lddx, n, h, w, c, mask;
	size_t npix;
	float pw;
	double part[MAX_THREADS];
};

static void
relu_backward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	size_t lo, hi;

	share(a->npix, t, nt, &lo, &hi);
	mask_rows(a->x + lo * a->ldx, a->ldx, a->dx + lo * a->lddx, a->lddx,
		  hi - lo, a->c);
}

void
nn_relu_backward(const float *y, int ldy, float *dy, int lddy, size_t npix,
		 int c)
{
	struct pw_args a = {
		.x = y, .ldx = ldy, .dx = dy, .lddx = lddy, .npix = npix,
		.c = c,
	};

	run(relu_backward_part, &a);
}

static void
maxpool_forward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	int oh = a->h / 2, ow = a->w / 2, c = a->c, ldx = a->ldx;
	size_t lo, hi;

	/* output rows, over all images */
	share((size_t)a->n * oh, t, nt, &lo, &hi);
	for (size_t r = lo; r < hi; r++)
		for (int ox = 0; ox < ow; ox++) {
			const float *p = a->x + ((2 * r) * a->w + 2 * ox)
					 * ldx;
			const float *q = p + (size_t)a->w * ldx;
			float *o = a->y + (r * ow + ox) * a->ldy;

			for (int ch = 0; ch < c; ch++) {
				float m = p[ch];

				m = p[ldx + ch] > m ? p[ldx + ch] : m;
				m = q[ch] > m ? q[ch] : m;
				m = q[ldx + ch] > m ? q[ldx + ch] : m;
				o[ch] = m;
			}
		}
}

void
nn_maxpool_forward(const float *x, int ldx, int n, int h, int w, int c,
		   float *y, int ldy)
{
	struct pw_args a = {
		.x = x, .ldx = ldx, .y = y, .ldy = ldy, .n = n, .h = h,
		.w = w, .c = c,
	};

	run(maxpool_forward_part, &a);
}

/* One window of the max-pool backward, over c channels, branch-free so
 * that it vectorises (the first maximum wins, as in the forward pass; dx
 * is kept only where x > lim). Comparisons of floats may trap, and
 * compiled by the standard rules they stay branches; they do not trap
 * here, on ReLU outputs and finite values. */
static void __attribute__((optimize("no-trapping-math")))
pool_window_backward(const float *restrict x0, const float *restrict x1,
		     const float *restrict x2, const float *restrict x3,
		     const float *restrict g, float *restrict d0,
		     float *restrict d1, float *restrict d2,
		     float *restrict d3, int c, float lim)
{
	for (int ch = 0; ch < c; ch++) {
		float m01 = x1[ch] > x0[ch] ? x1[ch] : x0[ch];
		float m012 = x2[ch] > m01 ? x2[ch] : m01;
		/* hand g down the candidates, the last first */
		float r = g[ch];
		float v3 = x3[ch] > m012 ? r : 0;
		float v2, v1;

		r = x3[ch] > m012 ? 0 : r;
		v2 = x2[ch] > m01 ? r : 0;
		r = x2[ch] > m01 ? 0 : r;
		v1 = x1[ch] > x0[ch] ? r : 0;
		r = x1[ch] > x0[ch] ? 0 : r;
		d0[ch] = x0[ch] > lim ? d0[ch] + r : 0;
		d1[ch] = x1[ch] > lim ? d1[ch] + v1 : 0;
		d2[ch] = x2[ch] > lim ? d2[ch] + v2 : 0;
		d3[ch] = x3[ch] > lim ? d3[ch] + v3 : 0;
	}
}

static void
maxpool_backward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	int oh = a->h / 2, ow = a->w / 2, c = a->c;
	float lim = a->mask ? 0 : -INFINITY;
	size_t lo, hi;

	share((size_t)a->n * oh, t, nt, &lo, &hi);
	for (size_t r = lo; r < hi; r++)
		for (int ox = 0; ox < ow; ox++) {
			size_t p = (2 * r) * a->w + 2 * ox;
			size_t off[4] = { p, p + 1, p + a->w, p + a->w + 1 };

			pool_window_backward(a->x + off[0] * a->ldx,
					     a->x + off[1] * a->ldx,
					     a->x + off[2] * a->ldx,
					     a->x + off[3] * a->ldx,
					     a->dy + (r * ow + ox) * a->lddy,
					     a->dx + off[0] * a->lddx,
					     a->dx + off[1] * a->lddx,
					     a->dx + off[2] * a->lddx,
					     a->dx + off[3] * a->lddx, c, lim);
		}
}

void
nn_maxpool_backward(const float *x, int ldx, int n, int h, int w, int c,
		    const float *dy, int lddy, float *dx, int lddx, int mask)
{
	struct pw_args a = {
		.x = x, .ldx = ldx, .dy = dy, .lddy = lddy, .dx = dx,
		.lddx = lddx, .n = n, .h = h, .w = w, .c = c, .mask = mask,
	};

	run(maxpool_backward_part, &a);
}

static void
bce_part(void *arg, int t, int nt)
{
	struct pw_args *a = arg;
	size_t lo, hi;
	double sum = 0, pw = a->pw;
	float scale = 1.0f / (float)a->npix;

	share(a->npix, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		double v = a->x[i], y = a->t[i];
		/* softplus(-v) = log(1 + exp(-v)) and sigmoid(v), without
		 * overflow, from one exponential */
		double e = exp(-fabs(v));
		double sp = log1p(e) + (v < 0 ? -v : 0);

		sum += (1 - y) * v + (1 + (pw - 1) * y) * sp;
		if (a->dx) {
			double s = v >= 0 ? 1 / (1 + e) : e / (1 + e);

			a->dx[i] = (float)(((1 - y) * s - pw * y * (1 - s)))
				   * scale;
		}
	}
	a->part[t] = sum;
}

double
nn_bce_logits(const float *x, const float *t, size_t npix, float pw,
	      float *dx)
{
	struct pw_args a = {
		.x = x, .t = t, .npix = npix, .pw = pw, .dx = dx,
	};
	double sum = 0;

	run(bce_part, &a);
	for (int i = 0; i < pool.n; i++)
		sum += a.part[i];
	return sum / (double)npix;
}

void
nn_sigmoid(const float *x, float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}

/* ------------------------------------------------------ init, optimiser */

void
nn_glorot_uniform(float *k, size_t count, int fan_in, int fan_out,
		  struct rng *r)
{
	double bound = sqrt(6.0 / (fan_in + fan_out));

	for (size_t i = 0; i < count; i++)
		k[i] = (float)((2 * rng_uniform(r) - 1) * bound);
}

struct adam_args {
	float *p, *m, *v;
	const float *g;
	size_t count;
	float fb1, fa1, fb2, fa2, bc2, step, eps;
};

static void
adam_part(void *arg, int t, int nt)
{
	const struct adam_args *a = arg;
	size_t lo, hi;

	share(a->count, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		float mi = a->m[i] * a->fb1 + a->fa1 * a->g[i];
		float vi = a->v[i] * a->fb2 + a->fa2 * a->g[i] * a->g[i];

		a->m[i] = mi;
		a->v[i] = vi;
		a->p[i] -= a->step * (mi / (sqrtf(vi) / a->bc2 + a->eps));
	}
}

void
nn_adam_update(float *p, const float *g, float *m, float *v, size_t count,
	       double lr, double b1, double b2, double eps, long t)
{
	/* The same float32 operations in the same order as PyTorch's
	 * single-tensor Adam, the scalars rounded as it rounds them. */
	struct adam_args a = {
		.p = p, .m = m, .v = v, .g = g, .count = count,
		.fb1 = (float)b1, .fa1 = (float)(1 - b1),
		.fb2 = (float)b2, .fa2 = (float)(1 - b2),
		.bc2 = (float)sqrt(1 - pow(b2, (double)t)),
		.step = (float)(lr / (1 - pow(b1, (double)t))),
		.eps = (float)eps,
	};

	if (count < 16384)
		adam_part(&a, 0, 1);
	else
		run(adam_part, &a);
}
